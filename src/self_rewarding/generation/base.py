"""The generation interface shared by every backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from self_rewarding.core.types import SamplingConfig


class Completion(str):
    """A generated text that also carries its token count, why generation stopped
    (``stop``: end of sequence or pattern complete, ``length``: ``max_new_tokens``), the
    sampler seed that produced it (None where the backend has none, e.g. an API) and,
    when ``SamplingConfig.score_logprobs`` asked for them, the log-probabilities of the
    digits 0-5 at its score digit (None: not asked, or no score digit found); from a
    verdict reader (``generation.verdicts``), the log-probabilities of the verdict labels
    ``A``, ``B`` and ``C``."""

    n_tokens: int
    finish_reason: str | None
    seed: int | None
    digit_logprobs: dict[str, float] | None
    label_logprobs: dict[str, float] | None

    def __new__(
        cls,
        text: str,
        n_tokens: int = 0,
        finish_reason: str | None = None,
        seed: int | None = None,
        digit_logprobs: dict[str, float] | None = None,
        *,
        label_logprobs: dict[str, float] | None = None,
    ):
        completion = super().__new__(cls, text)
        completion.n_tokens = n_tokens
        completion.finish_reason = finish_reason
        completion.seed = seed
        completion.digit_logprobs = digit_logprobs
        completion.label_logprobs = label_logprobs
        return completion

    def to_dict(self) -> dict:
        return {
            "text": str(self),
            "n_tokens": self.n_tokens,
            "finish_reason": self.finish_reason,
            "seed": self.seed,
            "digit_logprobs": self.digit_logprobs,
            "label_logprobs": self.label_logprobs,
        }

    @classmethod
    def from_dict(cls, row: dict) -> Completion:
        return cls(
            row["text"],
            row["n_tokens"],
            row["finish_reason"],
            row.get("seed"),
            row.get("digit_logprobs"),
            label_logprobs=row.get("label_logprobs"),
        )


class Generator(Protocol):
    """Generates completions of prompts. By default each prompt is one user turn, formatted
    with the model's chat template by the backend; ``chat=False`` continues plain text.

    Attributes:
        tokens_generated: Tokens generated so far, for throughput reports.
        seconds: Time spent generating so far.
    """

    tokens_generated: int
    seconds: float

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, chat: bool = True
    ) -> list[list[Completion]]:
        """Returns ``sampling.n`` completions for each prompt, in prompt order."""
        ...

    def close(self) -> None:
        """Frees the model or engine (before training on the same device)."""
        ...
