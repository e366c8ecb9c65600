"""ROUGE-L of new prompts against a pool: our rapidfuzz LCS against rouge-score.

Prints the time of each on the same real OASST prompts and their ratio; the scores are
checked equal in tests/core/test_filters.py.

Usage::

    python benchmarks/rouge_l_speed.py --candidates 100 --pool 500
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from rouge_score import rouge_scorer

from self_rewarding.core.filters import rouge_l, rouge_tokens

RAW_IFT = (
    Path(__file__).parents[1]
    / "data/01_raw/oasst2_partial/oasst_en_ift_candidates_no_alpacaeval.jsonl"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--pool", type=int, default=500)
    args = parser.parse_args()

    with RAW_IFT.open(encoding="utf-8") as handle:
        prompts = [json.loads(line)["prompt"] for line in handle]
    sample = random.Random(0).sample(prompts, args.candidates + args.pool)
    candidates, pool = sample[: args.candidates], sample[args.candidates :]

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    started = time.perf_counter()
    reference = [max(scorer.score(p, c)["rougeL"].fmeasure for p in pool) for c in candidates]
    reference_seconds = time.perf_counter() - started

    started = time.perf_counter()
    pool_tokens = [rouge_tokens(p) for p in pool]
    ours = [max(rouge_l(rouge_tokens(c), p) for p in pool_tokens) for c in candidates]
    ours_seconds = time.perf_counter() - started

    assert all(abs(a - b) < 1e-12 for a, b in zip(ours, reference, strict=True))
    print(  # noqa: T201
        f"{args.candidates} x {args.pool} comparisons: rouge-score {reference_seconds:.2f} s, "
        f"rapidfuzz {ours_seconds:.2f} s, {reference_seconds / ours_seconds:.1f}x faster"
    )


if __name__ == "__main__":
    main()
