"""Recomputes the Table-4 metrics of a model from its per-reply scores, independently of
``self_rewarding.core.metrics`` (pandas and scipy), and compares them with what the
evaluation pipeline wrote.

Usage::

    python scripts/recompute_table4.py data/08_reporting/M1

Reads ``judge_alignment_scores.jsonl`` (its OASST1 rows: ``prompt_id, response_id,
human_rank, score, top_score``) and ``judge_evaluation.json`` in that folder; prints both
and exits 1 on a mismatch. Conventions: pairwise accuracy counts judge ties wrong (ties
half as the secondary figure) and a missing score wrong; 5-best is over the replies the
judge gave its top score; exact match needs every human-ordered pair strictly agreed;
Spearman and Kendall tau-b are per prompt over scored replies, averaged over every prompt
whose human ranks vary, a constant judge counting 0. An undefined metric is null.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

import pandas as pd
from scipy import stats


def _mean(values: list) -> float | None:
    return sum(values) / len(values) if values else None


def recompute(scores: pd.DataFrame) -> dict[str, float | None]:
    agreed_total, ties, pairs, exact, rhos, taus = 0, 0, 0, [], [], []
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
                agreed += 1
            elif better == worse:
                ties += 1
        agreed_total += agreed
        if prompt_pairs:
            exact.append(agreed == len(prompt_pairs))
        scored = group[group["score"].notna()]
        if len(scored) >= 2 and scored["human_rank"].nunique() > 1:
            if scored["score"].nunique() == 1:  # a constant judge
                rhos.append(0.0)
                taus.append(0.0)
            else:
                rhos.append(stats.spearmanr(-scored["human_rank"], scored["score"]).statistic)
                taus.append(stats.kendalltau(-scored["human_rank"], scored["score"]).statistic)
    top = scores["top_score"].fillna(False).astype(bool)
    fives = scores[top]
    return {
        "judge_alignment.pairwise_accuracy": agreed_total / pairs if pairs else None,
        "judge_alignment.pairwise_accuracy_ties_half": (agreed_total + ties / 2) / pairs
        if pairs
        else None,
        "judge_alignment.tie_share": ties / pairs if pairs else None,
        "judge_alignment.five_best": float((fives["human_rank"] == 0).mean())
        if len(fives)
        else None,
        "judge_alignment.exact_match": _mean(exact),
        "judge_alignment.spearman": _mean(rhos),
        "judge_alignment.kendall_tau": _mean(taus),
    }


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, abs_tol=1e-9)


def _show(value: float | None) -> str:
    return "null" if value is None else f"{value:.6f}"


def main(folder: str) -> int:
    path = Path(folder)
    scores = pd.read_json(path / "judge_alignment_scores.jsonl", lines=True)
    scores = scores[scores["source"] == "oasst1_validation"]
    written = json.loads((path / "judge_evaluation.json").read_text(encoding="utf-8"))
    mismatches = 0
    for key, value in recompute(scores).items():
        same = _same(value, written.get(key))
        mismatches += not same
        verdict = "ok" if same else "MISMATCH"
        print(  # noqa: T201
            f"{key:45s} recomputed {_show(value)}  pipeline {_show(written.get(key))}  {verdict}"
        )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
