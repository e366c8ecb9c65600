"""Pairwise verdicts read from token probabilities, for referees too slow to explain.

FastChat's ``pair-v2`` prompt ends a verdict in ``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie).
With the answer prefilled up to ``[[``, one forward pass gives the log-probabilities of
the three labels; renormalised over the labels, they are the referee's verdict
distribution. Judged in both answer orders, the two distributions are averaged in the
perspective of the answer under test (A first, then B), which cancels the referee's
position bias instead of calling every disagreement a tie.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

VERDICT_PREFIX = "[["
VERDICT_LABELS = ("A", "B", "C")


def verdict_distribution(logprobs: Mapping[str, float | None]) -> dict[str, float]:
    """The labels' probabilities renormalised over ``A``, ``B`` and ``C``.

    Args:
        logprobs: Log-probability of each label token at the verdict position.

    Raises:
        ValueError: A label is missing or not finite (named).
    """
    bad = [
        label
        for label in VERDICT_LABELS
        if logprobs.get(label) is None or not math.isfinite(logprobs[label])
    ]
    if bad:
        raise ValueError(f"verdict log-probabilities missing or not finite for {bad}")
    top = max(logprobs[label] for label in VERDICT_LABELS)
    weights = {label: math.exp(logprobs[label] - top) for label in VERDICT_LABELS}
    total = sum(weights.values())
    return {label: weight / total for label, weight in weights.items()}


@dataclass(frozen=True)
class PairVerdict:
    """One pair judged in both orders, in the perspective of the answer under test.

    Attributes:
        win: Probability that it is better, averaged over the two orders.
        tie: Probability of a tie, averaged.
        loss: Probability that the other answer is better, averaged.
        outcome: ``win``, ``tie`` or ``loss``: the most probable (a tie in probability
            between win and loss is a tie).
        consistent: The two orders' own most probable verdicts agree.
    """

    win: float
    tie: float
    loss: float
    outcome: str
    consistent: bool


def _perspective(distribution: Mapping[str, float], answer_first: bool) -> dict[str, float]:
    mine, theirs = ("A", "B") if answer_first else ("B", "A")
    return {"win": distribution[mine], "tie": distribution["C"], "loss": distribution[theirs]}


def _most_probable(probabilities: Mapping[str, float]) -> str:
    best = max(probabilities.values())
    leaders = [k for k in ("win", "tie", "loss") if probabilities[k] == best]
    return leaders[0] if len(leaders) == 1 else "tie"


def position_averaged_verdict(
    answer_first: Mapping[str, float | None], answer_second: Mapping[str, float | None]
) -> PairVerdict:
    """Combines the label log-probabilities of the two answer orders.

    Args:
        answer_first: Label log-probabilities with the answer under test as A.
        answer_second: Label log-probabilities with it as B.
    """
    first = _perspective(verdict_distribution(answer_first), answer_first=True)
    second = _perspective(verdict_distribution(answer_second), answer_first=False)
    averaged = {k: (first[k] + second[k]) / 2 for k in ("win", "tie", "loss")}
    return PairVerdict(
        win=averaged["win"],
        tie=averaged["tie"],
        loss=averaged["loss"],
        outcome=_most_probable(averaged),
        consistent=_most_probable(first) == _most_probable(second),
    )
