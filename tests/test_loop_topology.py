"""The loop's topology from one setting: `loop.iterations` in params.yaml drives the Kedro
namespaces, DVC's stage list, the judge probe, the evaluation and its comparisons."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from self_rewarding.core.topology import (
    check_iterations,
    default_comparisons,
    evaluated_models,
    iterations,
    probed_models,
)
from self_rewarding.loop_topology import (
    LoopTopologyError,
    check_dvc_yaml,
    main,
    read_iterations,
    render_dvc_yaml,
)
from self_rewarding.pipelines.evaluation.pipeline import create_pipeline as evaluation
from self_rewarding.pipelines.iteration.pipeline import create_pipeline as iteration
from self_rewarding.pipelines.judge_probe.pipeline import create_pipeline as judge_probe

PROJECT = Path(__file__).resolve().parents[1]
STEPS = ("generate", "pairs", "pair_precision", "dpo")
FIXED_STAGES = {
    "data_processing",
    "base_model",
    "sft_baseline",
    "sft_m1",
    "evaluate_instruction_following",
    "evaluation_report",
}


def test_iterations_chain_the_models():
    assert [(it.name, it.t, it.model, it.next_model) for it in iterations(3)] == [
        ("iter1", 1, "M1", "M2"),
        ("iter2", 2, "M2", "M3"),
        ("iter3", 3, "M3", "M4"),
    ]
    assert probed_models(1) == ["M0", "M1", "M2"]
    assert evaluated_models(3) == ["M0", "sft_baseline", "M1", "M2", "M3", "M4"]


@pytest.mark.parametrize("value", [0, -1, 2.0, "2", True, None])
def test_a_number_of_iterations_is_a_whole_number_from_one(value):
    with pytest.raises(ValueError, match=r"loop\.iterations: must be a whole number >= 1"):
        check_iterations(value)


def test_default_comparisons_are_each_step_and_each_model_against_the_sft_baseline():
    assert default_comparisons(evaluated_models(2)) == [
        ("M1", "sft_baseline"),
        ("M2", "M1"),
        ("M3", "M2"),
        ("M2", "sft_baseline"),
        ("M3", "sft_baseline"),
    ]
    assert ("M4", "M3") in default_comparisons(evaluated_models(3))
    assert default_comparisons(["M2", "M1"]) == [("M2", "M1")]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_the_kedro_pipelines_have_one_namespace_per_iteration_and_model(count):
    loop = iteration(iteration_count=count)
    assert {node.namespace for node in loop.nodes} == {f"iter{t}" for t in range(1, count + 1)}
    assert f"model_M{count + 1}" in loop.outputs()
    assert "model_M1" in loop.inputs()
    assert f"M{count + 1}.judge_probe" in judge_probe(iteration_count=count).outputs()
    evaluated = evaluation(iteration_count=count)
    assert {f"model_{m}" for m in evaluated_models(count)} <= evaluated.inputs()
    assert f"model_M{count + 2}" not in evaluated.inputs()


def _stage_names(dvc_yaml: str, root: Path) -> set[str]:
    """The stages DVC itself resolves from a dvc.yaml."""
    root.mkdir()
    (root / "dvc.yaml").write_text(dvc_yaml)
    shutil.copy(PROJECT / "params.yaml", root / "params.yaml")
    dvc = Path(sys.executable).parent / "dvc"
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=root, check=True)
    listed = subprocess.run(
        [dvc, "stage", "list", "--name-only"], cwd=root, capture_output=True, text=True, check=False
    )
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


@pytest.mark.slow
@pytest.mark.parametrize("count", [1, 2, 3])
def test_the_dvc_stage_list_follows_the_number_of_iterations(count, tmp_path):
    rendered = render_dvc_yaml((PROJECT / "dvc.yaml").read_text(), count)
    models = evaluated_models(count)
    assert _stage_names(rendered, tmp_path / "repo") == {
        *FIXED_STAGES,
        *(f"{step}@iter{t}" for step in STEPS for t in range(1, count + 1)),
        *(f"judge_probe@{m}" for m in probed_models(count)),
        *(f"evaluate_model@{m}" for m in models),
    }
    for model in models:
        assert f"- data/07_model_output/{model}/eval_answers.jsonl" in rendered
        assert f"- data/08_reporting/{model}/judge_evaluation.json" in rendered
    assert f"data/08_reporting/M{count + 2}/" not in rendered
    # Comments stay where they were, and rendering back gives the committed file.
    assert "- data/06_models/M1  # the default evaluator" in rendered
    assert render_dvc_yaml(rendered, 2) == (PROJECT / "dvc.yaml").read_text()


def test_the_committed_dvc_yaml_matches_params_yaml():
    check_dvc_yaml(PROJECT)
    assert read_iterations(PROJECT) == 2


def _project_copy(tmp_path: Path) -> Path:
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(PROJECT / name, tmp_path / name)
    return tmp_path


def test_setting_iterations_rewrites_both_files_and_a_stale_dvc_yaml_is_named(tmp_path, capsys):
    root = _project_copy(tmp_path)
    assert main(["--project", str(root), "--iterations", "3"]) == 0
    params = (root / "params.yaml").read_text()
    assert "  iterations: 3\n" in params
    assert "# The self-rewarding loop" in params  # comments kept
    assert "iter3: {model: M3, next_model: M4}" in (root / "dvc.yaml").read_text()
    check_dvc_yaml(root)

    (root / "params.yaml").write_text(params.replace("iterations: 3", "iterations: 1"))
    with pytest.raises(LoopTopologyError, match=r"dvc\.yaml does not match loop\.iterations: 1"):
        check_dvc_yaml(root)
    assert main(["--project", str(root), "--check"]) == 1
    assert "python -m self_rewarding.loop_topology" in capsys.readouterr().err


def test_a_bad_setting_names_the_file_and_key_and_changes_nothing(tmp_path):
    root = _project_copy(tmp_path)
    params = (root / "params.yaml").read_text().replace("iterations: 2", "iterations: two")
    (root / "params.yaml").write_text(params)
    before = (root / "dvc.yaml").read_text()
    with pytest.raises(LoopTopologyError, match=r"params\.yaml: loop\.iterations: must be"):
        read_iterations(root)
    assert main(["--project", str(root)]) == 1
    assert main(["--project", str(root), "--iterations", "0"]) == 1
    assert (root / "dvc.yaml").read_text() == before
    assert (root / "params.yaml").read_text() == params
