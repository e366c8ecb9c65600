"""Agreement of a judge with human rankings (paper Table 4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations


@dataclass(frozen=True)
class PairwiseAgreement:
    """Pairwise accuracy over human-ordered reply pairs.

    Attributes:
        pairs: Human-ordered pairs counted (pairs with equal human rank are skipped).
        agree: Pairs the judge orders as the humans do.
        ties: Pairs the judge scores equal.
        missing: Pairs where a reply has no score (counted as wrong).
    """

    pairs: int
    agree: int
    ties: int
    missing: int

    @property
    def accuracy(self) -> float:
        """Share of pairs ordered as the humans do, ties counted half."""
        return (self.agree + 0.5 * self.ties) / self.pairs if self.pairs else 0.0

    @property
    def strict_accuracy(self) -> float:
        """Share of pairs ordered as the humans do, ties counted wrong."""
        return self.agree / self.pairs if self.pairs else 0.0


def pairwise_agreement(
    human_ranks: Sequence[int], scores: Sequence[float | None]
) -> PairwiseAgreement:
    """Compares a judge's scores of one prompt's replies with their human ranks.

    Args:
        human_ranks: Rank of each reply (0 = best).
        scores: The judge's score of each reply (None when unparseable).

    Returns:
        Counts over every pair of replies with different human ranks.
    """
    pairs = agree = ties = missing = 0
    for (rank_a, score_a), (rank_b, score_b) in combinations(zip(human_ranks, scores), 2):
        if rank_a == rank_b:
            continue
        pairs += 1
        if score_a is None or score_b is None:
            missing += 1
        elif score_a == score_b:
            ties += 1
        elif (score_a > score_b) == (rank_a < rank_b):
            agree += 1
    return PairwiseAgreement(pairs, agree, ties, missing)


def total_agreement(parts: Sequence[PairwiseAgreement]) -> PairwiseAgreement:
    """Sums per-prompt counts."""
    return PairwiseAgreement(
        sum(p.pairs for p in parts),
        sum(p.agree for p in parts),
        sum(p.ties for p in parts),
        sum(p.missing for p in parts),
    )
