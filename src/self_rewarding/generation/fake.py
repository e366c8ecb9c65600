"""A deterministic generator for unit tests of the layers above generation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from self_rewarding.core.types import SamplingConfig


class FakeGenerator:
    """Answers each prompt with ``respond(prompt, index)`` and records the calls."""

    def __init__(self, respond: Callable[[str, int], str]):
        self.respond = respond
        self.calls: list[tuple[list[str], SamplingConfig]] = []
        self.tokens_generated = 0
        self.seconds = 0.0
        self.closed = False

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[str]]:
        self.calls.append((list(prompts), sampling))
        return [[self.respond(prompt, i) for i in range(sampling.n)] for prompt in prompts]

    def close(self) -> None:
        self.closed = True
