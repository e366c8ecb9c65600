"""The node that trains M_{t+1}: DPO of M_t on AIFT(M_t), M_t the reference model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from self_rewarding.core.types import IterationConfig, LauncherConfig
from self_rewarding.pipelines.iteration.pairs import judge_preference_pairs


def train_next_model(  # noqa: PLR0913, PLR0917 (a Kedro node: one input per dataset)
    model_dir: Path,
    preference_pairs: pd.DataFrame,
    pairs_gate: dict,
    dpo: dict,
    meta_judgments: pd.DataFrame | None = None,
    iteration: IterationConfig | None = None,
):
    """DPO of M_t on AIFT(M_t): M_{t+1}; with the meta-judge on, its judge-preference
    pairs join the answer pairs, their share capped by ``meta_judge.max_share``;
    ``pairs_gate`` orders this step after the pairs' gate. The hooks stop the shared
    generation engine before this node, so that its memory goes back first.

    Args:
        dpo: ``trainer``: ``DPOConfig`` fields (paper: beta 0.1); ``precision``;
            ``launcher`` (processes, accelerate config).

    Returns:
        The staged model directory (the catalog renames it into place) and the training
        metrics, ``answer_pairs`` and ``judge_pairs`` among them.
    """
    from self_rewarding.datasets.model_directory_dataset import model_staging_directory
    from self_rewarding.train.dpo import train_dpo

    rows = preference_pairs[["prompt", "chosen", "rejected"]].to_dict(orient="records")
    max_share = iteration.meta_judge.max_share if iteration is not None else 0.0
    judge_rows = judge_preference_pairs(
        meta_judgments if meta_judgments is not None else pd.DataFrame(), len(rows), max_share
    )
    staging = model_staging_directory(Path(model_dir).parent, "dpo")
    try:
        metrics = train_dpo(
            model_dir,
            rows + judge_rows,
            staging,
            dpo["trainer"],
            metrics_prefix="dpo",
            precision=dpo.get("precision", "auto"),
            launcher=LauncherConfig(**dpo.get("launcher") or {}),
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, {
        **metrics,
        "answer_pairs": float(len(rows)),
        "judge_pairs": float(len(judge_rows)),
    }
