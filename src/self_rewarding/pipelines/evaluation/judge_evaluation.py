"""Each model as a judge (``evaluate_judge``): human-ranked OASST1-validation replies
(paper Table 4), MT-Bench human pairwise judgments and HH-RLHF harmless pairs, judged with
the verbatim prompt; plus the reward-hacking monitors of its own scores."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from self_rewarding.core.intervals import (
    ALIGNMENT_INTERVAL_KEYS,
    judge_alignment_intervals,
)
from self_rewarding.core.metrics import (
    judge_alignment,
    pearson,
)
from self_rewarding.core.prompts import (
    JUDGE_TEMPLATE_NAME,
    split_hh_dialogue,
    template_sha256,
)
from self_rewarding.core.provenance import directory_sha256
from self_rewarding.core.types import EvaluationConfig
from self_rewarding.judge_service import judge
from self_rewarding.pipelines.evaluation.common import (
    PAIR_METRICS,
    generate_with_model,
    interval_metrics,
    sized_for_this_machine,
    subset,
    word_count,
)

logger = logging.getLogger(__name__)


def alignment_items(eft_eval: pd.DataFrame, evaluation: EvaluationConfig) -> pd.DataFrame:
    """The human-ranked replies every model and the evaluator judge: all replies of a
    seeded sample of prompts with at least two different human ranks."""
    ranked = [
        pid
        for pid, group in eft_eval.groupby("prompt_id", sort=True)
        if group["human_rank"].nunique() > 1
    ]
    chosen = set(subset(ranked, evaluation.judge_alignment_prompts, evaluation.seed))
    return eft_eval[eft_eval["prompt_id"].isin(chosen)].reset_index(drop=True)


def pairwise_items(
    mt_bench_human: pd.DataFrame, hh_harmless: pd.DataFrame, evaluation: EvaluationConfig
) -> list[dict]:
    """Human preference pairs: ``source, instruction, better, worse`` (and the MT-Bench
    ``question_id``, the cluster of its pairs)."""
    items = []
    for row in subset(
        mt_bench_human.to_dict(orient="records"), evaluation.mt_bench_human_pairs, evaluation.seed
    ):
        better, worse = (
            (row["output_1"], row["output_2"])
            if int(row["label"]) == 1
            else (row["output_2"], row["output_1"])
        )
        items.append(
            {
                "source": "mt_bench_human",
                "question_id": row.get("question_id"),
                "instruction": row["input"],
                "better": better,
                "worse": worse,
            }
        )
    for row in subset(
        hh_harmless.to_dict(orient="records"), evaluation.hh_harmless_pairs, evaluation.seed
    ):
        context, chosen = split_hh_dialogue(row["chosen"])
        _, rejected = split_hh_dialogue(row["rejected"])
        items.append(
            {"source": "hh_harmless", "instruction": context, "better": chosen, "worse": rejected}
        )
    return items


def _judged_items(replies: pd.DataFrame, pairs: list[dict]) -> list[dict]:
    """What each judged reply is: the OASST1 replies, then both replies of each human
    preference pair, one "prompt" of two replies: better (rank 0) and worse."""
    oasst_items = [
        {"source": "oasst1_validation", **item}
        for item in replies[["prompt_id", "response_id", "human_rank"]].to_dict(orient="records")
    ]
    return oasst_items + [
        {"source": item["source"], "prompt_id": f"{item['source']}:{k}", **reply}
        for k, item in enumerate(pairs)
        for reply in (
            {"response_id": "better", "human_rank": 0},
            {"response_id": "worse", "human_rank": 1},
        )
    ]


def _score_rows(items: list[dict], judged, provenance: dict) -> list[dict]:
    return [
        {
            **item,
            "score": reply.score,
            "top_score": reply.judgment.top_score,
            "sample_scores": list(reply.sample_scores),
            "judge_texts": list(reply.texts),
            "sample_seeds": list(reply.seeds),
            **provenance,
        }
        for item, reply in zip(items, judged, strict=True)
    ]


def _alignment_metrics(scores: pd.DataFrame, evaluation: EvaluationConfig) -> dict:
    """Agreement with the human judgments of each source, with 95 % bootstrap
    intervals over prompts (pairs)."""
    metrics: dict[str, float | None] = {}
    for source, prefix in (
        ("oasst1_validation", "judge_alignment"),
        ("mt_bench_human", "mt_bench_human"),
        ("hh_harmless", "hh_harmless"),
    ):
        records = scores[scores["source"] == source].to_dict(orient="records")
        flat = [s for row in records for s in row["sample_scores"]]
        found = judge_alignment(records, len(flat), sum(s is not None for s in flat))
        if source != "oasst1_validation":  # one pair per item: the pair metrics only
            found = {k: found[k] for k in PAIR_METRICS}
        metrics.update({f"{prefix}.{k}": v for k, v in found.items()})
        intervals = judge_alignment_intervals(
            records,
            keys=[k for k in ALIGNMENT_INTERVAL_KEYS if k in found],
            n_resamples=evaluation.bootstrap_resamples,
            seed=evaluation.seed,
        )
        metrics.update(interval_metrics(prefix, intervals))
    return metrics


def _self_score_monitors(responses, judged) -> dict:
    """The mean of the model's own scores of the OASST1 replies, and their correlation
    with the replies' length (reward hacking monitors)."""
    own = [(r, j.score) for r, j in zip(responses, judged) if j.score is not None]
    return {
        "monitor.self_score_mean": sum(s for _, s in own) / len(own) if own else None,
        "monitor.self_score_length_correlation": pearson(
            [float(word_count(r)) for r, _ in own], [s for _, s in own]
        ),
    }


def evaluate_judge(
    model_dir: Path,
    eft_eval: pd.DataFrame,
    mt_bench_human: pd.DataFrame,
    hh_harmless: pd.DataFrame,
    evaluation: EvaluationConfig,
) -> tuple[pd.DataFrame, dict]:
    """A model as a judge: Table 4 against the OASST1-validation human rankings, pairwise
    accuracy on MT-Bench human and HH-RLHF pairs, its scores' mean and length correlation.
    Returns one row per judged reply (``_judged_items``: ``prompt_id`` names a human pair)
    and the metrics, each with its 95 % bootstrap interval over prompts (None: undefined).
    """
    evaluation = sized_for_this_machine(evaluation)
    replies = alignment_items(eft_eval, evaluation)
    pairs = pairwise_items(mt_bench_human, hh_harmless, evaluation)
    judged_pairs = [*zip(replies["prompt"], replies["response"])] + [
        (item["instruction"], item[side]) for item in pairs for side in ("better", "worse")
    ]
    model_sha256 = directory_sha256(model_dir)
    judged = judge(
        judged_pairs,
        evaluation.judge,
        lambda prompts, sampling: generate_with_model(
            "evaluate_judge", model_dir, model_sha256, prompts, sampling, evaluation=evaluation
        ),
    )
    provenance = {
        "scoring_mode": evaluation.judge.mode,
        "model_path": str(model_dir),
        "model_sha256": model_sha256,
        "template_sha256": template_sha256(JUDGE_TEMPLATE_NAME),
    }
    scores = pd.DataFrame(_score_rows(_judged_items(replies, pairs), judged, provenance))
    metrics = {
        **_alignment_metrics(scores, evaluation),
        **_self_score_monitors(replies["response"], judged),
    }
    logger.info("Judge evaluation of %s: %s", model_dir, metrics)
    return scores, metrics
