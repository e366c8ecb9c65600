"""The judging service over a fake generator: what each scoring mode asks the backend
for, and how the answers become per-sample scores and one score per reply."""

from __future__ import annotations

import math

import pytest

from self_rewarding.core.judge import SCORE_FIRST_PREFIX
from self_rewarding.core.prompts import render_judge_prompt
from self_rewarding.core.types import JudgeConfig, SamplingConfig
from self_rewarding.generation import FakeGenerator
from self_rewarding.judge_service import judge, judge_sampling

PAIRS = [("What is 2 + 2?", "4"), ("Name a colour.", "Blue, or maybe red.")]
SAMPLING = SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=64, n=3, seed=5)


def _fake():
    """Writes "Score: <words in the response>" and puts p = 0.5 on that digit and 0.5 on
    the digit below it."""

    def words(prompt: str) -> int:
        response = prompt.split("<response>")[1].split("</response>", maxsplit=1)[0]
        return len(response.split())

    def respond(prompt: str, index: int) -> str:
        if prompt.endswith(SCORE_FIRST_PREFIX):
            return str(words(prompt))
        return f"Fine.\nScore: {words(prompt)}"

    def logprobs(prompt: str, index: int) -> dict[str, float]:
        digit = words(prompt)
        return {str(digit): math.log(0.5), str(digit - 1): math.log(0.5)}

    return FakeGenerator(respond, logprobs)


def test_judge_sampling_per_mode():
    sampled = judge_sampling(JudgeConfig(mode="sampled", sampling=SAMPLING))
    assert sampled == SAMPLING
    constrained = judge_sampling(JudgeConfig(sampling=SAMPLING, constrained=True))
    assert constrained.regex and constrained.regex.endswith("Score: [0-5]")
    expected = judge_sampling(JudgeConfig(mode="expected", sampling=SAMPLING))
    assert expected.score_logprobs and expected.n == 3 and expected.temperature == 0.7
    first = judge_sampling(JudgeConfig(mode="score_first", sampling=SAMPLING, constrained=True))
    assert (first.n, first.temperature, first.max_new_tokens) == (1, 0.0, 1)
    assert first.assistant_prefix == "Score: " and first.score_logprobs and first.regex is None


@pytest.mark.parametrize(
    ("mode", "scores"),
    [
        # "4" has 1 word, "Blue, or maybe red." 4: written scores 1 and 4.
        ("sampled", [1.0, 4.0]),
        # p = 0.5 on the written digit and 0.5 on the one below: 0.5 and 3.5.
        ("expected", [0.5, 3.5]),
        ("score_first", [0.5, 3.5]),
    ],
)
def test_judge_scores_each_reply_in_its_mode(mode, scores):
    generator = _fake()
    judged = judge(PAIRS, JudgeConfig(mode=mode, sampling=SAMPLING), generator.generate)

    assert [reply.score for reply in judged] == scores
    prompts, sampling = generator.calls[0]
    assert prompts == [render_judge_prompt(i, r) for i, r in PAIRS]
    assert sampling == judge_sampling(JudgeConfig(mode=mode, sampling=SAMPLING))
    n = 1 if mode == "score_first" else 3
    assert all(len(reply.sample_scores) == n == len(reply.seeds) for reply in judged)
    assert all(seed is not None for reply in judged for seed in reply.seeds)


def test_score_first_texts_hold_the_prefill_and_sampled_texts_are_raw():
    first = judge(PAIRS, JudgeConfig(mode="score_first"), _fake().generate)
    assert [reply.texts for reply in first] == [("Score: 1",), ("Score: 4",)]
    sampled = judge(PAIRS[:1], JudgeConfig(sampling=SAMPLING), _fake().generate)
    assert sampled[0].texts == ("Fine.\nScore: 1",) * 3
    assert sampled[0].digit_logprobs == (None, None, None)


def test_unparseable_answers_are_counted_not_raised():
    generator = FakeGenerator(lambda prompt, index: "I like it." if index else "Score: 2")
    (reply,) = judge(PAIRS[:1], JudgeConfig(sampling=SAMPLING), generator.generate)
    assert reply.sample_scores == (2.0, None, None)
    assert reply.score == 2.0
