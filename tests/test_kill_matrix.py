"""Tests for the checks of ``scripts/kill_matrix.py`` (the kill runs themselves need the
whole pipeline: run the script)."""

from __future__ import annotations

import importlib.util
import json
import struct
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "kill_matrix.py"


@pytest.fixture(scope="module")
def km():
    spec = importlib.util.spec_from_file_location("kill_matrix", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _safetensors(path: Path, cut: int = 0) -> None:
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "__metadata__": {}}
    ).encode()
    data = struct.pack("<Q", len(header)) + header + b"\0" * 16
    path.write_bytes(data[: len(data) - cut])


def test_whole_outputs_have_no_problems(tmp_path, km):
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n\n{"a": 2}\n')
    (tmp_path / "report.json").write_text('{"success": true}')
    (tmp_path / "report.html").write_text("<html><body></body></html>\n")
    (tmp_path / "table.md").write_text("| a |\n")
    model = tmp_path / "06_models" / "M1"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    _safetensors(model / "model.safetensors")
    (model / "training_args.bin").write_bytes(b"\x80\x04binary")
    for path in [*tmp_path.iterdir(), model]:
        assert km.problems_of(path) == [], path


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("rows.jsonl", '{"a": 1}\n{"a": '),
        ("rows.jsonl", '{"a": 1}'),  # last line without its newline
        ("report.json", '{"success": tr'),
        ("report.html", "<html><body><table>"),
        ("plot.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 20),
        ("table.md", ""),
    ],
)
def test_cut_outputs_are_named(tmp_path, km, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert km.problems_of(path)


def test_cut_or_incomplete_models_are_named(tmp_path, km):
    model = tmp_path / "06_models" / "M2"
    model.mkdir(parents=True)
    assert km.problems_of(model)  # no config.json
    (model / "config.json").write_text("{}")
    assert km.problems_of(model)  # no weights
    _safetensors(model / "model.safetensors", cut=3)
    assert "header says" in km.problems_of(model)[0]
    assert km.problems_of(tmp_path / "absent") == [f"{tmp_path / 'absent'}: missing"]


def test_leftovers_are_found_and_left_out_of_fingerprints(tmp_path, km):
    plots = tmp_path / "data" / "08_reporting" / "plots"
    plots.mkdir(parents=True)
    (plots / "a.png").write_bytes(b"png")
    before = km.fingerprint(plots)
    (plots / ".a.png.tmp-123-xyz.png").write_bytes(b"half")
    (tmp_path / "data" / ".M1.staging-77-abc").mkdir()
    assert km.fingerprint(plots) == before
    assert sorted(map(str, km.leftovers(tmp_path))) == [
        "data/.M1.staging-77-abc",
        "data/08_reporting/plots/.a.png.tmp-123-xyz.png",
    ]


def test_timeline_finds_each_stage_and_its_heaviest_node(km):
    run = km.Run(["dvc", "repro"], Path("log"))
    run.lines = [
        (0.0, "Running stage 'base_model':\n"),
        (2.0, "INFO kedro.pipeline.node: Running node: prepare_base_model_node: f() -> [M0]\n"),
        (9.0, "INFO kedro.runner: Completed 1 out of 1 tasks\n"),
        (10.0, "Running stage 'generate@iter1':\n"),
        (12.0, "Running node: iter1.judge_node: judge(...)\n"),
        (40.0, "Completed 1 out of 2 tasks\n"),
        (40.5, "Running node: iter1.check_judgments_node: check(...)\n"),
        (41.0, "Completed 2 out of 2 tasks\n"),
    ]
    run.seconds = 42.0
    stages = km.timeline(run)
    assert list(stages) == ["base_model", "generate@iter1"]
    assert stages["base_model"].heaviest == ("prepare_base_model_node", 7.0)
    assert (stages["generate@iter1"].start, stages["generate@iter1"].end) == (10.0, 42.0)
    assert stages["generate@iter1"].heaviest == ("iter1.judge_node", 28.0)


def test_test_environment_in_params_yaml_or_the_variable(tmp_path, km):
    env = {"KEDRO_ENV": "paper"}
    assert km.test_environment(tmp_path, env) == "KEDRO_ENV=test"
    assert env["KEDRO_ENV"] == "test"
    (tmp_path / "params.yaml").write_text("# which\nkedro_env: local  # note\nother: 1\n")
    assert km.test_environment(tmp_path, env) == "params.yaml kedro_env: test"
    assert "KEDRO_ENV" not in env
    assert (tmp_path / "params.yaml").read_text() == "# which\nkedro_env: test\nother: 1\n"


def test_stale_lock_entries_counts_dead_processes_only(tmp_path, km):
    import os

    (tmp_path / ".dvc" / "tmp").mkdir(parents=True)
    dead = {"pid": 2**22 + 7, "cmd": "dvc repro"}  # above Linux's default pid_max
    alive = {"pid": os.getpid(), "cmd": "dvc repro"}
    lock = {
        "read": {"/p/src": [dead, alive], "/p/data/a.jsonl": [dead]},
        "write": {"/p/data/b.jsonl": dead, "/p/data/c.jsonl": alive},
    }
    (tmp_path / ".dvc" / "tmp" / "rwlock").write_text(json.dumps(lock))
    assert km.stale_lock_entries(tmp_path) == (2, 1)
    assert km.stale_lock_entries(tmp_path / "absent") == (0, 0)
