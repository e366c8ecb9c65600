"""The MLflow UI a user opens: each iteration's step runs nested under one parent run per
iteration, which also holds the steps' metrics under the same keys, and the experiment
tagged as model training (a real sqlite store)."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from self_rewarding.datasets import MetricsDataset
from self_rewarding.hooks import EXPERIMENT_KIND, RunContextHooks, run_group


@pytest.fixture
def experiment(mlflow_store):
    uri, experiment_id = mlflow_store
    return MlflowClient(uri), experiment_id


def _step(experiment_id, tmp_path, namespace: str, metrics: dict) -> str:
    hooks = RunContextHooks()
    hooks.before_pipeline_run({"namespaces": [namespace], "pipeline_names": ["iteration"]})
    with mlflow.start_run(experiment_id=experiment_id) as run:
        hooks.before_node_run({})
        MetricsDataset(str(tmp_path / f"{run.info.run_id}.json"), prefix="pairs").save(metrics)
    return run.info.run_id


def test_steps_of_an_iteration_share_one_parent_holding_their_metrics(experiment, tmp_path):
    client, experiment_id = experiment
    first = _step(experiment_id, tmp_path, "iter1", {"pairs": 30, "tie_rate": None})
    second = _step(experiment_id, tmp_path, "iter1", {"chosen_words_mean": 80.5})
    other = _step(experiment_id, tmp_path, "iter2", {"pairs": 28})

    parent_of = {r: client.get_run(r).data.tags["mlflow.parentRunId"] for r in (first, second)}
    assert parent_of[first] == parent_of[second]
    parent = client.get_run(parent_of[first])
    assert parent.info.run_name == "iteration 1"
    # The undefined tie rate is absent, never 0.
    assert parent.data.metrics == {"pairs.pairs": 30.0, "pairs.chosen_words_mean": 80.5}
    other_parent = client.get_run(client.get_run(other).data.tags["mlflow.parentRunId"])
    assert other_parent.info.run_name == "iteration 2"
    assert other_parent.data.metrics == {"pairs.pairs": 28.0}
    tags = client.get_experiment(experiment_id).tags
    assert all(tags[key] == value for key, value in EXPERIMENT_KIND.items())


def test_runs_outside_an_iteration_stay_top_level(experiment, tmp_path):
    client, experiment_id = experiment
    hooks = RunContextHooks()
    hooks.before_pipeline_run({"namespaces": ["M1"], "pipeline_names": ["judge_probe"]})
    with mlflow.start_run(experiment_id=experiment_id) as run:
        hooks.before_node_run({})
        MetricsDataset(str(tmp_path / "probe.json")).save({"parse_rate": 1.0})
    assert "mlflow.parentRunId" not in client.get_run(run.info.run_id).data.tags
    assert run_group({"pipeline": "['evaluation']"}) is None
    assert run_group({"iteration": "3"}) == "iteration 3"
