"""Each DVC stage lists the code it runs: the modules its nodes import, followed through
the project's imports (a missing one would let a code change go unnoticed by
`dvc repro`); evaluation-only modules are no dependency of training or the iteration
(the pairs' precision, a measurement, takes the statistics)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
SRC = PROJECT / "src"

# The node modules each stage runs; the project's framework (settings, hooks, datasets)
# runs in every stage.
STAGE_NODES = {
    "data_processing": ["pipelines.data_processing.nodes", "pipelines.validation_nodes"],
    "base_model": ["pipelines.base_model.nodes"],
    "sft_baseline": ["pipelines.sft.nodes"],
    "sft_m1": ["pipelines.sft.nodes", "pipelines.judging", "pipelines.validation_nodes"],
    "judge_probe": ["pipelines.judging"],
    "generate": ["pipelines.iteration.generation_steps", "pipelines.validation_nodes"],
    "pairs": ["pipelines.iteration.pairs", "pipelines.validation_nodes"],
    "pair_precision": ["pipelines.iteration.pair_precision"],
    "dpo": ["pipelines.iteration.training"],
    "evaluate_model": ["pipelines.evaluation.nodes"],
    "evaluate_instruction_following": ["pipelines.evaluation.nodes"],
    "evaluation_report": ["pipelines.evaluation.nodes"],
}
FRAMEWORK = ["settings", "config_check", "datasets"]
# Imported by a node module for nodes of other stages only (function-level imports).
NOT_RUN = {
    stage: {
        "train/dpo.py",
        "train/sft.py",
        "train/trainer_core.py",
        "train/launcher.py",
        "train/rank.py",
        "train/arguments.py",
        "train/callbacks.py",
        "train/__init__.py",
    }
    for stage in ("generate", "pairs")
} | {"sft_baseline": set()}
EVALUATION_ONLY = {"core/metrics.py", "core/intervals.py", "generation/openai_backend.py"}


def _file(module: str) -> Path | None:
    path = SRC / module.replace(".", "/")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {name for name in found if name.startswith("self_rewarding")}


def _closure(modules: list[str]) -> set[str]:
    """Source files (relative to src/self_rewarding) that the modules import, transitively;
    the hooks' own imports (closing engines, MLflow tags) are left out."""
    seen: set[Path] = set()
    todo = [f"self_rewarding.{m}" for m in modules]
    while todo:
        path = _file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        if path.name != "hooks.py":
            todo.extend(_imports(path))
    return {p.relative_to(SRC / "self_rewarding").as_posix() for p in seen}


def _declared(stage: dict) -> set[str]:
    body = stage.get("do", stage)
    return {d for d in body["deps"] if isinstance(d, str) and d.startswith("src/")}


def _covered(file: str, deps: set[str]) -> bool:
    path = f"src/self_rewarding/{file}"
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


STAGES = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]


def test_every_stage_is_mapped():
    assert set(STAGES) == set(STAGE_NODES)


@pytest.mark.parametrize("stage", sorted(STAGE_NODES))
def test_a_stage_depends_on_every_module_it_runs(stage):
    runs = _closure(STAGE_NODES[stage] + FRAMEWORK) - NOT_RUN.get(stage, set())
    deps = _declared(STAGES[stage])
    missing = sorted(f for f in runs if not _covered(f, deps) and not f.endswith("__init__.py"))
    assert missing == []


@pytest.mark.parametrize("stage", sorted(STAGE_NODES))
def test_evaluation_modules_are_dependencies_of_evaluation_stages_only(stage):
    deps = _declared(STAGES[stage])
    touched = {f for f in EVALUATION_ONLY if _covered(f, deps)}
    if stage.startswith("evaluat"):
        assert touched == EVALUATION_ONLY
    elif stage == "pair_precision":  # measures the pairs, with the evaluation's statistics
        assert touched == {"core/metrics.py", "core/intervals.py"}
    else:
        assert touched == set()


def test_every_stage_tracks_the_kedro_environment():
    for name, stage in STAGES.items():
        assert "kedro_env" in stage.get("do", stage)["params"], name
    assert yaml.safe_load((PROJECT / "params.yaml").read_text())["kedro_env"] == "local"


def test_every_environment_file_is_tracked_where_its_base_file_is():
    """A stage that tracks ``conf/base/parameters_<x>.yml`` tracks every environment's
    ``parameters_<x>.yml`` too: editing one re-runs the stage under that environment."""
    environments = [p for p in (PROJECT / "conf").iterdir() if p.name not in ("base", "local")]
    untracked = []
    for name, stage in STAGES.items():
        tracked = set()
        for entry in stage.get("do", stage)["params"]:
            tracked |= set(entry) if isinstance(entry, dict) else set()
        for base_file in sorted(f for f in tracked if f.startswith("conf/base/parameters_")):
            file_name = Path(base_file).name
            untracked += [
                (name, f"conf/{env.name}/{file_name}")
                for env in environments
                if (env / file_name).exists() and f"conf/{env.name}/{file_name}" not in tracked
            ]
    assert untracked == []


def _has_key(tree: dict, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_parameter_a_stage_tracks_exists(stage):
    """DVC stops a stage whose tracked parameter is missing from its file, so a renamed
    parameter must be renamed in dvc.yaml too."""
    body = STAGES[stage].get("do", STAGES[stage])
    foreach = STAGES[stage].get("foreach", [None])
    names = list(foreach) if isinstance(foreach, dict | list) else [None]
    missing = []
    for entry in body.get("params", []):
        if not isinstance(entry, dict):
            continue
        for file, keys in entry.items():
            tree = yaml.safe_load((PROJECT / file).read_text(encoding="utf-8"))
            for key in keys or []:
                # A foreach stage's ${key} / ${item} is each iteration's name.
                for name in names:
                    resolved = key.replace("${key}", str(name)).replace("${item}", str(name))
                    if not _has_key(tree, resolved):
                        missing.append(f"{file}: {resolved}")
    assert missing == []
