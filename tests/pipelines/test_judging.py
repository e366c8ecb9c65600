"""Judge nodes on a fake generator: the probe's parse rate and provenance, and the
paper's model-judged EFT selection (ordering agreement with humans)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from self_rewarding.core.prompts import render_judge_prompt
from self_rewarding.core.types import EFTConfig, JudgeProbeConfig
from self_rewarding.generation import FakeGenerator
from self_rewarding.pipelines import judging


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


def _use(monkeypatch, generator):
    monkeypatch.setattr(judging, "open_engine", lambda model_dir, generation: generator)


def test_probe_counts_unparseable_answers_and_records_provenance(monkeypatch, model_dir):
    answers = iter(["Good.\nScore: 4", "No score here", "**Score:** 2", "Score: 9"])
    generator = FakeGenerator(lambda prompt, i: next(answers))
    generator.seconds = 2.0  # the fake counts one token per word: 10 tokens
    _use(monkeypatch, generator)
    eft_eval = pd.DataFrame(
        {
            "prompt_id": list("abcd"),
            "prompt": [f"Question {i}" for i in range(4)],
            "response_id": list("wxyz"),
            "response": [f"Reply {i}" for i in range(4)],
            "human_rank": [0, 1, 0, 1],
        }
    )

    metrics, rows = judging.probe_judge(model_dir, eft_eval, JudgeProbeConfig(n_items=4))

    assert metrics["parse_rate"] == 0.5
    assert metrics["score_mean"] == 3.0
    assert metrics["tokens_per_second"] == 5.0
    assert rows["score"].isna().sum() == 2
    assert set(rows["model_path"]) == {str(model_dir)}
    assert rows["model_sha256"].str.len().eq(64).all()
    assert rows["template_sha256"].str.len().eq(64).all()
    sent = generator.calls[0][0]
    assert all("<response>Reply" in prompt for prompt in sent)
    assert generator.closed


def _candidates() -> pd.DataFrame:
    rows = []
    for prompt_id, qualities in {
        "agree": [0.2, 0.9],
        "disagree": [0.9, 0.2],
        "single": [1.0],
    }.items():
        for k, quality in enumerate(qualities):
            candidate = f"{prompt_id}-{k} quality={quality}"
            rows.append(
                {
                    "prompt_id": prompt_id,
                    "instruction": f"Instruction {prompt_id}",
                    "candidate": candidate,
                    "human_quality": quality,
                    "score": round(5 * quality),
                    "prompt": render_judge_prompt(f"Instruction {prompt_id}", candidate),
                    "response": "templated\nScore: 1",
                }
            )
    return pd.DataFrame(rows)


def test_templated_mode_keeps_the_candidates(model_dir):
    candidates = _candidates()
    selected = judging.select_eft_train(
        candidates, model_dir, EFTConfig(targets="templated"), JudgeProbeConfig()
    )
    pd.testing.assert_frame_equal(selected, candidates)


def test_model_judged_mode_keeps_prompts_whose_ordering_agrees(monkeypatch, model_dir):
    def judge(prompt: str, i: int) -> str:
        # The model scores every reply 2 + (position of the reply in its prompt).
        position = int(re.search(r"-(\d) quality", prompt).group(1))
        return f"My reasoning.\nScore: {2 + position}"

    _use(monkeypatch, FakeGenerator(judge))

    selected = judging.select_eft_train(
        _candidates(), model_dir, EFTConfig(targets="model_judged"), JudgeProbeConfig()
    )

    assert set(selected["prompt_id"]) == {"agree"}
    assert list(selected["score"]) == [2.0, 3.0]
    assert list(selected["response"]) == ["My reasoning.\nScore: 2", "My reasoning.\nScore: 3"]
