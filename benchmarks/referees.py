"""Which referee to trust: agreement with MT-Bench's human judges, per referee.

Each referee judges the same MT-Bench human pairs (turn 1, ties removed) with FastChat's
``pair-v2`` prompt in both answer orders; the verdict is read from the probabilities of
``A``/``B``/``C`` after a prefilled ``[[`` (one forward pass, no explanation generated),
averaged over the two orders (``core.verdicts``). Printed per referee: strict agreement
with the human-preferred answer (a tie counts as disagreement) with a 95 % bootstrap
interval clustered by question, the share of ties, position consistency (both orders'
own verdicts agree), seconds per verdict and peak resident memory; then each referee's
paired difference in agreement against the first, on the same pairs.

Referees: a model directory (``data/06_models/M1``, the default evaluator) or a name of
``models.referees`` (assemble it first: ``python -m self_rewarding.models.referees fetch
NAME``). Each runs in a fresh process, one after another::

    python benchmarks/referees.py --pairs 60
    python benchmarks/referees.py --referees data/06_models/M1 qwen2.5-coder-0.5b-instruct
    # a slow referee on the first 30 of the same 60 pairs, kept beside the others:
    python benchmarks/referees.py --pairs 60 --first 30 --results out/ --referees NAME
    python benchmarks/referees.py --results out/ --summarise
"""

# ruff: noqa: T201 (a benchmark: it prints its results)

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

HUMAN_PAIRS = PROJECT / "data/01_raw/mt_bench/human_judgments_turn1_llmbar200.jsonl"
JUDGE_PROMPTS = PROJECT / "data/01_raw/mt_bench/judge_prompts.jsonl"
DEFAULT_REFEREES = (
    "data/06_models/M1",
    "qwen2.5-coder-0.5b-instruct",
    "qwen2.5-coder-1.5b-instruct",
)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def human_pairs(n_pairs: int | None, seed: int) -> list[dict]:
    """The MT-Bench human pairs (a seeded sample of ``n_pairs``), each as
    ``question_id, question, better, worse``."""
    rows = _rows(HUMAN_PAIRS)
    if n_pairs is not None and n_pairs < len(rows):
        rows = random.Random(seed).sample(rows, n_pairs)
    pairs = []
    for k, row in enumerate(rows):
        first_better = int(row["label"]) == 1
        pairs.append(
            {
                "pair": k,
                "question_id": row["question_id"],
                "question": row["input"],
                "better": row["output_1"] if first_better else row["output_2"],
                "worse": row["output_2"] if first_better else row["output_1"],
            }
        )
    return pairs


def judge_one(
    referee: str, n_pairs: int | None, seed: int, out: Path, first: int | None = None
) -> None:
    """In a fresh process: one referee's verdicts on the pairs (the first ``first`` of
    them, when given), written to ``out``."""
    from self_rewarding.generation.verdicts import VerdictReader

    template = next(row for row in _rows(JUDGE_PROMPTS) if row["name"] == "pair-v2")
    pairs = human_pairs(n_pairs, seed)[:first]
    started = time.perf_counter()
    reader = VerdictReader(referee)
    load_seconds = time.perf_counter() - started
    results = []
    for pair in pairs:
        verdict = reader.judge_pair(template, pair["question"], pair["better"], pair["worse"])
        results.append(
            {
                "pair": pair["pair"],
                "question_id": pair["question_id"],
                "outcome": verdict.outcome,
                "consistent": verdict.consistent,
                "p_agree": verdict.win,
            }
        )
    out.write_text(
        json.dumps(
            {
                "referee": referee,
                "results": results,
                "seconds_per_verdict": reader.seconds / max(reader.verdicts, 1),
                "load_seconds": load_seconds,
                "truncated": reader.truncated,
                "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            }
        )
    )


def _clustered(results: list[dict], statistic, seed: int):
    from self_rewarding.core.intervals import bootstrap_interval

    by_question = defaultdict(list)
    for row in results:
        by_question[row["question_id"]].append(row)
    return bootstrap_interval(
        list(by_question.values()),
        lambda groups: statistic([row for group in groups for row in group]),
        seed=seed,
    )


def _share(key, value):
    return lambda rows: sum(row[key] == value for row in rows) / len(rows) if rows else None


def summarise(found: list[dict], seed: int) -> None:
    from self_rewarding.core.intervals import format_interval

    agree, tied = _share("outcome", "win"), _share("outcome", "tie")
    consistent = _share("consistent", True)
    questions = len({row["question_id"] for row in found[0]["results"]})
    print(
        f"\n{len(found[0]['results'])} MT-Bench human pairs from {questions} questions, both "
        "orders; 95 % intervals clustered by question\n"
    )
    print(
        "| referee | pairs | agreement (strict) [95% CI] | tie share | position consistency "
        "[95% CI] | s / verdict | load s | peak GiB | truncated |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for entry in found:
        rows = entry["results"]
        print(
            f"| {entry['referee']} | {len(rows)} | "
            f"{format_interval(agree(rows), _clustered(rows, agree, seed))} | "
            f"{tied(rows):.3f} | "
            f"{format_interval(consistent(rows), _clustered(rows, consistent, seed))} | "
            f"{entry['seconds_per_verdict']:.2f} | {entry['load_seconds']:.0f} | "
            f"{entry['peak_rss_gib']:.2f} | {entry['truncated']} |"
        )
    base = found[0]
    for entry in found[1:]:
        # On the pairs both judged (a slow referee may have judged the first k only).
        theirs = {row["pair"]: row for row in base["results"]}
        paired = [
            {
                "question_id": a["question_id"],
                "d": (a["outcome"] == "win") - (theirs[a["pair"]]["outcome"] == "win"),
            }
            for a in entry["results"]
            if a["pair"] in theirs
        ]

        def mean_difference(rows):
            return sum(row["d"] for row in rows) / len(rows) if rows else None

        interval = _clustered(paired, mean_difference, seed)
        print(
            f"\n{entry['referee']} - {base['referee']}: agreement difference "
            f"{format_interval(mean_difference(paired), interval, signed=True)} "
            f"on the same {len(paired)} pairs"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referees", nargs="+", default=list(DEFAULT_REFEREES))
    parser.add_argument("--pairs", type=int, default=None, help="a seeded sample (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--first", type=int, help="judge only the first K pairs of the sample (slow referees)"
    )
    parser.add_argument("--results", type=Path, help="keep each referee's verdicts here (<k>.json)")
    parser.add_argument(
        "--summarise", action="store_true", help="print the table from --results only"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        judge_one(arguments.one, arguments.pairs, arguments.seed, arguments.out, arguments.first)
        return 0
    if arguments.summarise:
        files = sorted(arguments.results.glob("*.json"), key=lambda p: int(p.stem))
        summarise([json.loads(p.read_text()) for p in files], arguments.seed)
        return 0

    import torch

    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}, fp32, "
        f"{torch.get_num_threads()} threads"
    )
    found = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = arguments.results or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for k, referee in enumerate(arguments.referees):
            out = folder / f"{k}.json"
            command = [sys.executable, __file__, "--one", referee, "--out", str(out)]
            command += ["--seed", str(arguments.seed)]
            for option in ("pairs", "first"):
                if getattr(arguments, option) is not None:
                    command += [f"--{option}", str(getattr(arguments, option))]
            started = time.perf_counter()
            subprocess.run(command, check=True, cwd=PROJECT)
            print(f"{referee}: {time.perf_counter() - started:.0f} s", flush=True)
            found.append(json.loads(out.read_text()))
    summarise(found, arguments.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
