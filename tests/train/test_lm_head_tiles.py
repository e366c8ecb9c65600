"""The fused LM head's vocabulary tiles: what training sets, and that the tile size
changes memory, not the numbers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from trl.kernels import ChunkedLogProbFunction
from trl.trainer import utils as trl_utils

from self_rewarding.train import trainer_core
from self_rewarding.train.trainer_core import LM_HEAD_VOCAB_TILE, TrainingMethod, fit


@pytest.fixture
def trl_tile():
    """Restores TRL's tile size after the test."""
    before = trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE
    yield
    trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = before


def test_fit_trains_with_the_smaller_tiles(trl_tile, tmp_path):
    seen = {}

    class FakeTrainer:
        processing_class = SimpleNamespace(save_pretrained=lambda path: None)

        def train(self):
            seen["tile"] = trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE
            return SimpleNamespace(metrics={"train_loss": 1.0}, global_step=1)

        def save_model(self, path):
            pass

        def is_world_process_zero(self):
            return True

    trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = 32768
    method = TrainingMethod("sft", ("prompt",), lambda *a: FakeTrainer(), lambda *a: {})
    fit(method, "model", [{"prompt": "p"}], args=None, output_dir=tmp_path)
    assert seen["tile"] == LM_HEAD_VOCAB_TILE == 4096


def test_a_trl_without_the_tile_setting_trains_with_a_warning(trl_tile, monkeypatch, caplog):
    monkeypatch.delattr(trl_utils, "_CHUNKED_LOGPROB_CHUNK_SIZE")
    trainer_core.size_lm_head_tiles(4096)
    assert "no fused-LM-head tile size" in caplog.text


def test_tile_size_leaves_log_probs_entropy_and_gradients_unchanged():
    torch.manual_seed(0)
    hidden = torch.randn(12, 16)
    weight = torch.randn(10_000, 16)  # 3 tiles of 4,096, 1 of 32,768
    targets = torch.randint(0, 10_000, (12,))

    def run(columns: int):
        h = hidden.clone().requires_grad_()
        w = weight.clone().requires_grad_()
        log_probs, entropy, *_ = ChunkedLogProbFunction.apply(
            h, w, None, targets, 1.0, columns, None, 1.0, ("log_probs", "entropy")
        )
        (log_probs.sum() + 0.1 * entropy.sum()).backward()
        return log_probs.detach(), entropy.detach(), h.grad, w.grad

    whole, tiled = run(32768), run(4096)
    expected = torch.log_softmax(hidden @ weight.T, dim=-1).gather(1, targets[:, None])[:, 0]
    torch.testing.assert_close(whole[0], expected, rtol=1e-5, atol=1e-5)
    for one, other in zip(whole, tiled, strict=True):  # the same sums, in another order
        torch.testing.assert_close(one, other, rtol=1e-5, atol=1e-5)
