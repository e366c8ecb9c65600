"""Is the self-reward right, and does a minimum margin make it more often right?

A referee judges every preference pair of the last run's iterations
(``data/05_model_input/iter<t>/preference_pairs.jsonl``), chosen against rejected in
both orders, from its verdict probabilities (``measure_pair_precision``, the pipeline's
own step, with every pair). Printed per referee: the precision of the pairs (the
referee prefers the chosen answer; a tie counts as not) with a 95 % interval over
pairs, per iteration and pooled, then the precision and the pairs kept at each
``pairs.min_margin``; then each referee's paired difference in precision against the
first, on the same pairs::

    python benchmarks/pair_precision.py
    python benchmarks/pair_precision.py --referees data/06_models/M1 qwen2.5-coder-0.5b-instruct
    # keep each referee's verdicts, and print them again later without judging:
    python benchmarks/pair_precision.py --referees NAME --results out/
    python benchmarks/pair_precision.py --results out/ --summarise
"""

# ruff: noqa: T201 (a benchmark: it prints its results)

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

MARGINS = (0.0, 0.1, 0.2, 0.3, 0.5)


def judge_one(referee: str, out: Path) -> None:
    """In a fresh process: the referee's verdicts on every pair of every iteration."""
    import pandas as pd

    from self_rewarding.core.types import IterationConfig, PairPrecisionConfig
    from self_rewarding.pipelines.iteration.pair_precision import measure_pair_precision

    judge_prompts = pd.read_json(PROJECT / "data/01_raw/mt_bench/judge_prompts.jsonl", lines=True)
    config = IterationConfig(pair_precision=PairPrecisionConfig(referee=referee, pairs=None))
    frames, seconds = [], []
    for path in sorted(PROJECT.glob("data/05_model_input/iter*/preference_pairs.jsonl")):
        pairs = pd.read_json(path, lines=True)
        verdicts, metrics = measure_pair_precision(pairs, judge_prompts, config)
        frames.append(verdicts.assign(iteration=path.parent.name))
        seconds.append(metrics["seconds_per_verdict"])
    rows = pd.concat(frames).to_dict(orient="records")
    out.write_text(
        json.dumps(
            {
                "referee": referee,
                "rows": rows,
                "seconds_per_verdict": sum(seconds) / len(seconds),
                "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            }
        )
    )


def _precision_row(label: str, kept: list[dict]) -> str:
    from self_rewarding.core.intervals import format_interval, win_rate_interval
    from self_rewarding.core.metrics import win_rate

    outcomes = [row["outcome"] for row in kept]
    rates = win_rate(outcomes)
    interval = win_rate_interval(outcomes, key="strict_win_rate") if outcomes else None
    consistent = sum(row["consistent"] for row in kept) / len(kept) if kept else None
    return (
        f"| {label} | {len(kept)} | {format_interval(rates['strict_win_rate'], interval)} | "
        f"{format_interval(rates['tie_share'], None)} | {format_interval(consistent, None)} |"
    )


def summarise(found: dict) -> None:
    rows = found["rows"]
    print(
        f"\n{found['referee']}: {len(rows)} pairs ({found['seconds_per_verdict']:.2f} s per "
        f"verdict, peak {found['peak_rss_gib']:.2f} GiB)"
    )
    print("| iteration | pairs | precision [95% CI] | tie share | position consistency |")
    print("| --- | --- | --- | --- | --- |")
    for iteration in sorted({row["iteration"] for row in rows}):
        print(_precision_row(iteration, [row for row in rows if row["iteration"] == iteration]))
    print(_precision_row("pooled", rows))
    print("\n| min_margin | pairs kept | precision [95% CI] | tie share | position consistency |")
    print("| --- | --- | --- | --- | --- |")
    for margin in MARGINS:
        print(_precision_row(f"{margin:.1f}", [row for row in rows if row["margin"] >= margin]))


def compare(base: dict, other: dict) -> None:
    """The other referee's precision minus the first's, paired on the pairs both judged,
    with a 95 % interval over pairs."""
    from self_rewarding.core.intervals import bootstrap_interval, format_interval

    theirs = {(row["iteration"], row["prompt_id"]): row for row in base["rows"]}
    differences = [
        (row["outcome"] == "win") - (theirs[key]["outcome"] == "win")
        for row in other["rows"]
        if (key := (row["iteration"], row["prompt_id"])) in theirs
    ]

    def mean(values):
        return sum(values) / len(values) if values else None

    interval = bootstrap_interval(differences, mean, seed=0) if differences else None
    print(
        f"\n{other['referee']} - {base['referee']}: precision difference "
        f"{format_interval(mean(differences), interval, signed=True)} "
        f"on the same {len(differences)} pairs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referees", nargs="+", default=["data/06_models/M1"])
    parser.add_argument("--results", type=Path, help="keep each referee's verdicts here (<k>.json)")
    parser.add_argument(
        "--summarise", action="store_true", help="print the verdicts kept in --results, judge none"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        judge_one(arguments.one, arguments.out)
        return 0
    if arguments.summarise:
        if arguments.results is None:
            parser.error("--summarise reads the verdicts kept in --results DIR")
        found = [json.loads(path.read_text()) for path in sorted(arguments.results.glob("*.json"))]
        if not found:
            parser.error(f"{arguments.results}: no kept verdicts (<k>.json)")
        for entry in found:
            summarise(entry)
        for entry in found[1:]:
            compare(found[0], entry)
        return 0

    from self_rewarding.hardware import detect_hardware, resolve

    hardware = detect_hardware()
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"torch CPU capability {hardware.cpu_capability}, native bf16 "
        f"{hardware.cpu_native_bf16}, precision auto -> {resolve('auto')}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        results = arguments.results or Path(scratch)
        results.mkdir(parents=True, exist_ok=True)
        found = []
        for k, referee in enumerate(arguments.referees):
            out = results / f"{k}.json"
            command = [sys.executable, __file__, "--one", referee, "--out", str(out)]
            subprocess.run(command, check=True, cwd=PROJECT)
            found.append(json.loads(out.read_text()))
            summarise(found[-1])
        for entry in found[1:]:
            compare(found[0], entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
