"""Tests for ``self_rewarding.core.seed_data``: prompt keys, the quality-to-score rule,
templated judge answers, and building the IFT, EFT and EFT-eval seed sets."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from self_rewarding.core.judge import parse_score
from self_rewarding.core.prompts import render_judge_prompt
from self_rewarding.core.seed_data import (
    RUBRIC_MET,
    RUBRIC_MISSED,
    build_eft_candidates,
    build_eft_eval,
    build_ift_examples,
    normalise_prompt,
    ordering_agrees,
    prompt_id,
    quality_to_score,
    templated_justification,
)
from self_rewarding.core.types import EFTConfig, IFTConfig

# --- prompt keys ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  What is\tthe   Capital\nof France? ", "what is the capital of france?"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
        ("", ""),
        (" \n\t ", ""),
    ],
)
def test_normalise_prompt(text, expected):
    assert normalise_prompt(text) == expected


def test_prompt_id_is_16_hex_digits_and_stable_across_variants():
    base = prompt_id("What is the capital of France?")
    assert re.fullmatch(r"[0-9a-f]{16}", base)
    assert prompt_id("  what IS the capital\n of   france? ") == base
    assert prompt_id("WHAT IS THE CAPITAL OF FRANCE?") == base
    assert prompt_id("What is the capital of Spain?") != base
    # Pinned: ids are stored in datasets and must not change between versions.
    assert base == prompt_id("what is the capital of france?")
    assert prompt_id("hello") == "2cf24dba5fb0a30e"


# --- quality to score ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("quality", "score"),
    [
        (0.0, 0),
        (0.05, 0),
        (0.1, 1),
        (0.25, 1),
        (0.3, 2),
        (0.4, 2),
        (0.5, 3),  # 2.5 rounds half up, not to even
        (0.5833333333333334, 3),
        (0.7, 4),
        (0.75, 4),
        (0.9, 5),
        (1.0, 5),
    ],
)
def test_quality_to_score(quality, score):
    result = quality_to_score(quality)
    assert result == score
    assert isinstance(result, int)


@pytest.mark.parametrize("quality", [-0.01, 1.01, 5.0, float("nan")])
def test_quality_to_score_refuses_out_of_range(quality):
    with pytest.raises(ValueError, match="quality"):
        quality_to_score(quality)


# --- templated justification --------------------------------------------------------


@pytest.mark.parametrize("score", range(6))
def test_templated_justification(score):
    text = templated_justification(score)
    assert text.endswith(f"\nScore: {score}")
    assert parse_score(text) == float(score)
    for met in RUBRIC_MET[:score]:
        assert met in text
    for not_met in RUBRIC_MET[score:]:
        assert not_met not in text
    if score < 5:
        assert RUBRIC_MISSED[score] in text
    assert sum(missed in text for missed in RUBRIC_MISSED) == (1 if score < 5 else 0)


@pytest.mark.parametrize("score", [-1, 6, 10])
def test_templated_justification_refuses_out_of_range(score):
    with pytest.raises(ValueError, match="score"):
        templated_justification(score)


# --- IFT ----------------------------------------------------------------------------

EVAL_PROMPTS = {normalise_prompt("What is the capital of France?")}


def _ift_rows():
    return [
        {"prompt": "Write a haiku about rain.", "response": "Soft rain on the roof"},
        {"prompt": "what is the CAPITAL of   france?", "response": "Paris."},
        {"prompt": "Write a haiku  about RAIN.", "response": "A different haiku"},
        {"prompt": "Explain recursion.", "response": "word " * 11},
        {"prompt": "Name a prime number.", "response": "Seven."},
        {"prompt": "Give me a synonym of happy.", "response": "Joyful."},
    ]


def test_build_ift_examples_filters_and_counts():
    examples, counts = build_ift_examples(
        _ift_rows(), EVAL_PROMPTS, IFTConfig(max_response_words=10)
    )
    assert [row["prompt"] for row in examples] == [
        "Write a haiku about rain.",
        "Name a prime number.",
        "Give me a synonym of happy.",
    ]
    assert examples[0] == {
        "prompt_id": prompt_id("Write a haiku about rain."),
        "prompt": "Write a haiku about rain.",
        "response": "Soft rain on the roof",
        "task": "ift",
    }
    assert counts == {
        "ift_candidates": 6,
        "ift_dropped_eval_overlap": 1,
        "ift_dropped_duplicate": 1,
        "ift_dropped_too_long": 1,
        "ift_examples": 3,
    }
    assert len({row["prompt_id"] for row in examples}) == len(examples)


def test_build_ift_examples_keeps_responses_at_the_word_limit():
    rows = [{"prompt": "p", "response": "word " * 10}]
    examples, _ = build_ift_examples(rows, set(), IFTConfig(max_response_words=10))
    assert len(examples) == 1


def test_build_ift_examples_respects_max_examples_reproducibly():
    rows = [{"prompt": f"Question number {i}?", "response": "Answer."} for i in range(20)]
    config = IFTConfig(max_examples=5, seed=3)
    first, counts = build_ift_examples(rows, set(), config)
    again, _ = build_ift_examples(rows, set(), config)
    assert len(first) == 5
    assert counts["ift_examples"] == 5
    assert counts["ift_candidates"] == 20
    assert first == again
    assert len({row["prompt_id"] for row in first}) == 5
    everything, _ = build_ift_examples(rows, set(), IFTConfig(max_examples=50))
    assert len(everything) == 20


# --- EFT ----------------------------------------------------------------------------


def _eft_row(i, quality, prompt=None, response=None):
    return {
        "prompt_text": prompt or f"Question {i}: how do I sort a list in Python?",
        "response_id": f"r{i}",
        "response_text": response or f"Use sorted(), answer {i}.",
        "quality_score": quality,
    }


def test_build_eft_candidates_filters_and_counts():
    rows = [
        _eft_row(0, 0.75),
        _eft_row(1, None),
        _eft_row(2, float("nan")),
        _eft_row(3, 0.5, prompt="  what is the capital OF France? "),
        _eft_row(4, 0.25, response="word " * 6),
        _eft_row(5, 1.0),
        {k: v for k, v in _eft_row(6, 0.0).items() if k != "quality_score"},
    ]
    examples, counts = build_eft_candidates(
        rows, EVAL_PROMPTS, EFTConfig(max_response_words=5, balance_scores=False)
    )
    assert sorted(row["response_id"] for row in examples) == ["r0", "r5"]
    assert counts == {
        "eft_candidates": 7,
        "eft_dropped_no_quality": 3,
        "eft_dropped_eval_overlap": 1,
        "eft_dropped_too_long": 1,
        "eft_examples": 2,
        "eft_examples_score_4": 1,
        "eft_examples_score_5": 1,
    }


def test_build_eft_candidates_example_fields():
    row = _eft_row(0, 0.75, prompt="Why is {x} a set?", response="Because }{ braces.")
    [example], _ = build_eft_candidates([row], set(), EFTConfig())
    assert example["prompt_id"] == prompt_id("Why is {x} a set?")
    assert example["instruction"] == "Why is {x} a set?"
    assert example["candidate"] == "Because }{ braces."
    assert example["response_id"] == "r0"
    assert example["human_quality"] == 0.75
    assert example["score"] == 4
    assert example["task"] == "eft"
    assert example["prompt"] == render_judge_prompt("Why is {x} a set?", "Because }{ braces.")
    assert "User: Why is {x} a set?\n" in example["prompt"]
    assert "<response>Because }{ braces.</response>" in example["prompt"]
    assert example["response"] == templated_justification(4)
    assert parse_score(example["response"]) == 4.0


def test_build_eft_candidates_balances_scores():
    # Score 2 is frequent; every score 0..5 has at least 3 replies.
    qualities = [0.0] * 3 + [0.25] * 3 + [0.4] * 12 + [0.5] * 3 + [0.75] * 3 + [1.0] * 3
    rows = [_eft_row(i, q) for i, q in enumerate(qualities)]
    examples, counts = build_eft_candidates(
        rows, set(), EFTConfig(max_examples=12, balance_scores=True)
    )
    per_score = Counter(row["score"] for row in examples)
    assert per_score == dict.fromkeys(range(6), 2)
    assert counts["eft_examples"] == 12
    for score in range(6):
        assert counts[f"eft_examples_score_{score}"] == 2
    assert len({row["response_id"] for row in examples}) == 12


def test_build_eft_candidates_balancing_uses_what_is_available():
    qualities = [0.0] + [0.4] * 10 + [1.0] * 2
    rows = [_eft_row(i, q) for i, q in enumerate(qualities)]
    examples, _ = build_eft_candidates(rows, set(), EFTConfig(max_examples=7, balance_scores=True))
    assert Counter(row["score"] for row in examples) == {0: 1, 2: 4, 5: 2}
    everything, counts = build_eft_candidates(rows, set(), EFTConfig())
    assert len(everything) == 13
    assert counts["eft_examples_score_2"] == 10


def test_build_eft_candidates_without_balancing_samples_max_examples():
    rows = [_eft_row(i, 0.4) for i in range(10)]
    examples, counts = build_eft_candidates(
        rows, set(), EFTConfig(max_examples=4, balance_scores=False)
    )
    assert len(examples) == 4
    assert counts["eft_examples"] == 4 and counts["eft_examples_score_2"] == 4


# --- EFT eval -----------------------------------------------------------------------


def test_build_eft_eval_flattens_ranked_replies():
    ranked = [
        {
            "prompt": "Tell me a joke.",
            "responses": [
                {"message_id": "m1", "text": "Joke one.", "rank": 1},
                {"message_id": "m2", "text": "Unranked.", "rank": None},
                {"message_id": "m3", "text": "Joke zero.", "rank": 0},
                {"message_id": "m4", "text": "No rank key."},
            ],
        },
        {"prompt": "Nothing ranked.", "responses": [{"message_id": "m5", "text": "x"}]},
        {
            "prompt": "Second prompt.",
            "responses": [{"message_id": "m6", "text": "y", "rank": 2.0}],
        },
    ]
    rows = build_eft_eval(ranked)
    assert rows == [
        {
            "prompt_id": prompt_id("Tell me a joke."),
            "prompt": "Tell me a joke.",
            "response_id": "m1",
            "response": "Joke one.",
            "human_rank": 1,
        },
        {
            "prompt_id": prompt_id("Tell me a joke."),
            "prompt": "Tell me a joke.",
            "response_id": "m3",
            "response": "Joke zero.",
            "human_rank": 0,
        },
        {
            "prompt_id": prompt_id("Second prompt."),
            "prompt": "Second prompt.",
            "response_id": "m6",
            "response": "y",
            "human_rank": 2,
        },
    ]
    assert all(isinstance(row["human_rank"], int) for row in rows)


# --- ordering agreement -------------------------------------------------------------


@pytest.mark.parametrize(
    ("human", "model", "agrees"),
    [
        ([0.9, 0.5], [4.0, 2.0], True),
        ([0.9, 0.5], [2.0, 4.0], False),
        ([0.9, 0.5, 0.1], [5.0, 3.0, 1.0], True),
        ([0.9, 0.5, 0.1], [5.0, 1.0, 3.0], False),
        # A model tie where humans differ disagrees.
        ([0.9, 0.5], [3.0, 3.0], False),
        # Human ties must be matched by model ties.
        ([0.5, 0.5], [3.0, 3.0], True),
        ([0.5, 0.5], [3.0, 4.0], False),
        # Missing scores disagree.
        ([0.9, 0.5], [4.0, None], False),
        ([0.9], [None], False),
        # Nothing to compare.
        ([0.9], [1.0], True),
        ([], [], True),
    ],
)
def test_ordering_agrees(human, model, agrees):
    assert ordering_agrees(human, model) is agrees
