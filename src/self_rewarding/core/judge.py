"""Reading the judge's answers: ``Score: X`` parsing and score averaging.

Paper section 2.3: the judge ends its answer with ``Score: <total points>`` on the additive
0-5 scale; each candidate is judged several times and the valid scores are averaged.
Unparseable answers are data, never errors: they yield ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

MIN_SCORE = 0.0
MAX_SCORE = 5.0

# "Score: 4", "**Score:** 3", "Score: 4/5", "score = 3.5", "Score - 2". "Score" is a word
# of its own ("Underscore: 3" is no score). A minus sign is captured so that "Score: -1" is
# refused rather than read as 1.
_SCORE_PATTERN = re.compile(
    r"\bscore\s*\**\s*(?:[:=]|-(?=\s))\s*\**\s*(-?\d+(?:\.\d+)?)(\s*/\s*\d+(?:\.\d+)?)?",
    re.IGNORECASE,
)


def parse_score(text: str | None) -> float | None:
    """Returns the last valid ``Score: X`` of a judge answer, or None.

    Never raises. Scores outside 0..5 (and ``X/Y`` with Y other than 5) are refused.

    Args:
        text: The judge's raw answer.

    Returns:
        The score as a float in [0, 5], or None when the answer holds no valid score.
    """
    if not isinstance(text, str):
        return None
    for match in reversed(list(_SCORE_PATTERN.finditer(text))):
        value = float(match.group(1))
        denominator = match.group(2)
        if denominator and float(denominator.strip().lstrip("/")) != MAX_SCORE:
            continue
        if MIN_SCORE <= value <= MAX_SCORE:
            return value
    return None


def aggregate_scores(scores: Iterable[float | None]) -> float | None:
    """Averages the valid scores of one candidate; None when none is valid."""
    valid = [s for s in scores if s is not None and not math.isnan(s)]
    return sum(valid) / len(valid) if valid else None


def score_summary(scores: list[float | None]) -> dict[str, float]:
    """Summarises judge scores: parse rate, mean, spread and the share of each score.

    Args:
        scores: One parsed score (or None) per judge answer.

    Returns:
        ``n_answers, n_parsed, parse_rate, score_mean, score_std`` and
        ``score_share_<k>`` for k = 0..5 (rounded scores, over parsed answers). Mean and
        std are NaN-free: 0 when nothing parsed.
    """
    parsed = [s for s in scores if s is not None]
    n = len(scores)
    mean = sum(parsed) / len(parsed) if parsed else 0.0
    variance = sum((s - mean) ** 2 for s in parsed) / len(parsed) if parsed else 0.0
    summary = {
        "n_answers": float(n),
        "n_parsed": float(len(parsed)),
        "parse_rate": len(parsed) / n if n else 0.0,
        "score_mean": mean,
        "score_std": math.sqrt(variance),
    }
    for k in range(int(MIN_SCORE), int(MAX_SCORE) + 1):
        hits = sum(1 for s in parsed if math.floor(s + 0.5) == k)
        summary[f"score_share_{k}"] = hits / len(parsed) if parsed else 0.0
    return summary


def constrained_answer_regex(max_new_tokens: int) -> str:
    """A pattern for structured output that makes every judge answer end in
    ``Score: <0-5>`` within ``max_new_tokens``.

    The free text before the score is printable ASCII and newlines, at most one
    character per token, so the score always fits in the token budget. It ends in a
    newline, so that ``Score`` starts a word and ``parse_score`` reads it.
    """
    budget = max(max_new_tokens - len("Score: 5") - 1, 0)
    return rf"([ -~\n]{{0,{budget}}}\n)?Score: [0-5]"


_PAIRWISE_VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]")
_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")


def parse_pairwise_verdict(text: str | None) -> str | None:
    """Reads a FastChat pairwise verdict: the last ``[[A]]``, ``[[B]]`` or ``[[C]]``
    (tie) gives ``A``, ``B`` or ``tie``; None when there is none. Never raises."""
    if not text:
        return None
    found = _PAIRWISE_VERDICT.findall(text)
    if not found:
        return None
    return {"A": "A", "B": "B", "C": "tie"}[found[-1]]


def parse_rating(text: str | None, low: float = 1.0, high: float = 10.0) -> float | None:
    """Reads a FastChat single-answer rating, the last ``[[x]]`` within [low, high];
    None when there is none. Never raises."""
    if not text:
        return None
    for found in reversed(_RATING.findall(text)):
        value = float(found)
        if low <= value <= high:
            return value
    return None


def constrained_verdict_regex(max_new_tokens: int) -> str:
    """Structured output for a pairwise judge: free ASCII text, then ``[[A]]``,
    ``[[B]]`` or ``[[C]]`` within ``max_new_tokens``."""
    budget = max(max_new_tokens - len("[[C]]"), 0)
    return rf"[ -~\n]{{0,{budget}}}\[\[[ABC]\]\]"


def constrained_rating_regex(max_new_tokens: int) -> str:
    """Structured output for a single-answer grader: free ASCII text, then
    ``Rating: [[1]]`` ... ``[[10]]`` within ``max_new_tokens``."""
    budget = max(max_new_tokens - len("Rating: [[10]]"), 0)
    return rf"[ -~\n]{{0,{budget}}}Rating: \[\[(10|[1-9])\]\]"
