"""Both backends return the digits' log-probabilities at the score digit, and they are
the model's own: equal to a plain transformers forward pass on the same text."""

from __future__ import annotations

import pytest

from self_rewarding.core.judge import SCORE_DIGITS, SCORE_FIRST_PREFIX
from self_rewarding.core.types import GenerationConfig, SamplingConfig
from self_rewarding.generation import open_engine

pytestmark = pytest.mark.slow  # starts engines

PROMPTS = ["Is the sea blue? Answer and score it.", "Rate: 'Paris is in France.'"]
SCORE_FIRST = SamplingConfig(
    temperature=0.0,
    top_p=1.0,
    max_new_tokens=1,
    n=1,
    assistant_prefix=SCORE_FIRST_PREFIX,
    score_logprobs=True,
)


def _reference_digit_logprobs(model_dir, prompt: str) -> dict[str, float]:
    """log p(digit | chat(prompt) + "Score: ") by one fp32 forward pass."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(text + SCORE_FIRST_PREFIX, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        logits = model(**ids).logits[0, -1]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    digit_ids = tokenizer.convert_tokens_to_ids(list(SCORE_DIGITS))
    return {d: float(logprobs[i]) for d, i in zip(SCORE_DIGITS, digit_ids, strict=True)}


def _assert_match_a_forward_pass(model_dir, completions) -> None:
    for prompt, (completion,) in zip(PROMPTS, completions, strict=True):
        expected = _reference_digit_logprobs(model_dir, prompt)
        assert completion.n_tokens == 1
        assert set(completion.digit_logprobs) == set(SCORE_DIGITS)
        for digit in SCORE_DIGITS:
            assert completion.digit_logprobs[digit] == pytest.approx(expected[digit], abs=2e-3)


def test_transformers_score_first_digit_logprobs_match_a_forward_pass(tiny_model_dir):
    generator = open_engine(
        tiny_model_dir, GenerationConfig(backend="transformers", precision="fp32")
    )
    try:
        completions = generator.generate(PROMPTS, SCORE_FIRST)
    finally:
        generator.close()
    _assert_match_a_forward_pass(tiny_model_dir, completions)


def test_vllm_digit_logprobs_of_score_first_and_of_a_sampled_score(tiny_model_dir):
    """score_first: equal to a forward pass. A sampled answer forced to end in
    "Score: <0-5>": the digits' log-probs at its score digit, the written digit among them
    with a finite log-prob."""
    from self_rewarding.core.judge import constrained_answer_regex, parse_score

    sampled = SamplingConfig(
        temperature=0.7,
        max_new_tokens=12,
        n=2,
        seed=3,
        regex=constrained_answer_regex(12),
        score_logprobs=True,
    )
    generator = open_engine(tiny_model_dir, GenerationConfig(backend="vllm", precision="fp32"))
    try:
        first = generator.generate(PROMPTS, SCORE_FIRST)
        written = generator.generate(PROMPTS, sampled)
    finally:
        generator.close()

    _assert_match_a_forward_pass(tiny_model_dir, first)
    for completion in (c for row in written for c in row):
        score = parse_score(completion)
        assert score is not None
        assert set(completion.digit_logprobs) == set(SCORE_DIGITS)
        assert completion.digit_logprobs[str(int(score))] > float("-inf")
