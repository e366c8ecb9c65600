"""The MLflow UI a user opens: each iteration's step runs nested under one parent run per
iteration, which also holds the steps' metrics under the same keys, and the experiment
tagged as model training (a real sqlite store)."""

from __future__ import annotations

import mlflow
import pytest
from kedro.pipeline import Node, Pipeline
from mlflow.tracking import MlflowClient

from self_rewarding.datasets import MetricsDataset
from self_rewarding.hooks import EXPERIMENT_KIND, RunContextHooks, run_group


@pytest.fixture
def experiment(mlflow_store):
    uri, experiment_id = mlflow_store
    return MlflowClient(uri), experiment_id


def _identity(value):
    return value


def _node(namespace: str | None, tag: str, name: str) -> Node:
    return Node(_identity, "x", f"{namespace}.{name}_out", name=name, tags=tag, namespace=namespace)


def _step(experiment_id, tmp_path, namespace: str, metrics: dict) -> str:
    hooks = RunContextHooks()
    node = _node(namespace, "pairs", "build_pairs")
    hooks.before_pipeline_run(
        {"namespaces": [namespace], "pipeline_names": ["iteration"]}, Pipeline([node])
    )
    with mlflow.start_run(experiment_id=experiment_id) as run:
        hooks.before_node_run(node, {})
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
    node = _node("M1", "judge_probe", "probe")
    hooks.before_pipeline_run(
        {"namespaces": ["M1"], "pipeline_names": ["judge_probe"]}, Pipeline([node])
    )
    with mlflow.start_run(experiment_id=experiment_id) as run:
        hooks.before_node_run(node, {})
        MetricsDataset(str(tmp_path / "probe.json")).save({"parse_rate": 1.0})
    assert "mlflow.parentRunId" not in client.get_run(run.info.run_id).data.tags
    assert run_group({"pipeline": "['evaluation']"}) is None
    assert run_group({"iteration": "3"}) == "iteration 3"


def test_a_run_of_several_iterations_gives_each_step_its_own_nested_run(experiment, tmp_path):
    """What ``kedro run --pipeline=iteration`` does: one process, every step of every
    iteration; the hook moves the active run (and kedro-mlflow's) step by step."""
    from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook

    client, experiment_id = experiment
    order = [
        _node("iter1", "self_instruct", "prompts"),
        _node("iter1", "judge", "judge"),
        _node("iter1", "pairs", "pairs"),
        _node("iter2", "self_instruct", "prompts"),
        _node("iter1", "pair_precision", "precision"),  # Kedro may come back to iter1
        _node("iter2", "pairs", "pairs"),
    ]
    hooks = RunContextHooks()
    hooks.before_pipeline_run({"namespaces": [], "pipeline_names": ["iteration"]}, Pipeline(order))
    saved = mlflow_hook.run_id
    try:
        mlflow.start_run(experiment_id=experiment_id, run_name="iteration")
        for k, node in enumerate(order):
            # kedro-mlflow re-enters its run at every node (nested), after our hook
            hooks.before_node_run(node, {})
            mlflow.start_run(run_id=mlflow_hook.run_id, nested=True)
            MetricsDataset(str(tmp_path / f"{k}.json"), prefix=node.name.rsplit(".", 1)[-1]).save(
                {"n": float(k)}
            )
        while mlflow.active_run() is not None:
            mlflow.end_run()
    finally:
        mlflow_hook.run_id = saved
    runs = {r.info.run_name: r for r in client.search_runs([experiment_id])}
    assert set(runs) == {
        "iter1.generate",
        "iter1.pairs",
        "iter1.pair_precision",
        "iter2.generate",
        "iter2.pairs",
        "iteration 1",
        "iteration 2",
    }
    # Each step's metrics in its own run, under the same keys in both iterations.
    assert runs["iter1.generate"].data.metrics == {"prompts.n": 0.0, "judge.n": 1.0}
    assert runs["iter2.generate"].data.metrics == {"prompts.n": 3.0}
    assert runs["iter1.pairs"].data.metrics == {"pairs.n": 2.0}
    assert runs["iter2.pairs"].data.metrics == {"pairs.n": 5.0}
    for name in ("iter1.generate", "iter1.pairs", "iter1.pair_precision"):
        assert runs[name].data.tags["iteration"] == "1"
        parent = runs[name].data.tags["mlflow.parentRunId"]
        assert parent == runs["iteration 1"].info.run_id
        assert runs[name].info.status == "FINISHED"
    assert runs["iter2.pairs"].data.tags["mlflow.parentRunId"] == runs["iteration 2"].info.run_id
