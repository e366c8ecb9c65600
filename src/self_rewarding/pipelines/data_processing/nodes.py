"""Nodes of the ``data_processing`` pipeline: rows in, core rules, rows out."""

from __future__ import annotations

import logging

import pandas as pd

from self_rewarding.core.seed_data import (
    build_eft_candidates,
    build_eft_eval,
    build_ift_examples,
    normalise_prompt,
)
from self_rewarding.core.types import EFTConfig, IFTConfig

logger = logging.getLogger(__name__)


def _records(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as dicts, with pandas' NaN for missing values turned back into None."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def collect_eval_prompts(
    oasst1_validation_ranked: pd.DataFrame,
    alpaca_eval_prompts: pd.DataFrame,
    mt_bench_questions: pd.DataFrame,
) -> pd.DataFrame:
    """Gathers every evaluation prompt, normalised, so that no training set holds one.

    Args:
        oasst1_validation_ranked: OASST1 validation first-turn prompts (judge eval).
        alpaca_eval_prompts: AlpacaEval instructions (instruction-following eval).
        mt_bench_questions: MT-Bench questions (both turns).

    Returns:
        One row per distinct normalised prompt: ``prompt_normalised, source``.
    """
    sources = {
        "oasst1_validation": oasst1_validation_ranked["prompt"],
        "alpaca_eval": alpaca_eval_prompts["instruction"],
        "mt_bench": mt_bench_questions["turns"].explode(),
    }
    frame = pd.concat(
        [pd.DataFrame({"prompt": texts, "source": name}) for name, texts in sources.items()]
    )
    frame["prompt_normalised"] = frame["prompt"].map(normalise_prompt)
    frame = frame.drop_duplicates("prompt_normalised")[["prompt_normalised", "source"]]
    logger.info("%d distinct evaluation prompts", len(frame))
    return frame.reset_index(drop=True)


def build_ift(
    ift_candidates: pd.DataFrame, eval_prompts: pd.DataFrame, ift: IFTConfig
) -> tuple[pd.DataFrame, dict]:
    """Builds the IFT seed set: human (instruction, top reply) pairs.

    Args:
        ift_candidates: OASST2 first-turn top-ranked pairs (``prompt``, ``response``).
        eval_prompts: Normalised evaluation prompts.
        ift: Size and filters.

    Returns:
        The IFT examples and their counts.
    """
    from self_rewarding.hardware import sized_for_this_machine

    ift = sized_for_this_machine(ift, "ift")
    examples, counts = build_ift_examples(
        _records(ift_candidates), set(eval_prompts["prompt_normalised"]), ift
    )
    logger.info("IFT: %s", counts)
    return pd.DataFrame(examples), counts


def build_eft(
    quality_scored: pd.DataFrame, eval_prompts: pd.DataFrame, eft: EFTConfig
) -> tuple[pd.DataFrame, dict]:
    """Builds EFT judge examples with templated justifications from human quality labels.

    Args:
        quality_scored: OASST2 replies with human ``quality_score``.
        eval_prompts: Normalised evaluation prompts.
        eft: Size, filters and score balancing.

    Returns:
        The EFT candidates and their counts.
    """
    from self_rewarding.hardware import sized_for_this_machine

    eft = sized_for_this_machine(eft, "eft")
    examples, counts = build_eft_candidates(
        _records(quality_scored), set(eval_prompts["prompt_normalised"]), eft
    )
    logger.info("EFT: %s", counts)
    return pd.DataFrame(examples), counts


def build_eft_evaluation(oasst1_validation_ranked: pd.DataFrame) -> pd.DataFrame:
    """Flattens OASST1 validation ranked replies: the judge's evaluation set.

    Args:
        oasst1_validation_ranked: One row per prompt with its ranked replies.

    Returns:
        One row per human-ranked reply.
    """
    return pd.DataFrame(build_eft_eval(_records(oasst1_validation_ranked)))


def merge_counts(*counts: dict) -> dict:
    """Merges count dictionaries into one metrics dictionary."""
    merged: dict = {}
    for part in counts:
        merged.update(part)
    return merged
