"""The hardware of this process, read through torch, the precision it resolves to and
the sizes it runs (the rules are ``core.precision``)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from self_rewarding.core.precision import (
    Hardware,
    check_precision,
    resolve_precision,
    training_block_for,
)

logger = logging.getLogger(__name__)

PROVENANCE_FILE = "self_rewarding_provenance.json"

# What a block's ``precision: auto`` stands for in this run: the top-level ``precision``
# parameter, set by the project's hooks as the run starts.
_run_precision = "auto"


def set_run_precision(precision: str) -> None:
    """Sets the run-wide precision that ``auto`` blocks follow (``auto``: the hardware's)."""
    global _run_precision  # noqa: PLW0603 -- one value per process, set once per run
    _run_precision = check_precision(precision, "precision")


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def _cpu_native_bf16() -> bool:
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    found = [getattr(torch.cpu, name) for name in probes if hasattr(torch.cpu, name)]
    if found:
        return any(probe() for probe in found)
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())  # torch without the probes


@functools.cache
def detect_hardware() -> Hardware:
    """What this process computes on (CUDA when torch sees a device)."""
    import torch

    on_cuda = torch.cuda.is_available()
    return Hardware(
        device="cuda" if on_cuda else "cpu",
        cpu_capability=str(torch.backends.cpu.get_cpu_capability()),
        cpu_native_bf16=_cpu_native_bf16(),
        cuda_name=torch.cuda.get_device_name(0) if on_cuda else None,
        cuda_bf16=bool(on_cuda and torch.cuda.is_bf16_supported()),
    )


def sized_for_this_machine(config, block: str):
    """``config.sized_for`` this machine's hardware (a typed config with
    ``on_cpu_without_bf16`` sizes), said in the log when the smaller sizes apply."""
    hardware = detect_hardware()
    sized = config.sized_for(hardware)
    if sized is not config:
        logger.warning(
            "CPU %s without native bf16: %s.on_cpu_without_bf16 applies (%s)",
            hardware.cpu_capability,
            block,
            config.on_cpu_without_bf16,
        )
    return sized


def training_block_for_this_machine(block: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An ``sft``/``dpo`` block with its ``on_cpu_without_bf16.trainer`` fields where this
    machine is a CPU without native bf16, said in the log when they apply."""
    hardware = detect_hardware()
    sized = training_block_for(block, hardware)
    if sized.get("trainer") != block.get("trainer"):
        logger.warning(
            "CPU %s without native bf16: %s.on_cpu_without_bf16 applies (trainer %s)",
            hardware.cpu_capability,
            name,
            block["on_cpu_without_bf16"]["trainer"],
        )
    return sized


def resolve(requested: str) -> str:
    """Resolves a block's precision: an explicit one as it is; ``auto`` as the run-wide
    precision, and that, when also ``auto``, from this process's hardware."""
    hardware = detect_hardware()
    check_precision(requested)
    resolved = resolve_precision(_run_precision if requested == "auto" else requested, hardware)
    logger.info(
        "Precision %s -> %s on %s (CPU %s, native bf16: %s)",
        requested,
        resolved,
        hardware.cuda_name or "CPU",
        hardware.cpu_capability,
        hardware.cpu_native_bf16,
    )
    return resolved


def precision_record(requested: str, resolved: str) -> dict[str, str]:
    """What a model directory and an MLflow run record about how it was computed."""
    return {
        "precision_requested": requested,
        "precision": resolved,
        **{f"hardware_{k}": v for k, v in detect_hardware().describe().items()},
    }


def log_precision(prefix: str, requested: str, resolved: str) -> None:
    """Logs the precision and the hardware to the active MLflow run, if any. The keys differ
    from the parameter's own (``dpo.precision``, logged as ``auto``), which MLflow would
    refuse to change."""
    import mlflow

    if mlflow.active_run() is None:
        return
    hardware = {f"hardware.{k}": v for k, v in detect_hardware().describe().items()}
    mlflow.log_params(
        {
            f"{prefix}.resolved_precision": resolved,
            f"{prefix}.requested_precision": requested,
            **hardware,
        }
    )


def write_provenance(model_dir: str | Path, record: dict) -> None:
    """Records how a model directory was made (precision, hardware, ...) inside it."""
    import json

    from self_rewarding.records import write_text_atomic

    path = Path(model_dir) / PROVENANCE_FILE
    write_text_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_provenance(model_dir: str | Path) -> dict:
    """The record ``write_provenance`` left in a model directory; empty when none."""
    import json

    path = Path(model_dir) / PROVENANCE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
