"""The precision of the self-reward (``measure_pair_precision``): a referee judges a fixed
sample of the iteration's pairs, chosen against rejected in both orders; the share in
which it prefers the chosen answer is how often the reward DPO trains on is right."""

from __future__ import annotations

import logging
import random

import pandas as pd

from self_rewarding.core.intervals import win_rate_interval
from self_rewarding.core.metrics import win_rate
from self_rewarding.core.types import IterationConfig

logger = logging.getLogger(__name__)


def precision_metrics(verdicts: pd.DataFrame, seconds_per_verdict: float | None) -> dict:
    """``pairs``, ``precision`` (the referee prefers the chosen answer; a tie counts as
    not) with its 95 % interval over pairs, ``tie_share``, ``position_consistency``."""
    outcomes = list(verdicts["outcome"]) if len(verdicts) else []
    rates = win_rate(outcomes)
    metrics = {
        "pairs": float(len(outcomes)),
        "precision": rates["strict_win_rate"],
        "tie_share": rates["tie_share"],
        "position_consistency": float(verdicts["consistent"].mean()) if outcomes else None,
        "margin_mean": float(verdicts["margin"].mean()) if outcomes else None,
        "seconds_per_verdict": seconds_per_verdict,
    }
    interval = win_rate_interval(outcomes, key="strict_win_rate") if outcomes else None
    if interval is not None:
        metrics["precision.ci_low"], metrics["precision.ci_high"] = interval
    return metrics


def _verdict_row(reader, template: dict, row: dict, referee: str) -> dict:
    verdict = reader.judge_pair(template, row["prompt"], row["chosen"], row["rejected"])
    return {
        "prompt_id": row["prompt_id"],
        "margin": row["chosen_score"] - row["rejected_score"],
        "win": verdict.win,
        "tie": verdict.tie,
        "loss": verdict.loss,
        "outcome": verdict.outcome,
        "consistent": verdict.consistent,
        "referee": referee,
    }


def measure_pair_precision(
    preference_pairs: pd.DataFrame, judge_prompts: pd.DataFrame, iteration: IterationConfig
) -> tuple[pd.DataFrame, dict]:
    """The referee's verdict on a seeded sample of the pairs (FastChat's ``pair-v2``
    prompt, verdict probabilities after ``[[``, both orders averaged).

    Returns:
        One row per judged pair (``prompt_id, margin, win, tie, loss, outcome,
        consistent``, the referee) and the metrics of ``precision_metrics``.
    """
    config = iteration.pair_precision
    rows = preference_pairs.to_dict(orient="records")
    if config.pairs is not None and config.pairs < len(rows):
        rows = random.Random(config.seed).sample(rows, config.pairs)
    judged = []
    seconds = None
    if rows:
        from self_rewarding.generation.verdicts import VerdictReader
        from self_rewarding.hardware import resolve

        template = judge_prompts.set_index("name").loc["pair-v2"].to_dict()
        reader = VerdictReader(config.referee, resolve(config.precision), config.max_prompt_tokens)
        try:
            judged = [_verdict_row(reader, template, row, config.referee) for row in rows]
            seconds = reader.seconds / max(reader.verdicts, 1)
        finally:
            reader.close()
    verdicts = pd.DataFrame(
        judged,
        columns=["prompt_id", "margin", "win", "tie", "loss", "outcome", "consistent", "referee"],
    )
    metrics = precision_metrics(verdicts, seconds)
    logger.info("Pair precision against %s: %s", config.referee, metrics)
    return verdicts, metrics
