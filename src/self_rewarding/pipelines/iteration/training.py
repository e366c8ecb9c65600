"""The node that trains M_{t+1}: DPO of M_t on AIFT(M_t), M_t the reference model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from self_rewarding.core.types import IterationConfig, LauncherConfig
from self_rewarding.hardware import training_block_for_this_machine
from self_rewarding.pipelines.iteration.pairs import judge_preference_pairs


def train_next_model(  # noqa: PLR0913, PLR0917 (a Kedro node: one input per dataset)
    model_dir: Path,
    preference_pairs: pd.DataFrame,
    pairs_gate: dict,
    dpo: dict,
    meta_judgments: pd.DataFrame | None = None,
    iteration: IterationConfig | None = None,
):
    """DPO of M_t on AIFT(M_t) (``dpo``: ``trainer``, ``precision``, ``launcher``) makes
    M_{t+1}, staged for the catalog to rename into place; the meta-judge's pairs join,
    their share capped by ``meta_judge.max_share``. The hooks stop the shared engine
    before this node; ``pairs_gate`` orders it after the pairs' gate."""
    from self_rewarding.datasets.model_directory_dataset import model_staging_directory
    from self_rewarding.train.dpo import train_dpo

    dpo = training_block_for_this_machine(dpo, "dpo")
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
