"""Self-instruction creation: the 8-shot prompt and reading the new instruction back."""

from __future__ import annotations

import random

import pytest

from self_rewarding.core.self_instruct import (
    SELF_INSTRUCT_HEADER,
    build_self_instruct_prompt,
    choose_examples,
    parse_instruction,
)
from self_rewarding.core.types import SelfInstructConfig

SEEDS = [f"seed prompt {i}" for i in range(20)]


def test_eight_shot_prompt_has_six_seed_and_two_generated_examples():
    generated = ["generated one", "generated two", "generated three"]
    examples = choose_examples(random.Random(0), SEEDS, generated, SelfInstructConfig())

    assert len(examples) == 8
    assert sum(e in SEEDS for e in examples) == 6
    assert sum(e in generated for e in examples) == 2
    assert len(set(examples)) == 8


@pytest.mark.parametrize(("n_generated", "expected_seeds"), [(0, 8), (1, 7)])
def test_seed_prompts_stand_in_while_few_were_generated(n_generated, expected_seeds):
    generated = [f"generated {i}" for i in range(n_generated)]
    examples = choose_examples(random.Random(0), SEEDS, generated, SelfInstructConfig())

    assert len(examples) == 8
    assert sum(e in SEEDS for e in examples) == expected_seeds


def test_prompt_numbers_the_examples_and_ends_with_the_next_label():
    prompt = build_self_instruct_prompt(["Write a haiku.", "  Explain DNS.\n"])

    assert prompt.startswith(SELF_INSTRUCT_HEADER)
    assert "Task 1: Write a haiku.\n\nTask 2: Explain DNS.\n\n" in prompt
    assert prompt.endswith("Task 3:")


@pytest.mark.parametrize(
    ("continuation", "expected"),
    [
        (" Write a limerick about a cat.", "Write a limerick about a cat."),
        (" Summarise this.\n\nTask 10: Something else", "Summarise this."),
        (" List three rivers.\nTask 10:", "List three rivers."),
        ("Task 9: Explain recursion.", "Explain recursion."),
        (" Plan a trip.\nDay 1 then day 2.", "Plan a trip.\nDay 1 then day 2."),
        (" Name a fruit.<|im_end|>junk", "Name a fruit."),
        ("   \n", None),
        ("\nTask 10: a task under the next label", "a task under the next label"),
        ("", None),
    ],
)
def test_parse_instruction(continuation, expected):
    assert parse_instruction(continuation) == expected
