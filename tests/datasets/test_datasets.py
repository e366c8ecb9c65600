"""Tests for the project's Kedro datasets: strict, atomic ``JSONLinesDataset``;
``ModelDirectoryDataset`` that swaps model directories in whole; ``MetricsDataset``
that writes a DVC metrics file and logs to the active MLflow run."""

from __future__ import annotations

import json
import math

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from mlflow.tracking import MlflowClient

from self_rewarding.core.records import RecordError
from self_rewarding.datasets import (
    JSONLinesDataset,
    MetricsDataset,
    ModelDirectoryDataset,
)

# --- JSONLinesDataset ---------------------------------------------------------------


def test_jsonl_round_trip_with_missing_values(tmp_path):
    path = tmp_path / "out" / "eft.jsonl"
    frame = pd.DataFrame(
        {
            "prompt": ["Ünïcode ✓ {x}", "second / line\nbreak"],
            "quality": [0.75, np.nan],
            "score": [4, 2],
            "note": [None, "kept"],
        }
    )
    dataset = JSONLinesDataset(filepath=str(path))
    assert not dataset.exists()
    dataset.save(frame)
    assert dataset.exists()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    rows = [json.loads(line) for line in lines]  # strict JSON: no bare NaN
    assert "NaN" not in path.read_text(encoding="utf-8")
    assert rows[1]["quality"] is None
    assert rows[0]["note"] is None
    assert rows[0]["prompt"] == "Ünïcode ✓ {x}"

    loaded = dataset.load()
    assert list(loaded.columns) == ["prompt", "quality", "score", "note"]
    assert loaded["prompt"].tolist() == frame["prompt"].tolist()
    assert loaded["score"].tolist() == [4, 2]
    assert loaded["quality"].iloc[0] == 0.75
    assert math.isnan(loaded["quality"].iloc[1])
    assert loaded["note"].iloc[1] == "kept"


def test_jsonl_round_trip_keeps_full_float_precision(tmp_path):
    """A save/load round trip must not round floats (e.g. OASST quality means)."""
    dataset = JSONLinesDataset(filepath=str(tmp_path / "q.jsonl"))
    values = [0.5833333333333334, 1 / 3, 0.1 + 0.2]
    dataset.save(pd.DataFrame({"human_quality": values}))
    assert dataset.load()["human_quality"].tolist() == values


def test_jsonl_saves_a_list_of_dicts(tmp_path):
    path = tmp_path / "rows.jsonl"
    JSONLinesDataset(filepath=str(path)).save([{"a": 1}, {"a": None, "b": "x"}])
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n{"a": null, "b": "x"}\n'


def test_jsonl_load_error_names_file_line_and_field(tmp_path):
    path = tmp_path / "ift.jsonl"
    path.write_text(
        '{"prompt": "a", "response": "b"}\n{"prompt": "c", "response": "  "}\n',
        encoding="utf-8",
    )
    dataset = JSONLinesDataset(filepath=str(path), non_empty_fields=["prompt", "response"])
    with pytest.raises(DatasetError) as info:
        dataset.load()
    message = str(info.value)
    assert str(path) in message
    assert "line 2" in message
    assert "field 'response'" in message
    assert isinstance(info.value.__cause__, RecordError)


def test_jsonl_load_error_for_missing_required_field(tmp_path):
    path = tmp_path / "scored.jsonl"
    path.write_text('{"prompt_text": "a"}\n', encoding="utf-8")
    dataset = JSONLinesDataset(filepath=str(path), required_fields=["response_id"])
    with pytest.raises(DatasetError, match=r"line 1, field 'response_id': missing"):
        dataset.load()


def test_jsonl_load_of_a_missing_file_fails(tmp_path):
    path = tmp_path / "absent.jsonl"
    with pytest.raises(DatasetError, match="absent.jsonl"):
        JSONLinesDataset(filepath=str(path)).load()


def test_jsonl_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    dataset = JSONLinesDataset(filepath=str(path))
    dataset.save(pd.DataFrame({"prompt": ["old"]}))
    before = path.read_bytes()

    with pytest.raises(DatasetError):
        dataset.save([{"prompt": "new"}, {"prompt": {"not", "json"}}])
    # orient="records" refuses duplicate column names.
    duplicated = pd.DataFrame([["a", "b"]], columns=["prompt", "prompt"])
    with pytest.raises(DatasetError):
        dataset.save(duplicated)
    with pytest.raises(DatasetError):
        broken = pd.Series(["x" * 5000, "bad \ud800"], dtype=object)
        dataset.save(pd.DataFrame({"prompt": broken}))

    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]
    assert dataset.load()["prompt"].tolist() == ["old"]


# --- ModelDirectoryDataset ----------------------------------------------------------


def _staged_model(root, marker):
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"marker": marker}))
    (root / "model.safetensors").write_bytes(marker.encode() * 100)
    return root


def test_model_directory_save_moves_the_staged_directory_in(tmp_path):
    target = tmp_path / "06_models" / "M1"
    dataset = ModelDirectoryDataset(path=str(target))
    assert not dataset.exists()
    staged = _staged_model(tmp_path / "staging" / "run1", "first")

    dataset.save(staged)

    assert not staged.exists()
    assert dataset.exists()
    assert dataset.load() == target
    assert json.loads((target / "config.json").read_text()) == {"marker": "first"}
    assert sorted(p.name for p in target.parent.iterdir()) == ["M1"]


def test_model_directory_save_replaces_an_older_model(tmp_path):
    target = tmp_path / "models" / "M1"
    dataset = ModelDirectoryDataset(path=str(target))
    dataset.save(_staged_model(tmp_path / "a", "old"))
    (target / "stale_only_in_old.bin").write_bytes(b"x")

    dataset.save(str(_staged_model(tmp_path / "b", "new")))

    assert json.loads((target / "config.json").read_text()) == {"marker": "new"}
    assert not (target / "stale_only_in_old.bin").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["M1"]


def test_model_directory_save_without_config_leaves_the_model_untouched(tmp_path):
    target = tmp_path / "models" / "M1"
    dataset = ModelDirectoryDataset(path=str(target))
    dataset.save(_staged_model(tmp_path / "good", "good"))
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half")

    with pytest.raises(DatasetError, match="config.json"):
        dataset.save(partial)

    assert json.loads((target / "config.json").read_text()) == {"marker": "good"}
    assert (partial / "model.safetensors").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["M1"]


def test_model_directory_save_of_itself_is_a_no_op(tmp_path):
    target = _staged_model(tmp_path / "models" / "M0", "same")
    dataset = ModelDirectoryDataset(path=str(target))
    dataset.save(target)
    assert json.loads((target / "config.json").read_text()) == {"marker": "same"}


def test_model_directory_load_of_missing_model_raises(tmp_path):
    empty = tmp_path / "models" / "empty"
    empty.mkdir(parents=True)
    for path in (tmp_path / "models" / "absent", empty):
        dataset = ModelDirectoryDataset(path=str(path))
        assert not dataset.exists()
        with pytest.raises(DatasetError, match="config.json"):
            dataset.load()


# --- MetricsDataset -----------------------------------------------------------------


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """A real MLflow sqlite tracking store in tmp_path; restores MLflow afterwards."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(
        "metrics-test", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    try:
        yield uri, experiment_id
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


def test_metrics_saved_as_sorted_json(tmp_path):
    path = tmp_path / "reporting" / "metrics.json"
    dataset = MetricsDataset(filepath=str(path), prefix="seed_data")
    metrics = {"ift_examples": 3, "eft_parse_rate": 0.5, "eft_examples": 12}
    dataset.save(metrics)
    assert json.loads(path.read_text(encoding="utf-8")) == metrics
    assert list(json.loads(path.read_text())) == sorted(metrics)
    assert dataset.load() == metrics
    assert dataset.exists()


@pytest.mark.parametrize("bad", ["3", None, True, [1], {"a": 1}])
def test_metrics_reject_non_numeric_values(tmp_path, bad):
    path = tmp_path / "metrics.json"
    dataset = MetricsDataset(filepath=str(path))
    dataset.save({"ok": 1.0})
    before = path.read_bytes()
    with pytest.raises(DatasetError, match="bad_metric"):
        dataset.save({"fine": 2, "bad_metric": bad})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_metrics_logged_to_the_active_mlflow_run(tmp_path, mlflow_store):
    uri, experiment_id = mlflow_store
    dataset = MetricsDataset(filepath=str(tmp_path / "m.json"), prefix="seed_data")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        dataset.save({"ift_examples": 3, "parse_rate": 0.75})
    logged = MlflowClient(uri).get_run(run.info.run_id).data.metrics
    assert logged == {"seed_data.ift_examples": 3.0, "seed_data.parse_rate": 0.75}


def test_metrics_without_prefix_or_run(tmp_path, mlflow_store):
    uri, experiment_id = mlflow_store
    dataset = MetricsDataset(filepath=str(tmp_path / "m.json"))
    dataset.save({"before_run": 1})  # no active run: file only, no error
    with mlflow.start_run(experiment_id=experiment_id) as run:
        dataset.save({"n": 2})
    logged = MlflowClient(uri).get_run(run.info.run_id).data.metrics
    assert logged == {"n": 2.0}
    assert json.loads((tmp_path / "m.json").read_text()) == {"n": 2}
