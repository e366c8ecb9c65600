"""Shared engines: the nodes of one process that generate with the same model and
settings get one engine, and at most one shared engine is open at a time."""

from __future__ import annotations

import pytest

from self_rewarding import generation
from self_rewarding.generation import FakeGenerator, close_shared_generators, shared_generator


@pytest.fixture
def opened(monkeypatch):
    """Every engine ``make_generator`` started, in order (fakes: this tests the sharing)."""
    started: list[FakeGenerator] = []

    def make_generator(model_path, *args, **kwargs):
        started.append(FakeGenerator(lambda prompt, i: str(model_path)))
        return started[-1]

    monkeypatch.setattr(generation, "make_generator", make_generator)
    yield started
    close_shared_generators()


def test_the_same_model_and_settings_share_one_engine(opened, tmp_path):
    first = shared_generator(tmp_path / "M1", "vllm", 16, "fp32")
    again = shared_generator(tmp_path / "M1", "vllm", 16, "fp32")
    assert first is again
    assert len(opened) == 1 and not first.closed


def test_opening_another_model_stops_the_engine_before(opened, tmp_path):
    m1 = shared_generator(tmp_path / "M1", "vllm", 16, "fp32")
    m2 = shared_generator(tmp_path / "M2", "vllm", 16, "fp32")
    assert m1.closed and not m2.closed
    # Back to M1: a fresh engine, the closed one is never handed out again.
    m1_again = shared_generator(tmp_path / "M1", "vllm", 16, "fp32")
    assert m1_again is not m1 and m2.closed
    close_shared_generators()
    assert m1_again.closed
    assert len(opened) == 3
