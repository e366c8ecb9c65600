"""Pass-through validation nodes shared by pipelines: data in, same data out, or a
``DataValidationError`` that stops the run before anything downstream (training) starts.
"""

from __future__ import annotations

import pandas as pd

from self_rewarding.core.seed_data import normalise_prompt
from self_rewarding.core.types import IterationConfig


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


# Gates between the steps of an iteration. Each is two nodes: ``check_*`` runs the suite
# and returns the report (JSON and HTML, saved and logged to MLflow even when it fails);
# ``enforce_*`` stops the run on a failed report, or returns the verdict that the next
# step takes as an input, so that it runs after the gate.

_JUDGMENT_HINTS = {
    "expect_column_stdev_to_be_between": (
        "The judge collapsed: its scores barely vary (spread below "
        "iteration.gates.min_score_std), so its preference pairs would carry no signal."
    ),
    "expect_column_values_to_not_be_null": (
        "Too few judge answers hold a parseable 'Score: X' (parse rate below "
        "iteration.gates.min_parse_rate); iteration.judge.constrained forces one."
    ),
}
_PROMPT_HINTS = {
    "expect_table_row_count_to_be_between": (
        "Too few self-instructed prompts were accepted (below iteration.gates.min_prompts); "
        "see the rejection reasons in generated_prompts."
    ),
}
_PAIR_HINTS = {
    "expect_table_row_count_to_be_between": (
        "Too few preference pairs (below iteration.gates.min_pairs): most prompts tied, "
        "had fewer than 2 scored candidates, or a margin below pairs.min_margin."
    ),
    "expect_column_median_to_be_between": (
        "The chosen answers are much longer than the rejected ones (median word ratio "
        "above iteration.gates.max_word_ratio): the pairs teach length. Raise "
        "length_control_rho or pairs.min_margin."
    ),
}


def _checked(name: str, expectations: list, data: pd.DataFrame) -> tuple[dict, str]:
    from self_rewarding.validation.expectations import report_html, run_suite

    report = run_suite(name, expectations, data)
    return report, report_html(name, report)


def _enforce(name: str, report: dict, hints: dict[str, str]) -> dict:
    from self_rewarding.validation.expectations import raise_on_failure

    raise_on_failure(name, report, hints)
    return {"artifact": name, "passed": True, "expectations": len(report["results"])}


def check_generated_prompts(
    generated_prompts: pd.DataFrame, iteration: IterationConfig
) -> tuple[dict, str]:
    """Runs the prompts suite on the accepted prompts."""
    from self_rewarding.validation.expectations import suite_generated_prompts

    accepted = (
        generated_prompts[generated_prompts["accepted"]]
        if len(generated_prompts)
        else (pd.DataFrame(columns=["prompt_id", "prompt", "max_rouge_l"]))
    )
    suite = suite_generated_prompts(iteration.filters.max_rouge_l, iteration.gates.min_prompts)
    return _checked("generated_prompts", suite, accepted)


def enforce_prompts_gate(report: dict) -> dict:
    return _enforce("generated_prompts", report, _PROMPT_HINTS)


def check_judgments(judgments: pd.DataFrame, iteration: IterationConfig) -> tuple[dict, str]:
    """Runs the judgments suite (score range, parse rate, spread)."""
    from self_rewarding.validation.expectations import suite_judgments

    gates = iteration.gates
    suite = suite_judgments(gates.min_parse_rate, gates.min_score_std)
    return _checked("judgments", suite, judgments)


def enforce_judgments_gate(report: dict) -> dict:
    return _enforce("judgments", report, _JUDGMENT_HINTS)


def check_preference_pairs(
    preference_pairs: pd.DataFrame, iteration: IterationConfig
) -> tuple[dict, str]:
    """Runs the pairs suite (chosen above rejected, enough pairs, the length ratio)."""
    from self_rewarding.validation.expectations import suite_preference_pairs

    suite = suite_preference_pairs(iteration.gates.min_pairs, iteration.gates.max_word_ratio)
    pairs = preference_pairs
    if len(pairs):
        words = {c: pairs[c].astype(str).str.split().str.len() for c in ("chosen", "rejected")}
        pairs = pairs.assign(word_ratio=words["chosen"] / words["rejected"].clip(lower=1))
    else:
        pairs = pairs.assign(word_ratio=pd.Series(dtype=float))
    return _checked("preference_pairs", suite, pairs)


def enforce_pairs_gate(report: dict) -> dict:
    return _enforce("preference_pairs", report, _PAIR_HINTS)
