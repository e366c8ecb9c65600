"""Supervised fine-tuning with TRL's ``SFTTrainer``, loss on the assistant turn only.

Paper section 2.2: M1 is the base model fine-tuned on IFT + EFT seed data; the SFT
baseline on IFT alone. Examples are ``prompt`` (user turn) / ``response`` (assistant
turn) rows, given to TRL as a conversational prompt-completion dataset, so the loss is
on the completion tokens only.

Usage (what the Kedro ``sft`` pipeline calls in-process)::

    python -m self_rewarding.train.sft \
        --model_name_or_path data/06_models/M0 \
        --dataset_files data/05_model_input/ift_train.jsonl data/05_model_input/eft_train.jsonl \
        --output_dir data/06_models/M1 \
        --num_train_epochs 1 --learning_rate 5e-5 --max_length 768

    accelerate launch --config_file conf/base/accelerate/zero3.yaml \
        -m self_rewarding.train.sft --config recipes/sft/config_paper.yaml \
        --model_name_or_path ... --dataset_files ... --output_dir ...
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from self_rewarding.train import trainer_core

if TYPE_CHECKING:
    from self_rewarding.core.types import LauncherConfig

logger = logging.getLogger(__name__)


def to_prompt_completion(rows: Iterable[Mapping]) -> list[dict]:
    """Converts ``prompt``/``response`` rows into TRL's conversational
    prompt-completion format."""
    return [
        {
            "prompt": [{"role": "user", "content": row["prompt"]}],
            "completion": [{"role": "assistant", "content": row["response"]}],
        }
        for row in rows
    ]


def train_sft(
    model_path: str | Path,
    examples: Sequence[Mapping],
    output_dir: str | Path,
    trainer_config: Mapping[str, Any],
    metrics_prefix: str | None = None,
    *,
    precision: str = "auto",
    launcher: LauncherConfig | None = None,
) -> dict[str, float]:
    """Fine-tunes a model on prompt/response examples and saves it with its tokenizer.

    Args:
        model_path: The model to start from.
        examples: Rows with ``prompt`` and ``response``.
        output_dir: Where the fine-tuned model directory is written.
        trainer_config: ``SFTConfig`` fields, without ``output_dir`` (the trainer's own
            files go to a scratch directory, removed afterwards) and without the
            precision flags, which ``precision`` sets.
        metrics_prefix: When set, training curves go to the active MLflow run under
            this prefix.
        precision: ``auto`` (chosen by the hardware), ``bf16``, ``fp16`` or ``fp32``;
            the resolved one is recorded in the model directory and the MLflow run.
        launcher: Several processes (``accelerate launch``) or one, in-process (None).

    Returns:
        Final training metrics (``train_loss``, ``train_runtime``, ``train_steps``, ...).
    """
    from self_rewarding.train.launcher import train

    return train(
        METHOD,
        model_path,
        examples,
        output_dir,
        trainer_config=trainer_config,
        metrics_prefix=metrics_prefix,
        precision=precision,
        launcher=launcher,
    )


def drop_overlong(examples: Sequence[Mapping], tokenizer, max_length: int | None) -> list[Mapping]:
    """Leaves out examples longer than ``max_length`` tokens once chat-formatted.

    TRL would truncate them from the end, cutting the target: for a judge example that is
    the ``Score: X`` line, and the model would learn to stop before giving a score.

    Returns:
        The examples that fit.
    """
    if max_length is None:
        return list(examples)
    kept = []
    for example, row in zip(examples, to_prompt_completion(examples), strict=True):
        ids = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True)
        ids = ids["input_ids"] if isinstance(ids, Mapping) else ids
        if len(ids) <= max_length:
            kept.append(example)
    if len(kept) < len(examples):
        logger.warning(
            "Left out %d of %d examples longer than max_length=%d tokens",
            len(examples) - len(kept),
            len(examples),
            max_length,
        )
    return kept


def build_trainer(model_path, examples: Sequence[Mapping], args, callbacks=()):
    """Returns a TRL ``SFTTrainer`` over prompt/response examples (not yet trained).

    Examples that do not fit ``args.max_length`` are left out, never truncated.
    """
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    examples = drop_overlong(examples, tokenizer, args.max_length)
    if not examples:
        raise ValueError("SFT needs at least one example that fits max_length")
    return SFTTrainer(
        model=str(model_path),
        args=args,
        train_dataset=Dataset.from_list(to_prompt_completion(examples)),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )


def sft_metrics(trainer, examples: Sequence[Mapping]) -> dict[str, float]:
    """How many examples trained and how many were left out for their length."""
    return {
        "train_examples": float(len(trainer.train_dataset)),
        "train_examples_too_long": float(len(examples) - len(trainer.train_dataset)),
    }


METHOD = trainer_core.TrainingMethod(
    kind="sft",
    row_fields=("prompt", "response"),
    build_trainer=build_trainer,
    method_metrics=sft_metrics,
)
make_parser = partial(trainer_core.make_parser, "sft")


if __name__ == "__main__":
    trainer_core.main(METHOD)
