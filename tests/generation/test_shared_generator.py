"""Shared engines: the nodes of one process that generate with the same model and
settings get one engine, and at most one shared engine is open at a time."""

from __future__ import annotations

import pytest

from self_rewarding import generation
from self_rewarding.core.types import GenerationConfig
from self_rewarding.generation import FakeGenerator, close_shared_generators, open_engine

VLLM_FP32 = GenerationConfig(backend="vllm", precision="fp32")


@pytest.fixture
def opened(monkeypatch):
    """Every engine ``open_engine`` started, in order (fakes: this tests the sharing)."""
    started: list[FakeGenerator] = []

    def start_engine(model_path, *args, **kwargs):
        started.append(FakeGenerator(lambda prompt, i: str(model_path)))
        return started[-1]

    monkeypatch.setattr(generation, "_start_engine", start_engine)
    yield started
    close_shared_generators()


def test_the_same_model_and_settings_share_one_engine(opened, tmp_path):
    first = open_engine(tmp_path / "M1", VLLM_FP32, shared=True)
    again = open_engine(tmp_path / "M1", VLLM_FP32, shared=True)
    assert first is again
    assert len(opened) == 1 and not first.closed


def test_opening_another_model_stops_the_engine_before(opened, tmp_path):
    m1 = open_engine(tmp_path / "M1", VLLM_FP32, shared=True)
    m2 = open_engine(tmp_path / "M2", VLLM_FP32, shared=True)
    assert m1.closed and not m2.closed
    # Back to M1: a fresh engine, the closed one is never handed out again.
    m1_again = open_engine(tmp_path / "M1", VLLM_FP32, shared=True)
    assert m1_again is not m1 and m2.closed
    close_shared_generators()
    assert m1_again.closed
    assert len(opened) == 3


def test_other_settings_get_their_own_engine(opened, tmp_path):
    fp32 = open_engine(tmp_path / "M1", VLLM_FP32, shared=True)
    longer = open_engine(
        tmp_path / "M1",
        GenerationConfig(backend="vllm", precision="fp32", max_model_len=512),
        shared=True,
    )
    assert longer is not fp32 and fp32.closed


def test_an_unshared_engine_is_a_fresh_one_each_time(opened, tmp_path):
    assert open_engine(tmp_path / "M1", VLLM_FP32) is not open_engine(tmp_path / "M1", VLLM_FP32)
    assert len(opened) == 2


def test_where_a_job_keeps_its_chunks_does_not_change_the_engine(opened, tmp_path):
    first = open_engine(tmp_path / "M1", VLLM_FP32, shared=True)
    other_chunks = GenerationConfig(
        backend="vllm", precision="fp32", chunk_size=7, chunk_dir=str(tmp_path / "chunks")
    )
    assert open_engine(tmp_path / "M1", other_chunks, shared=True) is first
    assert len(opened) == 1
