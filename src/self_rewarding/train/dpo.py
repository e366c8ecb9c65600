"""Direct preference optimisation with TRL's ``DPOTrainer`` (paper section 2.3): M_t is
trained on its own preference pairs AIFT(M_t), with M_t itself as the frozen reference
model (``ref_model=None``: TRL loads a second copy of the starting weights), to make
M_{t+1}. Pairs are given to TRL as a conversational preference dataset, so prompts get
the chat template and the loss is on the responses.

Usage (what the Kedro ``iteration`` pipeline calls in-process)::

    python -m self_rewarding.train.dpo \
        --model_name_or_path data/06_models/M1 \
        --dataset_files data/05_model_input/iter1/preference_pairs.jsonl \
        --output_dir data/06_models/M2 --beta 0.1 --learning_rate 1e-6
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

# DPOTrainer's logged statistics kept in the final metrics (last logged value).
REWARD_STATISTICS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
)


def to_conversational_preference(rows: Iterable[Mapping]) -> list[dict]:
    """Converts ``prompt``/``chosen``/``rejected`` rows into TRL's conversational
    preference format."""
    return [
        {
            "prompt": [{"role": "user", "content": row["prompt"]}],
            "chosen": [{"role": "assistant", "content": row["chosen"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]}],
        }
        for row in rows
    ]


def train_dpo(
    model_path: str | Path,
    pairs: Sequence[Mapping],
    output_dir: str | Path,
    trainer_config: Mapping[str, Any],
    metrics_prefix: str | None = None,
    *,
    precision: str = "auto",
    launcher: LauncherConfig | None = None,
) -> dict[str, float]:
    """Trains a model on preference pairs with DPO and saves it with its tokenizer.

    Args:
        model_path: M_t, the starting point and the reference model.
        pairs: Rows with ``prompt``, ``chosen`` and ``rejected``.
        output_dir: Where M_{t+1} is written.
        trainer_config: ``DPOConfig`` fields, without ``output_dir`` (the trainer's own
            files go to a scratch directory, removed afterwards) and without the
            precision flags, which ``precision`` sets.
        metrics_prefix: When set, training curves (loss, rewards/margins,
            rewards/accuracies, ...) go to the active MLflow run under this prefix.
        precision: ``auto`` (chosen by the hardware), ``bf16``, ``fp16`` or ``fp32``;
            the resolved one is recorded in the model directory and the MLflow run.
        launcher: Several processes (``accelerate launch``) or one, in-process (None).

    Returns:
        Final metrics: ``train_loss``, ``train_runtime``, ``train_steps``,
        ``train_pairs`` and the last logged reward statistics
        (``rewards_margins``, ``rewards_accuracies``, ...).
    """
    from self_rewarding.train.launcher import train

    return train(
        METHOD,
        model_path,
        pairs,
        output_dir,
        trainer_config=trainer_config,
        metrics_prefix=metrics_prefix,
        precision=precision,
        launcher=launcher,
    )


def response_logprob(model, tokenizer, prompt: str, response: str) -> float:
    """log p(response | prompt) under the chat template, summed over the response's
    tokens: what DPO's implicit reward is made of."""
    import torch

    turn = [{"role": "user", "content": prompt}]
    prompt_ids = tokenizer.apply_chat_template(turn, add_generation_prompt=True, return_dict=False)
    full_ids = tokenizer.apply_chat_template(
        [*turn, {"role": "assistant", "content": response}], return_dict=False
    )
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise ValueError("The chat template does not extend the prompt with the response")
    ids = torch.tensor([full_ids], device=model.device)
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)
    per_token = logprobs.gather(-1, ids[0, 1:, None])[:, 0]
    return float(per_token[len(prompt_ids) - 1 :].sum())


def preference_margins(
    policy_dir: str | Path, reference_dir: str | Path, pairs: Sequence[Mapping], beta: float
) -> list[float]:
    """Each pair's DPO implicit reward margin of the policy against the reference,
    ``beta * ((log pi - log ref)(chosen) - (log pi - log ref)(rejected))``, one pair at a
    time in fp32: how a trained model ranks pairs it did not train on."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(policy_dir)
    logprobs = {}
    for role, path in (("policy", policy_dir), ("reference", reference_dir)):
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        logprobs[role] = [
            [response_logprob(model, tokenizer, p["prompt"], p[k]) for k in ("chosen", "rejected")]
            for p in pairs
        ]
        del model
    return [
        beta * ((chosen - ref_chosen) - (rejected - ref_rejected))
        for (chosen, rejected), (ref_chosen, ref_rejected) in zip(
            logprobs["policy"], logprobs["reference"], strict=True
        )
    ]


def build_trainer(model_path, pairs: Sequence[Mapping], args, callbacks=()):
    """Returns a TRL ``DPOTrainer`` over preference pairs (not yet trained)."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import DPOTrainer

    if not pairs:
        raise ValueError("DPO needs at least one preference pair")
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    return DPOTrainer(
        model=str(model_path),
        ref_model=None,
        args=args,
        train_dataset=Dataset.from_list(to_conversational_preference(pairs)),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )


def dpo_metrics(trainer, pairs: Sequence[Mapping]) -> dict[str, float]:
    """The pairs trained on and the last logged reward statistics."""
    metrics = {"train_pairs": float(len(pairs))}
    logged = [entry for entry in trainer.state.log_history if "rewards/margins" in entry]
    for name in REWARD_STATISTICS:
        values = [entry[name] for entry in logged if name in entry]
        if values:
            metrics[name.replace("/", "_")] = float(values[-1])
    return metrics


METHOD = trainer_core.TrainingMethod(
    kind="dpo",
    row_fields=("prompt", "chosen", "rejected"),
    build_trainer=build_trainer,
    method_metrics=dpo_metrics,
)
make_parser = partial(trainer_core.make_parser, "dpo")


if __name__ == "__main__":
    trainer_core.main(METHOD)
