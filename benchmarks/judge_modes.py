# ruff: noqa: T201 (a benchmark: it prints its results)
"""The scoring modes side by side: one model judges the same human-ranked OASST1-validation
replies in each mode (``sampled``, ``expected``, ``score_first``); for each, the strict
pairwise accuracy (ties wrong) with its 95 % bootstrap interval over prompts, the
ties-half accuracy, the tie share and the seconds per judged reply, and each mode's paired
difference from ``sampled`` on the same items.

``sampled`` and ``expected`` read the same samples (3 at T=0.7, with the digits'
log-probabilities), so they differ only in how a sample becomes a score; their cost is
that one generation. ``score_first`` is one greedy token after a prefilled ``Score: ``.

With several models (in loop order), each is also compared with the one before it, in
each mode, as a paired difference on the same replies.

Usage (after ``make run``, which makes the models and the EFT-eval set)::

    python benchmarks/judge_modes.py --model data/06_models/M1 --output judge_modes.json
    python benchmarks/judge_modes.py --modes score_first \
        --model data/06_models/{sft_baseline,M1,M2,M3}
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
from self_rewarding.core.types import GenerationConfig, JudgeConfig, SamplingConfig
from self_rewarding.generation import open_engine
from self_rewarding.judge_service import judge_sampling, read_judgments, render_judge_prompts
from self_rewarding.records import read_jsonl

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
    generator = open_engine(model, GenerationConfig(backend=backend, precision=precision))
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


def _print_modes(model: str, measured: dict, replies: list[dict]) -> None:
    print(
        f"{model} ({measured['backend']}, {measured['precision']}): {len(replies)} "
        f"replies, {len({r['prompt_id'] for r in replies})} prompts"
    )
    print("mode         pairs  strict acc. [95% CI]       ties half  tie share  s/reply")
    for mode, found in measured["modes"].items():
        metrics, intervals = found["metrics"], found["intervals"]
        print(
            f"{mode:<12} {int(metrics['human_pairs']):>5}  "
            f"{format_interval(metrics['pairwise_accuracy'], intervals['pairwise_accuracy']):<25}"
            f"  {format_interval(metrics['pairwise_accuracy_ties_half'], None):<9}"
            f"  {format_interval(metrics['tie_share'], None):<9}"
            f"  {found['seconds_per_reply']:.3f}"
        )


def _print_difference(label: str, difference: dict) -> None:
    print(
        f"{label} (paired, {difference['n_prompts']} prompts): "
        f"{format_interval(difference['difference'], difference['interval'])}"
        f" -> {'significant' if difference['significant'] else 'within noise'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", nargs="+", default=["data/06_models/M1"], help="one or more, in loop order"
    )
    parser.add_argument("--modes", nargs="+", default=["sampled", "expected", "score_first"])
    parser.add_argument("--eft-eval", default="data/05_model_input/eft_eval.jsonl")
    parser.add_argument("--prompts", type=int, default=None, help="prompts (default: all)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--output", default=None, help="a JSON file for the results")
    args = parser.parse_args()

    replies = ranked_replies(ROOT / args.eft_eval, args.prompts)
    results = {"replies": len(replies), "models": {}, "differences": {}}
    rows = {}
    for model in args.model:
        measured = measure_modes(
            model,
            replies,
            args.modes,
            backend=args.backend,
            precision=args.precision,
            n_resamples=args.resamples,
        )
        _print_modes(model, measured, replies)
        rows[model] = {mode: found["rows"] for mode, found in measured["modes"].items()}
        results["models"][model] = {
            "backend": measured["backend"],
            "precision": measured["precision"],
            "modes": {
                mode: {k: v for k, v in found.items() if k != "rows"}
                for mode, found in measured["modes"].items()
            },
        }
        # Each mode against the paper's, on the same replies.
        for mode in (m for m in args.modes if m != "sampled" and "sampled" in args.modes):
            found = paired_difference(
                rows[model][mode], rows[model]["sampled"], n_resamples=args.resamples
            )
            results["differences"][f"{model}: {mode} - sampled"] = found
            _print_difference(f"{model}: {mode} - sampled", found)
    # Each model against the one before it, in each mode.
    for before, after in zip(args.model, args.model[1:]):
        for mode in args.modes:
            found = paired_difference(
                rows[after][mode], rows[before][mode], n_resamples=args.resamples
            )
            label = f"{mode}: {after} - {before}"
            results["differences"][label] = found
            _print_difference(label, found)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
