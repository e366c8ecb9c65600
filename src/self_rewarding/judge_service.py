"""The judging service: every place where a model judges replies with the verbatim
additive 5-point prompt (the iteration's judge, the judge probe, the model-judged EFT
selection, the evaluation of each model and of the evaluator) goes through ``judge``.

It renders the judge prompts, asks the generator for what the scoring mode needs
(``judge_sampling``), and scores and aggregates each reply's samples with the pure
``core.judge`` rules. Generation is a callable, so that callers keep their own engine and
resumable chunks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from self_rewarding.core.judge import (
    SCORE_FIRST_PREFIX,
    Judgment,
    constrained_answer_regex,
    judge_samples,
)
from self_rewarding.core.prompts import render_judge_prompt
from self_rewarding.core.types import JudgeConfig, SamplingConfig
from self_rewarding.generation.base import Completion

Generate = Callable[[list[str], SamplingConfig], list[list[Completion]]]


@dataclass(frozen=True)
class JudgedReply:
    """One reply judged: the raw answers and what was read from them.

    Attributes:
        texts: The judge's answers, one per sample (``score_first``: the prefilled
            ``Score: `` plus the generated tokens).
        seeds: The sampler seed of each answer.
        digit_logprobs: The digits' log-probabilities at each answer's score digit
            (None: not asked for, or no score digit).
        judgment: The per-sample scores, their mean and the top-score flag.
    """

    texts: tuple[str, ...]
    seeds: tuple[int | None, ...]
    digit_logprobs: tuple[dict[str, float] | None, ...]
    judgment: Judgment

    @property
    def score(self) -> float | None:
        return self.judgment.score

    @property
    def sample_scores(self) -> tuple[float | None, ...]:
        return self.judgment.sample_scores


def judge_sampling(config: JudgeConfig) -> SamplingConfig:
    """The decoding a scoring mode needs.

    - ``sampled``: ``config.sampling`` (with the ``Score: <0-5>`` regex when
      ``constrained``);
    - ``expected``: the same, plus the digits' log-probabilities at the score;
    - ``score_first``: one greedy answer prefilled with ``Score: ``, of
      ``score_first_tokens`` tokens (1: the score alone), with the digits'
      log-probabilities at its first token.
    """
    sampling = config.sampling
    if config.mode == "score_first":
        return dataclasses.replace(
            sampling,
            n=1,
            temperature=0.0,
            top_p=1.0,
            max_new_tokens=config.score_first_tokens,
            regex=None,
            assistant_prefix=SCORE_FIRST_PREFIX,
            score_logprobs=True,
        )
    if config.constrained:
        sampling = dataclasses.replace(
            sampling, regex=constrained_answer_regex(sampling.max_new_tokens)
        )
    return dataclasses.replace(sampling, score_logprobs=config.mode == "expected")


def render_judge_prompts(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The verbatim judge prompt of each ``(instruction, response)``."""
    return [render_judge_prompt(instruction, response) for instruction, response in pairs]


def read_judgments(
    answers: Sequence[Sequence[Completion]], config: JudgeConfig
) -> list[JudgedReply]:
    """Scores the answers of each reply in the configured mode."""
    text_before = SCORE_FIRST_PREFIX if config.mode == "score_first" else ""
    return [
        JudgedReply(
            texts=tuple(text_before + str(c) for c in samples),
            seeds=tuple(c.seed for c in samples),
            digit_logprobs=tuple(c.digit_logprobs for c in samples),
            judgment=judge_samples(
                [(str(c), c.digit_logprobs) for c in samples], config.mode, text_before
            ),
        )
        for samples in answers
    ]


def judge(
    pairs: Sequence[tuple[str, str]], config: JudgeConfig, generate: Generate
) -> list[JudgedReply]:
    """Judges each ``(instruction, response)`` with the verbatim prompt.

    Args:
        pairs: The replies to judge, with their instructions.
        config: Scoring mode, sampling, constrained decoding.
        generate: ``generate(prompts, sampling)``: ``sampling.n`` completions per
            prompt, in prompt order (a generator's ``generate``, or a chunked one).

    Returns:
        One ``JudgedReply`` per pair, in order.
    """
    answers = generate(render_judge_prompts(pairs), judge_sampling(config))
    return read_judgments(answers, config)
