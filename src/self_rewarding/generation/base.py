"""The generation interface shared by every backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from self_rewarding.core.types import SamplingConfig


class Generator(Protocol):
    """Generates chat replies: each prompt is one user turn, formatted with the model's
    chat template by the backend.

    Attributes:
        tokens_generated: Tokens generated so far, for throughput reports.
        seconds: Time spent generating so far.
    """

    tokens_generated: int
    seconds: float

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[str]]:
        """Returns ``sampling.n`` completions for each prompt, in prompt order."""
        ...

    def close(self) -> None:
        """Frees the model or engine (before training on the same device)."""
        ...
