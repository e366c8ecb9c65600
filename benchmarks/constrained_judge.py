"""What does constrained decoding do to a judge? Parse rate and agreement with human
rankings, with and without the regex that ends every answer in ``Score: <0-5>``.

Each model judges the human-ranked OASST1-validation replies of ``--prompts`` prompts
(EFT eval set) with the verbatim prompt, ``--samples`` samples averaged as in training,
once free and once constrained (vLLM structured output), on the same engine. Agreement is
the pairwise accuracy over human-ordered reply pairs (ties half, missing scores wrong).

Usage::

    python benchmarks/constrained_judge.py --models data/06_models/M0 data/06_models/M1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from collections import defaultdict

from self_rewarding.core.judge import aggregate_scores, constrained_answer_regex, parse_score
from self_rewarding.core.metrics import pairwise_agreement, total_agreement
from self_rewarding.core.prompts import render_judge_prompt
from self_rewarding.core.types import SamplingConfig
from self_rewarding.records import read_jsonl


def _items(path: str, n_prompts: int, seed: int) -> list[dict]:
    by_prompt = defaultdict(list)
    for row in read_jsonl(path):
        by_prompt[row["prompt_id"]].append(row)
    ranked = [rows for rows in by_prompt.values() if len({r["human_rank"] for r in rows}) > 1]
    chosen = random.Random(seed).sample(ranked, min(n_prompts, len(ranked)))
    return [row for rows in chosen for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--eft-eval", default="data/05_model_input/eft_eval.jsonl")
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    from self_rewarding.core.types import GenerationConfig
    from self_rewarding.generation import open_engine

    items = _items(args.eft_eval, args.prompts, args.seed)
    prompts = [render_judge_prompt(r["prompt"], r["response"]) for r in items]
    free = SamplingConfig(
        temperature=0.7, top_p=0.9, max_new_tokens=args.max_new_tokens, n=args.samples
    )
    constrained = dataclasses.replace(free, regex=constrained_answer_regex(args.max_new_tokens))
    results = []
    for model in args.models:
        generator = open_engine(model, GenerationConfig(backend="vllm"))
        try:
            for mode, sampling in (("free", free), ("constrained", constrained)):
                started = time.perf_counter()
                answers = generator.generate(prompts, sampling)
                seconds = time.perf_counter() - started
                scores = [[parse_score(text) for text in row] for row in answers]
                means = [aggregate_scores(row) for row in scores]
                per_prompt = defaultdict(lambda: ([], []))
                for item, mean in zip(items, means, strict=True):
                    per_prompt[item["prompt_id"]][0].append(item["human_rank"])
                    per_prompt[item["prompt_id"]][1].append(mean)
                agreement = total_agreement([pairwise_agreement(*v) for v in per_prompt.values()])
                flat = [s for row in scores for s in row]
                result = {
                    "model": model,
                    "mode": mode,
                    "replies": len(items),
                    "answers": len(flat),
                    "parse_rate": sum(s is not None for s in flat) / len(flat),
                    "human_pairs": agreement.pairs,
                    "pairwise_accuracy": agreement.accuracy,
                    "strict_accuracy": agreement.strict_accuracy,
                    "tie_share": agreement.ties / agreement.pairs,
                    "missing_share": agreement.missing / agreement.pairs,
                    "seconds": round(seconds, 1),
                }
                results.append(result)
                print(json.dumps(result), flush=True)  # noqa: T201
        finally:
            generator.close()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
