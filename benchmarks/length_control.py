# ruff: noqa: T201 (a benchmark: it prints its results)
"""Length-controlled pair selection on an iteration that has run: the same candidates and
judgments (``data/07_model_output/<iteration>/``) paired at several ``rho``, and for each
the pairs, the chosen and rejected lengths (words), their scores, and the paired change of
the chosen and rejected lengths from the paper's rule (``rho = 0``) over the same
prompts, with 95 % bootstrap intervals over prompts. No generation: it re-runs the
``pairs`` step's node only.

Usage (after ``make run``)::

    python benchmarks/length_control.py --iteration iter1 --rho 0 0.1 0.2 0.3 0.4
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd

from self_rewarding.core.intervals import bootstrap_interval, format_interval
from self_rewarding.pipelines.iteration.pairs import build_preference_pairs
from self_rewarding.records import read_jsonl

ROOT = Path(__file__).parents[1]


def _words(text: str) -> int:
    return len(str(text).split())


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _mean_change(rows: list[tuple[int, int]]) -> float | None:
    return statistics.fmean(new - old for old, new in rows) if rows else None


def measure(candidates: pd.DataFrame, judgments: pd.DataFrame, rhos: list[float]) -> list[dict]:
    """One row per ``rho``: pair statistics and the paired length changes from rho = 0."""
    paper, _ = build_preference_pairs(candidates, judgments, {}, t=0)
    paper = paper.set_index("prompt_id")
    results = []
    for rho in rhos:
        pairs, metrics = build_preference_pairs(
            candidates, judgments, {}, t=0, length_control_rho=rho
        )
        pairs = pairs.set_index("prompt_id")
        same = paper.index.intersection(pairs.index)
        chosen = [(_words(paper.at[p, "chosen"]), _words(pairs.at[p, "chosen"])) for p in same]
        rejected = [
            (_words(paper.at[p, "rejected"]), _words(pairs.at[p, "rejected"])) for p in same
        ]
        changed = sum(
            (paper.at[p, "chosen_candidate_id"], paper.at[p, "rejected_candidate_id"])
            != (pairs.at[p, "chosen_candidate_id"], pairs.at[p, "rejected_candidate_id"])
            for p in same
        )
        results.append(
            {
                "rho": rho,
                "pairs": int(metrics["pairs"]),
                "pairs_changed": changed,
                "chosen_words_mean": metrics["chosen_words_mean"],
                "rejected_words_mean": metrics["rejected_words_mean"],
                "chosen_score_mean": metrics["chosen_score_mean"],
                "rejected_score_mean": metrics["rejected_score_mean"],
                "chosen_words_change": _mean_change(chosen),
                "chosen_words_change_ci": bootstrap_interval(chosen, _mean_change),
                "rejected_words_change": _mean_change(rejected),
                "rejected_words_change_ci": bootstrap_interval(rejected, _mean_change),
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iteration", default="iter1", help="namespace (iter1, iter2, ...)")
    parser.add_argument(
        "--model-output", type=Path, default=ROOT / "data/07_model_output", help="its folder"
    )
    parser.add_argument("--rho", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3, 0.4])
    parser.add_argument("--output", type=Path, default=None, help="JSON of the rows")
    args = parser.parse_args()

    folder = args.model_output / args.iteration
    candidates = pd.DataFrame(read_jsonl(folder / "candidates.jsonl"))
    judgments = pd.DataFrame(read_jsonl(folder / "judgments.jsonl"))
    results = measure(candidates, judgments, args.rho)

    prompts = candidates["prompt_id"].nunique()
    modes = sorted(judgments["scoring_mode"].unique()) if "scoring_mode" in judgments else []
    print(f"{args.iteration}: {prompts} prompts, {len(candidates)} candidates, judged {modes}")
    print(
        f"{'rho':>5} {'pairs':>5} {'changed':>7} {'chosen w':>8} {'rejected w':>10} "
        f"{'chosen s':>8} {'rej. s':>6}  {'chosen w - rho 0 [95% CI]':<28} "
        f"rejected w - rho 0 [95% CI]"
    )
    for row in results:
        print(
            f"{row['rho']:>5.2f} {row['pairs']:>5d} {row['pairs_changed']:>7d} "
            f"{_number(row['chosen_words_mean'], '>8.1f')} "
            f"{_number(row['rejected_words_mean'], '>10.1f')} "
            f"{_number(row['chosen_score_mean'], '>8.2f')} "
            f"{_number(row['rejected_score_mean'], '>6.2f')}  "
            f"{format_interval(row['chosen_words_change'], row['chosen_words_change_ci'], 1):<28} "
            f"{format_interval(row['rejected_words_change'], row['rejected_words_change_ci'], 1)}"
        )
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
