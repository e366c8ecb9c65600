# ruff: noqa: T201 (a benchmark: it prints its results)
"""What the meta-judge's pairs do to the judge: one iteration's DPO trained twice from
the same M_t, on its answer pairs alone and on the answer pairs plus the meta-judge's
judge-preference pairs (capped at ``--max-share``), then both models judge the same
OASST1-validation replies (``score_first``, strict accuracy with 95 % bootstrap
intervals over prompts) and their paired difference is reported.

Usage (after ``dvc repro pairs@iter1`` with ``iteration.meta_judge.max_share`` > 0, which
writes the iteration's pairs and the meta-judge's comparisons)::

    python benchmarks/meta_judge.py --iteration iter1 --max-share 0.25 --output meta_judge.json
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from self_rewarding.core.intervals import format_interval, paired_difference
from self_rewarding.records import read_jsonl

ROOT = Path(__file__).parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iteration", default="iter1", help="namespace (iter1, iter2, ...)")
    parser.add_argument("--max-share", type=float, default=0.25)
    parser.add_argument("--judge-prompts", type=int, default=None, help="OASST1-val prompts")
    parser.add_argument("--output", type=Path, default=Path("meta_judge.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)

    from judge_modes import measure_modes, ranked_replies

    from self_rewarding.pipelines.iteration.pairs import judge_preference_pairs
    from self_rewarding.train.dpo import train_dpo

    t = int(args.iteration.removeprefix("iter"))
    model_in = ROOT / f"data/06_models/M{t}"
    answer_pairs = pd.DataFrame(
        read_jsonl(ROOT / f"data/05_model_input/{args.iteration}/preference_pairs.jsonl")
    )
    compared = pd.DataFrame(
        read_jsonl(ROOT / f"data/07_model_output/{args.iteration}/meta_judgments.jsonl")
    )
    answer_rows = answer_pairs[["prompt", "chosen", "rejected"]].to_dict(orient="records")
    judge_rows = judge_preference_pairs(compared, len(answer_rows), args.max_share)
    trainer = yaml.safe_load((ROOT / "conf/base/parameters_dpo.yml").read_text())["dpo"]
    work = Path(tempfile.mkdtemp(prefix="meta-judge-"))
    replies = ranked_replies(ROOT / "data/05_model_input/eft_eval.jsonl", args.judge_prompts)

    arms = {}
    training_sets = {"answer_pairs": answer_rows, "with_judge_pairs": answer_rows + judge_rows}
    for arm, rows in training_sets.items():
        started = time.perf_counter()
        train_dpo(model_in, rows, work / arm, trainer["trainer"])
        train_seconds = time.perf_counter() - started
        measured = measure_modes(work / arm, replies, ["score_first"])["modes"]["score_first"]
        arms[arm] = {
            "dpo_pairs": len(rows),
            "train_seconds": round(train_seconds, 1),
            "accuracy": measured["metrics"]["pairwise_accuracy"],
            "accuracy_ci": measured["intervals"]["pairwise_accuracy"],
            "tie_share": measured["metrics"]["tie_share"],
            "rows": measured["rows"],
        }
    difference = paired_difference(
        arms["with_judge_pairs"]["rows"], arms["answer_pairs"]["rows"], n_resamples=2000
    )
    counts = {
        "compared": len(compared),
        "consistent": int(compared["winner"].notna().sum()) if "winner" in compared else 0,
        "judge_pairs_used": len(judge_rows),
        "answer_pairs": len(answer_rows),
        "human_pairs": measured["metrics"]["human_pairs"],
    }
    print(f"{args.iteration}: meta-judge {counts}")
    for arm, found in arms.items():
        print(
            f"  {arm:>16}: {found['dpo_pairs']} DPO pairs, {found['train_seconds']} s; strict "
            f"acc. {format_interval(found['accuracy'], found['accuracy_ci'])}, "
            f"ties {found['tie_share']:.3f}"
        )
    low, high = difference["interval"]
    print(
        f"  with - without judge pairs (paired): {difference['difference']:+.3f} "
        f"[{low:+.3f}, {high:+.3f}]"
    )
    for found in arms.values():
        found.pop("rows")
    args.output.write_text(
        json.dumps({"counts": counts, "arms": arms, "difference": difference}, indent=2) + "\n"
    )
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
