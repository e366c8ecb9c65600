"""Reading the judge's answers: ``Score: X`` parsing, the scoring modes and score
averaging.

Paper section 2.3: the judge ends its answer with ``Score: <total points>`` on the additive
0-5 scale; each candidate is judged several times and the valid scores are averaged.
Unparseable answers are data, never errors: they yield ``None``.

Scoring modes (``ScoringMode``), one sample's score in each:

- ``sampled`` (the paper): the ``Score: X`` the judge wrote.
- ``expected``: the probability-weighted digit at the position where the judge wrote its
  score, ``sum_d p(d) * d`` over d in 0..5, renormalised over the six digits, from the
  backend's token log-probabilities. A weak judge's uncertainty is kept instead of
  rounded away, so ties become rare.
- ``score_first``: the assistant turn is prefilled with ``Score: `` and the expected digit
  is read from the next token's distribution: one greedy token, no justification.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from self_rewarding.core.types import SCORING_MODES, ScoringMode

MIN_SCORE = 0.0
MAX_SCORE = 5.0

# "Score: 4", "**Score:** 3", "Score: 4/5", "score = 3.5", "Score - 2". "Score" is a word
# of its own ("Underscore: 3" is no score). A minus sign is captured so that "Score: -1" is
# refused rather than read as 1.
_SCORE_PATTERN = re.compile(
    r"\bscore\s*\**\s*(?:[:=]|-(?=\s))\s*\**\s*(-?\d+(?:\.\d+)?)(\s*/\s*\d+(?:\.\d+)?)?",
    re.IGNORECASE,
)


# A prefilled answer that stops right where the score digit comes.
_SCORE_LEAD_IN = re.compile(r"\bscore\s*\**\s*[:=]\s*\**\s*$", re.IGNORECASE)


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


SCORE_DIGITS = ("0", "1", "2", "3", "4", "5")
# SmolLM2's tokenizer makes the space after "Score:" a token of its own, so the digit is
# the next token after this prefix.
SCORE_FIRST_PREFIX = "Score: "


def score_token_index(text_before: str, token_texts: Sequence[str]) -> int | None:
    """Finds the generated token that holds the digit of the judge's score.

    Args:
        text_before: Text of the assistant turn before the first generated token (a
            prefilled ``Score: ``, or empty).
        token_texts: The decoded text of each generated token, in order.

    Returns:
        0 when ``text_before`` ends in ``Score:`` (``score_first``: the first token is
        the score, whatever was sampled there). Else the index of the token that is
        exactly the first digit of the last valid ``Score: X`` (the one ``parse_score``
        reads), or None when there is no valid score, it lies in ``text_before``, or
        its digit shares a token with other characters.
    """
    if token_texts and _SCORE_LEAD_IN.search(text_before):
        return 0
    text = text_before + "".join(token_texts)
    for match in reversed(list(_SCORE_PATTERN.finditer(text))):
        if parse_score(match.group(0)) is None:
            continue
        digit_at = match.start(1)
        position = len(text_before)
        for index, token in enumerate(token_texts):
            if position <= digit_at < position + len(token):
                return index if token == text[digit_at] else None
            position += len(token)
        return None
    return None


def digit_logprobs(candidates: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Keeps the log-probabilities of the digit tokens ``"0"`` .. ``"5"`` among
    ``(token text, log-probability)`` candidates at one position; two token ids that
    decode to the same digit are merged (their probabilities add)."""
    merged: dict[str, float] = {}
    for token, logprob in candidates:
        if token in SCORE_DIGITS and logprob is not None and not math.isinf(logprob):
            if token in merged:
                high, low = max(merged[token], logprob), min(merged[token], logprob)
                merged[token] = high + math.log1p(math.exp(low - high))
            else:
                merged[token] = float(logprob)
    return merged


def expected_digit(digit_logprobs: Mapping[str, float] | None) -> float | None:
    """The expected score ``sum_d p(d) * d`` over the digits 0..5, their probabilities
    renormalised to sum to one; None when none of them has a log-probability.

    Args:
        digit_logprobs: Log-probability of each digit token (``"0"`` .. ``"5"``) at the
            score position; other keys are ignored, absent digits count as probability 0.
    """
    if not digit_logprobs:
        return None
    found = [(int(d), lp) for d, lp in digit_logprobs.items() if d in SCORE_DIGITS]
    finite = [(d, lp) for d, lp in found if lp is not None and not math.isinf(lp)]
    if not finite:
        return None
    top = max(lp for _, lp in finite)  # log-sum-exp guard
    weights = [(d, math.exp(lp - top)) for d, lp in finite]
    total = sum(w for _, w in weights)
    return sum(d * w for d, w in weights) / total


def sample_score(
    text: str | None,
    digit_logprobs: Mapping[str, float] | None,
    mode: ScoringMode,
    text_before: str = "",
) -> float | None:
    """One judge sample's score in a scoring mode (see the module's docstring).

    Args:
        text: The generated answer.
        digit_logprobs: Log-probabilities of the digits at the score position, as the
            backend returned them (``expected`` and ``score_first``).
        mode: ``sampled``, ``expected`` or ``score_first``.
        text_before: A prefilled start of the answer (``score_first``: ``Score: ``).

    Returns:
        The score in [0, 5], or None when the answer has none.
    """
    if mode == "sampled":
        return parse_score(text_before + (text or ""))
    if mode not in SCORING_MODES:
        raise ValueError(f"scoring mode must be one of {SCORING_MODES}, not {mode!r}")
    return expected_digit(digit_logprobs)


@dataclass(frozen=True)
class Judgment:
    """One reply judged: each sample's score, their mean, and whether the judge gave it
    the top score.

    Attributes:
        sample_scores: One score (or None, unparseable) per sample.
        score: Mean of the valid sample scores; None when none is valid.
        top_score: ``sampled``: every valid sample is 5; ``expected`` and
            ``score_first``: the mean rounds to 5. False when there is no score.
    """

    sample_scores: tuple[float | None, ...]
    score: float | None
    top_score: bool


def judge_samples(
    samples: Sequence[tuple[str, Mapping[str, float] | None]],
    mode: ScoringMode,
    text_before: str = "",
) -> Judgment:
    """Scores the samples of one reply and aggregates them.

    Args:
        samples: ``(text, digit_logprobs)`` per judge sample.
        mode: The scoring mode.
        text_before: A prefilled start of every answer.
    """
    scores = tuple(sample_score(t, lp, mode, text_before) for t, lp in samples)
    mean = aggregate_scores(scores)
    if mean is None:
        return Judgment(scores, None, False)
    if mode == "sampled":
        top = all(s == MAX_SCORE for s in scores if s is not None)
    else:
        top = mean >= MAX_SCORE - 0.5
    return Judgment(scores, mean, top)


def aggregate_scores(scores: Iterable[float | None]) -> float | None:
    """Averages the valid scores of one candidate; None when none is valid."""
    valid = [s for s in scores if s is not None and not math.isnan(s)]
    return sum(valid) / len(valid) if valid else None


def score_summary(scores: list[float | None]) -> dict[str, float | None]:
    """Summarises judge scores: parse rate, mean, spread and the share of each score.

    Args:
        scores: One parsed score (or None) per judge answer.

    Returns:
        ``n_answers, n_parsed, parse_rate, score_mean, score_std`` and
        ``score_share_<k>`` for k = 0..5 (rounded scores, over parsed answers). What is
        not defined is None, not 0: the parse rate without answers, the mean, spread
        and shares without a parsed score.
    """
    parsed = [s for s in scores if s is not None]
    n = len(scores)
    summary: dict[str, float | None] = {
        "n_answers": float(n),
        "n_parsed": float(len(parsed)),
        "parse_rate": len(parsed) / n if n else None,
        "score_mean": None,
        "score_std": None,
    }
    if parsed:
        mean = sum(parsed) / len(parsed)
        summary["score_mean"] = mean
        summary["score_std"] = math.sqrt(sum((s - mean) ** 2 for s in parsed) / len(parsed))
    for k in range(int(MIN_SCORE), int(MAX_SCORE) + 1):
        hits = sum(1 for s in parsed if math.floor(s + 0.5) == k)
        summary[f"score_share_{k}"] = hits / len(parsed) if parsed else None
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
