"""Tests for the great-expectations gates (``validation.expectations``) through the
pass-through nodes of ``pipelines.validation_nodes``: real runs on small frames."""

from __future__ import annotations

import pandas as pd
import pytest

from self_rewarding.core.prompts import render_judge_prompt
from self_rewarding.core.seed_data import (
    normalise_prompt,
    prompt_id,
    templated_justification,
)
from self_rewarding.pipelines.validation_nodes import (
    validate_eft,
    validate_eft_eval,
    validate_ift,
)
from self_rewarding.validation.expectations import DataValidationError

EVAL_QUESTION = "What is the capital of France?"


@pytest.fixture
def eval_prompts():
    return pd.DataFrame(
        {
            "prompt_normalised": [
                normalise_prompt(EVAL_QUESTION),
                "name three colours.",
            ],
            "source": ["oasst1_validation", "alpaca_eval"],
        }
    )


def _ift(prompts):
    return pd.DataFrame(
        {
            "prompt_id": [prompt_id(p) for p in prompts],
            "prompt": prompts,
            "response": [f"An answer to: {p}" for p in prompts],
            "task": "ift",
        }
    )


IFT_PROMPTS = ["Write a haiku about rain.", "Explain recursion.", "Name a prime."]


def _eft(scores=(4, 1, 5)):
    instructions = ["Sort a list in Python?", "Explain DNS.", "What is a monad?"]
    candidates = ["Use sorted().", "It maps names.", "A monoid in endofunctors."]
    return pd.DataFrame(
        {
            "prompt_id": [prompt_id(i) for i in instructions],
            "instruction": instructions,
            "candidate": candidates,
            "response_id": ["r1", "r2", "r3"],
            "human_quality": [0.75, 0.25, 1.0],
            "score": list(scores),
            "prompt": [render_judge_prompt(i, c) for i, c in zip(instructions, candidates)],
            "response": [templated_justification(s) for s in (4, 1, 5)],
            "task": "eft",
        }
    )


def _failure_message(error: pytest.ExceptionInfo) -> str:
    return str(error.value)


def test_ift_passes_on_good_data(eval_prompts):
    ift = _ift(IFT_PROMPTS)
    returned, report = validate_ift(ift, eval_prompts)
    assert returned is ift
    assert "prompt_normalised" not in ift.columns  # the node checks a copy
    assert report["success"] is True
    assert len(report["results"]) >= 12
    assert all(item["success"] for item in report["results"])


@pytest.mark.parametrize(
    ("prompts", "prompt_ids", "column", "expectation"),
    [
        pytest.param(
            [*IFT_PROMPTS[:2], "   \n "],
            None,
            "prompt",
            "expect_column_values_to_match_regex",
            id="blank-prompt",
        ),
        pytest.param(
            IFT_PROMPTS,
            [prompt_id(IFT_PROMPTS[0])] * 2 + [prompt_id(IFT_PROMPTS[2])],
            "prompt_id",
            "expect_column_values_to_be_unique",
            id="duplicate-prompt-id",
        ),
        pytest.param(
            [*IFT_PROMPTS[:2], "  what is the CAPITAL of\nfrance? "],
            None,
            "prompt_normalised",
            "expect_column_values_to_not_be_in_set",
            id="eval-overlap",
        ),
    ],
)
def test_ift_fails_naming_the_column(eval_prompts, prompts, prompt_ids, column, expectation):
    ift = _ift(prompts)
    if prompt_ids is not None:
        ift["prompt_id"] = prompt_ids
    with pytest.raises(DataValidationError) as error:
        validate_ift(ift, eval_prompts)
    message = _failure_message(error)
    assert message.startswith("ift_train failed 1 expectation(s)")
    assert f"on column '{column}'" in message
    assert expectation in message


def test_eft_passes_on_good_data(eval_prompts):
    eft = _eft()
    returned, report = validate_eft(eft, eval_prompts, name="eft_train")
    assert returned is eft
    assert report["success"] is True


def test_eft_fails_on_a_score_out_of_range(eval_prompts):
    with pytest.raises(DataValidationError) as error:
        validate_eft(_eft(scores=(4, 7, 5)), eval_prompts, name="eft_train")
    message = _failure_message(error)
    assert message.startswith("eft_train failed 1 expectation(s)")
    assert "expect_column_values_to_be_between on column 'score'" in message


def test_eft_fails_on_a_target_without_a_score(eval_prompts):
    eft = _eft()
    eft.loc[1, "response"] = "The response is relevant but incomplete."
    with pytest.raises(DataValidationError) as error:
        validate_eft(eft, eval_prompts)
    message = _failure_message(error)
    assert message.startswith("eft failed 1 expectation(s)")
    assert "expect_column_values_to_match_regex on column 'response'" in message
    assert "relevant but incomplete" in message


def test_eft_eval_fails_on_a_negative_rank():
    eft_eval = pd.DataFrame(
        {
            "prompt_id": [prompt_id("Tell me a joke.")] * 3,
            "prompt": ["Tell me a joke."] * 3,
            "response_id": ["m1", "m2", "m3"],
            "response": ["Joke one.", "Joke two.", "Joke three."],
            "human_rank": [0, 1, -1],
        }
    )
    with pytest.raises(DataValidationError) as error:
        validate_eft_eval(eft_eval)
    message = _failure_message(error)
    assert message.startswith("eft_eval failed 1 expectation(s)")
    assert "expect_column_values_to_be_between on column 'human_rank'" in message
