"""Verdicts read from token probabilities, and generation from a GGUF file, on the
embedded model's GGUF (the same reader the PyPI referees go through)."""

import math

import pytest

from self_rewarding.core.types import SamplingConfig
from self_rewarding.models.base_model import find_embedded_gguf

PROMPT = (
    'Which answer is better? Output "[[A]]" if A is better, "[[B]]" if B is better, '
    '"[[C]]" for a tie.\n[A] Paris is the capital of France.\n[B] Paris is in Peru.'
)


@pytest.fixture(scope="module")
def embedded_gguf():
    try:
        return find_embedded_gguf()
    except FileNotFoundError:
        pytest.skip("the embedded model package is not installed")


@pytest.fixture(scope="module")
def reader(embedded_gguf, tmp_path_factory):
    from self_rewarding.generation.verdicts import VerdictReader
    from self_rewarding.models import referees

    # A referee name whose GGUF is the embedded model's, through models.referees.
    root = tmp_path_factory.mktemp("referees")
    name = "qwen2.5-coder-0.5b-instruct"
    target = referees.referee_gguf(name, root)
    target.parent.mkdir(parents=True)
    target.symlink_to(embedded_gguf)
    original = referees.REFEREE_DIR
    referees.REFEREE_DIR = root
    try:
        yield VerdictReader(name, "fp32")
    finally:
        referees.REFEREE_DIR = original


@pytest.mark.slow
def test_the_three_labels_are_read_from_one_forward_pass(reader):
    (found,) = reader.read([PROMPT])
    assert set(found) == {"A", "B", "C"}
    assert all(value < 0 and math.isfinite(value) for value in found.values())
    # The Generator interface: the most probable label, its log-probabilities kept.
    ((completion,),) = reader.generate([PROMPT])
    assert str(completion) == f"[[{max(found, key=found.get)}]]"
    assert completion.label_logprobs == pytest.approx(found)
    assert reader.verdicts == 2 and reader.seconds > 0


@pytest.mark.slow
def test_padding_after_the_prompt_leaves_the_verdict_unchanged(reader):
    # The prompt's length is not a multiple of 64, so the padded read runs 64k tokens.
    assert len(reader._input_ids(PROMPT)) % 64
    (padded,) = reader.read([PROMPT])
    reader.pad_to_multiple_of = 1
    try:
        (unpadded,) = reader.read([PROMPT])
    finally:
        reader.pad_to_multiple_of = 64
    assert padded == pytest.approx(unpadded, abs=1e-4)
    assert padded["A"] != pytest.approx(padded["B"], abs=1e-3)  # not a degenerate read


@pytest.mark.slow
def test_a_prompt_longer_than_allowed_keeps_its_end(reader):
    reader.max_prompt_tokens, limit = 64, reader.max_prompt_tokens
    try:
        (found,) = reader.read(["filler " * 200 + PROMPT])
    finally:
        reader.max_prompt_tokens = limit
    assert reader.truncated == 1 and set(found) == {"A", "B", "C"}


def test_an_unassembled_referee_names_the_command(tmp_path, monkeypatch):
    from self_rewarding.models import referees

    monkeypatch.setattr(referees, "REFEREE_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="models.referees fetch qwen2.5-coder-1.5b"):
        referees.referee_source("qwen2.5-coder-1.5b-instruct")


@pytest.mark.slow
def test_transformers_generates_from_a_gguf_file(embedded_gguf):
    from self_rewarding.generation.hf_backend import TransformersGenerator

    generator = TransformersGenerator(
        embedded_gguf.parent, precision="fp32", gguf_file=embedded_gguf.name
    )
    ((text,),) = generator.generate(
        ["Say hello."], SamplingConfig(temperature=0.0, max_new_tokens=4)
    )
    assert text.n_tokens > 0
