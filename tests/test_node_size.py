"""Nodes stay thin: every top-level function of a node module under
``src/self_rewarding/pipelines`` (the ``pipeline.py`` builders aside), its helpers
included, is at most 40 lines, docstring included; the method runs in the core, the
engine in ``generation``."""

from __future__ import annotations

import ast
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[1] / "src/self_rewarding/pipelines"
MAX_LINES = 40


def node_function_lengths(root: Path = PIPELINES) -> dict[str, int]:
    """``module:function`` -> lines, for every top-level function of a node module."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        if path.name == "pipeline.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                name = f"{path.relative_to(root).as_posix()}:{node.name}"
                found[name] = node.end_lineno - node.lineno + 1
    return found


def test_no_node_function_is_over_40_lines():
    lengths = node_function_lengths()
    assert len(lengths) > 30  # the node modules were found
    assert {name: lines for name, lines in lengths.items() if lines > MAX_LINES} == {}


def test_the_count_takes_every_line_of_helpers_and_nodes_but_not_builders(tmp_path):
    (tmp_path / "nodes.py").write_text(
        'def node(x):\n    """Doc\n\n    more.\n    """\n    y = x\n    return y\n\n\n'
        "def _helper():\n    pass\n"
    )
    (tmp_path / "pipeline.py").write_text("def create_pipeline():\n" + "    x = 1\n" * 50)
    assert node_function_lengths(tmp_path) == {"nodes.py:node": 7, "nodes.py:_helper": 2}
