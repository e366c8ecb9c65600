"""The nodes that turn an iteration's judgments into DPO data: AIFT(M_t) pairs by the
paper's best-vs-worst rule (``core.pairs``), and the meta-judge's judge-preference pairs.
They load no model."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping

import pandas as pd

from self_rewarding.core.meta_judge import judge_pair_budget
from self_rewarding.core.pairs import (
    build_pairs,
    candidate_scores,
    check_length_control_rho,
    pair_statistics,
)
from self_rewarding.core.prompts import JUDGE_TEMPLATE_NAME, template_sha256
from self_rewarding.core.rows import Candidate, Judgment, PreferencePair, records_of, row_of

logger = logging.getLogger(__name__)

# A pair's fields, then the iteration and provenance; the sampler's seed last.
PAIR_COLUMNS = [
    *(field.name for field in dataclasses.fields(PreferencePair) if field.name != "seed"),
    "iteration",
    "model_path",
    "model_sha256",
    "template_sha256",
    "seed",
]


def rho_of_iteration(setting: float | Mapping[str, float], t: int) -> float:
    """Iteration t's length-control rho: one number, or ``{"default": x, "iter<t>": y}``;
    a ValueError names the parameter key of a bad one."""
    if not isinstance(setting, Mapping):
        return check_length_control_rho(setting, "length_control_rho")
    unknown = [key for key in setting if key != "default" and not re.fullmatch(r"iter\d+", key)]
    if unknown:
        raise ValueError(
            f"length_control_rho: keys are 'default' and iter<t>, got {sorted(unknown)}"
        )
    key = f"iter{t}" if f"iter{t}" in setting else "default"
    return check_length_control_rho(setting.get(key, 0.0), f"length_control_rho.{key}")


def build_preference_pairs(
    candidates: pd.DataFrame,
    judgments: pd.DataFrame,
    judgments_gate: dict,
    *,
    t: int,
    length_control_rho: float | Mapping[str, float] = 0.0,
    min_margin: float = 0.0,
) -> tuple[pd.DataFrame, dict]:
    """AIFT(M_t): for each prompt, its highest-scored candidate against its lowest
    (``core.pairs.build_pairs``); ``judgments_gate`` orders this step after the gate.

    Args:
        candidates: The candidates.
        judgments: Their judge answers with parsed scores.
        judgments_gate: The passed gate of the judgments.
        t: The iteration number.
        length_control_rho: Length control: the shortest near-best against the longest
            near-worst, lengths in words; 0 is the paper. One number, or per iteration
            (``{"default": 0.0, "iter2": 0.2}``).
        min_margin: ``pairs.min_margin``: least score difference of a pair.

    Returns:
        Pairs in TRL's ``prompt, chosen, rejected`` with their scores and candidate ids,
        and the pair statistics.
    """
    rho = rho_of_iteration(length_control_rho, t)
    scored = records_of(Candidate, candidates.to_dict(orient="records"))
    scores = candidate_scores(records_of(Judgment, judgments.to_dict(orient="records")))
    pairs, no_pair = build_pairs(scored, scores, rho, min_margin)
    metrics = pair_statistics(pairs, no_pair, scored, scores)
    logger.info("Iteration %d: %d pairs (%s)", t, len(pairs), metrics)
    model = candidates.iloc[0] if len(candidates) else {}
    provenance = {
        "model_path": model.get("model_path"),
        "model_sha256": model.get("model_sha256"),
        "template_sha256": template_sha256(JUDGE_TEMPLATE_NAME),
    }
    rows = [row_of(pair, t, provenance) for pair in pairs]
    return pd.DataFrame(rows, columns=PAIR_COLUMNS), metrics


def judge_preference_pairs(
    meta_judgments: pd.DataFrame, answer_pairs: int, max_share: float
) -> list[dict]:
    """The meta-judge's consistent pairs, most disagreeing first, as many as keep their
    share of the DPO data at most ``max_share``."""
    budget = judge_pair_budget(answer_pairs, max_share)
    if budget == 0 or meta_judgments.empty or "winner" not in meta_judgments:
        return []
    consistent = meta_judgments[meta_judgments["winner"].notna()]
    consistent = consistent.sort_values("spread", ascending=False, kind="stable")
    return consistent[["prompt", "chosen", "rejected"]].head(budget).to_dict(orient="records")


def sample_pairs(preference_pairs: pd.DataFrame, n: int = 10) -> list[dict]:
    """The first pairs, for a look in the MLflow UI."""
    columns = ["prompt", "chosen", "rejected", "chosen_score", "rejected_score"]
    if preference_pairs.empty:
        return []
    return preference_pairs[columns].head(n).to_dict(orient="records")
