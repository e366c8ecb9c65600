"""The meta-judge (Meta-Rewarding, Wu et al. 2024): the model compares two of its own
judgments of one response, so that DPO can train the judge as well as the policy.

For the candidates whose written judgments disagree most (the widest spread of their
sampled scores), the highest-scored and the lowest-scored judgment are shown to the
meta-judge with their scores hidden, in both orders. A judgment preferred in both orders
is ``chosen`` and the other ``rejected`` of a judge-preference pair whose prompt is the
judge prompt; a verdict that flips with the order, or that cannot be read, gives no pair
and is counted. The meta-judge prompt (``templates/meta_judge.txt``) follows the paper's
idea; it is ours, not the paper's text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from self_rewarding.core.prompts import load_template, render_judge_prompt, template_placeholders
from self_rewarding.core.rows import Candidate, MetaJudgment
from self_rewarding.core.types import SamplingConfig

META_JUDGE_TEMPLATE_NAME = "meta_judge.txt"
META_JUDGE_PLACEHOLDERS = frozenset({"instruction", "response", "judgment_a", "judgment_b"})

_SCORE_LINE = re.compile(r"(?im)^[ \t*]*score\s*[:=]\s*\d+(?:\.\d+)?[ \t*.]*$")
_SCORE_INLINE = re.compile(r"(?i)\bscore\s*[:=]\s*\d+(?:\.\d+)?")
_VERDICT = re.compile(r"(?i)winner\s*:\s*\**\s*judgment\s+([AB])\b")


@dataclass(frozen=True)
class Disagreement:
    """The two judgments of one candidate that disagree most.

    Attributes:
        candidate_id: The candidate.
        high: Index of its highest-scored judgment.
        low: Index of its lowest-scored judgment.
        spread: Their score difference.
    """

    candidate_id: str
    high: int
    low: int
    spread: float


def hide_score(judgment: str) -> str:
    """The judgment without its ``Score: X`` (the meta-judge compares reasons, not
    numbers): score lines are dropped, inline scores blanked."""
    without_lines = _SCORE_LINE.sub("", judgment)
    return _SCORE_INLINE.sub("", without_lines).strip()


def most_disagreeing(
    scores_by_candidate: Mapping[str, Sequence[float | None]], limit: int
) -> list[Disagreement]:
    """The ``limit`` candidates whose judgments' valid scores spread most (spread > 0),
    widest first; equal spreads keep the candidates' order."""
    found = []
    for candidate_id, scores in scores_by_candidate.items():
        valid = [
            (score, index)
            for index, score in enumerate(scores)
            if score is not None and not math.isnan(score)
        ]
        if len(valid) < 2:  # noqa: PLR2004 (a pair)
            continue
        (low_score, low), (high_score, high) = min(valid), max(valid)
        if high_score > low_score:
            found.append(Disagreement(candidate_id, high, low, high_score - low_score))
    found.sort(key=lambda d: -d.spread)  # stable: ties keep the candidates' order
    return found[: max(limit, 0)]


def render_meta_judge_prompt(
    instruction: str, response: str, judgment_a: str, judgment_b: str
) -> str:
    """The meta-judge prompt for two judgments of one response (scores hidden)."""
    template = load_template(META_JUDGE_TEMPLATE_NAME)
    if template_placeholders(template) != META_JUDGE_PLACEHOLDERS:
        raise ValueError(
            f"{META_JUDGE_TEMPLATE_NAME} must have exactly the placeholders "
            f"{sorted(META_JUDGE_PLACEHOLDERS)}"
        )
    return template.format(
        instruction=instruction,
        response=response,
        judgment_a=hide_score(judgment_a),
        judgment_b=hide_score(judgment_b),
    ).rstrip("\n")


def parse_meta_verdict(text: str | None) -> str | None:
    """``A`` or ``B`` from the last ``Winner: Judgment X``; None when there is none.
    Never raises."""
    if not text:
        return None
    found = _VERDICT.findall(text)
    return found[-1].upper() if found else None


def constrained_verdict_regex(max_new_tokens: int) -> str:
    """Structured output for the meta-judge: free ASCII text, then ``Winner: Judgment A``
    or ``B`` within ``max_new_tokens``."""
    budget = max(max_new_tokens - len("Winner: Judgment A"), 0)
    return rf"[ -~\n]{{0,{budget}}}Winner: Judgment [AB]"


def verdict_sampling(verdict: SamplingConfig, constrained: bool) -> SamplingConfig:
    """The verdicts' decoding; constrained as the judge is, every answer ends in one."""
    if not constrained:
        return verdict
    return replace(verdict, regex=constrained_verdict_regex(verdict.max_new_tokens))


def consistent_winner(high_first: str | None, low_first: str | None) -> str | None:
    """``high`` or ``low``: the judgment preferred in both orders (``high_first``: the
    verdict with the high-scored judgment shown as A; ``low_first``: shown as B).
    None when a verdict is missing or the two orders disagree."""
    if high_first == "A" and low_first == "B":
        return "high"
    if high_first == "B" and low_first == "A":
        return "low"
    return None


def judge_pair_budget(answer_pairs: int, max_share: float) -> int:
    """How many judge-preference pairs keep their share of the DPO data at most
    ``max_share`` beside ``answer_pairs`` answer pairs (0 <= max_share < 1)."""
    if not 0.0 <= max_share < 1.0:
        raise ValueError(f"iteration.meta_judge.max_share: must be in [0, 1), got {max_share}")
    if max_share == 0.0 or answer_pairs <= 0:
        return 0
    return math.floor(max_share * answer_pairs / (1.0 - max_share) + 1e-9)


# Fixed so that every iteration reports the same counts, zeros included.
META_JUDGE_COUNTS = ("pool", "compared", "consistent", "order_flipped", "unparseable_verdicts")


def comparison_prompts(
    pool: Sequence[Candidate],
    judgments: Sequence[Sequence[str]],
    scores: Sequence[Sequence[float | None]],
    limit: int,
) -> tuple[list[Disagreement], list[str]]:
    """The ``limit`` candidates of ``pool`` whose written judgments disagree most, and
    for each the meta-judge prompts comparing its highest- and lowest-scored judgment in
    both orders (high first, then low first).

    Args:
        pool: The candidates judged.
        judgments: Each candidate's written judgments.
        scores: Their parsed scores.
        limit: How many candidates to compare.
    """
    index = {candidate.candidate_id: k for k, candidate in enumerate(pool)}
    found = most_disagreeing({c.candidate_id: scores[index[c.candidate_id]] for c in pool}, limit)
    prompts = []
    for disagreement in found:
        candidate = pool[index[disagreement.candidate_id]]
        texts = judgments[index[disagreement.candidate_id]]
        high, low = texts[disagreement.high], texts[disagreement.low]
        prompts += [
            render_meta_judge_prompt(candidate.prompt, candidate.response, high, low),
            render_meta_judge_prompt(candidate.prompt, candidate.response, low, high),
        ]
    return found, prompts


def meta_judgments(
    pool: Sequence[Candidate],
    judgments: Sequence[Sequence[str]],
    disagreements: Sequence[Disagreement],
    answers: Sequence[str],
) -> tuple[list[MetaJudgment], dict[str, float]]:
    """Reads the meta-judge's answers (two per disagreement, high first then low first)
    into comparisons; both orders agreeing make a judge-preference pair.

    Returns:
        The comparisons, and the counts of ``META_JUDGE_COUNTS``.
    """
    index = {candidate.candidate_id: k for k, candidate in enumerate(pool)}
    found = []
    counts = dict.fromkeys(META_JUDGE_COUNTS, 0.0)
    for k, disagreement in enumerate(disagreements):
        candidate = pool[index[disagreement.candidate_id]]
        texts = judgments[index[disagreement.candidate_id]]
        high_first, low_first = str(answers[2 * k]), str(answers[2 * k + 1])
        verdicts = parse_meta_verdict(high_first), parse_meta_verdict(low_first)
        winner = consistent_winner(*verdicts)
        ends = {"high": texts[disagreement.high], "low": texts[disagreement.low]}
        loser = {"high": "low", "low": "high"}.get(winner or "")
        found.append(
            MetaJudgment(
                prompt_id=candidate.prompt_id,
                candidate_id=candidate.candidate_id,
                spread=disagreement.spread,
                high_judgment=ends["high"],
                low_judgment=ends["low"],
                high_first_answer=high_first,
                low_first_answer=low_first,
                high_first_verdict=verdicts[0],
                low_first_verdict=verdicts[1],
                winner=winner,
                prompt=render_judge_prompt(candidate.prompt, candidate.response),
                chosen=ends[winner] if winner else None,
                rejected=ends[loser] if loser else None,
            )
        )
        counts["unparseable_verdicts"] += sum(v is None for v in verdicts)
        counts["order_flipped"] += float(None not in verdicts and winner is None)
    counts.update(
        pool=float(len(pool)),
        compared=float(len(found)),
        consistent=float(sum(m.winner is not None for m in found)),
    )
    return found, counts
