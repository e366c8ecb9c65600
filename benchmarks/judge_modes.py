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


def ranked_replies(eft_eval: Path, n_prompts: int | None) -> list[dict]:
    """The OASST1-validation replies the evaluation judges: every reply of the prompts
    whose human ranks vary (a seeded sample of ``n_prompts``; all by default)."""
    import pandas as pd

    from self_rewarding.core.types import EvaluationConfig
    from self_rewarding.pipelines.evaluation.nodes import alignment_items

    frame = pd.DataFrame(read_jsonl(eft_eval))
    config = EvaluationConfig(judge_alignment_prompts=n_prompts)
    return alignment_items(frame, config).to_dict(orient="records")


def measure_modes(
    model: str | Path,
    replies: list[dict],
    modes=("sampled", "expected", "score_first"),
    *,
    backend: str = "auto",
    precision: str = "auto",
    n_resamples: int = 2000,
) -> dict:
    """Judges the replies in each mode with one engine on the model.

    Returns:
        ``backend``, ``precision`` and, per mode, the scored ``rows``, the ``metrics``
        (``judge_alignment``), their 95 % ``intervals`` and ``seconds_per_reply`` (of the
        generation the mode reads; the engine's start excluded).
    """
    runs = []
    if {"sampled", "expected"} & set(modes):
        # One generation serves both: the written score and the digits' distribution.
        runs.append(([m for m in ("sampled", "expected") if m in modes], "expected"))
    if "score_first" in modes:
        runs.append((["score_first"], "score_first"))
    prompts = render_judge_prompts((r["prompt"], r["response"]) for r in replies)
    generator = make_generator(model, backend, precision=precision)
    found: dict = {}
    try:
        warm_up = JudgeConfig(mode="score_first", sampling=PAPER_SAMPLING)
        generator.generate(prompts[:1], judge_sampling(warm_up))
        for run_modes, generation_mode in runs:
            config = JudgeConfig(mode=generation_mode, sampling=PAPER_SAMPLING)
            started = time.perf_counter()
            answers = generator.generate(prompts, judge_sampling(config))
            seconds = (time.perf_counter() - started) / len(replies)
            for mode in run_modes:
                judged = read_judgments(answers, dataclasses.replace(config, mode=mode))
                rows = [
                    {**r, "score": j.score, "top_score": j.judgment.top_score}
                    for r, j in zip(replies, judged, strict=True)
                ]
                found[mode] = {
                    "rows": rows,
                    "metrics": judge_alignment(rows),
                    "intervals": judge_alignment_intervals(rows, n_resamples=n_resamples),
                    "seconds_per_reply": seconds,
                }
    finally:
        generator.close()
    return {"backend": generator.backend, "precision": generator.precision, "modes": found}


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
    measured = measure_modes(
        args.model,
        replies,
        backend=args.backend,
        precision=args.precision,
        n_resamples=args.resamples,
    )
    modes = measured["modes"]
    print(
        f"{args.model} ({measured['backend']}, {measured['precision']}): {len(replies)} "
        f"replies, {len({r['prompt_id'] for r in replies})} prompts"
    )
    print("mode         pairs  strict acc. [95% CI]       ties half  tie share  s/reply")
    for mode, found in modes.items():
        metrics, intervals = found["metrics"], found["intervals"]
        print(
            f"{mode:<12} {int(metrics['human_pairs']):>5}  "
            f"{format_interval(metrics['pairwise_accuracy'], intervals['pairwise_accuracy']):<25}"
            f"  {format_interval(metrics['pairwise_accuracy_ties_half'], None):<9}"
            f"  {format_interval(metrics['tie_share'], None):<9}"
            f"  {found['seconds_per_reply']:.3f}"
        )
    differences = {}
    for mode in ("expected", "score_first"):
        d = paired_difference(
            modes[mode]["rows"], modes["sampled"]["rows"], n_resamples=args.resamples
        )
        differences[mode] = d
        print(
            f"{mode} - sampled (paired, {d['n_prompts']} prompts): "
            f"{format_interval(d['difference'], d['interval'])}"
            f" -> {'significant' if d['significant'] else 'within noise'}"
        )
    if args.output:
        results = {
            "model": args.model,
            "backend": measured["backend"],
            "precision": measured["precision"],
            "replies": len(replies),
            "modes": {
                mode: {k: v for k, v in found.items() if k != "rows"}
                for mode, found in modes.items()
            },
            "difference_from_sampled": differences,
        }
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
