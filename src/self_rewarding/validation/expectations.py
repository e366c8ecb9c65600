"""great-expectations suites for every artifact, and one function to run them.

Suites are data: ``suite_<name>(...)`` returns a list of expectations. ``validate`` runs
one on a DataFrame in an ephemeral GX context and raises ``DataValidationError`` naming
each failed expectation and its column, after the report has been returned to the caller
for saving.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
import numpy as np
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


def suite_generated_prompts(max_rouge_l: float, min_prompts: int) -> list:
    """Accepted self-instructed prompts: text present, unique, not too similar to any
    earlier prompt, enough of them."""
    return [
        *_non_empty_text(["prompt_id", "prompt"]),
        gxe.ExpectColumnValuesToBeUnique(column="prompt_id"),
        gxe.ExpectColumnValuesToBeUnique(column="prompt"),
        gxe.ExpectColumnValuesToBeBetween(column="max_rouge_l", min_value=0, max_value=max_rouge_l),
        gxe.ExpectTableRowCountToBeBetween(min_value=min_prompts),
    ]


# Weight spread over the empty bins of a reference histogram, so that a score where the
# previous iteration had none raises the divergence instead of making it infinite.
EMPTY_BIN_WEIGHT = 0.01


def score_partition(scores: Iterable[float], bin_width: float) -> dict | None:
    """The histogram of ``scores`` on the 0-5 scale as a great-expectations partition
    object (``bins``: edges, ``weights``: shares); None without a parsed score."""
    values = np.array([s for s in scores if s is not None and np.isfinite(s)], dtype=float)
    if not len(values):
        return None
    edges = np.linspace(0.0, 5.0, round(5.0 / bin_width) + 1)
    counts, _ = np.histogram(np.clip(values, 0.0, 5.0), bins=edges)
    return {"bins": edges.tolist(), "weights": (counts / counts.sum()).tolist()}


def suite_judgments(
    min_parse_rate: float | None,
    min_score_std: float,
    max_top_score_share: float | None = None,
    *,
    previous_partition: dict | None = None,
    max_kl_divergence: float | None = None,
) -> list:
    """Judge answers: scores in 0..5 or null, enough of them parsed (``min_parse_rate``;
    None where the scoring mode reads a score from every answer, so that the check would
    pass by construction), spread enough that the judge has not collapsed to one score,
    (``max_top_score_share``) not collapsed to the top score: the mean of ``top_score``
    (1 where the score rounds to 5, null where none was parsed), and (``max_kl_divergence``)
    not drifted from ``previous_partition``, the previous iteration's histogram."""
    parsed = (
        [gxe.ExpectColumnValuesToNotBeNull(column="score", mostly=min_parse_rate)]
        if min_parse_rate is not None
        else []
    )
    if max_top_score_share is not None:
        parsed.append(
            gxe.ExpectColumnMeanToBeBetween(column="top_score", max_value=max_top_score_share)
        )
    if max_kl_divergence is not None and previous_partition is not None:
        parsed.append(
            gxe.ExpectColumnKLDivergenceToBeLessThan(
                column="score",
                partition_object=previous_partition,
                threshold=max_kl_divergence,
                internal_weight_holdout=EMPTY_BIN_WEIGHT,
            )
        )
    return [
        *_non_empty_text(["prompt_id", "candidate_id"]),
        gxe.ExpectColumnToExist(column="judge_text"),
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=5),
        *parsed,
        gxe.ExpectColumnStdevToBeBetween(column="score", min_value=min_score_std),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
    ]


def suite_preference_pairs(
    min_pairs: int,
    max_word_ratio: float | None = None,
    max_score_length_correlation: float | None = None,
) -> list:
    """Preference pairs: text present, chosen scored above rejected, enough pairs, and
    chosen answers not systematically longer than rejected ones: the median of
    ``word_ratio`` (chosen over rejected words) at most ``max_word_ratio``, and the mean
    of ``score_length_product`` (whose mean is the score-length Pearson correlation
    over the pairs' answers) at most ``max_score_length_correlation``. None: no check."""
    length = []
    if max_word_ratio is not None:
        length.append(
            gxe.ExpectColumnMedianToBeBetween(column="word_ratio", max_value=max_word_ratio)
        )
    if max_score_length_correlation is not None:
        length.append(
            gxe.ExpectColumnMeanToBeBetween(
                column="score_length_product", max_value=max_score_length_correlation
            )
        )
    return [
        *_non_empty_text(["prompt_id", "prompt", "chosen", "rejected"]),
        gxe.ExpectColumnValuesToBeBetween(column="chosen_score", min_value=0, max_value=5),
        gxe.ExpectColumnValuesToBeBetween(column="rejected_score", min_value=0, max_value=5),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="chosen_score", column_B="rejected_score", or_equal=False
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=min_pairs),
        *length,
    ]


def suite_evaluation_scores(
    min_score_std: float | None,
    max_top_score_share: float | None,
    max_score_length_correlation: float | None,
) -> list:
    """A model's scores of the evaluation's replies. Critical: the columns, scores in
    0..5 or null, one row per (source, prompt, reply). Warnings (a collapsed or
    length-led judge is a finding of the evaluation, not a reason to stop it): the
    spread, the share of scores that round to 5 (``top_score``) and the score-length
    correlation over the OASST1 replies (the mean of ``score_length_product``)."""
    health = []
    if min_score_std is not None:
        health.append(
            gxe.ExpectColumnStdevToBeBetween(
                column="score", min_value=min_score_std, severity="warning"
            )
        )
    for column, limit in (
        ("top_score", max_top_score_share),
        ("score_length_product", max_score_length_correlation),
    ):
        if limit is not None:
            health.append(
                gxe.ExpectColumnMeanToBeBetween(column=column, max_value=limit, severity="warning")
            )
    return [
        *_non_empty_text(["source", "prompt_id", "response_id"]),
        gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=5),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["source", "prompt_id", "response_id"]),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *health,
    ]


def run_suite(
    name: str,
    expectations: list,
    data: pd.DataFrame,
    data_docs: str | Path | None = None,
    run_name: str | None = None,
) -> dict:
    """Runs expectations on a DataFrame.

    Args:
        name: The artifact's name, used for the suite and in messages.
        expectations: The suite.
        data: The artifact.
        data_docs: A folder for a file data context (``<data_docs>/gx``) whose stores
            keep every validation and whose Data Docs are rebuilt after it
            (``<data_docs>/gx/uncommitted/data_docs/local_site/index.html``); None runs in
            an ephemeral context and keeps nothing.
        run_name: The validation's run name in the Data Docs (``iter2``, ...).

    Returns:
        The GX validation result as a JSON-serialisable dict.
    """
    if data_docs is None:
        context = gx.get_context(mode="ephemeral")
    else:
        Path(data_docs).mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(data_docs))
    batch_definition = (
        context.data_sources.add_or_update_pandas(name)
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name))
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    if data_docs is None:
        return definition.run(batch_parameters={"dataframe": data}).to_json_dict()
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="update_data_docs")],
            result_format="SUMMARY",
        )
    )
    result = checkpoint.run(
        batch_parameters={"dataframe": data}, run_id=RunIdentifier(run_name=run_name or name)
    )
    (validation,) = result.run_results.values()
    return validation.to_json_dict()


def data_docs_index(data_docs: str | Path) -> Path:
    """The Data Docs' front page under a ``run_suite(data_docs=...)`` folder."""
    return Path(data_docs) / "gx/uncommitted/data_docs/local_site/index.html"


def _is_warning(item: dict) -> bool:
    return item["expectation_config"].get("severity") == "warning"


def failures(report: dict, severity: str = "critical") -> list[str]:
    """Describes each failed expectation of a report of ``severity`` (``critical``: the
    ones that stop a run; ``warning``: the ones that are only reported): type, column
    and what was seen."""
    described = []
    for item in report["results"]:
        if item["success"] or _is_warning(item) != (severity == "warning"):
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


def raise_on_failure(name: str, report: dict, hints: dict[str, str] | None = None) -> None:
    """Raises DataValidationError listing every failed expectation of a report.

    Args:
        name: The artifact's name.
        report: The validation result.
        hints: Plain-words explanations by expectation type, put first in the message
            when that expectation failed.
    """
    for warning in failures(report, "warning"):
        logger.warning("%s: %s", name, warning)
    failed = failures(report)
    if failed:
        failed_types = {
            item["expectation_config"]["type"]
            for item in report["results"]
            if not item["success"] and not _is_warning(item)
        }
        explained = [text for kind, text in (hints or {}).items() if kind in failed_types]
        raise DataValidationError(
            "".join(f"{text}\n" for text in explained)
            + f"{name} failed {len(failed)} expectation(s):\n- "
            + "\n- ".join(failed)
        )
    logger.info("%s passed %d expectations", name, len(report["results"]))


def report_html(name: str, report: dict) -> str:
    """A one-page HTML view of a validation result: one row per expectation."""
    rows = []
    for item in report["results"]:
        config = item["expectation_config"]
        kwargs = {k: v for k, v in config.get("kwargs", {}).items() if k != "batch_id"}
        observed = item.get("result", {}).get("observed_value", "")
        unexpected = item.get("result", {}).get("unexpected_count", "")
        verdict = "passed" if item["success"] else "warning" if _is_warning(item) else "FAILED"
        cells = [verdict, config["type"], kwargs, observed, unexpected]
        rows.append(
            f'<tr class="{verdict.lower()}">'
            + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells)
            + "</tr>"
        )
    for check in report.get("not_applicable", []):
        cells = ["not applicable", check, "", "", ""]
        rows.append(
            '<tr class="not-applicable">'
            + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells)
            + "</tr>"
        )
    status = "FAILED" if failures(report) else "passed"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(name)}</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px}"
        ".failed{background:#fdd}.warning{background:#ffd}</style></head><body>"
        f"<h1>{html.escape(name)}: {status}</h1><table><tr><th>result</th>"
        "<th>expectation</th><th>arguments</th><th>observed</th><th>unexpected</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
