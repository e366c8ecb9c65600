"""Preference pairs from self-assigned scores (paper section 2.3, "Instruction following
training"): for each prompt, the highest-scored candidate against the lowest. Prompts
whose best and worst scores tie, or with fewer than two valid scores, give no pair.

Length control (Meta-Rewarding, Wu et al. 2024, section 2.3) widens both ends by a share
``rho`` of the score range and takes the shortest near-best against the longest
near-worst, so that DPO does not learn "longer is better" from the judge's length bias.
``rho = 0`` is the paper's rule.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from self_rewarding.core.correlation import pearson
from self_rewarding.core.judge import aggregate_scores
from self_rewarding.core.rows import Candidate, Judgment, PreferencePair, words

# At 0.5 the two windows meet at the middle score and one candidate could be both ends.
MAX_LENGTH_CONTROL_RHO = 0.5


@dataclass(frozen=True)
class PairChoice:
    """The chosen and rejected candidate indices of one prompt, with their scores."""

    chosen: int
    rejected: int
    chosen_score: float
    rejected_score: float


def _valid(score: float | None) -> bool:
    return score is not None and not math.isnan(score)


def check_length_control_rho(rho: float, name: str = "length_control_rho") -> float:
    """``rho`` as a float in ``[0, 0.5)``; a ValueError naming ``name`` otherwise."""
    if isinstance(rho, bool) or not isinstance(rho, int | float) or math.isnan(rho):
        raise ValueError(f"{name}: expected a number in [0, 0.5), got {rho!r}")
    if not 0 <= rho < MAX_LENGTH_CONTROL_RHO:
        raise ValueError(f"{name}: must be in [0, 0.5), got {rho}")
    return float(rho)


def select_pair(
    scores: Sequence[float | None],
    lengths: Sequence[int] | None = None,
    length_control_rho: float = 0.0,
    min_margin: float = 0.0,
) -> PairChoice | None:
    """Picks best vs worst among a prompt's candidates.

    Args:
        scores: Mean judge score of each candidate; None or NaN when no judgment parsed.
        lengths: Length of each candidate (any unit); needed when ``length_control_rho``
            is above 0.
        length_control_rho: Share of the score range ``S_max - S_min`` that each end
            takes in: the chosen is the shortest candidate scoring in
            ``[(1 - rho) S_max + rho S_min, S_max]``, the rejected the longest in
            ``[S_min, (1 - rho) S_min + rho S_max]``. 0: the highest against the lowest.
        min_margin: Least score difference of chosen over rejected: a smaller one is
            within the judge's noise and gives no pair.

    Returns:
        The pair, or None when fewer than two scores are valid, best and worst tie, or
        the pair's margin is below ``min_margin``.
        Among candidates equal in the deciding key (score, or length under length
        control), the first is taken.
    """
    rho = check_length_control_rho(length_control_rho)
    valid = [(i, s) for i, s in enumerate(scores) if _valid(s)]
    if len(valid) < 2:
        return None
    best = max(valid, key=lambda item: item[1])
    worst = min(valid, key=lambda item: item[1])
    if best[1] == worst[1]:
        return None
    if min_margin < 0:
        raise ValueError(f"min_margin: must be at least 0, got {min_margin}")
    if rho == 0:
        choice = PairChoice(best[0], worst[0], best[1], worst[1])
        return choice if choice.chosen_score - choice.rejected_score >= min_margin else None
    if lengths is None or len(lengths) != len(scores):
        raise ValueError("length control needs one length per candidate")
    s_max, s_min = best[1], worst[1]
    top_floor = (1 - rho) * s_max + rho * s_min
    bottom_ceiling = (1 - rho) * s_min + rho * s_max
    # The extremes always qualify, whatever the rounding of the window edges.
    near_best = [(i, s) for i, s in valid if s >= top_floor or s == s_max]
    near_worst = [(i, s) for i, s in valid if s <= bottom_ceiling or s == s_min]
    chosen = min(near_best, key=lambda item: (lengths[item[0]], item[0]))
    rejected = max(near_worst, key=lambda item: (lengths[item[0]], -item[0]))
    if chosen[1] - rejected[1] < min_margin:
        return None
    return PairChoice(chosen[0], rejected[0], chosen[1], rejected[1])


def why_no_pair(scores: Sequence[float | None]) -> str | None:
    """Names why a prompt gives no pair (``fewer_than_2_valid`` or ``tie``), or None."""
    valid = [s for s in scores if _valid(s)]
    if len(valid) < 2:
        return "fewer_than_2_valid"
    if max(valid) == min(valid):
        return "tie"
    return None


# Fixed so that every iteration reports the same counts, zeros included.
NO_PAIR_REASONS = ("tie", "fewer_than_2_valid", "below_min_margin")


def candidate_scores(judgments: Iterable[Judgment]) -> dict[str, float | None]:
    """Each candidate's mean valid score over its judge samples (None: none parsed)."""
    samples: dict[str, list[float | None]] = {}
    for judgment in judgments:
        samples.setdefault(judgment.candidate_id, []).append(judgment.score)
    return {candidate_id: aggregate_scores(scores) for candidate_id, scores in samples.items()}


def build_pairs(
    candidates: Sequence[Candidate],
    scores: Mapping[str, float | None],
    length_control_rho: float = 0.0,
    min_margin: float = 0.0,
) -> tuple[list[PreferencePair], list[str]]:
    """AIFT(M_t): for each prompt (in order of first appearance) its chosen and rejected
    candidate by ``select_pair``, lengths in words.

    Returns:
        The pairs, and one reason (``NO_PAIR_REASONS``) per prompt that gave none.
    """
    by_prompt: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_prompt.setdefault(candidate.prompt_id, []).append(candidate)
    pairs, no_pair = [], []
    for group in by_prompt.values():
        group_scores = [scores.get(c.candidate_id) for c in group]
        lengths = [words(c.response) for c in group]
        choice = select_pair(group_scores, lengths, length_control_rho, min_margin)
        if choice is None:
            no_pair.append(why_no_pair(group_scores) or "below_min_margin")
            continue
        chosen, rejected = group[choice.chosen], group[choice.rejected]
        pairs.append(
            PreferencePair(
                prompt_id=chosen.prompt_id,
                prompt=chosen.prompt,
                chosen=chosen.response,
                rejected=rejected.response,
                chosen_score=choice.chosen_score,
                rejected_score=choice.rejected_score,
                chosen_candidate_id=chosen.candidate_id,
                rejected_candidate_id=rejected.candidate_id,
                seed=chosen.seed,
            )
        )
    return pairs, no_pair


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.fmean(values) if values else None


def pair_statistics(
    pairs: Sequence[PreferencePair],
    no_pair: Sequence[str],
    candidates: Sequence[Candidate],
    scores: Mapping[str, float | None],
) -> dict[str, float | None]:
    """Counts, scores and lengths of the pairs, and the correlation of score with length
    over every scored candidate. Undefined means (no pairs, no prompts) are None."""
    n_prompts = len(pairs) + len(no_pair)
    scored = [(c, scores.get(c.candidate_id)) for c in candidates]
    scored = [(c, s) for c, s in scored if _valid(s)]
    return {
        "prompts": float(n_prompts),
        "pairs": float(len(pairs)),
        **{f"no_pair_{reason}": float(no_pair.count(reason)) for reason in NO_PAIR_REASONS},
        "tie_rate": no_pair.count("tie") / n_prompts if n_prompts else None,
        "chosen_score_mean": _mean(p.chosen_score for p in pairs),
        "rejected_score_mean": _mean(p.rejected_score for p in pairs),
        "margin_mean": _mean(p.chosen_score - p.rejected_score for p in pairs),
        "chosen_words_mean": _mean(words(p.chosen) for p in pairs),
        "rejected_words_mean": _mean(words(p.rejected) for p in pairs),
        "score_length_correlation": pearson(
            [float(words(c.response)) for c, _ in scored], [float(s) for _, s in scored]
        ),
    }
