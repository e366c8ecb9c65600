"""Numeric precision, and the size of the work, chosen from the hardware.

``precision: auto`` resolves, per process, to bf16 where the hardware computes it natively
(a CUDA device with bf16, a CPU with AVX512-BF16 or AMX), to fp16 on older GPUs, and to
fp32 otherwise: on a CPU without native bf16, a bf16 matmul is emulated and about 60x
slower than fp32. An explicit ``bf16``, ``fp16`` or ``fp32`` always wins.

On such a CPU the run also does less: the ``on_cpu_without_bf16`` values of a parameter
block (SFT epochs, judge-probe items, self-instructed prompts, evaluation sets) replace
its own there, so that the default profile fits an hour on an AVX2-only 2-core CPU.

The hardware itself is read by ``self_rewarding.hardware`` (torch); this module only
decides, so the rule is testable on any machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Precision = Literal["auto", "bf16", "fp16", "fp32"]
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp16", "fp32")

_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


@dataclass(frozen=True)
class Hardware:
    """What the process computes on.

    Attributes:
        device: ``cuda`` or ``cpu``.
        cpu_capability: torch's CPU kernel level (``AVX512``, ``AVX2``, ``DEFAULT``, ...).
        cpu_native_bf16: The CPU has AVX512-BF16 or AMX.
        cuda_name: The CUDA device's name, None without one.
        cuda_bf16: The CUDA device computes bf16 (compute capability 8.0 and later).
    """

    device: str
    cpu_capability: str
    cpu_native_bf16: bool
    cuda_name: str | None = None
    cuda_bf16: bool = False

    def describe(self) -> dict[str, str]:
        """Flat string fields, for MLflow parameters and provenance files."""
        return {
            "device": self.device,
            "cpu_capability": self.cpu_capability,
            "cpu_native_bf16": str(self.cpu_native_bf16).lower(),
            "cuda_name": self.cuda_name or "",
        }


def check_precision(requested: str, where: str = "precision") -> str:
    """Returns ``requested`` when it is a known precision, else raises naming ``where``."""
    if requested not in PRECISIONS:
        raise ValueError(f"{where}: unknown precision {requested!r}; use one of {PRECISIONS}")
    return requested


def resolve_precision(requested: str, hardware: Hardware) -> str:
    """Resolves ``auto`` for the hardware; an explicit precision is returned as it is.

    Returns:
        ``bf16``, ``fp16`` or ``fp32``.
    """
    check_precision(requested)
    if requested != "auto":
        return requested
    if hardware.device == "cuda":
        return "bf16" if hardware.cuda_bf16 else "fp16"
    return "bf16" if hardware.cpu_native_bf16 else "fp32"


def dtype_name(precision: str) -> str:
    """The torch/vLLM dtype name of a resolved precision (``bf16`` -> ``bfloat16``)."""
    if precision not in _DTYPE_NAMES:
        raise ValueError(f"not a resolved precision: {precision!r}")
    return _DTYPE_NAMES[precision]


def trainer_precision_arguments(precision: str, device: str) -> dict:
    """TRL/transformers trainer fields for a resolved precision.

    Mixed precision keeps fp32 master weights and autocasts the matmuls (``bf16``/``fp16``
    flags), except bf16 on CUDA, where the weights themselves are bf16 as in the paper's
    recipes (half the memory, no loss scaling needed).
    """
    weights = "bfloat16" if precision == "bf16" and device == "cuda" else "float32"
    return {
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "model_init_kwargs": {"dtype": weights},
    }


def lacks_native_bf16(hardware: Hardware) -> bool:
    """A CPU that emulates bf16 (AVX2 only): fp32 there, and the ``on_cpu_without_bf16``
    sizes of each parameter block."""
    return hardware.device == "cpu" and not hardware.cpu_native_bf16


def training_block_for(block: Mapping[str, Any], hardware: Hardware) -> dict[str, Any]:
    """An ``sft``/``dpo`` block as this hardware runs it: on a CPU without native bf16, the
    trainer fields of its ``on_cpu_without_bf16.trainer`` replace its own; the
    ``on_cpu_without_bf16`` key itself is dropped on every machine."""
    sized = {key: value for key, value in block.items() if key != "on_cpu_without_bf16"}
    overrides = block.get("on_cpu_without_bf16") or {}
    if overrides and lacks_native_bf16(hardware):
        sized["trainer"] = {**sized.get("trainer", {}), **(overrides.get("trainer") or {})}
    return sized
