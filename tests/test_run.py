"""End to end on the test environment: a real DVC repro of every stage (real Kedro runs,
real TRL training of the tiny model, real MLflow sqlite store, real GX suites) in a
fresh git clone of the project, then bad seed data stopping a run before training.

Marked ``slow`` (about two minutes on two cores); run with ``pytest -m slow``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _run(args, cwd, check=True, **env):
    environment = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "KEDRO_ENV": "test",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    result = subprocess.run(
        args, cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args} failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-4000:]}"
        )
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A fresh copy of the committed and working-tree project files in its own git
    repository (no data outputs, no MLflow store, no virtual environment)."""
    root = tmp_path_factory.mktemp("clone") / "self-rewarding"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        source = PROJECT_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    for name in ("dvc.lock",):
        (root / name).unlink(missing_ok=True)
    _run(["git", "init", "-q"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], root)
    return root


@pytest.fixture(scope="module")
def reproduced(project) -> Path:
    _run(["dvc", "repro"], project)
    return project


def test_dvc_repro_produces_a_loadable_m1(reproduced):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = reproduced / "data/06_models/M1"
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 128
    assert tokenizer.chat_template is not None
    lock = (reproduced / "dvc.lock").read_text()
    for out in ("data/06_models/M0", "data/06_models/sft_baseline", "data/06_models/M1"):
        assert out in lock
    for model in ("M0", "M1"):
        probe = json.loads((reproduced / f"data/08_reporting/{model}/judge_probe.json").read_text())
        assert probe["n_answers"] == 6


def test_mlflow_store_holds_sft_curves_and_model_links(reproduced):
    connection = sqlite3.connect(reproduced / "mlflow.db")
    runs = dict(
        connection.execute(
            "select r.run_uuid, t.value from runs r join tags t on r.run_uuid = t.run_uuid "
            "where t.key = 'mlflow.runName'"
        ).fetchall()
    )
    by_name = {name: run for run, name in runs.items()}
    expected = {"data_processing", "base_model", "sft_baseline", "sft_m1"}
    assert expected | {"judge_probe_M0", "judge_probe_M1"} <= set(by_name)
    metrics = {
        key
        for (key,) in connection.execute(
            "select key from metrics where run_uuid = ?", (by_name["sft_m1"],)
        )
    }
    assert {"sft_m1.loss", "sft_m1.learning_rate", "train.train_loss"} <= metrics
    probe_metrics = {
        key
        for (key,) in connection.execute(
            "select key from metrics where run_uuid = ?", (by_name["judge_probe_M1"],)
        )
    }
    assert {"judge_probe.parse_rate", "judge_probe.tokens_per_second"} <= probe_metrics
    tags = dict(
        connection.execute(
            "select key, value from tags where run_uuid = ?", (by_name["sft_m1"],)
        ).fetchall()
    )
    assert len(tags["model.model_M1.sha256"]) == 64
    seed_metrics = {
        key
        for (key,) in connection.execute(
            "select key from metrics where run_uuid = ?", (by_name["data_processing"],)
        )
    }
    assert "seed_data.eft_examples" in seed_metrics


def test_second_repro_has_nothing_to_do(reproduced):
    status = _run(["dvc", "status"], reproduced)
    assert "up to date" in status.stdout
    again = _run(["dvc", "repro"], reproduced)
    assert "Running stage" not in again.stdout


def test_a_bad_seed_line_stops_the_run_before_training(reproduced):
    raw = reproduced / "data/01_raw/oasst2_partial/oasst_en_ift_candidates_no_alpacaeval.jsonl"
    ift_train = reproduced / "data/05_model_input/ift_train.jsonl"
    produced_before = ift_train.read_bytes()
    model_before = (reproduced / "data/06_models/M1/model.safetensors").stat().st_mtime_ns
    lines = raw.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = json.loads(lines[4])
    broken["response"] = "   "
    lines[4] = json.dumps(broken) + "\n"
    raw.write_text("".join(lines), encoding="utf-8")

    result = _run(["kedro", "run"], reproduced, check=False)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "oasst_en_ift_candidates_no_alpacaeval.jsonl, line 5, field 'response'" in output
    assert "Running node: train_" not in output
    assert ift_train.read_bytes() == produced_before
    assert (reproduced / "data/06_models/M1/model.safetensors").stat().st_mtime_ns == (model_before)
