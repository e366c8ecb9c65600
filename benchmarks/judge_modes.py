# ruff: noqa: T201 (a benchmark: it prints its results)
"""The scoring modes side by side: one model judges the same human-ranked OASST1-validation
replies in each mode (``sampled``, ``expected``, ``score_first``); for each, the strict
pairwise accuracy (ties wrong) with its 95 % bootstrap interval over prompts, the
ties-half accuracy, the tie share and the seconds per judged reply, and each mode's paired
difference from ``sampled`` on the same items.

``sampled`` and ``expected`` read the same samples (3 at T=0.7, with the digits'
log-probabilities), so they differ only in how a sample becomes a score; their cost is
that one generation. ``score_first`` is one greedy token after a prefilled ``Score: ``.

Usage (after ``make run``, which makes ``data/06_models/M1`` and the EFT-eval set)::

    python benchmarks/judge_modes.py --model data/06_models/M1 --output judge_modes.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from self_rewarding.core.intervals import (
    format_interval,
    judge_alignment_intervals,
    paired_difference,
)
from self_rewarding.core.metrics import judge_alignment
from self_rewarding.core.records import read_jsonl
from self_rewarding.core.types import JudgeConfig, SamplingConfig
from self_rewarding.generation import make_generator
from self_rewarding.judge_service import judge_sampling, read_judgments, render_judge_prompts

ROOT = Path(__file__).parents[1]
PAPER_SAMPLING = SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=128, n=3, seed=0)


def ranked_replies(path: Path, n_prompts: int | None) -> list[dict]:
    """Every reply of the prompts whose human ranks vary (the first ``n_prompts`` by id)."""
    rows = read_jsonl(path)
    by_prompt: dict[str, list[dict]] = {}
    for row in rows:
        by_prompt.setdefault(row["prompt_id"], []).append(row)
    ranked = sorted(p for p, g in by_prompt.items() if len({r["human_rank"] for r in g}) > 1)
    if n_prompts is not None:
        ranked = ranked[:n_prompts]
    return [row for p in ranked for row in by_prompt[p]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/06_models/M1")
    parser.add_argument("--eft-eval", default="data/05_model_input/eft_eval.jsonl")
    parser.add_argument("--prompts", type=int, default=None, help="prompts (default: all)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--output", default=None, help="a JSON file for the results")
    args = parser.parse_args()

    replies = ranked_replies(ROOT / args.eft_eval, args.prompts)
    prompts = render_judge_prompts((r["prompt"], r["response"]) for r in replies)
    generator = make_generator(args.model, args.backend, precision=args.precision)
    runs = {
        # One generation serves both: the written score and the digits' distribution.
        ("sampled", "expected"): JudgeConfig(mode="expected", sampling=PAPER_SAMPLING),
        ("score_first",): JudgeConfig(mode="score_first", sampling=PAPER_SAMPLING),
    }
    scored, seconds = {}, {}
    try:
        generator.generate(prompts[:1], judge_sampling(runs["score_first",]))  # engine start
        for modes, config in runs.items():
            started = time.perf_counter()
            answers = generator.generate(prompts, judge_sampling(config))
            elapsed = time.perf_counter() - started
            for mode in modes:
                judged = read_judgments(answers, dataclasses.replace(config, mode=mode))
                scored[mode] = [
                    {**r, "score": j.score, "top_score": j.judgment.top_score}
                    for r, j in zip(replies, judged, strict=True)
                ]
                seconds[mode] = elapsed / len(replies)
    finally:
        generator.close()

    settings = {"n_resamples": args.resamples, "seed": 0}
    results = {
        "model": args.model,
        "backend": generator.backend,
        "precision": generator.precision,
        "replies": len(replies),
        "modes": {},
    }
    print(
        f"{args.model} ({generator.backend}, {generator.precision}): {len(replies)} replies, "
        f"{len({r['prompt_id'] for r in replies})} prompts"
    )
    header = "mode         pairs  strict acc. [95% CI]       ties-half  tie share  s/reply"
    print(header)
    for mode, rows in scored.items():
        metrics = judge_alignment(rows)
        intervals = judge_alignment_intervals(rows, **settings)
        vs_sampled = (
            paired_difference(rows, scored["sampled"], **settings) if mode != "sampled" else None
        )
        results["modes"][mode] = {
            "metrics": metrics,
            "intervals": intervals,
            "seconds_per_reply": seconds[mode],
            "difference_from_sampled": vs_sampled,
        }
        print(
            f"{mode:<12} {int(metrics['human_pairs']):>5}  "
            f"{format_interval(metrics['pairwise_accuracy'], intervals['pairwise_accuracy']):<25}"
            f"  {format_interval(metrics['pairwise_accuracy_ties_half'], None):<9}"
            f"  {format_interval(metrics['tie_share'], None):<9}  {seconds[mode]:.2f}"
        )
    for mode in ("expected", "score_first"):
        d = results["modes"][mode]["difference_from_sampled"]
        print(
            f"{mode} - sampled (paired, {d['n_prompts']} prompts): "
            f"{format_interval(d['difference'], d['interval'])}"
            f" -> {'significant' if d['significant'] else 'within noise'}"
        )
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2, default=list) + "\n")


if __name__ == "__main__":
    main()
