"""Each model as an assistant (``generate_eval_answers``): its answers to AlpacaEval and
MT-Bench prompts."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import pandas as pd

from self_rewarding.core.provenance import directory_sha256
from self_rewarding.core.seed_data import prompt_id
from self_rewarding.core.types import EvaluationConfig
from self_rewarding.pipelines.evaluation.common import (
    generate_with_model,
    sized_for_this_machine,
    subset,
)

logger = logging.getLogger(__name__)


def _bench_prompts(
    alpaca_prompts: pd.DataFrame, mt_bench_questions: pd.DataFrame, evaluation: EvaluationConfig
) -> list[dict]:
    """AlpacaEval prompts (seeded sample) and MT-Bench questions (evenly over the
    categories), each with its second turn (``prompt_turn2``; None for AlpacaEval)."""
    alpaca = subset(
        alpaca_prompts.to_dict(orient="records"), evaluation.alpaca_prompts, evaluation.seed
    )
    rows = [
        {
            "benchmark": "alpaca_eval",
            "item_id": str(row["id"]) if "id" in row else prompt_id(row["instruction"]),
            "category": row.get("dataset", ""),
            "prompt": row["instruction"],
            "prompt_turn2": None,
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
                    "prompt_turn2": question["turns"][1] if len(question["turns"]) > 1 else None,
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
        ``benchmark, item_id, category, prompt, answer, n_tokens, finish_reason``, the
        second turn's ``prompt_turn2, answer_turn2, n_tokens_turn2, finish_reason_turn2``
        (MT-Bench; None elsewhere) and the model's provenance.
    """
    evaluation = sized_for_this_machine(evaluation)
    rows = _bench_prompts(alpaca_prompts, mt_bench_questions, evaluation)
    model_sha256 = directory_sha256(model_dir)
    answers = generate_with_model(
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
    _answer_second_turns(model_dir, model_sha256, rows, evaluation)
    return pd.DataFrame(rows)


def _answer_second_turns(
    model_dir: Path, model_sha256: str, rows: list[dict], evaluation: EvaluationConfig
) -> None:
    """Adds the second turn's answers to the rows that have one: the model continues
    the conversation (first question, its own answer, second question), written in
    its own chat template, as MT-Bench asks it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    asked = [row for row in rows if row["prompt_turn2"]]
    conversations = [
        tokenizer.apply_chat_template(
            [
                {"role": "user", "content": row["prompt"]},
                {"role": "assistant", "content": row["answer"]},
                {"role": "user", "content": row["prompt_turn2"]},
            ],
            tokenize=False,
            add_generation_prompt=True,
        )
        for row in asked
    ]
    answers = generate_with_model(
        "evaluate_answers_turn2",
        model_dir,
        model_sha256,
        conversations,
        evaluation.answer_sampling,
        evaluation=evaluation,
        chat=False,
    )
    for row in rows:
        row.update(answer_turn2=None, n_tokens_turn2=None, finish_reason_turn2=None)
    for row, (answer,) in zip(asked, answers, strict=True):
        row.update(
            answer_turn2=str(answer).strip(),
            n_tokens_turn2=answer.n_tokens,
            finish_reason_turn2=answer.finish_reason,
        )
