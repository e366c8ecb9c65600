"""Recomputes the Table-4 metrics of a model from its per-reply scores, independently of
``self_rewarding.core.metrics`` (pandas and scipy), and compares them with what the
evaluation pipeline wrote.

Usage::

    python scripts/recompute_table4.py data/08_reporting/M1

Reads ``judge_alignment_scores.jsonl`` (``prompt_id, response_id, human_rank, score``)
and ``judge_evaluation.json`` in that folder; prints both and exits 1 on a mismatch.
Conventions: judge ties count half in pairwise accuracy, a missing score counts wrong;
5-best is over replies with a mean score of 4.5 or more; exact match needs every
human-ordered pair strictly agreed; Spearman and Kendall tau-b are per prompt over scored
replies and averaged over prompts where both sides vary.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

import pandas as pd
from scipy import stats


def recompute(scores: pd.DataFrame) -> dict[str, float]:
    credit, pairs, exact, rhos, taus = 0.0, 0, [], [], []
    for _, group in scores.groupby("prompt_id"):
        items = list(zip(group["human_rank"], group["score"], strict=True))
        prompt_pairs = [(a, b) for a, b in itertools.combinations(items, 2) if a[0] != b[0]]
        agreed = 0
        for (rank_a, score_a), (rank_b, score_b) in prompt_pairs:
            pairs += 1
            if pd.isna(score_a) or pd.isna(score_b):
                continue
            better, worse = (score_a, score_b) if rank_a < rank_b else (score_b, score_a)
            if better > worse:
                credit += 1
                agreed += 1
            elif better == worse:
                credit += 0.5
        if prompt_pairs:
            exact.append(agreed == len(prompt_pairs))
        scored = group[group["score"].notna()]
        if (
            len(scored) >= 2
            and scored["human_rank"].nunique() > 1
            and scored["score"].nunique() > 1
        ):
            rhos.append(stats.spearmanr(-scored["human_rank"], scored["score"]).statistic)
            taus.append(stats.kendalltau(-scored["human_rank"], scored["score"]).statistic)
    fives = scores[scores["score"] >= 4.5]
    return {
        "judge_alignment.pairwise_accuracy": credit / pairs if pairs else 0.0,
        "judge_alignment.five_best": float((fives["human_rank"] == 0).mean())
        if len(fives)
        else 0.0,
        "judge_alignment.exact_match": sum(exact) / len(exact) if exact else 0.0,
        "judge_alignment.spearman": sum(rhos) / len(rhos) if rhos else 0.0,
        "judge_alignment.kendall_tau": sum(taus) / len(taus) if taus else 0.0,
    }


def main(folder: str) -> int:
    path = Path(folder)
    scores = pd.read_json(path / "judge_alignment_scores.jsonl", lines=True)
    written = json.loads((path / "judge_evaluation.json").read_text(encoding="utf-8"))
    mismatches = 0
    for key, value in recompute(scores).items():
        same = math.isclose(value, written[key], abs_tol=1e-9)
        mismatches += not same
        verdict = "ok" if same else "MISMATCH"
        print(f"{key:40s} recomputed {value:.6f}  pipeline {written[key]:.6f}  {verdict}")  # noqa: T201
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
