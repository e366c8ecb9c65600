"""Both generation backends, for real, on the tiny saved model: n completions per prompt in
prompt order, token counts, and ``open_engine``'s choice of backend."""

from __future__ import annotations

import pytest

from self_rewarding.core.types import GenerationConfig, SamplingConfig
from self_rewarding.generation import open_engine
from self_rewarding.generation.vllm_backend import is_vllm_available

PROMPTS = ["Say something about the sea.", "Name a colour.", "Count to three."]
SAMPLING = SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=8, n=2, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["transformers", "vllm"])
def test_backend_returns_n_completions_per_prompt(tiny_model_dir, backend):
    if backend == "vllm" and not is_vllm_available():
        pytest.fail("vLLM is part of the CPU install (make setup): it must be importable")
    generator = open_engine(tiny_model_dir, GenerationConfig(backend=backend, batch_size=2))
    try:
        completions = generator.generate(PROMPTS, SAMPLING)
    finally:
        generator.close()

    assert [len(c) for c in completions] == [2, 2, 2]
    flat = [c for row in completions for c in row]
    # Each completion carries its own token count and why it stopped: at
    # max_new_tokens (exactly 8 tokens) or earlier at the end of sequence.
    assert all(c.finish_reason in {"stop", "length"} for c in flat)
    assert all(1 <= c.n_tokens <= 8 for c in flat)
    assert all(c.n_tokens == 8 for c in flat if c.finish_reason == "length")
    assert generator.tokens_generated == sum(c.n_tokens for c in flat)
    # Decoded text, and not one text repeated: six samples of three prompts.
    assert any(str(c).strip() for c in flat)
    assert len({str(c) for c in flat}) > 1
    # A random tiny model rarely stops early: most of the 6 x 8 tokens are generated.
    assert 24 <= generator.tokens_generated <= 48
    assert generator.seconds > 0


def test_auto_takes_vllm_when_installed_and_transformers_without(tiny_model_dir, monkeypatch):
    from self_rewarding.generation import vllm_backend

    monkeypatch.setattr(vllm_backend, "is_vllm_available", lambda: True)
    generator = open_engine(tiny_model_dir, GenerationConfig(backend="auto", max_model_len=256))
    try:  # the engine process starts with the first request: none is made here
        assert type(generator).__name__ == "VLLMGenerator"
        assert (generator.backend, generator.max_model_len) == ("vllm", 256)
    finally:
        generator.close()

    monkeypatch.setattr(vllm_backend, "is_vllm_available", lambda: False)
    generator = open_engine(tiny_model_dir, GenerationConfig(backend="auto"))
    try:
        assert type(generator).__name__ == "TransformersGenerator"
    finally:
        generator.close()


def test_unknown_backend_is_refused(tiny_model_dir):
    with pytest.raises(
        ValueError, match=r"backend\s+Input should be 'auto', 'vllm' or 'transformers'"
    ):
        open_engine(tiny_model_dir, GenerationConfig(backend="llama.cpp"))


@pytest.mark.slow
def test_vllm_engine_serves_several_calls_and_applies_regex_and_stop(tiny_model_dir):
    if not is_vllm_available():
        pytest.fail("vLLM is part of the CPU install (make setup): it must be importable")
    from self_rewarding.core.judge import constrained_answer_regex, parse_score

    generator = open_engine(tiny_model_dir, GenerationConfig(backend="vllm"))
    try:
        constrained = SamplingConfig(
            max_new_tokens=16, n=3, regex=constrained_answer_regex(16), temperature=1.0
        )
        judged = generator.generate(PROMPTS, constrained)
        engine = generator._process.pid
        plain = SamplingConfig(max_new_tokens=12, n=2, stop=("e",), temperature=1.0)
        continued = generator.generate(["Task 1: write", "Task 2:"], plain, chat=False)
        assert generator._process.pid == engine  # one engine for both calls
    finally:
        generator.close()

    assert all(parse_score(text) is not None for row in judged for text in row)
    assert all(0 < c.n_tokens <= 16 for row in judged for c in row)
    assert [len(row) for row in continued] == [2, 2]
    assert all("e" not in text for row in continued for text in row)
    assert generator._process is None


@pytest.mark.slow
def test_transformers_reports_tokens_and_finish_reason_and_cuts_at_stop(tiny_model_dir):
    generator = open_engine(tiny_model_dir, GenerationConfig(backend="transformers", batch_size=2))
    try:
        sampling = SamplingConfig(max_new_tokens=10, n=2, stop=("e",), temperature=1.0)
        completions = generator.generate(
            ["Task 1: write", "Task 2:", "Task 3: a"], sampling, chat=False
        )
    finally:
        generator.close()

    flat = [c for row in completions for c in row]
    assert all(1 <= c.n_tokens <= 10 for c in flat)
    assert {c.finish_reason for c in flat} <= {"stop", "length"}
    assert all("e" not in str(c) for c in flat)
    assert generator.tokens_generated == sum(c.n_tokens for c in flat)


def test_a_bad_model_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No model directory at .*no-such-model"):
        open_engine(tmp_path / "no-such-model", GenerationConfig(backend="transformers"))
