"""Pass-through validation nodes shared by pipelines: data in, same data out, or a
``DataValidationError`` that stops the run before anything downstream (training) starts.
"""

from __future__ import annotations

import pandas as pd

from self_rewarding.core.seed_data import normalise_prompt
from self_rewarding.core.types import EvaluationConfig, IterationConfig


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
    "expect_column_mean_to_be_between": (
        "The judge collapsed to the top score: too many answers score 5 (share above "
        "iteration.gates.max_top_score_share), so best and worst barely differ."
    ),
    "expect_column_stdev_to_be_between": (
        "The judge collapsed: its scores barely vary (spread below "
        "iteration.gates.min_score_std), so its preference pairs would carry no signal."
    ),
    "expect_column_values_to_not_be_null": (
        "Too few judge answers hold a parseable 'Score: X' (parse rate below "
        "iteration.gates.min_parse_rate); iteration.judge.constrained forces one."
    ),
    "expect_column_kl_divergence_to_be_less_than": (
        "The judge's scores drifted from the previous iteration's (KL divergence of the "
        "histograms above iteration.gates.max_score_kl_divergence): compare the two "
        "iterations' judgments before training on these pairs."
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
    "expect_column_mean_to_be_between": (
        "Length alone orders the pairs' answers (the score-length correlation is above "
        "iteration.gates.max_score_length_correlation): the pairs teach length. Raise "
        "length_control_rho or pairs.min_margin."
    ),
}


def _checked(
    name: str,
    expectations: list,
    data: pd.DataFrame,
    *,
    data_docs: str | None,
    run_name: str | None,
    not_applicable: tuple[str, ...] = (),
) -> tuple[dict, str]:
    """The suite's report, with the checks left out because they would pass by
    construction named under ``not_applicable``, and its HTML view. With ``data_docs``,
    the validation also goes to the Data Docs (as ``run_name``: ``iter<t>``, a model),
    which are logged to the active MLflow run under ``data_docs/``."""
    from self_rewarding.validation.expectations import data_docs_index, report_html, run_suite

    report = run_suite(name, expectations, data, data_docs=data_docs, run_name=run_name)
    if not_applicable:
        report["not_applicable"] = list(not_applicable)
    if data_docs is not None:
        import mlflow

        if mlflow.active_run() is not None:
            mlflow.log_artifacts(str(data_docs_index(data_docs).parent), "data_docs")
    return report, report_html(name, report)


def _docs_of(iteration: IterationConfig, t: int | None) -> dict:
    return {"data_docs": iteration.gates.data_docs, "run_name": f"iter{t}" if t else None}


def _enforce(name: str, report: dict, hints: dict[str, str]) -> dict:
    from self_rewarding.validation.expectations import raise_on_failure

    raise_on_failure(name, report, hints)
    return {"artifact": name, "passed": True, "expectations": len(report["results"])}


def check_generated_prompts(
    generated_prompts: pd.DataFrame, iteration: IterationConfig, t: int | None = None
) -> tuple[dict, str]:
    """Runs the prompts suite on the accepted prompts."""
    from self_rewarding.validation.expectations import suite_generated_prompts

    accepted = (
        generated_prompts[generated_prompts["accepted"]]
        if len(generated_prompts)
        else (pd.DataFrame(columns=["prompt_id", "prompt", "max_rouge_l"]))
    )
    suite = suite_generated_prompts(iteration.filters.max_rouge_l, iteration.gates.min_prompts)
    return _checked("generated_prompts", suite, accepted, **_docs_of(iteration, t))


def enforce_prompts_gate(report: dict) -> dict:
    return _enforce("generated_prompts", report, _PROMPT_HINTS)


def _scores(judgments: pd.DataFrame) -> pd.Series:
    return judgments["score"].astype(float) if "score" in judgments else pd.Series(dtype=float)


def _not_applicable_judgment_checks(iteration: IterationConfig, has_previous: bool) -> tuple:
    """The judgment checks that would pass by construction or have nothing to compare."""
    judge, skipped = iteration.judge, []
    if judge.mode == "score_first" or judge.constrained:
        way = "score_first" if judge.mode == "score_first" else "a constrained ending"
        skipped.append(
            f"parse rate (iteration.gates.min_parse_rate): {way} gives every answer a score"
        )
    if iteration.gates.max_score_kl_divergence is not None and not has_previous:
        skipped.append(
            "score drift (iteration.gates.max_score_kl_divergence): no previous iteration"
        )
    return tuple(skipped)


def check_judgments(
    judgments: pd.DataFrame,
    iteration: IterationConfig,
    previous_judgments: pd.DataFrame | None = None,
    t: int | None = None,
) -> tuple[dict, str]:
    """Runs the judgments suite (score range, parse rate, spread, top-score share, drift
    from ``previous_judgments``, the previous iteration's). A check that would pass by
    construction (the parse rate where every answer gets a score) or has nothing to
    compare (the first iteration's drift) is named under ``not_applicable``."""
    from self_rewarding.validation.expectations import score_partition, suite_judgments

    gates = iteration.gates
    skipped = _not_applicable_judgment_checks(iteration, previous_judgments is not None)
    previous = (
        score_partition(_scores(previous_judgments), gates.score_bin_width)
        if previous_judgments is not None
        else None
    )
    suite = suite_judgments(
        None if any(s.startswith("parse rate") for s in skipped) else gates.min_parse_rate,
        gates.min_score_std,
        gates.max_top_score_share,
        previous_partition=previous,
        max_kl_divergence=gates.max_score_kl_divergence,
    )
    scores = _scores(judgments)
    top = (scores >= 4.5).astype(float).where(scores.notna())
    return _checked(
        "judgments",
        suite,
        judgments.assign(top_score=top),
        **_docs_of(iteration, t),
        not_applicable=skipped,
    )


def enforce_judgments_gate(report: dict) -> dict:
    return _enforce("judgments", report, _JUDGMENT_HINTS)


def check_preference_pairs(
    preference_pairs: pd.DataFrame, iteration: IterationConfig, t: int | None = None
) -> tuple[dict, str]:
    """Runs the pairs suite (chosen above rejected, enough pairs, the length ratio and
    the score-length correlation)."""
    from self_rewarding.validation.expectations import suite_preference_pairs

    gates = iteration.gates
    suite = suite_preference_pairs(
        gates.min_pairs, gates.max_word_ratio, gates.max_score_length_correlation
    )
    pairs = with_length_columns(preference_pairs)
    return _checked("preference_pairs", suite, pairs, **_docs_of(iteration, t))


def _standardised(values: pd.Series) -> pd.Series:
    spread = values.std(ddof=0)
    return (values - values.mean()) / spread if spread > 0 else values * float("nan")


def with_length_columns(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs with ``word_ratio`` (chosen over rejected words) and
    ``score_length_product``: per pair, the mean over its two answers of standardised
    score times standardised words (both standardised over the pooled answers), so
    that the column's mean is the Pearson correlation of score and length over all the
    pairs' answers (NaN where a constant makes it undefined)."""
    if not len(pairs):
        empty = pd.Series(dtype=float)
        return pairs.assign(word_ratio=empty, score_length_product=empty)
    words = {c: pairs[c].astype(str).str.split().str.len() for c in ("chosen", "rejected")}
    n = len(pairs)
    scores = _standardised(pd.concat([pairs["chosen_score"], pairs["rejected_score"]]))
    lengths = _standardised(pd.concat([words["chosen"], words["rejected"]]).astype(float))
    products = (scores * lengths).to_numpy()
    return pairs.assign(
        word_ratio=words["chosen"] / words["rejected"].clip(lower=1),
        score_length_product=(products[:n] + products[n:]) / 2,
    )


def enforce_pairs_gate(report: dict) -> dict:
    return _enforce("preference_pairs", report, _PAIR_HINTS)


def check_evaluation_scores(
    scores: pd.DataFrame, eft_eval: pd.DataFrame, evaluation: EvaluationConfig, model: str
) -> tuple[dict, str]:
    """Validates a model's evaluation scores (``suite_evaluation_scores``) into the Data
    Docs (as ``model``): stops the stage on a broken contract, reports the judge's
    health (spread, top-score share, score-length correlation over the OASST1 replies)
    as warnings."""
    from self_rewarding.validation.expectations import raise_on_failure, suite_evaluation_scores

    checks = evaluation.score_checks
    suite = suite_evaluation_scores(
        checks.min_score_std, checks.max_top_score_share, checks.max_score_length_correlation
    )
    name = "judge_alignment_scores"
    report, html = _checked(
        name,
        suite,
        _with_health_columns(scores, eft_eval),
        data_docs=checks.data_docs,
        run_name=model,
    )
    raise_on_failure(f"{model} {name}", report)
    return report, html


def _with_health_columns(scores: pd.DataFrame, eft_eval: pd.DataFrame) -> pd.DataFrame:
    """The scores with ``top_score`` (1 where the score rounds to 5, null unscored) and
    ``score_length_product`` over the OASST1 replies (``with_length_columns``' product:
    its mean is the score-length Pearson correlation; null for the other sources)."""
    score = scores["score"].astype(float)
    words = eft_eval.set_index("response_id")["response"].astype(str).str.split().str.len()
    oasst = (scores["source"] == "oasst1_validation") & score.notna()
    lengths = scores["response_id"].map(words).where(oasst).astype(float)
    product = _standardised(score.where(oasst)) * _standardised(lengths)
    return scores.assign(
        top_score=(score >= 4.5).astype(float).where(score.notna()),
        score_length_product=product,
    )
