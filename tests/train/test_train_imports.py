"""The training modules import one another without a cycle: a method (``sft``, ``dpo``)
builds on the trainer core and the launcher; only a launched rank (``rank``) knows every
method."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[2] / "src/self_rewarding/train"


def _train_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "self_rewarding.train":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "self_rewarding.train."
        ):
            found.add(node.module.rsplit(".", 1)[1])
    return found - {path.stem}


def test_the_training_modules_import_one_another_without_a_cycle():
    graph = {path.stem: _train_imports(path) for path in TRAIN.glob("*.py")}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:  # names the modules of the cycle
        raise AssertionError(f"import cycle in train/: {cycle.args[1]}") from None
    assert order.index("trainer_core") < order.index("sft") < order.index("rank")
