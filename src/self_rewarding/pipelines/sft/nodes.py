"""Nodes of the ``sft`` pipeline: thin wrappers over ``self_rewarding.train.sft``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from self_rewarding.core.types import LauncherConfig
from self_rewarding.datasets.model_directory_dataset import model_staging_directory


def _train(base_model: Path, frames: list[pd.DataFrame], sft: dict, prefix: str):
    from self_rewarding.hardware import training_block_for_this_machine
    from self_rewarding.train.sft import train_sft

    sft = training_block_for_this_machine(sft, "sft")
    examples = pd.concat(frames, ignore_index=True)[["prompt", "response"]]
    # Beside the models, so that the catalog renames it into place (no copy).
    staging = model_staging_directory(Path(base_model).parent, prefix)
    try:
        metrics = train_sft(
            base_model,
            examples.to_dict(orient="records"),
            staging,
            sft["trainer"],
            prefix,
            precision=sft.get("precision", "auto"),
            launcher=LauncherConfig(**sft.get("launcher") or {}),
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, metrics


def train_sft_baseline(base_model: Path, ift_train: pd.DataFrame, sft: dict):
    """Fine-tunes M0 on IFT alone: the paper's SFT baseline.

    Args:
        base_model: M0.
        ift_train: IFT examples.
        sft: ``trainer``: ``SFTConfig`` fields; ``precision``; ``launcher``;
            ``on_cpu_without_bf16``: trainer fields that replace those on a CPU without
            native bf16.

    Returns:
        The staged model directory and the training metrics.
    """
    return _train(base_model, [ift_train], sft, "sft_baseline")


def train_m1(base_model: Path, ift_train: pd.DataFrame, eft_train: pd.DataFrame, sft: dict):
    """Fine-tunes M0 on IFT + EFT: M1, the first self-rewarding model.

    Args:
        base_model: M0.
        ift_train: IFT examples.
        eft_train: EFT judge examples.
        sft: ``trainer``: ``SFTConfig`` fields; ``precision``; ``launcher``;
            ``on_cpu_without_bf16``: trainer fields that replace those on a CPU without
            native bf16.

    Returns:
        The staged model directory and the training metrics.
    """
    return _train(base_model, [ift_train, eft_train], sft, "sft_m1")
