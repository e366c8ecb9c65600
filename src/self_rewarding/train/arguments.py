"""TRL trainer arguments from a parameter block's trainer fields and its precision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def training_arguments(kind: str, trainer: Mapping[str, Any], precision: str, output_dir: str):
    """Builds ``SFTConfig`` (``kind="sft"``) or ``DPOConfig`` (``"dpo"``).

    The precision (``auto`` resolved on this process's hardware) sets the ``bf16``/``fp16``
    flags and the weight dtype; training runs on the GPU when there is one, else on the
    CPU (where autocast also needs ``use_cpu``).

    Returns:
        The trainer config and the resolved precision.
    """
    import trl

    from self_rewarding.core.precision import trainer_precision_arguments
    from self_rewarding.hardware import detect_hardware, resolve

    config_class = {"sft": trl.SFTConfig, "dpo": trl.DPOConfig}[kind]
    resolved = resolve(precision)
    device = detect_hardware().device
    from_precision = trainer_precision_arguments(resolved, device)
    model_init_kwargs = {
        **dict(trainer.get("model_init_kwargs") or {}),
        **from_precision.pop("model_init_kwargs"),
    }
    arguments = {
        "use_cpu": device == "cpu",
        **trainer,
        **from_precision,
        "model_init_kwargs": model_init_kwargs,
        "output_dir": output_dir,
    }
    return config_class(**arguments), resolved
