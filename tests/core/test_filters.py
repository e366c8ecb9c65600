"""Prompt filters: ROUGE-L equal to the rouge-score package, the keyword blocklist, the
length bounds, duplicates, and the order-dependent pool of accepted prompts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from self_rewarding.core.filters import (
    PromptFilterConfig,
    PromptPool,
    filter_prompts,
    reject_by_keyword,
    reject_by_length,
    rouge_l,
    rouge_tokens,
)

RAW_IFT = (
    Path(__file__).parents[2]
    / "data/01_raw/oasst2_partial/oasst_en_ift_candidates_no_alpacaeval.jsonl"
)
CONFIG = PromptFilterConfig()


def _real_prompts(n: int) -> list[str]:
    with RAW_IFT.open(encoding="utf-8") as handle:
        prompts = [json.loads(line)["prompt"] for line in handle]
    return random.Random(0).sample(prompts, n)


def test_rouge_l_equals_rouge_score_on_real_prompts():
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    prompts = _real_prompts(40)
    prompts += [p.replace("the", "a") + " Thanks!" for p in prompts[:10]]  # near copies
    pairs = [(a, b) for a in prompts[:25] for b in prompts[25:]]
    for candidate, reference in pairs:
        expected = scorer.score(reference, candidate)["rougeL"].fmeasure
        actual = rouge_l(rouge_tokens(candidate), rouge_tokens(reference))
        assert actual == pytest.approx(expected, abs=1e-12)


def test_rouge_l_edge_cases():
    assert rouge_l([], ["a"]) == 0.0
    assert rouge_l(["a"], ["b"]) == 0.0
    assert rouge_l(["a", "b"], ["a", "b"]) == 1.0
    assert rouge_tokens("Hello, WORLD! 42x") == ["hello", "world", "42x"]


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("Hi there", "too_short"),
        ("Explain it now", "too_short"),  # 3 words: rejected (<= 3)
        ("Explain this to me", None),
        ("word " * 150, None),
        ("word " * 151, "too_long"),
    ],
)
def test_length_bounds(prompt, reason):
    assert reject_by_length(prompt, CONFIG) == reason


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("Describe the attached image in detail", "blocked_keyword"),
        ("Plot the data for me please", "blocked_keyword"),
        ("Please go to the website and summarise it", "blocked_keyword"),
        ("Draw: a cat", "blocked_keyword"),
        ("Imagine a world without money", None),  # "image" only as part of a word
        ("What is a mapping in mathematics?", None),
    ],
)
def test_keyword_blocklist_matches_whole_words(prompt, reason):
    assert reject_by_keyword(prompt, CONFIG) == reason


def test_filter_records_a_reason_for_every_rejection_and_grows_the_pool():
    pool = PromptPool.from_prompts(["Write a poem about the sea and the sky."])
    rows = filter_prompts(
        [
            "Write a poem about the sea and the blue sky.",  # too similar to the seed
            "How do vaccines train the immune system?",
            "How do vaccines train the immune system?",  # exact duplicate of an accepted one
            "how do  VACCINES train the immune system?",  # same after normalisation
            "How do vaccines teach the immune system to fight?",  # similar to an accepted one
            "Draw a map of Europe",
            "Why?",
        ],
        pool,
        CONFIG,
    )
    assert [row["reason"] for row in rows] == [
        "too_similar",
        None,
        "duplicate",
        "duplicate",
        "too_similar",
        "blocked_keyword",
        "too_short",
    ]
    assert rows[0]["max_rouge_l"] > 0.7
    assert rows[1]["accepted"] and rows[1]["max_rouge_l"] < 0.7
    assert rows[5]["max_rouge_l"] is None
    assert len(pool.tokens) == 2
