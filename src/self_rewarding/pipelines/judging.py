"""Nodes that make a model judge with the verbatim prompt: the judge probe (parse rate
of ``Score: X`` answers) and the paper's model-judged EFT selection."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from self_rewarding.core.judge import score_summary
from self_rewarding.core.prompts import JUDGE_TEMPLATE_NAME, template_sha256
from self_rewarding.core.provenance import directory_sha256
from self_rewarding.core.seed_data import ordering_agrees
from self_rewarding.core.types import EFTConfig, JudgeProbeConfig
from self_rewarding.generation import open_engine
from self_rewarding.judge_service import judge, judge_sampling, read_judgments

logger = logging.getLogger(__name__)


def _judgment_rows(items: pd.DataFrame, judged, provenance: dict) -> list[dict]:
    """One row per judge answer of each human-ranked item."""
    return [
        {
            "prompt_id": item.prompt_id,
            "response_id": item.response_id,
            "human_rank": item.human_rank,
            "sample": sample,
            "judge_text": text,
            "score": score,
            **provenance,
            "seed": seed,
        }
        for item, reply in zip(items.itertuples(), judged, strict=True)
        for sample, (text, score, seed) in enumerate(
            zip(reply.texts, reply.sample_scores, reply.seeds, strict=True)
        )
    ]


def probe_judge(
    model_dir: Path, eft_eval: pd.DataFrame, judge_probe: JudgeProbeConfig
) -> tuple[dict, pd.DataFrame]:
    """Asks a model to judge a seeded sample of EFT-eval replies: the parse rate, score
    distribution and tokens/s, and one row per judge answer with its raw text, parsed
    score and provenance."""
    from self_rewarding.hardware import sized_for_this_machine

    judge_probe = sized_for_this_machine(judge_probe, "judge_probe")
    items = eft_eval.sample(
        n=min(judge_probe.n_items, len(eft_eval)), random_state=judge_probe.seed
    )
    generator = open_engine(model_dir, judge_probe.generation())
    try:
        judged = judge(
            list(zip(items["prompt"], items["response"])),
            judge_probe.judge_config(),
            generator.generate,
        )
    finally:
        generator.close()
    provenance = {
        "model_path": str(model_dir),
        "model_sha256": directory_sha256(model_dir),
        "template_sha256": template_sha256(JUDGE_TEMPLATE_NAME),
        "backend": generator.backend,
        "precision": generator.precision,
        "scoring_mode": judge_probe.mode,
    }
    rows = _judgment_rows(items, judged, provenance)
    metrics = score_summary([row["score"] for row in rows])
    metrics["tokens_per_second"] = generator.tokens_generated / max(generator.seconds, 1e-9)
    logger.info(
        "Judge probe of %s: parse rate %s of %d", model_dir, metrics["parse_rate"], len(rows)
    )
    return metrics, pd.DataFrame(rows)


def select_eft_train(
    eft_candidates: pd.DataFrame,
    judge_model_dir: Path,
    eft: EFTConfig,
    judge_probe: JudgeProbeConfig,
) -> pd.DataFrame:
    """The EFT training examples: ``templated``, the candidates as built from human
    labels; ``model_judged`` (paper 2.2), the SFT baseline (``judge_model_dir``) judges
    every reply, a prompt is kept when its scores order the replies as the humans do,
    and the model's own answers become the targets."""
    if eft.targets == "templated":
        return eft_candidates
    generator = open_engine(judge_model_dir, judge_probe.generation())
    try:
        # The candidates' prompts are judge prompts already: generate on them directly.
        config = judge_probe.judge_config(samples=eft.judge_samples)
        answers = generator.generate(list(eft_candidates["prompt"]), judge_sampling(config))
    finally:
        generator.close()
    judged_replies = read_judgments(answers, config)
    judged = eft_candidates.copy()
    judged["model_score"] = [reply.score for reply in judged_replies]
    judged["response"] = [
        next((t.strip() for t, s in zip(reply.texts, reply.sample_scores) if s is not None), "")
        for reply in judged_replies
    ]
    kept = [
        group
        for _, group in judged.groupby("prompt_id", sort=False)
        if len(group) >= 2
        and ordering_agrees(list(group["human_quality"]), list(group["model_score"]))
    ]
    selected = pd.concat(kept) if kept else judged.iloc[0:0]
    selected = selected.assign(score=selected["model_score"])
    logger.info("Model-judged EFT: kept %d of %d replies", len(selected), len(judged))
    return selected.drop(columns=["model_score"]).reset_index(drop=True)
