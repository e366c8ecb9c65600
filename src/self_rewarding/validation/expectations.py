"""great-expectations suites for every artifact, and one function to run them.

Suites are data: ``suite_<name>(...)`` returns a list of expectations. ``validate`` runs
one on a DataFrame in an ephemeral GX context and raises ``DataValidationError`` naming
each failed expectation and its column, after the report has been returned to the caller
for saving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

logger = logging.getLogger(__name__)


class DataValidationError(ValueError):
    """An artifact failed its great-expectations suite."""


def _non_empty_text(columns: Iterable[str]) -> list:
    expectations = []
    for column in columns:
        expectations.append(gxe.ExpectColumnToExist(column=column))
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
        # At least one non-space character.
        expectations.append(gxe.ExpectColumnValuesToMatchRegex(column=column, regex=r"\S"))
    return expectations


def suite_ift(eval_prompts: set[str]) -> list:
    """IFT examples: text present, one row per prompt, no evaluation prompt."""
    return [
        *_non_empty_text(["prompt_id", "prompt", "response"]),
        gxe.ExpectColumnValuesToBeUnique(column="prompt_id"),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeInSet(
            column="prompt_normalised", value_set=sorted(eval_prompts)
        ),
    ]


def suite_eft(eval_prompts: set[str]) -> list:
    """EFT examples: text present, scores in 0..5, no evaluation prompt."""
    return [
        *_non_empty_text(["prompt_id", "instruction", "candidate", "prompt", "response"]),
        gxe.ExpectColumnValuesToNotBeNull(column="score"),
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=5),
        gxe.ExpectColumnValuesToMatchRegex(column="response", regex=r"(?i)score\W*[0-5]"),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeInSet(
            column="prompt_normalised", value_set=sorted(eval_prompts)
        ),
    ]


def suite_eft_eval() -> list:
    """EFT evaluation replies: text present, human ranks from 0."""
    return [
        *_non_empty_text(["prompt_id", "prompt", "response_id", "response"]),
        gxe.ExpectColumnValuesToNotBeNull(column="human_rank"),
        gxe.ExpectColumnValuesToBeBetween(column="human_rank", min_value=0),
        gxe.ExpectColumnValuesToBeUnique(column="response_id"),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
    ]


def run_suite(name: str, expectations: list, data: pd.DataFrame) -> dict:
    """Runs expectations on a DataFrame.

    Args:
        name: The artifact's name, used for the suite and in messages.
        expectations: The suite.
        data: The artifact.

    Returns:
        The GX validation result as a JSON-serialisable dict.
    """
    context = gx.get_context(mode="ephemeral")
    batch_definition = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": data})
    return result.to_json_dict()


def failures(report: dict) -> list[str]:
    """Describes each failed expectation of a report: type, column and what was seen."""
    described = []
    for item in report["results"]:
        if item["success"]:
            continue
        config = item["expectation_config"]
        kwargs = config.get("kwargs", {})
        observed = item.get("result", {})
        detail = {
            k: observed[k]
            for k in ("observed_value", "unexpected_count", "partial_unexpected_list")
            if k in observed
        }
        if "partial_unexpected_list" in detail:
            detail["partial_unexpected_list"] = [
                str(v)[:80] for v in detail["partial_unexpected_list"][:3]
            ]
        if item.get("exception_info", {}).get("raised_exception"):
            detail["exception"] = item["exception_info"]["exception_message"]
        described.append(
            f"{config['type']} on column '{kwargs.get('column', '-')}' failed: {detail}"
        )
    return described


def raise_on_failure(name: str, report: dict) -> None:
    """Raises DataValidationError listing every failed expectation of a report."""
    failed = failures(report)
    if failed:
        raise DataValidationError(
            f"{name} failed {len(failed)} expectation(s):\n- " + "\n- ".join(failed)
        )
    logger.info("%s passed %d expectations", name, len(report["results"]))
