"""Filters for self-instructed prompts (Self-Instruct, Wang et al. 2023; paper section 2.3).

Each filter is a pure predicate that returns the reason for a rejection, or None:
ROUGE-L against the seed pool and the prompts already accepted (> 0.7 rejected), a keyword
blocklist (tasks a text-only model cannot do), length in words (<= 3 or > 150 rejected),
and exact duplicates.

ROUGE-L is the F-measure of the longest common subsequence of lower-cased alphanumeric
tokens, as ``rouge_score.rouge_scorer.RougeScorer(["rougeL"])`` computes it without
stemming; rapidfuzz computes the LCS in C.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import LCSseq

from self_rewarding.core.seed_data import normalise_prompt
from self_rewarding.core.types import DEFAULT_BLOCKLIST, PromptFilterConfig

__all__ = [
    "DEFAULT_BLOCKLIST",
    "PromptFilterConfig",
    "PromptPool",
    "filter_prompts",
    "reject_by_keyword",
    "reject_by_length",
    "rouge_l",
    "rouge_tokens",
]

_NON_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """Tokenises like rouge-score: lower case, alphanumeric runs."""
    return _NON_ALPHANUMERIC.sub(" ", text.lower()).split()


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """ROUGE-L F-measure of two token sequences (0 when either is empty)."""
    if not candidate or not reference:
        return 0.0
    lcs = LCSseq.similarity(candidate, reference)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(candidate), lcs / len(reference)
    return 2 * precision * recall / (precision + recall)


def reject_by_length(prompt: str, config: PromptFilterConfig) -> str | None:
    words = len(prompt.split())
    if words <= config.min_words:
        return "too_short"
    if words > config.max_words:
        return "too_long"
    return None


def reject_by_keyword(prompt: str, config: PromptFilterConfig) -> str | None:
    text = " ".join(rouge_tokens(prompt))
    for keyword in config.blocklist:
        if re.search(rf"\b{re.escape(keyword.lower())}\b", text):
            return "blocked_keyword"
    return None


@dataclass
class PromptPool:
    """The prompts a new one is compared with: the seed pool and those accepted so far."""

    tokens: list[list[str]]
    normalised: set[str]

    @classmethod
    def from_prompts(cls, prompts: Iterable[str]) -> PromptPool:
        prompts = list(prompts)
        return cls([rouge_tokens(p) for p in prompts], {normalise_prompt(p) for p in prompts})

    def add(self, prompt: str) -> None:
        self.tokens.append(rouge_tokens(prompt))
        self.normalised.add(normalise_prompt(prompt))

    def max_rouge_l(self, prompt: str) -> float:
        tokens = rouge_tokens(prompt)
        return max((rouge_l(tokens, other) for other in self.tokens), default=0.0)


def filter_prompts(
    candidates: Iterable[str], pool: PromptPool, config: PromptFilterConfig
) -> list[dict]:
    """Accepts or rejects each candidate in order; accepted ones join the pool.

    Args:
        candidates: New prompts, in generation order.
        pool: Seed prompts (and earlier accepted prompts); extended in place.
        config: Thresholds.

    Returns:
        One row per candidate: ``prompt, accepted, reason`` (None when accepted) and
        ``max_rouge_l`` against the pool at the time it was checked (None when a cheaper
        filter rejected it first).
    """
    rows = []
    for prompt in candidates:
        reason = reject_by_length(prompt, config) or reject_by_keyword(prompt, config)
        similarity = None
        if reason is None and normalise_prompt(prompt) in pool.normalised:
            reason = "duplicate"
        if reason is None:
            similarity = pool.max_rouge_l(prompt)
            if similarity > config.max_rouge_l:
                reason = "too_similar"
        if reason is None:
            pool.add(prompt)
        rows.append(
            {
                "prompt": prompt,
                "accepted": reason is None,
                "reason": reason,
                "max_rouge_l": similarity,
            }
        )
    return rows
