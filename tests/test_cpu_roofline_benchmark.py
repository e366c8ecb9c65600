"""benchmarks/cpu_roofline.py: a training stage's tokens and FLOP rate from its metrics
file, and the parameter count they rest on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks/cpu_roofline.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("cpu_roofline", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_achieved_rate_counts_recompute_and_the_tied_head():
    roofline = load_benchmark()
    non_embedding, hidden, vocab, tokens = 1_000_000, 64, 1000, 5000
    metrics = {"total_flos": 6 * non_embedding * tokens, "train_runtime": 10.0}

    row = roofline._achieved_rate(metrics, non_embedding, hidden, vocab)

    assert row["tokens"] == pytest.approx(tokens)
    expected = tokens * (8 * non_embedding + 8 * vocab * hidden) / 10.0 / 1e9
    assert row["gflops"] == pytest.approx(expected)


def test_model_sizes_leave_the_embeddings_out(tmp_path):
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=100,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    ).save_pretrained(tmp_path)

    non_embedding, hidden, intermediate, vocab = load_benchmark()._model_sizes(tmp_path)

    head_dim = 16 // 4
    attention = 16 * 16 * 2 + 16 * (2 * head_dim) * 2  # q and o; k and v for 2 kv heads
    layer = attention + 3 * 16 * 32 + 2 * 16  # the MLP's three products, two norms
    assert non_embedding == 2 * layer + 16  # and the final norm
    assert (hidden, intermediate, vocab) == (16, 32, 100)
