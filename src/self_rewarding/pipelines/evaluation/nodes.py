"""Nodes of the ``evaluation`` pipeline: every model measured the same way.

- ``evaluate_judge`` (per model): the model judges human-ranked OASST1-validation replies
  (paper Table 4), MT-Bench human pairwise judgments and HH-RLHF harmless pairs with the
  verbatim prompt; plus the reward-hacking monitors of its own scores.
- ``generate_eval_answers`` (per model): its answers to AlpacaEval and MT-Bench prompts.
- ``evaluate_instruction_following``: the fixed evaluator compares and grades the answers:
  head to head, against AlpacaEval's reference outputs, MT-Bench single-answer grades.
- ``report_evaluation``: one table and plots over all models.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections import defaultdict
from pathlib import Path

import pandas as pd

from self_rewarding.core.intervals import (
    ALIGNMENT_INTERVAL_KEYS,
    format_interval,
    judge_alignment_intervals,
    paired_difference,
    win_rate_interval,
)
from self_rewarding.core.judge import (
    constrained_rating_regex,
    constrained_verdict_regex,
    parse_pairwise_verdict,
    parse_rating,
)
from self_rewarding.core.metrics import (
    combine_orders,
    judge_alignment,
    length_bucket,
    pearson,
    spearman,
    win_rate,
)
from self_rewarding.core.prompts import (
    JUDGE_TEMPLATE_NAME,
    render_fastchat_prompt,
    split_hh_dialogue,
    template_sha256,
)
from self_rewarding.core.provenance import directory_sha256
from self_rewarding.core.seed_data import prompt_id
from self_rewarding.core.types import EvaluationConfig, JudgeConfig
from self_rewarding.judge_service import judge, read_judgments, render_judge_prompts

logger = logging.getLogger(__name__)

REFERENCES = ("gpt4_1106_preview", "text_davinci_003")


def _subset(items: list, size: int | None, seed: int) -> list:
    if size is None or size >= len(items):
        return list(items)
    return random.Random(seed).sample(items, size)


def _words(text: str) -> int:
    return len(str(text).split())


def _model_generator(model_dir: Path, evaluation: EvaluationConfig):
    from self_rewarding.generation import make_generator

    generation = evaluation.generation
    return make_generator(
        model_dir,
        generation.backend,
        generation.batch_size,
        generation.precision,
        generation.request_timeout_seconds,
        replicas=generation.replicas,
        tensor_parallel_size=generation.tensor_parallel_size,
    )


def _generate_resumably(
    step: str,
    model_dir: Path,
    model_sha256: str,
    prompts: list[str],
    sampling,
    *,
    evaluation: EvaluationConfig,
) -> list:
    """Generates with the model under test chunk by chunk: a killed or timed-out run
    resumes from the finished chunks. The chunk key holds everything that changes the
    output: model, prompts, sampling, backend and precision."""
    from self_rewarding.generation.chunks import ChunkStore, generate_in_chunks

    generator = _model_generator(model_dir, evaluation)
    fingerprint = {
        "step": step,
        "model_sha256": model_sha256,
        "sampling": dataclasses.asdict(sampling),
        "backend": generator.backend,
        "precision": generator.precision,
    }
    store = ChunkStore(
        evaluation.generation.chunk_dir, fingerprint, description=step, model=str(model_dir)
    )
    try:
        answers, _ = generate_in_chunks(
            generator,
            prompts,
            sampling,
            store,
            chunk_size=evaluation.generation.chunk_size,
            description=f"{step} of {model_dir}",
        )
    finally:
        generator.close()
    store.clear()
    return answers


# What a set of human preference pairs (MT-Bench human, HH-RLHF) reports.
PAIR_METRICS = (
    "human_pairs",
    "pairwise_accuracy",
    "pairwise_accuracy_ties_half",
    "tie_share",
    "missing_share",
    "parse_rate",
)


def interval_metrics(prefix: str, intervals: dict) -> dict[str, float]:
    """``<prefix>.<metric>.ci_low`` and ``.ci_high`` of each defined interval."""
    found = {}
    for key, interval in intervals.items():
        if interval is not None:
            found[f"{prefix}.{key}.ci_low"], found[f"{prefix}.{key}.ci_high"] = interval
    return found


def alignment_items(eft_eval: pd.DataFrame, evaluation: EvaluationConfig) -> pd.DataFrame:
    """The human-ranked replies every model and the evaluator judge: all replies of a
    seeded sample of prompts with at least two different human ranks."""
    ranked = [
        pid
        for pid, group in eft_eval.groupby("prompt_id", sort=True)
        if group["human_rank"].nunique() > 1
    ]
    chosen = set(_subset(ranked, evaluation.judge_alignment_prompts, evaluation.seed))
    return eft_eval[eft_eval["prompt_id"].isin(chosen)].reset_index(drop=True)


def _pairwise_items(
    mt_bench_human: pd.DataFrame, hh_harmless: pd.DataFrame, evaluation: EvaluationConfig
) -> list[dict]:
    """Human preference pairs: ``source, instruction, better, worse``."""
    items = []
    for row in _subset(
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
                "instruction": row["input"],
                "better": better,
                "worse": worse,
            }
        )
    for row in _subset(
        hh_harmless.to_dict(orient="records"), evaluation.hh_harmless_pairs, evaluation.seed
    ):
        context, chosen = split_hh_dialogue(row["chosen"])
        _, rejected = split_hh_dialogue(row["rejected"])
        items.append(
            {"source": "hh_harmless", "instruction": context, "better": chosen, "worse": rejected}
        )
    return items


def evaluate_judge(
    model_dir: Path,
    eft_eval: pd.DataFrame,
    mt_bench_human: pd.DataFrame,
    hh_harmless: pd.DataFrame,
    evaluation: EvaluationConfig,
) -> tuple[pd.DataFrame, dict]:
    """A model as a judge: Table 4 against human rankings, pairwise accuracy on other
    human judgments, and its own scores' length correlation and mean.

    Args:
        model_dir: The model under test.
        eft_eval: OASST1-validation replies with human ranks.
        mt_bench_human: MT-Bench human pairwise judgments.
        hh_harmless: HH-RLHF harmless-base pairs.
        evaluation: Subset sizes and the judge's sampling.

    Returns:
        One row per judged reply (``source, prompt_id, response_id, human_rank, score,
        top_score``, the samples' scores, raw texts and seeds): the OASST1 replies
        (``source`` ``oasst1_validation``) and both replies of each human preference pair
        (``mt_bench_human``, ``hh_harmless``; ``prompt_id`` names the pair). And the
        metrics, each with its 95 % bootstrap interval over prompts (pairs) as
        ``<metric>.ci_low``/``.ci_high``; an undefined metric is None.
    """
    replies = alignment_items(eft_eval, evaluation)
    pairs = _pairwise_items(mt_bench_human, hh_harmless, evaluation)
    judged_pairs = list(zip(replies["prompt"], replies["response"]))
    for item in pairs:
        judged_pairs.append((item["instruction"], item["better"]))
        judged_pairs.append((item["instruction"], item["worse"]))
    model_sha256 = directory_sha256(model_dir)

    def generate(prompts: list[str], sampling) -> list:
        return _generate_resumably(
            "evaluate_judge",
            model_dir,
            model_sha256,
            prompts,
            sampling,
            evaluation=evaluation,
        )

    judged = judge(judged_pairs, evaluation.judge, generate)
    means = [reply.score for reply in judged]
    model_provenance = {
        "scoring_mode": evaluation.judge.mode,
        "model_path": str(model_dir),
        "model_sha256": model_sha256,
        "template_sha256": template_sha256(JUDGE_TEMPLATE_NAME),
    }

    def rows(items: list[dict], replies_judged) -> list[dict]:
        return [
            {
                **item,
                "score": reply.score,
                "top_score": reply.judgment.top_score,
                "sample_scores": list(reply.sample_scores),
                "judge_texts": list(reply.texts),
                "sample_seeds": list(reply.seeds),
                **model_provenance,
            }
            for item, reply in zip(items, replies_judged, strict=True)
        ]

    n_replies = len(replies)
    oasst_items = [
        {"source": "oasst1_validation", **item}
        for item in replies[["prompt_id", "response_id", "human_rank"]].to_dict(orient="records")
    ]
    # Each human preference pair is one "prompt" of two replies: better (rank 0), worse.
    pair_items = [
        {"source": item["source"], "prompt_id": f"{item['source']}:{k}", **reply}
        for k, item in enumerate(pairs)
        for reply in (
            {"response_id": "better", "human_rank": 0},
            {"response_id": "worse", "human_rank": 1},
        )
    ]
    scores = pd.DataFrame(rows(oasst_items + pair_items, judged))

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
    valid = [(r, s) for r, s in zip(replies["response"], means[:n_replies]) if s is not None]
    metrics["monitor.self_score_mean"] = sum(s for _, s in valid) / len(valid) if valid else None
    metrics["monitor.self_score_length_correlation"] = pearson(
        [float(_words(r)) for r, _ in valid], [s for _, s in valid]
    )
    logger.info("Judge evaluation of %s: %s", model_dir, metrics)
    return scores, metrics


def _bench_prompts(
    alpaca_prompts: pd.DataFrame, mt_bench_questions: pd.DataFrame, evaluation: EvaluationConfig
) -> list[dict]:
    """AlpacaEval prompts (seeded sample) and MT-Bench turn-1 questions (evenly over the
    categories)."""
    alpaca = _subset(
        alpaca_prompts.to_dict(orient="records"), evaluation.alpaca_prompts, evaluation.seed
    )
    rows = [
        {
            "benchmark": "alpaca_eval",
            "item_id": str(row["id"]) if "id" in row else prompt_id(row["instruction"]),
            "category": row.get("dataset", ""),
            "prompt": row["instruction"],
        }
        for row in alpaca
    ]
    questions = mt_bench_questions.sort_values("question_id").to_dict(orient="records")
    by_category = defaultdict(list)
    for question in questions:
        by_category[question["category"]].append(question)
    limit = evaluation.mt_bench_questions
    per_category = None if limit is None else max(1, limit // max(len(by_category), 1))
    for category in sorted(by_category):
        for question in by_category[category][:per_category]:
            rows.append(
                {
                    "benchmark": "mt_bench",
                    "item_id": str(question["question_id"]),
                    "category": category,
                    "prompt": question["turns"][0],
                }
            )
    return rows


def generate_eval_answers(
    model_dir: Path,
    alpaca_prompts: pd.DataFrame,
    mt_bench_questions: pd.DataFrame,
    evaluation: EvaluationConfig,
) -> pd.DataFrame:
    """The model's answers to the instruction-following benchmarks.

    Returns:
        ``benchmark, item_id, category, prompt, answer, n_tokens, finish_reason`` and the
        model's provenance.
    """
    rows = _bench_prompts(alpaca_prompts, mt_bench_questions, evaluation)
    model_sha256 = directory_sha256(model_dir)
    answers = _generate_resumably(
        "evaluate_answers",
        model_dir,
        model_sha256,
        [r["prompt"] for r in rows],
        evaluation.answer_sampling,
        evaluation=evaluation,
    )
    for row, (answer,) in zip(rows, answers, strict=True):
        row.update(
            answer=str(answer).strip(),
            n_tokens=answer.n_tokens,
            finish_reason=answer.finish_reason,
            model_path=str(model_dir),
            model_sha256=model_sha256,
            seed=answer.seed,
        )
    return pd.DataFrame(rows)


def open_evaluator(evaluation: EvaluationConfig, credentials: dict):
    """The fixed evaluator: a local model on the project's generators, or an
    OpenAI-compatible endpoint with the key from ``conf/local/credentials.yml``."""
    evaluator = evaluation.evaluator
    if evaluator.kind == "openai":
        from self_rewarding.generation.openai_backend import OpenAIChatGenerator

        return OpenAIChatGenerator(
            evaluator.base_url or "",
            evaluator.model,
            (credentials or {}).get("api_key"),
            timeout=evaluator.timeout_seconds,
            max_retries=evaluator.max_retries,
            max_concurrency=evaluator.max_concurrency,
        )
    from self_rewarding.generation import make_generator

    return make_generator(
        evaluator.model, evaluator.backend, precision=evaluation.generation.precision
    )


def _evaluator_identity(evaluation: EvaluationConfig, generator) -> dict:
    """What fixes the evaluator's answers, for the fingerprint of its resumable chunks:
    the endpoint and its model name (never the key), or the local model's weights with
    the backend and precision it runs on."""
    evaluator = evaluation.evaluator
    if evaluator.kind == "openai":
        return {"kind": "openai", "base_url": evaluator.base_url, "model": evaluator.model}
    model = Path(evaluator.model)
    return {
        "kind": "local",
        "model": evaluator.model,
        "model_sha256": directory_sha256(model) if model.is_dir() else None,
        "backend": getattr(generator, "backend", evaluator.backend),
        "precision": getattr(generator, "precision", None),
    }


def _ask_evaluator(evaluation: EvaluationConfig, credentials: dict, jobs: dict) -> dict:
    """Sends each job's prompts to the evaluator in resumable chunks: a killed
    evaluation resumes from its finished chunks; they are removed once all jobs are done.

    Args:
        evaluation: ``evaluation.evaluator``: the evaluator, its chunk size and folder.
        credentials: The endpoint's key (``openai`` evaluators).
        jobs: ``name: (prompts, sampling)``.

    Returns:
        ``name``: the evaluator's answers, in prompt order.

    Raises:
        GenerationError: A chunk failed (for an endpoint: after its retries); the
            message names the job, the evaluator and the endpoint's error.
    """
    from self_rewarding.generation.chunks import ChunkStore, generate_in_chunks

    evaluator = evaluation.evaluator
    named = (
        f"{evaluator.model} at {evaluator.base_url}"
        if evaluator.kind == "openai"
        else evaluator.model
    )
    answers, stores = {}, []
    generator = open_evaluator(evaluation, credentials)
    try:
        identity = _evaluator_identity(evaluation, generator)
        for name, (prompts, sampling) in jobs.items():
            fingerprint = {
                "step": f"evaluator_{name}",
                **identity,
                "sampling": dataclasses.asdict(sampling),
            }
            stores.append(ChunkStore(evaluator.chunk_dir, fingerprint, f"evaluator {name}", named))
            answers[name], figures = generate_in_chunks(
                generator,
                prompts,
                sampling,
                stores[-1],
                chunk_size=evaluator.chunk_size,
                description=f"evaluator {name}",
            )
            logger.info("Evaluator %s: %s", name, figures)
    finally:
        generator.close()
    for store in stores:
        store.clear()
    return answers


def _pairwise_requests(
    answers_by_model: dict[str, pd.DataFrame],
    reference_answers: dict[str, dict[str, str]],
    evaluation: EvaluationConfig,
    pair_template: dict,
) -> list[dict]:
    """Every pairwise question for the evaluator, each in both answer orders: each model
    against each AlpacaEval reference, and the head-to-head comparisons."""
    requests: list[dict] = []

    def add(task: str, model: str, opponent: str, rows: list[tuple[str, str, str, str]]):
        for item_id, question, mine, theirs in rows:
            for order, (a, b) in (
                ("model_first", (mine, theirs)),
                ("model_second", (theirs, mine)),
            ):
                requests.append(
                    {
                        "task": task,
                        "model": model,
                        "opponent": opponent,
                        "item_id": item_id,
                        "order": order,
                        "model_words": _words(mine),
                        "prompt": render_fastchat_prompt(
                            pair_template, question=question, answer_a=a, answer_b=b
                        ),
                    }
                )

    alpaca = {
        name: frame[frame["benchmark"] == "alpaca_eval"] for name, frame in answers_by_model.items()
    }
    for model, frame in alpaca.items():
        for reference, lookup in reference_answers.items():
            rows = [
                (r.item_id, r.prompt, r.answer, lookup[r.prompt])
                for r in frame.itertuples()
                if r.prompt in lookup
            ]
            add(f"vs_{reference}", model, reference, rows)
    for model, opponent in evaluation.comparisons:
        if model not in alpaca or opponent not in alpaca:
            continue
        theirs = dict(zip(alpaca[opponent]["item_id"], alpaca[opponent]["answer"], strict=True))
        rows = [
            (r.item_id, r.prompt, r.answer, theirs[r.item_id])
            for r in alpaca[model].itertuples()
            if r.item_id in theirs
        ]
        add("head_to_head", model, opponent, rows)
    return requests


def _human_pair_requests(
    mt_bench_human: pd.DataFrame, evaluation: EvaluationConfig, pair_template: dict
) -> list[dict]:
    """The evaluator's own test: the MT-Bench human pairs (the same subset the models
    judge), in both orders, the human-preferred answer as the "model"."""
    items = _pairwise_items(mt_bench_human, mt_bench_human.iloc[0:0], evaluation)
    requests = []
    for k, item in enumerate(items):
        for order, (a, b) in (
            ("model_first", (item["better"], item["worse"])),
            ("model_second", (item["worse"], item["better"])),
        ):
            requests.append(
                {
                    "task": "human_agreement",
                    "model": "human_preferred",
                    "opponent": "human_rejected",
                    "item_id": f"mt_bench_human:{k}",
                    "order": order,
                    "model_words": _words(item["better"]),
                    "prompt": render_fastchat_prompt(
                        pair_template, question=item["instruction"], answer_a=a, answer_b=b
                    ),
                }
            )
    return requests


def _evaluator_human_agreement(rows: pd.DataFrame, evaluation: EvaluationConfig) -> dict:
    """How often the evaluator prefers the answer MT-Bench's human judges preferred: both
    orders combined as for a win rate (agreement = a "win" of the human-preferred
    answer), strict and ties half, with 95 % intervals over pairs."""
    by_item = [
        dict(zip(item["order"], item["verdict"], strict=True))
        for _, item in rows.groupby("item_id", sort=True)
    ]
    outcomes = [combine_orders(v.get("model_first"), v.get("model_second")) for v in by_item]
    found = win_rate(outcomes)
    metrics = {
        "evaluator.human_agreement.pairs": found["n"],
        "evaluator.human_agreement.strict": found["strict_win_rate"],
        "evaluator.human_agreement.ties_half": found["win_rate"],
        "evaluator.human_agreement.tie_share": found["tie_share"],
    }
    for name, key in (("strict", "strict_win_rate"), ("ties_half", "win_rate")):
        interval = win_rate_interval(
            outcomes, key=key, n_resamples=evaluation.bootstrap_resamples, seed=evaluation.seed
        )
        if interval is not None:
            low, high = interval
            metrics[f"evaluator.human_agreement.{name}.ci_low"] = low
            metrics[f"evaluator.human_agreement.{name}.ci_high"] = high
    return metrics


def _pairwise_metrics(verdicts: pd.DataFrame, evaluation: EvaluationConfig) -> dict:
    """Wins, ties, losses and win rates per (task, model, opponent), each win rate with
    its 95 % bootstrap interval over items, and the win rate against references by
    answer length."""
    metrics: dict[str, float | None] = {}
    for (task, model, opponent), group in verdicts.groupby(["task", "model", "opponent"]):
        outcomes, words = [], []
        for _, item in group.groupby("item_id", sort=True):
            by_order = dict(zip(item["order"], item["verdict"], strict=True))
            outcomes.append(
                combine_orders(by_order.get("model_first"), by_order.get("model_second"))
            )
            words.append(int(item["model_words"].iloc[0]))
        key = f"{model}.vs_{opponent}"
        for name, value in win_rate(outcomes).items():
            metrics[f"{key}.{name}"] = value
        for name in ("win_rate", "strict_win_rate"):
            interval = win_rate_interval(
                outcomes,
                key=name,
                n_resamples=evaluation.bootstrap_resamples,
                seed=evaluation.seed,
            )
            if interval is not None:
                metrics[f"{key}.{name}.ci_low"], metrics[f"{key}.{name}.ci_high"] = interval
        if task.startswith("vs_"):
            buckets = defaultdict(list)
            for outcome, length in zip(outcomes, words, strict=True):
                buckets[length_bucket(length)].append(outcome)
            for bucket, bucket_outcomes in sorted(buckets.items()):
                metrics[f"{key}.win_rate_{bucket}_words"] = win_rate(bucket_outcomes)["win_rate"]
    return metrics


def evaluate_instruction_following(  # noqa: PLR0917 (a Kedro node: positional inputs)
    judge_prompts: pd.DataFrame,
    reference_gpt4_1106_preview: pd.DataFrame,
    reference_text_davinci_003: pd.DataFrame,
    eft_eval: pd.DataFrame,
    mt_bench_human: pd.DataFrame,
    evaluation: EvaluationConfig,
    credentials: dict,
    **per_model: pd.DataFrame,
) -> tuple[pd.DataFrame, dict]:
    """The fixed evaluator compares and grades every model's answers.

    - head to head (``evaluation.comparisons``) and against AlpacaEval's reference
      outputs: FastChat's ``pair-v2`` prompt, both answer orders; a win needs the model
      preferred in one order and not beaten in the other;
    - MT-Bench single-answer grades (``single-v1``, 1-10) overall and per category;
    - the length view: average answer length, and the win rate against the references
      by length bucket;
    - agreement (Spearman) of each model's judge with the evaluator's scores of the same
      OASST1 replies;
    - the evaluator's own agreement with the MT-Bench human pairwise judgments (same
      prompt, both orders), so that every win rate comes with how far to trust it.

    Args:
        per_model: ``answers_<model>`` (benchmark answers) and ``scores_<model>``
            (judge-alignment scores) of every model.

    Returns:
        Every evaluator answer with what it judged and its parsed verdict, rating or
        score; and the metrics (``<model>.<metric>``).
    """
    answers_by_model = {
        k.removeprefix("answers_"): v for k, v in per_model.items() if k.startswith("answers_")
    }
    scores_by_model = {
        k.removeprefix("scores_"): v for k, v in per_model.items() if k.startswith("scores_")
    }
    evaluator = evaluation.evaluator
    templates = {row["name"]: row for row in judge_prompts.to_dict(orient="records")}
    references = {
        "gpt4_1106_preview": reference_gpt4_1106_preview,
        "text_davinci_003": reference_text_davinci_003,
    }
    reference_answers = {
        name: dict(zip(frame["instruction"], frame["output"], strict=False))
        for name, frame in references.items()
    }
    pairwise = _pairwise_requests(
        answers_by_model, reference_answers, evaluation, templates["pair-v2"]
    )
    pairwise += _human_pair_requests(mt_bench_human, evaluation, templates["pair-v2"])
    grading = [
        {
            "task": "mt_bench_grade",
            "model": model,
            "item_id": r.item_id,
            "category": r.category,
            "model_words": _words(r.answer),
            "prompt": render_fastchat_prompt(
                templates["single-v1"], question=r.prompt, answer=r.answer
            ),
        }
        for model, frame in answers_by_model.items()
        for r in frame[frame["benchmark"] == "mt_bench"].itertuples()
    ]
    oasst_items = alignment_items(eft_eval, evaluation)
    pointwise = [
        {
            "task": "oasst_score",
            "model": evaluator.name,
            "item_id": r.response_id,
            "model_words": _words(r.response),
            "prompt": prompt,
        }
        for r, prompt in zip(
            oasst_items.itertuples(),
            render_judge_prompts(zip(oasst_items["prompt"], oasst_items["response"])),
            strict=True,
        )
    ]

    sampling = evaluator.sampling
    verdict_sampling = rating_sampling = sampling
    if evaluator.constrained and evaluator.kind == "local":
        budget = sampling.max_new_tokens
        verdict_sampling = dataclasses.replace(sampling, regex=constrained_verdict_regex(budget))
        rating_sampling = dataclasses.replace(sampling, regex=constrained_rating_regex(budget))
    answers = _ask_evaluator(
        evaluation,
        credentials,
        {
            "verdicts": ([p["prompt"] for p in pairwise], verdict_sampling),
            "ratings": ([g["prompt"] for g in grading], rating_sampling),
            "scores": ([p["prompt"] for p in pointwise], sampling),
        },
    )
    verdicts, ratings, oasst = answers["verdicts"], answers["ratings"], answers["scores"]

    rows = [
        {**item, "evaluator_text": str(text), "verdict": parse_pairwise_verdict(text)}
        for item, (text,) in zip(pairwise, verdicts, strict=True)
    ]
    rows += [
        {**item, "evaluator_text": str(text), "rating": parse_rating(text)}
        for item, (text,) in zip(grading, ratings, strict=True)
    ]
    evaluator_judge = JudgeConfig(mode="sampled", sampling=sampling)
    rows += [
        {**item, "evaluator_text": reply.texts[0], "score": reply.score}
        for item, reply in zip(pointwise, read_judgments(oasst, evaluator_judge), strict=True)
    ]
    judged = pd.DataFrame(rows).drop(columns=["prompt"])
    judged["evaluator"] = evaluator.name
    judged["evaluator_model"] = evaluator.model

    pair_rows = judged[judged["task"].isin(["head_to_head", *[f"vs_{r}" for r in references]])]
    human_rows = judged[judged["task"] == "human_agreement"]
    metrics = {
        **_evaluator_human_agreement(human_rows, evaluation),
        "evaluator.verdict_parse_rate": float(pair_rows["verdict"].notna().mean())
        if len(pair_rows)
        else None,
        **_pairwise_metrics(pair_rows, evaluation),
    }
    grades = judged[judged["task"] == "mt_bench_grade"]
    metrics["evaluator.rating_parse_rate"] = (
        float(grades["rating"].notna().mean()) if len(grades) else None
    )
    for model, group in grades.groupby("model"):
        rated = group[group["rating"].notna()]
        metrics[f"{model}.mt_bench.score"] = float(rated["rating"].mean()) if len(rated) else None
        for category, by_category in rated.groupby("category"):
            metrics[f"{model}.mt_bench.score_{category}"] = float(by_category["rating"].mean())
    for model, frame in answers_by_model.items():
        words = [_words(a) for a in frame.loc[frame["benchmark"] == "alpaca_eval", "answer"]]
        metrics[f"{model}.answers.alpaca_words_mean"] = sum(words) / len(words) if words else None
    any_answers = next(
        iter(answers_by_model.values()), pd.DataFrame(columns=["benchmark", "prompt"])
    )
    asked = any_answers.loc[any_answers["benchmark"] == "alpaca_eval", "prompt"]
    for name, lookup in reference_answers.items():
        words = [_words(lookup[p]) for p in asked if p in lookup]
        metrics[f"{name}.answers.alpaca_words_mean"] = sum(words) / len(words) if words else None

    oasst_rows = judged[judged["task"] == "oasst_score"]
    evaluator_scores = dict(zip(oasst_rows["item_id"], oasst_rows["score"], strict=True))
    metrics["evaluator.score_parse_rate"] = (
        float(oasst_rows["score"].notna().mean()) if len(oasst_rows) else None
    )
    for model, scores in scores_by_model.items():
        replies = scores[scores["source"] == "oasst1_validation"]
        both = [
            (score, evaluator_scores[rid])
            for rid, score in zip(replies["response_id"], replies["score"], strict=True)
            if pd.notna(score) and pd.notna(evaluator_scores.get(rid))
        ]
        metrics[f"{model}.monitor.evaluator_agreement_spearman"] = spearman(
            [a for a, _ in both], [b for _, b in both]
        )
    logger.info("Instruction following, judged by %s: %s", evaluator.name, metrics)
    return judged, metrics


# The judge table's columns: (metric key, column title); a key with an interval is shown
# with it.
JUDGE_COLUMNS = (
    ("judge_alignment.pairwise_accuracy", "OASST1 pairwise acc. (strict) [95% CI]"),
    ("judge_alignment.tie_share", "tie share"),
    ("judge_alignment.pairwise_accuracy_ties_half", "ties half"),
    ("judge_alignment.five_best", "5-best"),
    ("judge_alignment.five_best_count", "scored 5"),
    ("judge_alignment.spearman", "Spearman"),
    ("judge_alignment.kendall_tau", "Kendall tau"),
    ("judge_alignment.constant_judge_share", "constant-judge prompts"),
    ("judge_alignment.parse_rate", "parse rate"),
    ("mt_bench_human.pairwise_accuracy", "MT-Bench human acc. [95% CI]"),
    ("hh_harmless.pairwise_accuracy", "HH harmless acc. [95% CI]"),
)
ANSWER_COLUMNS = (
    ("vs_gpt4_1106_preview.win_rate", "win vs GPT-4 Turbo [95% CI]"),
    ("vs_text_davinci_003.win_rate", "win vs davinci-003 [95% CI]"),
    ("mt_bench.score", "MT-Bench (1-10)"),
    ("answers.alpaca_words_mean", "answer words"),
    ("monitor.self_score_mean", "self-score mean"),
    ("monitor.self_score_length_correlation", "self-score/length corr."),
    ("monitor.evaluator_agreement_spearman", "agreement with evaluator"),
)


def _with_interval(row: dict, key: str) -> str:
    interval = (row[f"{key}.ci_low"], row[f"{key}.ci_high"]) if f"{key}.ci_low" in row else None
    return format_interval(row.get(key), interval)


def _oasst(scores: pd.DataFrame) -> list[dict]:
    return scores[scores["source"] == "oasst1_validation"].to_dict(orient="records")


def _judge_differences(
    scores: dict[str, pd.DataFrame], evaluation: EvaluationConfig
) -> dict[tuple[str, str], dict]:
    """Each comparison's paired difference in strict OASST1 pairwise accuracy, both
    judges on the same replies."""
    return {
        (model, opponent): paired_difference(
            _oasst(scores[model]),
            _oasst(scores[opponent]),
            n_resamples=evaluation.bootstrap_resamples,
            seed=evaluation.seed,
        )
        for model, opponent in evaluation.comparisons
        if model in scores and opponent in scores
    }


def _verdict(interval, null: float) -> str:
    if interval is None:
        return "undefined"
    return "significant" if not interval[0] <= null <= interval[1] else "within noise"


def summarise_evaluation(
    instruction_following: dict, evaluation: EvaluationConfig, **per_model
) -> tuple[list[dict], str]:
    """One row per model with every metric under the same key, and a Markdown report:
    the judge table and the answers table with 95 % intervals, then each comparison of
    ``evaluation.comparisons`` as a paired difference of judge accuracy and a head-to-head
    win rate, each said to be significant or within noise.

    Args:
        instruction_following: The evaluator's metrics (``<model>.<metric>``).
        evaluation: Names the evaluator; the comparisons and bootstrap settings.
        per_model: ``<model>``: the model's judge metrics, and ``scores_<model>``: its
            judged replies.

    Returns:
        The rows (also DVC's plot data and each model's MLflow run) and the report.
    """
    scores = {k.removeprefix("scores_"): v for k, v in per_model.items() if k.startswith("scores_")}
    judge_metrics = {k: v for k, v in per_model.items() if not k.startswith("scores_")}
    differences = _judge_differences(scores, evaluation)
    rows = []
    for model, metrics in judge_metrics.items():
        row = {"model": model, **metrics}
        prefix = f"{model}."
        for key, value in instruction_following.items():
            if key.startswith(prefix):
                row[_relative_key(key.removeprefix(prefix), judge_metrics)] = value
        for (compared, opponent), found in differences.items():
            if compared == model:
                role = _relative_key(f"vs_{opponent}.x", judge_metrics).split(".")[0]
                row[f"judge_difference.{role}"] = found["difference"]
                if found["interval"] is not None:
                    low, high = found["interval"]
                    row[f"judge_difference.{role}.ci_low"] = low
                    row[f"judge_difference.{role}.ci_high"] = high
        rows.append(row)

    def table(columns) -> list[str]:
        header = ["model", *(title for _, title in columns)]
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for row in rows:
            cells = [row["model"], *(_with_interval(row, key) for key, _ in columns)]
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    first = next(iter(judge_metrics.values()), {})
    agreement = "evaluator.human_agreement"
    lines = [
        f"The model as a judge ({evaluation.judge.mode} scoring): "
        f"{_cell(first.get('judge_alignment.human_pairs'))} OASST1-validation reply pairs, "
        f"{_cell(first.get('mt_bench_human.human_pairs'))} MT-Bench human pairs, "
        f"{_cell(first.get('hh_harmless.human_pairs'))} HH-RLHF pairs. Ties count wrong "
        "(strict); 95 % bootstrap intervals over prompts.",
        "",
        *table(JUDGE_COLUMNS),
        "",
        f"Answers judged by the fixed evaluator **{evaluation.evaluator.name}** "
        f"(`{evaluation.evaluator.model}`), which agrees with MT-Bench's human judges on "
        f"{_with_interval(instruction_following, f'{agreement}.strict')} of "
        f"{_cell(instruction_following.get(f'{agreement}.pairs'))} pairs (strict; ties "
        f"half {_cell(instruction_following.get(f'{agreement}.ties_half'))}). Win rates "
        "count ties half.",
        "",
        *table(ANSWER_COLUMNS),
        "",
        "| comparison | judge acc. difference [95% CI] | | head-to-head win rate [95% CI] "
        "| wins / ties / losses | |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for model, opponent in evaluation.comparisons:
        found = differences.get((model, opponent))
        judge_cell = (
            f"{found['difference']:+.3f} [{found['interval'][0]:+.3f}, {found['interval'][1]:+.3f}]"
            if found and found["interval"] is not None
            else "n/a"
        )
        base = f"{model}.vs_{opponent}"
        win_interval = (
            (
                instruction_following[f"{base}.win_rate.ci_low"],
                instruction_following[f"{base}.win_rate.ci_high"],
            )
            if f"{base}.win_rate.ci_low" in instruction_following
            else None
        )
        counts = (
            "/".join(
                str(int(instruction_following[f"{base}.{k}"])) for k in ("wins", "ties", "losses")
            )
            if f"{base}.wins" in instruction_following
            else "n/a"
        )
        lines.append(
            f"| {model} vs {opponent} | {judge_cell} | "
            f"{_verdict(found['interval'] if found else None, 0.0)} | "
            f"{format_interval(instruction_following.get(f'{base}.win_rate'), win_interval)} | "
            f"{counts} | {_verdict(win_interval, 0.5)} |"
        )
    return rows, "\n".join(lines) + "\n"


def _relative_key(key: str, models) -> str:
    """Names a head-to-head opponent by its role, so every model has the same keys:
    ``vs_M1.win_rate`` of M2 becomes ``vs_previous.win_rate``; ``vs_sft_baseline`` and
    the AlpacaEval references keep their names."""
    opponent, _, rest = key.removeprefix("vs_").partition(".")
    if key.startswith("vs_") and opponent in models and opponent != "sft_baseline":
        return f"vs_previous.{rest}"
    return key


def _cell(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.3f}"


def plot_evaluation(summary: list[dict], **scores: pd.DataFrame) -> tuple:
    """PNG figures: metrics by model (in loop order), judge score histograms, length
    drift of the answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [row["model"] for row in summary]
    by_model, axis = plt.subplots(figsize=(8, 4.5))
    for key, title in (
        ("judge_alignment.pairwise_accuracy", "judge pairwise accuracy"),
        ("vs_gpt4_1106_preview.win_rate", "win rate vs GPT-4 Turbo"),
        ("vs_text_davinci_003.win_rate", "win rate vs davinci-003"),
        ("judge_alignment.parse_rate", "judge parse rate"),
    ):
        axis.plot(models, [row.get(key, float("nan")) for row in summary], marker="o", label=title)
    axis.set_ylim(0, 1)
    axis.set_title("Metrics by model, in loop order")
    axis.legend(fontsize=8)
    by_model.tight_layout()

    histograms, axes = plt.subplots(
        1, len(scores), figsize=(3 * max(len(scores), 1), 3), squeeze=False
    )
    for axis, (name, frame) in zip(axes[0], scores.items(), strict=True):
        values = [s for s in frame["score"] if pd.notna(s)]
        axis.hist(values, bins=[-0.5 + k * 0.5 for k in range(13)])
        axis.set_title(name.removeprefix("scores_"))
        axis.set_xlabel("judge score (OASST1 replies)")
    histograms.tight_layout()

    lengths, axis = plt.subplots(figsize=(6, 4))
    axis.bar(models, [row.get("answers.alpaca_words_mean", 0.0) for row in summary])
    axis.set_ylabel("words per AlpacaEval answer")
    axis.set_title("Length drift")
    lengths.tight_layout()
    return by_model, histograms, lengths


def log_model_runs(summary: list[dict], evaluation: EvaluationConfig) -> dict:
    """One nested MLflow run per model under the active run, every metric under the same
    key, tagged with the model, its iteration and the evaluator, so that the MLflow UI
    compares models side by side.

    Returns:
        The run ids by model.
    """
    import mlflow

    if mlflow.active_run() is None:
        return {}
    iterations = {"M0": "0", "sft_baseline": "0", "M1": "0", "M2": "1", "M3": "2"}
    run_ids = {}
    for row in summary:
        model = row["model"]
        with mlflow.start_run(run_name=f"evaluation.{model}", nested=True) as run:
            mlflow.set_tags(
                {
                    "model": model,
                    "iteration": iterations.get(model, ""),
                    "evaluator": evaluation.evaluator.name,
                }
            )
            mlflow.log_params({"model": model, "evaluator": evaluation.evaluator.name})
            mlflow.log_metrics({k: float(v) for k, v in row.items() if isinstance(v, int | float)})
            run_ids[model] = run.info.run_id
    return run_ids
