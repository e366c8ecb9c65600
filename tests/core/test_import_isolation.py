"""Tests that ``self_rewarding.core`` and each of its submodules import no heavy
framework (pipelines, tracking, data validation or ML stacks)."""

from __future__ import annotations

import json
import subprocess
import sys

CORE_MODULES = (
    "self_rewarding.core",
    "self_rewarding.core.prompts",
    "self_rewarding.core.judge",
    "self_rewarding.core.records",
    "self_rewarding.core.seed_data",
    "self_rewarding.core.types",
    "self_rewarding.core.provenance",
    "self_rewarding.core.filters",
    "self_rewarding.core.pairs",
    "self_rewarding.core.precision",
    "self_rewarding.core.correlation",
    "self_rewarding.core.metrics",
    "self_rewarding.core.intervals",
)

FORBIDDEN = (
    "kedro",
    "mlflow",
    "dvc",
    "great_expectations",
    "torch",
    "transformers",
    "trl",
    "vllm",
    "deepspeed",
    "peft",
    "datasets",
)

_PROBE = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
forbidden = set({forbidden!r})
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
core = sorted(m for m in sys.modules if m.startswith("self_rewarding.core"))
print(json.dumps({{"loaded": loaded, "core": core}}))
"""


def test_core_imports_no_heavy_dependency(tmp_path):
    code = _PROBE.format(modules=CORE_MODULES, forbidden=FORBIDDEN)
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert set(CORE_MODULES) <= set(result["core"])
    assert result["loaded"] == []
