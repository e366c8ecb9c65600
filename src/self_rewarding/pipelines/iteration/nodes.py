"""Nodes of one self-rewarding iteration, M_t -> M_{t+1} (paper section 2.3): thin
wrappers that read and write DataFrames and call the core and the generation and
training layers.

Every generated row carries ``iteration`` and what made it: ``model_path``,
``model_sha256``, ``template_sha256``, the ``backend`` and its ``precision``, and the
``seed`` of the sampler that produced that very row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import random
import re
import shutil
import statistics
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from self_rewarding.core.correlation import pearson
from self_rewarding.core.filters import PromptPool, filter_prompts
from self_rewarding.core.judge import aggregate_scores, score_summary
from self_rewarding.core.pairs import check_length_control_rho, select_pair, why_no_pair
from self_rewarding.core.prompts import JUDGE_TEMPLATE_NAME, template_sha256
from self_rewarding.core.provenance import directory_sha256
from self_rewarding.core.seed_data import prompt_id
from self_rewarding.core.self_instruct import (
    SELF_INSTRUCT_HEADER,
    SELF_INSTRUCT_STOP,
    build_self_instruct_prompt,
    choose_examples,
    parse_instruction,
)
from self_rewarding.core.types import IterationConfig, LauncherConfig
from self_rewarding.judge_service import judge, judge_sampling

logger = logging.getLogger(__name__)

# Fixed so that every iteration logs the same metric keys, zeros included.
REJECTION_REASONS = (
    "unparseable",
    "too_short",
    "too_long",
    "blocked_keyword",
    "duplicate",
    "too_similar",
)
NO_PAIR_REASONS = ("tie", "fewer_than_2_valid", "below_min_margin")


def open_generator(model_dir: Path, config: IterationConfig):
    """The iteration's engine on M_t, shared by the generation steps of one run."""
    from self_rewarding.generation import generator_for

    return generator_for(model_dir, config.generation, shared=True)


def _chunk_store(
    step: str,
    model_sha256: str,
    template_hash: str | None,
    settings: dict,
    config: IterationConfig,
    *,
    generator,
):
    """Finished chunks of one step, keyed by everything that changes what it generates;
    the step's newest finished job stays on disk (``keep_as_newest``), so that the
    ``generate`` stage re-runs an unchanged step from it."""
    from self_rewarding.generation.chunks import ChunkStore

    fingerprint = {
        "step": step,
        "model_sha256": model_sha256,
        "template_sha256": template_hash,
        "backend": generator.backend,
        "precision": generator.precision,
        # the transformers backend pads a batch together, which can change the output
        "batch_size": config.generation.batch_size if generator.backend == "transformers" else None,
        **settings,
    }
    t = settings.get("t")
    return ChunkStore(
        config.generation.chunk_dir,
        fingerprint,
        description=f"iteration {t}: {step}",
        model=generator.model_path,
        kind=f"iter{t}/{step}",
    )


def _provenance(model_dir: Path, model_sha256: str, template_hash: str | None, generator) -> dict:
    return {
        "model_path": str(model_dir),
        "model_sha256": model_sha256,
        "template_sha256": template_hash,
        "backend": generator.backend,
        "precision": generator.precision,
    }


def _mean(values) -> float | None:
    values = list(values)
    return statistics.fmean(values) if values else None


def _rounded(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _words(text: str) -> int:
    return len(str(text).split())


def generate_prompts(
    model_dir: Path, ift_train: pd.DataFrame, iteration: IterationConfig, t: int
) -> tuple[pd.DataFrame, dict]:
    """Self-instruction creation: M_t writes new prompts, round by round, from 8-shot
    prompts of seed prompts and prompts it wrote earlier in this iteration; each is
    filtered as it comes (ROUGE-L, keywords, length, duplicates).

    Args:
        model_dir: M_t.
        ift_train: The human seed prompts (``prompt``).
        iteration: The iteration's settings (``self_instruct``, ``filters``, ...).
        t: The iteration number.

    Returns:
        Every generated prompt with ``accepted`` and the rejection ``reason``, and the
        counts (generated, accepted, rejected by reason) with the throughput.
    """
    from self_rewarding.generation.chunks import Throughput

    config = iteration.self_instruct
    seed_prompts = list(ift_train["prompt"])
    rng = random.Random(config.seed * 1000 + t)
    pool = PromptPool.from_prompts(seed_prompts)
    model_sha256 = directory_sha256(model_dir)
    header_sha256 = hashlib.sha256(SELF_INSTRUCT_HEADER.encode("utf-8")).hexdigest()
    generator = open_generator(model_dir, iteration)
    store = _chunk_store(
        "self_instruct",
        model_sha256,
        header_sha256,
        {"t": t, "self_instruct": dataclasses.asdict(config), "seeds": sorted(seed_prompts)},
        iteration,
        generator=generator,
    )
    sampling = dataclasses.replace(config.sampling, stop=config.sampling.stop + SELF_INSTRUCT_STOP)
    provenance = _provenance(model_dir, model_sha256, header_sha256, generator)
    accepted: list[str] = []
    rows: list[dict] = []
    engine_tokens, engine_seconds = generator.tokens_generated, generator.seconds
    progress = Throughput(config.n_prompts, f"iteration {t}: self-instruct")
    try:
        for round_index in range(config.max_rounds):
            if len(accepted) >= config.n_prompts:
                break
            few_shot = [
                build_self_instruct_prompt(choose_examples(rng, seed_prompts, accepted, config))
                for _ in range(config.prompts_per_round)
            ]
            completions = store.get_or_generate(
                round_index,
                few_shot,
                lambda p: generator.generate(p, sampling, chat=False),
            )
            progress.update(completions)
            for (completion,) in completions:
                instruction = parse_instruction(completion)
                if instruction is None:
                    verdict = {"prompt": "", "accepted": False, "reason": "unparseable"}
                    verdict["max_rouge_l"] = None
                else:
                    (verdict,) = filter_prompts([instruction], pool, iteration.filters)
                if verdict["accepted"]:
                    accepted.append(verdict["prompt"])
                rows.append(
                    {
                        "prompt_id": prompt_id(verdict["prompt"] or completion),
                        **verdict,
                        "round": round_index,
                        "generation": str(completion),
                        "finish_reason": completion.finish_reason,
                        "iteration": t,
                        **provenance,
                        "seed": completion.seed,
                    }
                )
    finally:
        progress.close()
    store.keep_as_newest()
    reasons = [row["reason"] for row in rows if row["reason"] is not None]
    metrics = {
        "generated": float(len(rows)),
        "accepted": float(len(accepted)),
        "rejected": float(len(reasons)),
        "acceptance_rate": len(accepted) / len(rows) if rows else None,
        "rounds": float(len({row["round"] for row in rows})),
        **{f"rejected_{reason}": float(reasons.count(reason)) for reason in REJECTION_REASONS},
        **progress.figures(),
        "chunks_reused": float(store.reused),
        "engine_tokens_per_second": (generator.tokens_generated - engine_tokens)
        / max(generator.seconds - engine_seconds, 1e-9),
    }
    logger.info(
        "Iteration %d: %d of %d generated prompts accepted (%s)",
        t,
        len(accepted),
        len(rows),
        {r: reasons.count(r) for r in REJECTION_REASONS if r in reasons},
    )
    return pd.DataFrame(rows), metrics


def generate_candidates(
    model_dir: Path,
    generated_prompts: pd.DataFrame,
    prompts_gate: dict,
    iteration: IterationConfig,
    t: int,
) -> tuple[pd.DataFrame, dict]:
    """Samples N candidate responses of M_t for each accepted prompt.

    Args:
        model_dir: M_t.
        generated_prompts: The self-instructed prompts (accepted ones are answered).
        prompts_gate: The passed gate of the prompts (orders this step after it).
        iteration: ``candidates`` sampling (paper: N=4, T=0.7, top_p=0.9).
        t: The iteration number.

    Returns:
        One row per candidate (``prompt_id, prompt, candidate_id, response, n_tokens,
        finish_reason``) and the counts with the throughput.
    """
    from self_rewarding.generation.chunks import generate_in_chunks

    prompts = generated_prompts[generated_prompts["accepted"]].reset_index(drop=True)
    sampling = iteration.candidates
    model_sha256 = directory_sha256(model_dir)
    generator = open_generator(model_dir, iteration)
    store = _chunk_store(
        "candidates",
        model_sha256,
        None,
        {"t": t, "sampling": dataclasses.asdict(sampling)},
        iteration,
        generator=generator,
    )
    completions, figures = generate_in_chunks(
        generator,
        list(prompts["prompt"]),
        sampling,
        store,
        chunk_size=iteration.generation.chunk_size,
        description=f"iteration {t}: candidates",
    )
    store.keep_as_newest()
    provenance = _provenance(model_dir, model_sha256, None, generator)
    rows = [
        {
            "prompt_id": row.prompt_id,
            "prompt": row.prompt,
            "candidate_id": f"{row.prompt_id}-{k}",
            "response": str(completion).strip(),
            "n_tokens": completion.n_tokens,
            "finish_reason": completion.finish_reason,
            "iteration": t,
            **provenance,
            "seed": completion.seed,
        }
        for row, samples in zip(prompts.itertuples(), completions, strict=True)
        for k, completion in enumerate(samples)
    ]
    candidates = pd.DataFrame(rows)
    metrics = {
        "prompts": float(len(prompts)),
        "candidates": float(len(rows)),
        "tokens_mean": float(candidates["n_tokens"].mean()) if rows else None,
        "truncated_share": float((candidates["finish_reason"] == "length").mean())
        if rows
        else None,
        "empty_responses": float((candidates["response"] == "").sum()) if rows else 0.0,
        **figures,
    }
    return candidates, metrics


def judge_candidates(
    model_dir: Path, candidates: pd.DataFrame, iteration: IterationConfig, t: int
) -> tuple[pd.DataFrame, dict]:
    """M_t judges each candidate with the verbatim additive 5-point prompt, several
    samples each; an answer without a score is kept with ``score`` null and counted.

    Args:
        model_dir: M_t (the judge).
        candidates: The candidates.
        iteration: ``judge`` sampling (paper: 3 samples, T=0.7) and ``constrained``.
        t: The iteration number.

    Returns:
        One row per judge answer (``prompt_id, candidate_id, sample, judge_text, score``)
        and the parse rate, score histogram, mean and spread with the throughput.
    """
    from self_rewarding.generation.chunks import generate_in_chunks

    judge_config = iteration.judge
    sampling = judge_sampling(judge_config)
    model_sha256 = directory_sha256(model_dir)
    generator = open_generator(model_dir, iteration)
    judge_template_sha256 = template_sha256(JUDGE_TEMPLATE_NAME)
    store = _chunk_store(
        "judge",
        model_sha256,
        judge_template_sha256,
        {"t": t, "mode": judge_config.mode, "sampling": dataclasses.asdict(sampling)},
        iteration,
        generator=generator,
    )
    figures = {}

    def generate(prompts: list[str], judge_decoding) -> list:
        answers, found = generate_in_chunks(
            generator,
            prompts,
            judge_decoding,
            store,
            chunk_size=iteration.generation.chunk_size,
            description=f"iteration {t}: judge",
        )
        figures.update(found)
        return answers

    judged = judge(list(zip(candidates["prompt"], candidates["response"])), judge_config, generate)
    store.keep_as_newest()
    provenance = _provenance(model_dir, model_sha256, judge_template_sha256, generator)
    rows = [
        {
            "prompt_id": candidate.prompt_id,
            "candidate_id": candidate.candidate_id,
            "sample": sample,
            "judge_text": text,
            "score": score,
            "scoring_mode": judge_config.mode,
            "constrained": judge_config.constrained,
            "iteration": t,
            **provenance,
            "seed": seed,
        }
        for candidate, reply in zip(candidates.itertuples(), judged, strict=True)
        for sample, (text, score, seed) in enumerate(
            zip(reply.texts, reply.sample_scores, reply.seeds, strict=True)
        )
    ]
    summary = score_summary([row["score"] for row in rows])
    logger.info(
        "Iteration %d judge: parse rate %s, mean %s, std %s over %d answers",
        t,
        *(_rounded(summary[k]) for k in ("parse_rate", "score_mean", "score_std")),
        len(rows),
    )
    return pd.DataFrame(rows), {**summary, **figures}


META_JUDGMENT_COLUMNS = (
    "prompt_id",
    "candidate_id",
    "spread",
    "high_judgment",
    "low_judgment",
    "high_first_answer",
    "low_first_answer",
    "high_first_verdict",
    "low_first_verdict",
    "winner",
    "prompt",
    "chosen",
    "rejected",
)


def meta_judge_candidates(
    model_dir: Path, candidates: pd.DataFrame, iteration: IterationConfig, t: int
) -> tuple[pd.DataFrame, dict]:
    """The meta-judge (``core.meta_judge``): M_t writes ``meta_judge.judgments.n``
    judgments of each of ``pool`` candidates; for the ``candidates`` whose judgments
    disagree most it compares the highest- and lowest-scored one, scores hidden, in
    both orders. Off (no model loaded, no rows) when ``meta_judge.max_share`` is 0.

    Args:
        model_dir: M_t (judge and meta-judge).
        candidates: The candidates.
        iteration: ``meta_judge``; ``judge.constrained`` constrains the written judgments
            to end in a score and the verdicts in ``Winner: Judgment A|B``.
        t: The iteration number.

    Returns:
        One row per comparison, with both raw meta-judge answers, their verdicts and,
        when both orders agree, the judge-preference pair (``prompt``: the judge prompt,
        ``chosen``/``rejected``: the judgments); and the counts.
    """
    from self_rewarding.core.meta_judge import (
        META_JUDGE_TEMPLATE_NAME,
        consistent_winner,
        constrained_verdict_regex,
        most_disagreeing,
        parse_meta_verdict,
        render_meta_judge_prompt,
    )
    from self_rewarding.core.prompts import render_judge_prompt
    from self_rewarding.core.types import JudgeConfig
    from self_rewarding.generation.chunks import generate_in_chunks

    config = iteration.meta_judge
    counts = {
        "pool": 0.0,
        "compared": 0.0,
        "consistent": 0.0,
        "order_flipped": 0.0,
        "unparseable_verdicts": 0.0,
    }
    if config.max_share == 0.0 or candidates.empty:
        return pd.DataFrame(columns=list(META_JUDGMENT_COLUMNS)), counts
    pool = candidates.sample(frac=1.0, random_state=config.seed + t, ignore_index=True).head(
        config.pool
    )
    model_sha256 = directory_sha256(model_dir)
    generator = open_generator(model_dir, iteration)
    template_hash = template_sha256(META_JUDGE_TEMPLATE_NAME)
    written = JudgeConfig(
        mode="sampled", sampling=config.judgments, constrained=iteration.judge.constrained
    )
    # the written judgments follow the judge's constrained ending
    settings = {
        "t": t,
        "meta_judge": dataclasses.asdict(config),
        "constrained": iteration.judge.constrained,
    }

    def generate(step: str, prompts: list[str], sampling) -> list:
        store = _chunk_store(
            step, model_sha256, template_hash, settings, iteration, generator=generator
        )
        answers, _ = generate_in_chunks(
            generator,
            prompts,
            sampling,
            store,
            chunk_size=iteration.generation.chunk_size,
            description=f"iteration {t}: {step}",
        )
        store.keep_as_newest()
        return answers

    judged = judge(
        list(zip(pool["prompt"], pool["response"], strict=True)),
        written,
        lambda prompts, sampling: generate("meta_judge_judgments", prompts, sampling),
    )
    by_id = dict(zip(pool["candidate_id"], range(len(pool)), strict=True))
    disagreements = most_disagreeing(
        {cid: judged[i].sample_scores for cid, i in by_id.items()}, config.candidates
    )
    prompts = []
    for found in disagreements:
        row, texts = pool.iloc[by_id[found.candidate_id]], judged[by_id[found.candidate_id]].texts
        high, low = texts[found.high], texts[found.low]
        prompts += [
            render_meta_judge_prompt(row["prompt"], row["response"], high, low),
            render_meta_judge_prompt(row["prompt"], row["response"], low, high),
        ]
    verdict = config.verdict
    if iteration.judge.constrained:  # as the judge: every answer ends in a verdict
        verdict = dataclasses.replace(
            verdict, regex=constrained_verdict_regex(verdict.max_new_tokens)
        )
    answers = generate("meta_judge_verdicts", prompts, verdict) if prompts else []
    rows = []
    for k, found in enumerate(disagreements):
        row, texts = pool.iloc[by_id[found.candidate_id]], judged[by_id[found.candidate_id]].texts
        high_first, low_first = str(answers[2 * k][0]), str(answers[2 * k + 1][0])
        verdicts = parse_meta_verdict(high_first), parse_meta_verdict(low_first)
        winner = consistent_winner(*verdicts)
        preferred = {"high": texts[found.high], "low": texts[found.low]}
        rows.append(
            {
                "prompt_id": row["prompt_id"],
                "candidate_id": found.candidate_id,
                "spread": found.spread,
                "high_judgment": texts[found.high],
                "low_judgment": texts[found.low],
                "high_first_answer": high_first,
                "low_first_answer": low_first,
                "high_first_verdict": verdicts[0],
                "low_first_verdict": verdicts[1],
                "winner": winner,
                "prompt": render_judge_prompt(row["prompt"], row["response"]),
                "chosen": preferred[winner] if winner else None,
                "rejected": preferred[{"high": "low", "low": "high"}[winner]] if winner else None,
                "iteration": t,
                **_provenance(model_dir, model_sha256, template_hash, generator),
            }
        )
        counts["unparseable_verdicts"] += sum(v is None for v in verdicts)
        counts["order_flipped"] += float(None not in verdicts and winner is None)
    counts.update(
        pool=float(len(pool)),
        compared=float(len(rows)),
        consistent=float(sum(r["winner"] is not None for r in rows)),
    )
    logger.info("Iteration %d meta-judge: %s", t, counts)
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(META_JUDGMENT_COLUMNS))
    return frame, counts


def _rho_of_iteration(setting: float | Mapping[str, float], t: int) -> tuple[float, str]:
    """Iteration t's rho and the parameter key it came from."""
    if not isinstance(setting, Mapping):
        return setting, "length_control_rho"
    unknown = [key for key in setting if key != "default" and not re.fullmatch(r"iter\d+", key)]
    if unknown:
        raise ValueError(
            f"length_control_rho: keys are 'default' and iter<t>, got {sorted(unknown)}"
        )
    if f"iter{t}" in setting:
        return setting[f"iter{t}"], f"length_control_rho.iter{t}"
    return setting.get("default", 0.0), "length_control_rho.default"


def build_preference_pairs(
    candidates: pd.DataFrame,
    judgments: pd.DataFrame,
    judgments_gate: dict,
    *,
    t: int,
    length_control_rho: float | Mapping[str, float] = 0.0,
    min_margin: float = 0.0,
) -> tuple[pd.DataFrame, dict]:
    """AIFT(M_t): for each prompt, its highest-scored candidate against its lowest.
    Ties, prompts with fewer than two scored candidates and pairs whose score margin is
    below ``min_margin`` give no pair and are counted.

    Args:
        candidates: The candidates.
        judgments: Their judge answers with parsed scores.
        judgments_gate: The passed gate of the judgments (orders this step after it).
        t: The iteration number.
        length_control_rho: Length control (``core.pairs.select_pair``): the shortest
            near-best against the longest near-worst, lengths in words; 0 is the paper.
            One number, or per iteration (``{"default": 0.0, "iter2": 0.2}``).
        min_margin: ``pairs.min_margin``: least score difference of a pair.

    Returns:
        Pairs in TRL's ``prompt, chosen, rejected`` plus ``chosen_score,
        rejected_score`` and the candidate ids; and the pair statistics.
    """
    rho, key = _rho_of_iteration(length_control_rho, t)
    rho = check_length_control_rho(rho, key)
    mean_scores = {
        candidate_id: aggregate_scores(
            None if s is None or (isinstance(s, float) and math.isnan(s)) else float(s)
            for s in group["score"]
        )
        for candidate_id, group in judgments.groupby("candidate_id", sort=False)
    }
    scored = candidates.assign(score=candidates["candidate_id"].map(mean_scores))
    scored["score"] = scored["score"].astype(object).where(scored["score"].notna(), None)
    pairs, no_pair = [], []
    for pid, group in scored.groupby("prompt_id", sort=False):
        scores = list(group["score"])
        lengths = [_words(response) for response in group["response"]]
        choice = select_pair(scores, lengths, rho, min_margin)
        if choice is None:
            no_pair.append(why_no_pair(scores) or "below_min_margin")
            continue
        chosen, rejected = group.iloc[choice.chosen], group.iloc[choice.rejected]
        pairs.append(
            {
                "prompt_id": pid,
                "prompt": chosen["prompt"],
                "chosen": chosen["response"],
                "rejected": rejected["response"],
                "chosen_score": choice.chosen_score,
                "rejected_score": choice.rejected_score,
                "chosen_candidate_id": chosen["candidate_id"],
                "rejected_candidate_id": rejected["candidate_id"],
                "iteration": t,
                "model_path": chosen["model_path"],
                "model_sha256": chosen["model_sha256"],
                "template_sha256": template_sha256(JUDGE_TEMPLATE_NAME),
                "seed": int(chosen["seed"]),
            }
        )
    valid = scored[scored["score"].notna()]
    n_prompts = len(pairs) + len(no_pair)
    # Undefined means (no pairs, no prompts) are None: null in JSON, absent in MLflow.
    metrics = {
        "prompts": float(n_prompts),
        "pairs": float(len(pairs)),
        **{f"no_pair_{reason}": float(no_pair.count(reason)) for reason in NO_PAIR_REASONS},
        "tie_rate": no_pair.count("tie") / n_prompts if n_prompts else None,
        "chosen_score_mean": _mean(p["chosen_score"] for p in pairs),
        "rejected_score_mean": _mean(p["rejected_score"] for p in pairs),
        "margin_mean": _mean(p["chosen_score"] - p["rejected_score"] for p in pairs),
        "chosen_words_mean": _mean(_words(p["chosen"]) for p in pairs),
        "rejected_words_mean": _mean(_words(p["rejected"]) for p in pairs),
        "score_length_correlation": pearson(
            [float(_words(r)) for r in valid["response"]], [float(s) for s in valid["score"]]
        ),
    }
    logger.info("Iteration %d: %d pairs from %d prompts (%s)", t, len(pairs), n_prompts, metrics)
    return pd.DataFrame(pairs), metrics


def judge_preference_pairs(
    meta_judgments: pd.DataFrame, answer_pairs: int, max_share: float
) -> list[dict]:
    """The meta-judge's consistent pairs, most disagreeing first, as many as keep their
    share of the DPO data at most ``max_share``."""
    from self_rewarding.core.meta_judge import judge_pair_budget

    budget = judge_pair_budget(answer_pairs, max_share)
    if budget == 0 or meta_judgments.empty or "winner" not in meta_judgments:
        return []
    consistent = meta_judgments[meta_judgments["winner"].notna()]
    consistent = consistent.sort_values("spread", ascending=False, kind="stable")
    return consistent[["prompt", "chosen", "rejected"]].head(budget).to_dict(orient="records")


def train_next_model(  # noqa: PLR0913, PLR0917 (a Kedro node: one input per dataset)
    model_dir: Path,
    preference_pairs: pd.DataFrame,
    pairs_gate: dict,
    dpo: dict,
    meta_judgments: pd.DataFrame | None = None,
    iteration: IterationConfig | None = None,
):
    """DPO of M_t on AIFT(M_t), with M_t as the reference model: M_{t+1}; with the
    meta-judge on, its judge-preference pairs join the answer pairs.

    Args:
        model_dir: M_t.
        preference_pairs: AIFT(M_t).
        pairs_gate: The passed gate of the pairs (orders this step after it).
        dpo: ``trainer``: ``DPOConfig`` fields (paper: beta 0.1); ``precision``;
            ``launcher`` (processes, accelerate config).
        meta_judgments: The meta-judge's comparisons (``meta_judge_candidates``).
        iteration: ``meta_judge.max_share`` caps the judge pairs' share.

    Returns:
        The staged model directory and the training metrics (``answer_pairs``,
        ``judge_pairs`` among them).
    """
    from self_rewarding.datasets.model_directory_dataset import model_staging_directory
    from self_rewarding.generation import close_shared_generators
    from self_rewarding.train.dpo import train_dpo

    close_shared_generators()  # the engine's memory goes back before training
    # Beside the models, so that the catalog renames it into place (no copy).
    staging = model_staging_directory(Path(model_dir).parent, "dpo")
    rows = preference_pairs[["prompt", "chosen", "rejected"]].to_dict(orient="records")
    max_share = iteration.meta_judge.max_share if iteration is not None else 0.0
    judge_rows = judge_preference_pairs(
        meta_judgments if meta_judgments is not None else pd.DataFrame(), len(rows), max_share
    )
    rows += judge_rows
    try:
        metrics = train_dpo(
            model_dir,
            rows,
            staging,
            dpo["trainer"],
            metrics_prefix="dpo",
            precision=dpo.get("precision", "auto"),
            launcher=LauncherConfig(**dpo.get("launcher") or {}),
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    metrics = {
        **metrics,
        "answer_pairs": float(len(rows) - len(judge_rows)),
        "judge_pairs": float(len(judge_rows)),
    }
    return staging, metrics


def sample_pairs(preference_pairs: pd.DataFrame, n: int = 10) -> list[dict]:
    """The first pairs, for a look in the MLflow UI."""
    columns = ["prompt", "chosen", "rejected", "chosen_score", "rejected_score"]
    if preference_pairs.empty:
        return []
    return preference_pairs[columns].head(n).to_dict(orient="records")
