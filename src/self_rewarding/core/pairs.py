"""Preference pairs from self-assigned scores (paper section 2.3, "Instruction following
training"): for each prompt, the highest-scored candidate against the lowest. Prompts
whose best and worst scores tie, or with fewer than two valid scores, give no pair."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PairChoice:
    """The chosen and rejected candidate indices of one prompt, with their scores."""

    chosen: int
    rejected: int
    chosen_score: float
    rejected_score: float


def _valid(score: float | None) -> bool:
    return score is not None and not math.isnan(score)


def select_pair(scores: Sequence[float | None]) -> PairChoice | None:
    """Picks best vs worst among a prompt's candidates.

    Args:
        scores: Mean judge score of each candidate; None or NaN when no judgment parsed.

    Returns:
        The pair, or None when fewer than two scores are valid or best and worst tie.
        Among equal best (worst) scores, the first candidate is taken.
    """
    valid = [(i, s) for i, s in enumerate(scores) if _valid(s)]
    if len(valid) < 2:
        return None
    best = max(valid, key=lambda item: item[1])
    worst = min(valid, key=lambda item: item[1])
    if best[1] == worst[1]:
        return None
    return PairChoice(best[0], worst[0], best[1], worst[1])


def why_no_pair(scores: Sequence[float | None]) -> str | None:
    """Names why a prompt gives no pair (``fewer_than_2_valid`` or ``tie``), or None."""
    valid = [s for s in scores if _valid(s)]
    if len(valid) < 2:
        return "fewer_than_2_valid"
    if max(valid) == min(valid):
        return "tie"
    return None
