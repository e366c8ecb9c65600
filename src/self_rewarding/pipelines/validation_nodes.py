"""Pass-through validation nodes shared by pipelines: data in, same data out, or a
``DataValidationError`` that stops the run before anything downstream (training) starts.
"""

from __future__ import annotations

import pandas as pd

from self_rewarding.core.seed_data import normalise_prompt


def _with_normalised(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    checked = frame.copy()
    checked["prompt_normalised"] = checked[column].map(normalise_prompt)
    return checked


def validate_ift(ift: pd.DataFrame, eval_prompts: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Checks the IFT set (fields, uniqueness, no evaluation prompt).

    Returns:
        The IFT set unchanged and the great-expectations report.
    """
    from self_rewarding.validation.expectations import (
        raise_on_failure,
        run_suite,
        suite_ift,
    )

    suite = suite_ift(set(eval_prompts["prompt_normalised"]))
    report = run_suite("ift_train", suite, _with_normalised(ift, "prompt"))
    raise_on_failure("ift_train", report)
    return ift, report


def validate_eft(
    eft: pd.DataFrame, eval_prompts: pd.DataFrame, name: str = "eft"
) -> tuple[pd.DataFrame, dict]:
    """Checks EFT examples (fields, 0-5 scores, ``Score: X`` targets, no eval prompt).

    Returns:
        The EFT set unchanged and the great-expectations report.
    """
    from self_rewarding.validation.expectations import (
        raise_on_failure,
        run_suite,
        suite_eft,
    )

    suite = suite_eft(set(eval_prompts["prompt_normalised"]))
    report = run_suite(name, suite, _with_normalised(eft, "instruction"))
    raise_on_failure(name, report)
    return eft, report


def validate_eft_eval(eft_eval: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Checks the EFT evaluation set.

    Returns:
        The set unchanged and the great-expectations report.
    """
    from self_rewarding.validation.expectations import (
        raise_on_failure,
        run_suite,
        suite_eft_eval,
    )

    report = run_suite("eft_eval", suite_eft_eval(), eft_eval)
    raise_on_failure("eft_eval", report)
    return eft_eval, report
