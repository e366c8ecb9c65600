"""A deterministic generator for unit tests of the layers above generation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from self_rewarding.core.provenance import sample_seed
from self_rewarding.core.types import SamplingConfig
from self_rewarding.generation.base import Completion


class FakeGenerator:
    """Answers each prompt with ``respond(prompt, index)`` and records the calls. Each
    completion records the seed a real backend would have used for it and, when
    ``score_logprobs`` is asked for, ``digit_logprobs(prompt, index)`` (default: none)."""

    backend = "fake"
    precision = "fp32"
    model_path = "fake-model"

    def __init__(
        self,
        respond: Callable[[str, int], str],
        digit_logprobs: Callable[[str, int], dict[str, float] | None] | None = None,
    ):
        self.respond = respond
        self.digit_logprobs = digit_logprobs or (lambda prompt, index: None)
        self.calls: list[tuple[list[str], SamplingConfig]] = []
        self.tokens_generated = 0
        self.seconds = 0.0
        self.closed = False

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, chat: bool = True
    ) -> list[list[Completion]]:
        self.calls.append((list(prompts), sampling))
        results = []
        for prompt in prompts:
            # As a model would, the fake continues the prompt and any prefilled answer.
            texts = [self.respond(prompt + sampling.assistant_prefix, i) for i in range(sampling.n)]
            seeds = [sample_seed(sampling.seed, prompt, i) for i in range(sampling.n)]
            logprobs = [
                self.digit_logprobs(prompt, i) if sampling.score_logprobs else None
                for i in range(sampling.n)
            ]
            results.append(
                [
                    Completion(t, len(t.split()), "stop", s, lp)
                    for t, s, lp in zip(texts, seeds, logprobs)
                ]
            )
        self.tokens_generated += sum(c.n_tokens for row in results for c in row)
        return results

    def close(self) -> None:
        self.closed = True
