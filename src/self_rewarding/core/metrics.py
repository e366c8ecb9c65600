"""Agreement of a judge with human rankings (paper Table 4), win rates and length
buckets: the evaluation's metrics. An undefined metric is None, never 0.0. (``pearson``
lives in ``core.correlation``, which the iteration uses too, so that editing these metrics
re-runs the evaluation only; it is re-exported here for the evaluation.)"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from itertools import combinations

from scipy import stats

from self_rewarding.core.correlation import pearson

__all__ = [
    "AlignmentCounts",
    "FIVE_SCORE_THRESHOLD",
    "LENGTH_BUCKETS",
    "OUTCOMES",
    "PairwiseAgreement",
    "alignment_metrics",
    "combine_orders",
    "group_by_prompt",
    "judge_alignment",
    "kendall_tau_b",
    "length_bucket",
    "pairwise_agreement",
    "pearson",
    "prompt_alignment",
    "spearman",
    "total_agreement",
    "win_rate",
]


def _missing(score: float | None) -> bool:
    """No score: None, or NaN (how pandas stores a missing float)."""
    return score is None or (isinstance(score, float) and math.isnan(score))


def _share(part: float, whole: float) -> float | None:
    """``part / whole``; None when ``whole`` is 0 (undefined, not 0.0)."""
    return part / whole if whole else None


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
    def strict_accuracy(self) -> float | None:
        """Share of pairs ordered as the humans do, ties counted wrong; None without pairs."""
        return _share(self.agree, self.pairs)

    @property
    def ties_half_accuracy(self) -> float | None:
        """Share of pairs ordered as the humans do, ties counted half; None without pairs."""
        return _share(self.agree + 0.5 * self.ties, self.pairs)

    @property
    def tie_share(self) -> float | None:
        """Share of pairs the judge scores equal; None without pairs."""
        return _share(self.ties, self.pairs)

    @property
    def missing_share(self) -> float | None:
        """Share of pairs with an unscored reply; None without pairs."""
        return _share(self.missing, self.pairs)


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


# --- Rank correlations (scipy's) ---------------------------------------------------------


def _undefined_correlation(xs: Sequence[float], ys: Sequence[float]) -> bool:
    """Fewer than 2 points or a constant side: scipy would warn and return NaN."""
    return len(xs) < 2 or len(set(xs)) < 2 or len(set(ys)) < 2


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho (``scipy.stats.spearmanr``); None when undefined (a constant side)."""
    if _undefined_correlation(xs, ys):
        return None
    return float(stats.spearmanr(xs, ys).statistic)


def kendall_tau_b(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Kendall's tau-b (``scipy.stats.kendalltau``); None when undefined (a constant side)."""
    if _undefined_correlation(xs, ys):
        return None
    return float(stats.kendalltau(xs, ys, variant="b").statistic)


# --- Table 4: the judge against human rankings -------------------------------------------

FIVE_SCORE_THRESHOLD = 4.5  # without a ``top_score`` flag: a mean that rounds to 5


def _top_score(row: Mapping) -> bool:
    """Whether the judge gave this reply the top score (its ``top_score`` flag, else the
    mean score's threshold)."""
    flag = row.get("top_score")
    if flag is not None and not (isinstance(flag, float) and math.isnan(flag)):
        return bool(flag)
    return not _missing(row["score"]) and row["score"] >= FIVE_SCORE_THRESHOLD


@dataclass(frozen=True)
class AlignmentCounts:
    """Counts behind the judge-alignment metrics, of one prompt or pooled: adding two
    pools their prompts (a prompt added twice counts twice, as a bootstrap needs).

    Attributes:
        prompts: Prompts pooled.
        replies: Their replies.
        pairs: Human-ordered reply pairs.
        agree: Pairs the judge orders as the humans do.
        ties: Pairs the judge scores equal.
        missing: Pairs with an unscored reply.
        top_scored: Replies the judge gave the top score.
        top_scored_best: Of those, the replies humans ranked first.
        paired_prompts: Prompts with at least one human-ordered pair.
        exact_prompts: Of those, prompts whose every pair the judge orders right.
        rank_prompts: Prompts with a rank statistic: human ranks varying among at least
            2 scored replies.
        spearman_sum: Their Spearman's rho, summed (a constant judge adding 0).
        kendall_sum: Their Kendall's tau-b, summed (a constant judge adding 0).
        constant_judge_prompts: Of those, prompts whose scored replies the judge scores
            all equal.
    """

    prompts: float = 0
    replies: float = 0
    pairs: float = 0
    agree: float = 0
    ties: float = 0
    missing: float = 0
    top_scored: float = 0
    top_scored_best: float = 0
    paired_prompts: float = 0
    exact_prompts: float = 0
    rank_prompts: float = 0
    spearman_sum: float = 0.0
    kendall_sum: float = 0.0
    constant_judge_prompts: float = 0

    def __add__(self, other: AlignmentCounts) -> AlignmentCounts:
        return AlignmentCounts(*(a + b for a, b in zip(astuple(self), astuple(other))))

    @property
    def agreement(self) -> PairwiseAgreement:
        """The pooled pairwise counts."""
        return PairwiseAgreement(self.pairs, self.agree, self.ties, self.missing)


def group_by_prompt(replies: Sequence[Mapping]) -> dict:
    """The reply rows of each ``prompt_id``, in order of first appearance."""
    groups: dict = {}
    for row in replies:
        groups.setdefault(row["prompt_id"], []).append(row)
    return groups


def prompt_alignment(rows: Sequence[Mapping]) -> AlignmentCounts:
    """Counts the judge against the human ranks on one prompt's replies.

    Args:
        rows: The prompt's replies, as for :func:`judge_alignment`.

    Returns:
        The prompt's counts and rank statistics.
    """
    ranks = [row["human_rank"] for row in rows]
    scores = [row["score"] for row in rows]
    agreement = pairwise_agreement(ranks, scores)
    tops = [row for row in rows if _top_score(row)]
    scored = [(-rank, score) for rank, score in zip(ranks, scores) if not _missing(score)]
    goodness, values = [g for g, _ in scored], [float(v) for _, v in scored]
    ranked = len(scored) >= 2 and len(set(goodness)) >= 2
    # Human order defined but one judge score for all: the judge orders nothing, which is
    # 0 (dropping scipy's NaN would drop exactly the prompts a weak judge fails).
    constant = ranked and len(set(values)) == 1
    return AlignmentCounts(
        prompts=1,
        replies=len(rows),
        pairs=agreement.pairs,
        agree=agreement.agree,
        ties=agreement.ties,
        missing=agreement.missing,
        top_scored=len(tops),
        top_scored_best=sum(row["human_rank"] == 0 for row in tops),
        paired_prompts=int(agreement.pairs > 0),
        exact_prompts=int(agreement.pairs > 0 and agreement.agree == agreement.pairs),
        rank_prompts=int(ranked),
        spearman_sum=spearman(goodness, values) if ranked and not constant else 0.0,
        kendall_sum=kendall_tau_b(goodness, values) if ranked and not constant else 0.0,
        constant_judge_prompts=int(constant),
    )


def alignment_metrics(
    counts: AlignmentCounts, n_answers: int | None = None, n_parsed: int | None = None
) -> dict[str, float | None]:
    """:func:`judge_alignment`'s metrics from pooled counts.

    Args:
        counts: The prompts' counts, summed.
        n_answers: Judge answers given (samples), for the parse rate.
        n_parsed: Judge answers holding a score.

    Returns:
        The metrics described in :func:`judge_alignment`.
    """
    agreement = counts.agreement
    metrics = {
        "replies": float(counts.replies),
        "prompts": float(counts.prompts),
        "human_pairs": float(counts.pairs),
        "pairwise_accuracy": agreement.strict_accuracy,
        "pairwise_accuracy_ties_half": agreement.ties_half_accuracy,
        "tie_share": agreement.tie_share,
        "missing_share": agreement.missing_share,
        "five_best": _share(counts.top_scored_best, counts.top_scored),
        "five_best_count": float(counts.top_scored),
        "exact_match": _share(counts.exact_prompts, counts.paired_prompts),
        "spearman": _share(counts.spearman_sum, counts.rank_prompts),
        "kendall_tau": _share(counts.kendall_sum, counts.rank_prompts),
        "rank_prompts": float(counts.rank_prompts),
        "constant_judge_share": _share(counts.constant_judge_prompts, counts.rank_prompts),
    }
    if n_answers is not None and n_parsed is not None:
        metrics["parse_rate"] = _share(n_parsed, n_answers)
    return metrics


def judge_alignment(
    replies: Sequence[Mapping], n_answers: int | None = None, n_parsed: int | None = None
) -> dict[str, float | None]:
    """The paper's Table 4 metrics of a judge on human-ranked replies.

    Every metric that is undefined on the data (no pair, no top score, ...) is None.

    Args:
        replies: One row per reply: ``prompt_id``, ``human_rank`` (0 = best), the judge's
            ``score`` (mean of its samples; None or NaN when no sample parsed) and
            optionally ``top_score`` (True when the judge gave the top score: every valid
            sample 5, or an expected score rounding to 5; absent: ``score >= 4.5``).
        n_answers: Judge answers given (samples), for the parse rate.
        n_parsed: Judge answers holding a score.

    Returns:
        - ``pairwise_accuracy`` (headline): over all human-ordered reply pairs of a
          prompt, the share the judge orders the same way, a tie or a missing score
          counted wrong; ``pairwise_accuracy_ties_half`` counts ties half; ``tie_share``
          and ``missing_share`` say how many there were;
        - ``five_best``: of the replies given the top score, the share humans ranked
          first; ``five_best_count``: how many replies got the top score;
        - ``exact_match``: share of prompts (with at least one human-ordered pair) whose
          every human-ordered pair the judge orders strictly the same way;
        - ``spearman``, ``kendall_tau`` (tau-b): per prompt between the judge's score and
          the human order (replies without a score left out), averaged over the prompts
          whose human ranks vary among at least 2 scored replies (``rank_prompts``); a
          judge constant on a prompt counts 0 there (``constant_judge_share``: how often);
        - ``parse_rate`` (when counts are given), ``replies``, ``prompts``, ``human_pairs``.
    """
    parts = [prompt_alignment(rows) for rows in group_by_prompt(replies).values()]
    return alignment_metrics(sum(parts, AlignmentCounts()), n_answers, n_parsed)


# --- Head to head ----------------------------------------------------------------------


def combine_orders(first: str | None, swapped: str | None) -> str:
    """One comparison judged in both answer orders.

    Args:
        first: Verdict with the model's answer as A: ``A``, ``B``, ``tie`` or None
            (unparseable).
        swapped: Verdict with the model's answer as B.

    Returns:
        ``win`` when the model is preferred in both orders, ``loss`` when the other
        answer is, else ``tie``: as in FastChat's MT-Bench, two verdicts that disagree
        (A and B, A and tie, A and unreadable) are inconsistent and count as a tie.
    """
    if (first, swapped) == ("A", "B"):
        return "win"
    if (first, swapped) == ("B", "A"):
        return "loss"
    return "tie"


OUTCOMES = ("win", "tie", "loss")


def win_rate(outcomes: Sequence[str]) -> dict[str, float | None]:
    """Wins, ties, losses and the win rates of head-to-head outcomes.

    Args:
        outcomes: ``win``, ``tie`` or ``loss`` per comparison.

    Returns:
        ``n``, ``wins``, ``ties``, ``losses``, ``win_rate`` (ties count half),
        ``strict_win_rate`` (ties count as not won) and ``tie_share``; the rates are None
        without outcomes.

    Raises:
        ValueError: On an outcome other than ``win``, ``tie`` or ``loss``.
    """
    outcomes = list(outcomes)
    unknown = sorted({str(o) for o in outcomes if o not in OUTCOMES})
    if unknown:
        raise ValueError(f"Unknown head-to-head outcomes {unknown}; expected one of {OUTCOMES}")
    n = len(outcomes)
    wins, ties, losses = (outcomes.count(k) for k in OUTCOMES)
    return {
        "n": float(n),
        "wins": float(wins),
        "ties": float(ties),
        "losses": float(losses),
        "win_rate": _share(wins + 0.5 * ties, n),
        "strict_win_rate": _share(wins, n),
        "tie_share": _share(ties, n),
    }


LENGTH_BUCKETS = ((0, 50), (50, 100), (100, 200), (200, None))


def length_bucket(words: int) -> str:
    """The name of an answer's length bucket in words: ``0-50``, ..., ``200+``."""
    for low, high in LENGTH_BUCKETS:
        if high is None or words < high:
            return f"{low}-{high}" if high is not None else f"{low}+"
    raise AssertionError("unreachable")
