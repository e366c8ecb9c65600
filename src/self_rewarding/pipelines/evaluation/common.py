"""What the evaluation's steps share: the subsets, the model's engine with resumable
chunks, interval metrics, the head-to-head comparisons and whether the referee is
trusted."""

from __future__ import annotations

import logging
import random
from pathlib import Path

from self_rewarding.core.topology import default_comparisons
from self_rewarding.core.types import EvaluationConfig

logger = logging.getLogger(__name__)


REFERENCES = ("gpt4_1106_preview", "text_davinci_003")


def subset(items: list, size: int | None, seed: int) -> list:
    if size is None or size >= len(items):
        return list(items)
    return random.Random(seed).sample(items, size)


def sized_for_this_machine(evaluation: EvaluationConfig) -> EvaluationConfig:
    """The evaluation with the sets this machine runs (``on_cpu_without_bf16`` on a CPU
    without native bf16), said in the log when they are the smaller ones."""
    from self_rewarding.hardware import sized_for_this_machine as sized_for_hardware

    return sized_for_hardware(evaluation, "evaluation")


def word_count(text: str) -> int:
    return len(str(text).split())


def comparisons(evaluation: EvaluationConfig, models) -> list[tuple[str, str]]:
    """The head-to-head pairs: ``evaluation.comparisons`` when set, else each step of the
    loop against the one before and every later model against the SFT baseline."""
    if evaluation.comparisons is not None:
        return list(evaluation.comparisons)
    return default_comparisons(list(models))


def referee_trusted(instruction_following: dict) -> bool:
    """Whether the evaluator's win rates mean anything: its strict agreement with the
    MT-Bench human pairs is above a coin's with 95 % confidence (the interval lies above
    0.5; one that contains 0.5, or lies below it, is not trusted)."""
    low = instruction_following.get("evaluator.human_agreement.strict.ci_low")
    return low is not None and low > 0.5


def model_generator(model_dir: Path, evaluation: EvaluationConfig):
    """The engine on the model under test, shared by its judge and answer evaluations
    (the hooks stop it when the run ends)."""
    from self_rewarding.generation import open_engine

    return open_engine(model_dir, evaluation.generation, shared=True)


def generate_with_model(
    step: str,
    model_dir: Path,
    model_sha256: str,
    prompts: list[str],
    sampling,
    *,
    evaluation: EvaluationConfig,
    chat: bool = True,
) -> list:
    """Generates with the model under test chunk by chunk (``generate_resumably``): a
    killed or timed-out run resumes from the finished chunks, which go once complete.
    ``chat=False``: the prompts are already in the model's chat format."""
    from self_rewarding.generation.chunks import generate_resumably

    generator = model_generator(model_dir, evaluation)
    return generate_resumably(
        generator,
        step,
        {"model_sha256": model_sha256},
        prompts,
        sampling,
        chunk_dir=evaluation.generation.chunk_dir,
        chunk_size=evaluation.generation.chunk_size,
        description=f"{step} of {model_dir}",
        model=str(model_dir),
        chat=chat,
    ).completions


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
