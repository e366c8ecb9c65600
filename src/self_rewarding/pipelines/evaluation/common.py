"""What the evaluation's steps share: the subsets, the model's engine with resumable
chunks, interval metrics and the head-to-head comparisons."""

from __future__ import annotations

import dataclasses
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


def word_count(text: str) -> int:
    return len(str(text).split())


def comparisons(evaluation: EvaluationConfig, models) -> list[tuple[str, str]]:
    """The head-to-head pairs: ``evaluation.comparisons`` when set, else each step of the
    loop against the one before and every later model against the SFT baseline."""
    if evaluation.comparisons is not None:
        return list(evaluation.comparisons)
    return default_comparisons(list(models))


def model_generator(model_dir: Path, evaluation: EvaluationConfig):
    """The engine on the model under test, shared by its judge and answer evaluations
    (the hooks stop it when the run ends)."""
    from self_rewarding.generation import generator_for

    return generator_for(model_dir, evaluation.generation, shared=True)


def generate_resumably(
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

    generator = model_generator(model_dir, evaluation)
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
    answers, _ = generate_in_chunks(
        generator,
        prompts,
        sampling,
        store,
        chunk_size=evaluation.generation.chunk_size,
        description=f"{step} of {model_dir}",
    )
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
