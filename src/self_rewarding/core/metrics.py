"""Agreement of a judge with human rankings (paper Table 4), win rates and length
buckets: the evaluation's metrics. (``pearson`` lives in ``core.correlation``, which the
iteration uses too, so that editing these metrics re-runs the evaluation only.)"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from self_rewarding.core.correlation import pearson


def _missing(score: float | None) -> bool:
    """No score: None, or NaN (how pandas stores a missing float)."""
    return score is None or (isinstance(score, float) and math.isnan(score))


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
        scores: The judge's score of each reply (None or NaN when unparseable).

    Returns:
        Counts over every pair of replies with different human ranks.
    """
    pairs = agree = ties = missing = 0
    for (rank_a, score_a), (rank_b, score_b) in combinations(zip(human_ranks, scores), 2):
        if rank_a == rank_b:
            continue
        pairs += 1
        if _missing(score_a) or _missing(score_b):
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


# --- Table 4: the judge against human rankings -------------------------------------------

FIVE_SCORE_THRESHOLD = 4.5  # a mean of 3 samples rounds to 5 from here


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties given the mean of the ranks they span (as Spearman needs)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson of average ranks); None when undefined."""
    return pearson(average_ranks(xs), average_ranks(ys))


def kendall_tau_b(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Kendall's tau-b (ties in either variable corrected); None when undefined."""
    concordant = discordant = ties_x = ties_y = 0
    for (x1, y1), (x2, y2) in combinations(zip(xs, ys), 2):
        dx, dy = x1 - x2, y1 - y2
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif (dx > 0) == (dy > 0):
            concordant += 1
        else:
            discordant += 1
    denominator = ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) ** 0.5
    return (concordant - discordant) / denominator if denominator else None


def judge_alignment(
    replies: Sequence[Mapping], n_answers: int | None = None, n_parsed: int | None = None
) -> dict[str, float]:
    """The paper's Table 4 metrics of a judge on human-ranked replies.

    Args:
        replies: One row per reply: ``prompt_id``, ``human_rank`` (0 = best) and the
            judge's ``score`` (mean of its samples; None or NaN when no sample parsed).
        n_answers: Judge answers given (samples), for the parse rate.
        n_parsed: Judge answers holding a score.

    Returns:
        - ``pairwise_accuracy``: over all human-ordered reply pairs of a prompt, the share
          the judge orders the same way; a tie in judge scores counts half, a missing
          score counts wrong (``pairwise_accuracy_strict``: ties count wrong;
          ``tie_share`` and ``missing_share`` say how many there were);
        - ``five_best``: of the replies the judge scores 5 (mean >= 4.5), the share
          humans ranked first (0 when the judge gives no 5);
        - ``exact_match``: share of prompts (with at least one human-ordered pair) whose
          every human-ordered pair the judge orders strictly the same way;
        - ``spearman``, ``kendall_tau``: per prompt between the judge's score and the
          human order (replies without a score left out), averaged over the prompts
          where both vary (``correlated_prompts`` counts them);
        - ``parse_rate`` (when counts are given), ``replies``, ``prompts``, ``human_pairs``.
    """
    groups: dict = {}
    for row in replies:
        groups.setdefault(row["prompt_id"], []).append(row)
    agreements, exact, spearmans, kendalls = [], [], [], []
    for rows in groups.values():
        ranks = [row["human_rank"] for row in rows]
        scores = [row["score"] for row in rows]
        agreement = pairwise_agreement(ranks, scores)
        agreements.append(agreement)
        if agreement.pairs:
            exact.append(agreement.agree == agreement.pairs)
        scored = [(-rank, score) for rank, score in zip(ranks, scores) if not _missing(score)]
        if len(scored) >= 2:
            goodness, values = [g for g, _ in scored], [v for _, v in scored]
            rho, tau = spearman(goodness, values), kendall_tau_b(goodness, values)
            if rho is not None and tau is not None:
                spearmans.append(rho)
                kendalls.append(tau)
    total = total_agreement(agreements)
    fives = [
        row
        for row in replies
        if not _missing(row["score"]) and row["score"] >= FIVE_SCORE_THRESHOLD
    ]
    metrics = {
        "replies": float(len(replies)),
        "prompts": float(len(groups)),
        "human_pairs": float(total.pairs),
        "pairwise_accuracy": total.accuracy,
        "pairwise_accuracy_strict": total.strict_accuracy,
        "tie_share": total.ties / total.pairs if total.pairs else 0.0,
        "missing_share": total.missing / total.pairs if total.pairs else 0.0,
        "five_best": sum(row["human_rank"] == 0 for row in fives) / len(fives) if fives else 0.0,
        "scored_five": float(len(fives)),
        "exact_match": sum(exact) / len(exact) if exact else 0.0,
        "spearman": sum(spearmans) / len(spearmans) if spearmans else 0.0,
        "kendall_tau": sum(kendalls) / len(kendalls) if kendalls else 0.0,
        "correlated_prompts": float(len(spearmans)),
    }
    if n_answers is not None and n_parsed is not None:
        metrics["parse_rate"] = n_parsed / n_answers if n_answers else 0.0
    return metrics


# --- Head to head ----------------------------------------------------------------------


def combine_orders(first: str | None, swapped: str | None) -> str:
    """One comparison judged in both answer orders.

    Args:
        first: Verdict with the model's answer as A: ``A``, ``B``, ``tie`` or None
            (unparseable).
        swapped: Verdict with the model's answer as B.

    Returns:
        ``win``, ``loss`` or ``tie``: a win needs the model preferred in one order and
        not beaten in the other; inconsistent verdicts (position bias) are a tie, and an
        unparseable verdict counts as a tie.
    """
    vote = {"A": 1, "B": -1}.get(first, 0) + {"B": 1, "A": -1}.get(swapped, 0)
    return "win" if vote > 0 else "loss" if vote < 0 else "tie"


def win_rate(outcomes: Sequence[str]) -> dict[str, float]:
    """Wins, ties, losses and the win rate (ties count half)."""
    n = len(outcomes)
    wins, ties, losses = (outcomes.count(k) for k in ("win", "tie", "loss"))
    return {
        "n": float(n),
        "wins": float(wins),
        "ties": float(ties),
        "losses": float(losses),
        "win_rate": (wins + 0.5 * ties) / n if n else 0.0,
    }


LENGTH_BUCKETS = ((0, 50), (50, 100), (100, 200), (200, None))


def length_bucket(words: int) -> str:
    """The name of an answer's length bucket in words: ``0-50``, ..., ``200+``."""
    for low, high in LENGTH_BUCKETS:
        if high is None or words < high:
            return f"{low}-{high}" if high is not None else f"{low}+"
    raise AssertionError("unreachable")
