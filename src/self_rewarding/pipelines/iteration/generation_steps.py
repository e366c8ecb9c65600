"""The nodes of an iteration that generate with M_t (paper section 2.3): self-instruct,
candidates, judge and meta-judge. Each converts DataFrames to the core's records and
back; the core runs the method, ``generate_resumably`` the engine.

Every generated row carries ``iteration`` and what made it: ``model_path``,
``model_sha256``, ``template_sha256``, the ``backend`` and its ``precision``, and the
``seed`` of the sampler that produced that very row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
from pathlib import Path

import pandas as pd

from self_rewarding.core import meta_judge as meta
from self_rewarding.core.judge import score_summary
from self_rewarding.core.prompts import JUDGE_TEMPLATE_NAME, template_sha256
from self_rewarding.core.provenance import directory_sha256
from self_rewarding.core.rows import Candidate, Judgment, MetaJudgment, records_of, row_of
from self_rewarding.core.self_instruct import (
    SELF_INSTRUCT_HEADER,
    SELF_INSTRUCT_STOP,
    prompt_counts,
    write_prompts,
)
from self_rewarding.core.types import IterationConfig, JudgeConfig
from self_rewarding.generation import open_engine
from self_rewarding.generation.chunks import generate_resumably
from self_rewarding.judge_service import judge

logger = logging.getLogger(__name__)

META_JUDGMENT_COLUMNS = tuple(field.name for field in dataclasses.fields(MetaJudgment))


class IterationEngine:
    """M_t's engine for one step of iteration t: resumable generation keyed on the
    model, the step's template and settings; and the provenance of what it makes."""

    def __init__(self, model_dir: Path, iteration: IterationConfig, t: int, template_hash=None):
        self.model_dir, self.iteration, self.t = Path(model_dir), iteration, t
        self.model_sha256 = directory_sha256(model_dir)
        self.template_sha256 = template_hash
        self.generator = open_engine(model_dir, iteration.generation, shared=True)
        self._engine_start = (self.generator.tokens_generated, self.generator.seconds)
        self._prompts, self._tokens, self._seconds, self._reused = 0, 0, 0.0, 0

    def generate(self, step: str, prompts, sampling, *, chat=True, first_index=0, **settings):
        """Completions of ``prompts``; the chunks of the finished job stay on disk as
        the newest of ``iter<t>/<step>``, so that an unchanged step re-runs from them."""
        resumed = generate_resumably(
            self.generator,
            step,
            {
                "t": self.t,
                "model_sha256": self.model_sha256,
                "template_sha256": self.template_sha256,
                **settings,
            },
            prompts,
            sampling,
            chunk_dir=self.iteration.generation.chunk_dir,
            chunk_size=self.iteration.generation.chunk_size,
            description=f"iteration {self.t}: {step}",
            kind=f"iter{self.t}/{step}",
            finish="keep_as_newest",
            chat=chat,
            first_index=first_index,
        )
        self._prompts += len(prompts)
        self._tokens += sum(c.n_tokens for row in resumed.completions for c in row)
        self._seconds += resumed.figures["seconds"]
        self._reused += resumed.figures["chunks_reused"]
        return resumed.completions

    def throughput(self) -> dict[str, float]:
        """Prompts/s and tokens/s over this step's jobs (reused chunks included), and the
        engine's own tokens/s (generation time only)."""
        seconds = max(self._seconds, 1e-9)
        tokens, engine_seconds = self._engine_start
        return {
            "prompts_per_second": round(self._prompts / seconds, 3),
            "tokens_per_second": round(self._tokens / seconds, 1),
            "seconds": self._seconds,
            "chunks_reused": float(self._reused),
            "engine_tokens_per_second": (self.generator.tokens_generated - tokens)
            / max(self.generator.seconds - engine_seconds, 1e-9),
        }

    def frame(self, records, columns=()) -> pd.DataFrame:
        """The records as rows, each with the iteration and this engine's provenance."""
        provenance = {
            "model_path": str(self.model_dir),
            "model_sha256": self.model_sha256,
            "template_sha256": self.template_sha256,
            "backend": self.generator.backend,
            "precision": self.generator.precision,
        }
        rows = [row_of(record, self.t, provenance) for record in records]
        return pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(columns))


def generate_prompts(
    model_dir: Path, ift_train: pd.DataFrame, iteration: IterationConfig, t: int
) -> tuple[pd.DataFrame, dict]:
    """Self-instruction creation (``core.self_instruct.write_prompts``): M_t writes new
    prompts round by round from 8-shot prompts; each is filtered as it comes.

    Returns:
        Every generated prompt with ``accepted`` and the rejection ``reason``; the counts
        with the throughput.
    """
    from self_rewarding.hardware import sized_for_this_machine

    config = sized_for_this_machine(iteration.self_instruct, "iteration.self_instruct")
    header = hashlib.sha256(SELF_INSTRUCT_HEADER.encode("utf-8")).hexdigest()
    engine = IterationEngine(model_dir, iteration, t, header)
    sampling = dataclasses.replace(config.sampling, stop=config.sampling.stop + SELF_INSTRUCT_STOP)
    settings = {"self_instruct": dataclasses.asdict(config), "seeds": sorted(ift_train["prompt"])}
    prompts = write_prompts(
        list(ift_train["prompt"]),
        config,
        iteration.filters,
        random.Random(config.seed * 1000 + t),
        lambda round_index, few_shot: engine.generate(
            "self_instruct", few_shot, sampling, chat=False, first_index=round_index, **settings
        ),
    )
    counts = prompt_counts(prompts)
    logger.info("Iteration %d self-instruct: %s", t, counts)
    return engine.frame(prompts), {**counts, **engine.throughput()}


def generate_candidates(
    model_dir: Path,
    generated_prompts: pd.DataFrame,
    prompts_gate: dict,
    iteration: IterationConfig,
    t: int,
) -> tuple[pd.DataFrame, dict]:
    """Samples N candidate responses of M_t for each accepted prompt (paper: N=4,
    T=0.7, top_p=0.9); ``prompts_gate`` orders this step after the prompts' gate.

    Returns:
        One row per candidate (``core.rows.Candidate``) and the counts with the
        throughput.
    """
    prompts = generated_prompts[generated_prompts["accepted"]]
    engine = IterationEngine(model_dir, iteration, t)
    completions = engine.generate("candidates", list(prompts["prompt"]), iteration.candidates)
    candidates = [
        Candidate(
            prompt_id=row.prompt_id,
            prompt=row.prompt,
            candidate_id=f"{row.prompt_id}-{k}",
            response=str(completion).strip(),
            n_tokens=completion.n_tokens,
            finish_reason=completion.finish_reason,
            seed=completion.seed,
        )
        for row, samples in zip(prompts.itertuples(), completions, strict=True)
        for k, completion in enumerate(samples)
    ]
    n = len(candidates)
    return engine.frame(candidates), {
        "prompts": float(len(prompts)),
        "candidates": float(n),
        "tokens_mean": sum(c.n_tokens for c in candidates) / n if n else None,
        "truncated_share": sum(c.finish_reason == "length" for c in candidates) / n if n else None,
        "empty_responses": float(sum(c.response == "" for c in candidates)),
        **engine.throughput(),
    }


def judge_candidates(
    model_dir: Path, candidates: pd.DataFrame, iteration: IterationConfig, t: int
) -> tuple[pd.DataFrame, dict]:
    """M_t judges each candidate with the verbatim additive 5-point prompt, several
    samples each (paper: 3, T=0.7); an answer without a score is kept with ``score``
    null and counted.

    Returns:
        One row per judge answer (``core.rows.Judgment``) and the parse rate, score
        histogram, mean and spread with the throughput.
    """
    config = iteration.judge
    engine = IterationEngine(model_dir, iteration, t, template_sha256(JUDGE_TEMPLATE_NAME))
    judged = judge(
        list(zip(candidates["prompt"], candidates["response"], strict=True)),
        config,
        lambda prompts, sampling: engine.generate("judge", prompts, sampling, mode=config.mode),
    )
    judgments = [
        Judgment(
            prompt_id=candidate.prompt_id,
            candidate_id=candidate.candidate_id,
            sample=sample,
            judge_text=text,
            score=score,
            scoring_mode=config.mode,
            constrained=config.constrained,
            seed=seed,
        )
        for candidate, reply in zip(candidates.itertuples(), judged, strict=True)
        for sample, (text, score, seed) in enumerate(
            zip(reply.texts, reply.sample_scores, reply.seeds, strict=True)
        )
    ]
    summary = score_summary([judgment.score for judgment in judgments])
    logger.info("Iteration %d judge: %s over %d answers", t, summary, len(judgments))
    return engine.frame(judgments), {**summary, **engine.throughput()}


def meta_judge_candidates(
    model_dir: Path, candidates: pd.DataFrame, iteration: IterationConfig, t: int
) -> tuple[pd.DataFrame, dict]:
    """The meta-judge (``core.meta_judge``): M_t judges each of ``pool`` candidates
    several times and, where its judgments disagree most, compares the highest- and
    lowest-scored one in both orders, scores hidden: a ``MetaJudgment`` row each, and the
    counts. Off (no model loaded, no rows) when ``meta_judge.max_share`` is 0."""
    config = iteration.meta_judge
    if config.max_share == 0.0 or candidates.empty:
        return pd.DataFrame(columns=list(META_JUDGMENT_COLUMNS)), dict.fromkeys(
            meta.META_JUDGE_COUNTS, 0.0
        )
    sampled = candidates.sample(frac=1.0, random_state=config.seed + t, ignore_index=True)
    pool = records_of(Candidate, sampled.head(config.pool).to_dict(orient="records"))
    engine = IterationEngine(
        model_dir, iteration, t, template_sha256(meta.META_JUDGE_TEMPLATE_NAME)
    )
    # the written judgments and the verdicts follow the judge's constrained ending
    constrained = iteration.judge.constrained
    settings = {"meta_judge": dataclasses.asdict(config), "constrained": constrained}
    written = judge(
        [(c.prompt, c.response) for c in pool],
        JudgeConfig(mode="sampled", sampling=config.judgments, constrained=constrained),
        lambda prompts, sampling: engine.generate(
            "meta_judge_judgments", prompts, sampling, **settings
        ),
    )
    texts = [reply.texts for reply in written]
    found, prompts = meta.comparison_prompts(
        pool, texts, [reply.sample_scores for reply in written], config.candidates
    )
    verdict = meta.verdict_sampling(config.verdict, constrained)
    answers = (
        engine.generate("meta_judge_verdicts", prompts, verdict, **settings) if prompts else []
    )
    comparisons, counts = meta.meta_judgments(pool, texts, found, [a[0] for a in answers])
    logger.info("Iteration %d meta-judge: %s", t, counts)
    return engine.frame(comparisons, META_JUDGMENT_COLUMNS), counts
