"""Tests that ``self_rewarding.core`` and each of its submodules import no heavy
framework (pipelines, tracking, data validation or ML stacks)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import self_rewarding.core

# Every module of the core, found on disk, so that a new one is checked too.
CORE_MODULES = (
    "self_rewarding.core",
    *(
        f"self_rewarding.core.{module.name}"
        for module in pkgutil.iter_modules(self_rewarding.core.__path__)
    ),
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
