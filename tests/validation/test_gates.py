"""The iteration's gates on real great-expectations runs: the pairs' length checks and
the judgments' parse rate where the scoring mode makes it vacuous."""

from __future__ import annotations

import pandas as pd
import pytest

from self_rewarding.core.correlation import pearson
from self_rewarding.core.types import EvaluationConfig, GateConfig, IterationConfig, JudgeConfig
from self_rewarding.pipelines.validation_nodes import (
    check_judgments,
    check_preference_pairs,
    enforce_judgments_gate,
    enforce_pairs_gate,
    with_length_columns,
)
from self_rewarding.validation.expectations import DataValidationError


def _pairs(rows: list[tuple[float, int, float, int]]) -> pd.DataFrame:
    """(chosen score, chosen words, rejected score, rejected words) per pair."""
    return pd.DataFrame(
        [
            {
                "prompt_id": f"p{k}",
                "prompt": f"Prompt {k}",
                "chosen": " ".join(["word"] * chosen_words),
                "rejected": " ".join(["word"] * rejected_words),
                "chosen_score": chosen_score,
                "rejected_score": rejected_score,
            }
            for k, (chosen_score, chosen_words, rejected_score, rejected_words) in enumerate(rows)
        ]
    )


# Longer answers score higher in every pair: length orders them.
LENGTH_PAIRS = [(4.0, 80, 2.0, 20), (3.5, 60, 3.0, 40), (5.0, 100, 1.0, 10), (4.5, 90, 2.5, 30)]
# The chosen answer is as often shorter as longer.
MIXED_PAIRS = [(4.0, 20, 2.0, 80), (3.5, 60, 3.0, 40), (5.0, 30, 1.0, 70), (4.5, 90, 2.5, 30)]


def _gates(**gates) -> IterationConfig:
    return IterationConfig(gates=GateConfig(min_pairs=1, **gates))


@pytest.mark.parametrize("rows", [LENGTH_PAIRS, MIXED_PAIRS])
def test_the_mean_of_the_product_column_is_the_score_length_correlation(rows):
    checked = with_length_columns(_pairs(rows))
    scores = [r[0] for r in rows] + [r[2] for r in rows]
    words = [r[1] for r in rows] + [r[3] for r in rows]
    assert checked["score_length_product"].mean() == pytest.approx(pearson(scores, words))
    assert list(checked["word_ratio"]) == [r[1] / r[3] for r in rows]


def test_pairs_that_length_orders_stop_the_run_naming_the_correlation():
    config = _gates(max_score_length_correlation=0.9)
    report, html = check_preference_pairs(_pairs(LENGTH_PAIRS), config)
    with pytest.raises(DataValidationError, match="Length alone orders") as raised:
        enforce_pairs_gate(report)
    assert "score_length_product" in str(raised.value)
    assert "FAILED" in html


def test_pairs_without_a_length_order_pass_the_correlation_gate():
    config = _gates(max_score_length_correlation=0.9, max_word_ratio=3.0)
    report, _ = check_preference_pairs(_pairs(MIXED_PAIRS), config)
    assert enforce_pairs_gate(report)["passed"]
    checked = {r["expectation_config"]["type"] for r in report["results"]}
    assert {"expect_column_mean_to_be_between", "expect_column_median_to_be_between"} <= checked


def _judgments(scores: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"prompt_id": "p", "candidate_id": f"c{k}", "judge_text": "", "score": score}
            for k, score in enumerate(scores)
        ]
    )


def test_the_parse_rate_gate_is_not_applicable_under_score_first():
    config = IterationConfig(judge=JudgeConfig(mode="score_first"))
    report, html = check_judgments(_judgments([1.0, 4.0, 2.5]), config)
    checked = {
        (r["expectation_config"]["type"], r["expectation_config"]["kwargs"].get("column"))
        for r in report["results"]
    }
    assert ("expect_column_values_to_not_be_null", "score") not in checked
    assert report["not_applicable"] == [
        "parse rate (iteration.gates.min_parse_rate): score_first gives every answer a score"
    ]
    assert "not applicable" in html
    assert enforce_judgments_gate(report)["passed"]


def test_the_parse_rate_gate_applies_to_written_scores():
    config = IterationConfig(judge=JudgeConfig(mode="sampled"), gates=GateConfig(min_score_std=0))
    report, _ = check_judgments(_judgments([1.0, None, None, None]), config)
    assert "not_applicable" not in report
    with pytest.raises(DataValidationError, match="parse rate below"):
        enforce_judgments_gate(report)


def test_a_judge_collapsed_to_the_top_score_stops_the_run():
    config = IterationConfig(
        judge=JudgeConfig(mode="score_first"),
        gates=GateConfig(min_score_std=0.0, max_top_score_share=0.8),
    )
    collapsed, _ = check_judgments(_judgments([5.0, 4.8, 4.9, 5.0, 5.0, 3.0]), config)
    with pytest.raises(DataValidationError, match="collapsed to the top score"):
        enforce_judgments_gate(collapsed)
    # Scores of 5 in 3 of 5 parsed answers (the unparsed one does not count): 0.6 passes.
    healthy, _ = check_judgments(_judgments([5.0, 5.0, 2.0, 5.0, 3.0, None]), config)
    assert enforce_judgments_gate(healthy)["passed"]
    (top,) = [
        r
        for r in healthy["results"]
        if r["expectation_config"]["kwargs"].get("column") == "top_score"
    ]
    assert top["result"]["observed_value"] == pytest.approx(0.6)


def test_the_score_histogram_is_a_partition_of_the_0_to_5_scale():
    from self_rewarding.validation.expectations import score_partition

    partition = score_partition([0.1, 2.4, None, float("nan"), 4.9, 5.0], bin_width=2.5)
    assert partition == {"bins": [0.0, 2.5, 5.0], "weights": [0.5, 0.5]}
    assert score_partition([None], bin_width=0.25) is None


# The previous iteration's scores sit at 3-4, as expected scores of a healthy judge do.
PREVIOUS_SCORES = [3.1, 3.3, 3.4, 3.5, 3.5, 3.6, 3.7, 3.8, 3.9, 3.4]


def _drift_gates() -> IterationConfig:
    return IterationConfig(
        judge=JudgeConfig(mode="score_first"),
        gates=GateConfig(min_score_std=0.0, max_score_kl_divergence=0.5),
    )


def test_scores_that_drift_from_the_previous_iteration_stop_the_run():
    previous = _judgments(PREVIOUS_SCORES)
    drifted, _ = check_judgments(_judgments([4.9, 5.0, 4.8, 5.0, 4.9]), _drift_gates(), previous)
    with pytest.raises(DataValidationError, match="drifted from the previous iteration"):
        enforce_judgments_gate(drifted)
    same, _ = check_judgments(_judgments([3.2, 3.4, 3.5, 3.6, 3.8]), _drift_gates(), previous)
    assert enforce_judgments_gate(same)["passed"]
    (kl,) = [
        r
        for r in same["results"]
        if r["expectation_config"]["type"] == "expect_column_kl_divergence_to_be_less_than"
    ]
    assert 0 <= kl["result"]["observed_value"] < 0.5


def test_the_first_iteration_has_no_drift_to_check():
    report, _ = check_judgments(_judgments(PREVIOUS_SCORES), _drift_gates())
    types = {r["expectation_config"]["type"] for r in report["results"]}
    assert "expect_column_kl_divergence_to_be_less_than" not in types
    assert report["not_applicable"][-1] == (
        "score drift (iteration.gates.max_score_kl_divergence): no previous iteration"
    )


def test_gates_build_data_docs_by_iteration_and_log_them_to_the_run(tmp_path, mlflow_store):
    import mlflow
    from mlflow.tracking import MlflowClient

    from self_rewarding.validation.expectations import data_docs_index

    docs = tmp_path / "data_docs"
    config = IterationConfig(
        judge=JudgeConfig(mode="score_first"), gates=GateConfig(data_docs=str(docs))
    )
    uri, experiment_id = mlflow_store
    with mlflow.start_run(experiment_id=experiment_id) as run:
        check_judgments(_judgments([1.0, 4.0, 2.5]), config, t=1)
        report, _ = check_judgments(_judgments([1.0, 4.0, 3.0]), config, t=2)
    assert report["success"]
    index = data_docs_index(docs)
    assert index.is_file()
    validations = index.parent / "validations/judgments"
    assert {p.name for p in validations.iterdir()} == {"iter1", "iter2"}
    logged = {a.path for a in MlflowClient(uri).list_artifacts(run.info.run_id, "data_docs")}
    assert "data_docs/index.html" in logged


def _evaluation_scores(scores: list[float | None], words: list[int]):
    """OASST1 replies r0.. with ``words`` words and the model's ``scores``, and one
    MT-Bench pair (two rows, no length check)."""
    eft_eval = pd.DataFrame(
        {"response_id": [f"r{k}" for k in range(len(words))], "response": ["w " * n for n in words]}
    )
    rows = [
        {"source": "oasst1_validation", "prompt_id": "p", "response_id": f"r{k}", "score": score}
        for k, score in enumerate(scores)
    ] + [
        {
            "source": "mt_bench_human",
            "prompt_id": "mt_bench_human:0",
            "response_id": side,
            "score": 3.0,
        }
        for side in ("better", "worse")
    ]
    return pd.DataFrame(rows), eft_eval


def _score_checks() -> EvaluationConfig:
    return EvaluationConfig(
        score_checks={
            "min_score_std": 0.1,
            "max_top_score_share": 0.8,
            "max_score_length_correlation": 0.9,
        }
    )


def test_a_length_led_evaluation_judge_is_a_warning_not_a_stop():
    from self_rewarding.pipelines.validation_nodes import check_evaluation_scores

    scores, eft_eval = _evaluation_scores([1.0, 2.0, 3.0, 4.0, None], [10, 20, 30, 40, 50])
    report, html = check_evaluation_scores(scores, eft_eval, _score_checks(), model="M2")
    (length,) = [
        r
        for r in report["results"]
        if r["expectation_config"]["kwargs"].get("column") == "score_length_product"
    ]
    # length orders the four scored replies exactly
    assert length["result"]["observed_value"] == pytest.approx(
        pearson([1.0, 2.0, 3.0, 4.0], [10, 20, 30, 40])
    )
    assert not length["success"]
    assert length["expectation_config"]["severity"] == "warning"
    assert '<tr class="warning">' in html
    assert "judge_alignment_scores: passed" in html  # warnings only


def test_an_evaluation_score_out_of_range_stops_the_stage_naming_model_and_column():
    from self_rewarding.pipelines.validation_nodes import check_evaluation_scores

    scores, eft_eval = _evaluation_scores([1.0, 7.0, 3.0], [10, 20, 30])
    with pytest.raises(DataValidationError, match="M2 judge_alignment_scores") as raised:
        check_evaluation_scores(scores, eft_eval, _score_checks(), model="M2")
    assert "column 'score'" in str(raised.value)
