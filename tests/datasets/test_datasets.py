"""Tests for the project's Kedro datasets: strict, atomic ``JSONLinesDataset``;
``ModelDirectoryDataset`` that swaps model directories in whole and recovers from a
process killed mid-swap; ``MetricsDataset`` that writes a DVC metrics file and logs to the
active MLflow run; atomic JSON, text and matplotlib datasets."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from mlflow.tracking import MlflowClient

from self_rewarding.datasets import (
    JSONDataset,
    JSONLinesDataset,
    MatplotlibDataset,
    MetricsDataset,
    ModelDirectoryDataset,
    TextDataset,
    model_staging_directory,
)
from self_rewarding.datasets import model_directory_dataset as model_module
from self_rewarding.records import RecordError, atomic_output, write_text_atomic, writer_token


def _killed(code: str, cwd) -> None:
    """Runs Python code in a child process that kills itself (SIGKILL) midway."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


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


def _marker(path):
    return json.loads((path / "config.json").read_text())["marker"]


def test_model_directory_staging_is_beside_the_model(tmp_path):
    target = tmp_path / "06_models" / "M2"
    dataset = ModelDirectoryDataset(path=str(target))
    staging = dataset.staging_directory()
    assert staging.parent == target.parent
    assert staging.name.startswith(f".M2.staging-{writer_token()}-")
    assert os.stat(staging).st_dev == os.stat(target.parent).st_dev
    _staged_model(staging / "model", "new")
    dataset.save(staging / "model")
    assert _marker(target) == "new"


# Where the saving process is killed: before the swap (the new model is in place as
# .M1.incoming-*), between the two renames (no M1 at all), after the swap (the old one
# still as .M1.outgoing-*). Each time, M1 is whole afterwards: the previous model, or the
# new one once it was in place.
_KILL_POINTS = {
    "before_swap": ("os", "rename", "name == 'M1' and dst_name.startswith('.M1.outgoing-')"),
    "between_renames": ("os", "rename", "name.startswith('.M1.incoming-') and dst_name == 'M1'"),
    "after_swap": ("shutil", "rmtree", "name.startswith('.M1.outgoing-')"),
}


@pytest.mark.parametrize(
    ("kill_point", "expected"),
    [("before_swap", "old"), ("between_renames", "old"), ("after_swap", "new")],
)
def test_model_directory_killed_mid_save_keeps_a_whole_model(tmp_path, kill_point, expected):
    target = tmp_path / "models" / "M1"
    ModelDirectoryDataset(path=str(target)).save(_staged_model(tmp_path / "old", "old"))
    _staged_model(tmp_path / "models" / ".staging-new", "new")
    module, function, condition = _KILL_POINTS[kill_point]
    _killed(
        f"""
        import os, shutil, signal
        from pathlib import Path
        from self_rewarding.datasets import ModelDirectoryDataset

        real = {module}.{function}

        def patched(src, dst=None, **kwargs):
            name, dst_name = Path(src).name, Path(dst).name if dst else ""
            if {condition}:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst, **kwargs) if dst else real(src, **kwargs)

        {module}.{function} = patched
        ModelDirectoryDataset(path="models/M1").save("models/.staging-new")
        """,
        cwd=tmp_path,
    )
    assert [p for p in target.parent.iterdir() if p.name != "M1"]  # the killed save's
    if kill_point == "between_renames":
        assert not target.exists()

    dataset = ModelDirectoryDataset(path=str(target))
    assert dataset.exists()
    assert dataset.load() == target
    assert _marker(target) == expected
    assert sorted(p.name for p in target.parent.iterdir()) == ["M1"]  # leftovers removed


def test_model_directory_killed_between_renames_without_a_previous_model(tmp_path):
    _staged_model(tmp_path / "models" / ".staging-new", "new")
    _killed(
        """
        import os, signal
        from pathlib import Path
        from self_rewarding.datasets import ModelDirectoryDataset

        real = os.rename

        def patched(src, dst):
            if Path(src).name.startswith(".M1.incoming-") and Path(dst).name == "M1":
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst)

        os.rename = patched
        ModelDirectoryDataset(path="models/M1").save("models/.staging-new")
        """,
        cwd=tmp_path,
    )
    target = tmp_path / "models" / "M1"
    assert not target.exists()
    # The next save recovers first, then replaces it.
    dataset = ModelDirectoryDataset(path=str(target))
    dataset.save(_staged_model(tmp_path / "newer", "newer"))
    assert _marker(target) == "newer"
    assert sorted(p.name for p in target.parent.iterdir()) == ["M1"]


def test_model_directory_recovery_leaves_running_processes_alone(tmp_path):
    target = tmp_path / "models" / "M1"
    dataset = ModelDirectoryDataset(path=str(target))
    dataset.save(_staged_model(tmp_path / "old", "old"))
    alive = _staged_model(target.parent / f".M1.incoming-{os.getpid()}-abc", "in flight")
    dead_pid = 2**22 + 7  # above Linux's default pid_max: no such process
    dead = _staged_model(target.parent / f".M1.outgoing-{dead_pid}-abc", "dead")
    other_model = _staged_model(target.parent / f".M2.outgoing-{dead_pid}-abc", "M2")

    assert dataset.load() == target
    assert _marker(target) == "old"
    assert alive.exists() and other_model.exists()
    assert not dead.exists()


def test_model_directory_staged_on_another_filesystem_is_copied_beside_then_renamed(
    tmp_path, monkeypatch
):
    target = tmp_path / "models" / "M0"
    dataset = ModelDirectoryDataset(path=str(target))
    dataset.save(_staged_model(tmp_path / "old", "old"))
    staged = _staged_model(tmp_path / "elsewhere" / "M0", "new")
    renames = []

    def rename(src, dst):
        renames.append((os.path.basename(src), os.path.basename(dst)))
        return real_rename(src, dst)

    real_rename = os.rename
    monkeypatch.setattr(model_module, "_same_filesystem", lambda a, b: "elsewhere" not in str(a))
    monkeypatch.setattr(model_module.os, "rename", rename)
    dataset.save(staged)

    assert _marker(target) == "new"
    assert not staged.exists()
    assert [kind for kind, _ in renames][0].startswith(".M0.staging-")
    assert renames[0][1].startswith(".M0.incoming-")
    assert sorted(p.name for p in target.parent.iterdir()) == ["M0"]


def test_model_staging_directory_removes_staging_of_killed_runs(tmp_path):
    dead_pid = 2**22 + 7
    stale = tmp_path / f".sft_m1.staging-{dead_pid}-x1"
    stale.mkdir()
    live = tmp_path / f".sft_m1.staging-{os.getpid()}-x2"
    live.mkdir()
    staging = model_staging_directory(tmp_path, "sft_m1")
    assert staging.is_dir() and not any(staging.iterdir())
    assert not stale.exists()
    assert live.exists()


# --- Atomic writers -----------------------------------------------------------------


def test_atomic_output_killed_midway_keeps_the_previous_file(tmp_path):
    path = tmp_path / "report.json"
    write_text_atomic(path, '{"version": "old"}\n')
    _killed(
        """
        import os, signal
        from self_rewarding.records import atomic_output

        with atomic_output("report.json") as temporary:
            with temporary.open("w") as handle:
                handle.write('{"version": "new", "half')
                handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        """,
        cwd=tmp_path,
    )
    assert json.loads(path.read_text()) == {"version": "old"}
    assert len(list(tmp_path.glob(".report.json.tmp-*"))) == 1  # the killed writer's
    write_text_atomic(path, '{"version": "next"}\n')
    assert json.loads(path.read_text()) == {"version": "next"}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_atomic_output_failure_keeps_the_previous_file_and_mode(tmp_path):
    path = tmp_path / "table.md"
    write_text_atomic(path, "old\n")
    with pytest.raises(RuntimeError), atomic_output(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("writer failed midway")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_json_dataset_failing_midway_keeps_the_previous_file(tmp_path):
    from kedro_datasets.json import JSONDataset as KedroJSONDataset

    path = tmp_path / "validation" / "judgments_gate.json"
    dataset = JSONDataset(filepath=str(path))
    verdict = {"artifact": "judgments", "passed": True, "expectations": 3}
    dataset.save(verdict)
    assert dataset.load() == verdict
    # Same bytes as kedro-datasets' JSONDataset.
    KedroJSONDataset(filepath=str(tmp_path / "kedro.json")).save(verdict)
    assert path.read_bytes() == (tmp_path / "kedro.json").read_bytes()

    with pytest.raises(DatasetError):  # a value json cannot write, after some that it can
        dataset.save({"artifact": "judgments", "results": [1, 2, {"bad": {1, 2}}]})
    assert dataset.load() == verdict
    assert sorted(p.name for p in path.parent.iterdir()) == ["judgments_gate.json"]


def test_text_dataset_failing_midway_keeps_the_previous_file(tmp_path):
    path = tmp_path / "judgments.html"
    dataset = TextDataset(filepath=str(path))
    dataset.save("<html>old</html>")
    with pytest.raises(DatasetError):
        dataset.save("<html>" + "x" * 100_000 + "\udfff")  # not encodable, at the end
    assert dataset.load() == "<html>old</html>"
    assert [p.name for p in tmp_path.iterdir()] == ["judgments.html"]


def test_matplotlib_dataset_failing_midway_keeps_the_previous_plot(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    path = tmp_path / "plots" / "by_model.png"
    dataset = MatplotlibDataset(filepath=str(path), save_args={"dpi": 50})
    figure, axis = plt.subplots()
    axis.plot([1, 2, 3])
    dataset.save(figure)
    before = path.read_bytes()
    assert before.startswith(b"\x89PNG")

    def failing_savefig(self, target, **kwargs):
        target.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", failing_savefig)
    figure, _ = plt.subplots()
    with pytest.raises(DatasetError, match="disk full"):
        dataset.save(figure)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["by_model.png"]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    axis.plot([1, 2])
    return figure


@pytest.mark.parametrize(
    ("kind", "name", "make_data"),
    [
        ("JSONDataset", "judgments.json", lambda: {"success": True}),
        ("TextDataset", "judgments.html", lambda: "<html></html>"),
        ("MatplotlibDataset", "by_model.png", _figure),
    ],
)
def test_atomic_datasets_inside_mlflow_artifact_dataset(
    tmp_path, mlflow_store, kind, name, make_data
):
    """The catalog wraps report datasets in kedro-mlflow's artifact dataset."""
    from kedro_mlflow.io.artifacts import MlflowArtifactDataset

    uri, experiment_id = mlflow_store
    path = tmp_path / "validation" / name
    dataset = MlflowArtifactDataset(
        dataset={"type": f"self_rewarding.datasets.{kind}", "filepath": str(path)},
        artifact_path="validation",
    )
    data = make_data()
    with mlflow.start_run(experiment_id=experiment_id) as run:
        dataset.save(data)
    written = path.read_bytes()
    if kind == "JSONDataset":
        assert json.loads(written) == data
    elif kind == "TextDataset":
        assert written.decode() == data
    else:
        assert written.startswith(b"\x89PNG")
    assert [p.name for p in path.parent.iterdir()] == [name]
    artifacts = MlflowClient(uri).list_artifacts(run.info.run_id, "validation")
    assert [a.path for a in artifacts] == [f"validation/{name}"]


# --- MetricsDataset -----------------------------------------------------------------


def test_metrics_saved_as_sorted_json(tmp_path):
    path = tmp_path / "reporting" / "metrics.json"
    dataset = MetricsDataset(filepath=str(path), prefix="seed_data")
    metrics = {"ift_examples": 3, "eft_parse_rate": 0.5, "eft_examples": 12}
    dataset.save(metrics)
    assert json.loads(path.read_text(encoding="utf-8")) == metrics
    assert list(json.loads(path.read_text())) == sorted(metrics)
    assert dataset.load() == metrics
    assert dataset.exists()


@pytest.mark.parametrize("bad", ["3", float("nan"), True, [1], {"a": 1}])
def test_metrics_reject_non_numeric_values(tmp_path, bad):
    path = tmp_path / "metrics.json"
    dataset = MetricsDataset(filepath=str(path))
    dataset.save({"ok": 1.0})
    before = path.read_bytes()
    with pytest.raises(DatasetError, match="bad_metric"):
        dataset.save({"fine": 2, "bad_metric": bad})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_an_undefined_metric_is_null_in_json_and_absent_from_mlflow(tmp_path, mlflow_store):
    uri, experiment_id = mlflow_store
    path = tmp_path / "metrics.json"
    with mlflow.start_run(experiment_id=experiment_id) as run:
        MetricsDataset(filepath=str(path)).save({"accuracy": 0.5, "five_best": None})
    assert json.loads(path.read_text()) == {"accuracy": 0.5, "five_best": None}
    logged = MlflowClient(uri).get_run(run.info.run_id).data.metrics
    assert logged == {"accuracy": 0.5}


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
