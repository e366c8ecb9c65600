"""vLLM against transformers on the same prompts: generated tokens per second.

Renders the verbatim judge prompt for the first ``--n`` candidates of an iteration (what
the judge step generates) and samples ``--samples`` answers each with both backends,
on the same model. Engine start and model loading are not counted.

Usage::

    python benchmarks/backend_speed.py --model data/06_models/M1 \
        --candidates data/07_model_output/iter1/candidates.jsonl --n 16
"""

from __future__ import annotations

import argparse
import json
import time

from self_rewarding.core.prompts import render_judge_prompt
from self_rewarding.core.types import SamplingConfig
from self_rewarding.records import read_jsonl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--candidates", required=True)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    from self_rewarding.core.types import GenerationConfig
    from self_rewarding.generation import open_engine

    rows = read_jsonl(args.candidates)[: args.n]
    prompts = [render_judge_prompt(r["prompt"], r["response"]) for r in rows]
    sampling = SamplingConfig(
        temperature=0.7, top_p=0.9, max_new_tokens=args.max_new_tokens, n=args.samples
    )
    speeds = {}
    for backend in ("vllm", "transformers"):
        generator = open_engine(
            args.model, GenerationConfig(backend=backend, batch_size=args.batch_size)
        )
        try:
            generator.generate(prompts[:1], sampling)  # starts the engine / warms up
            tokens, seconds = generator.tokens_generated, generator.seconds
            started = time.perf_counter()
            generator.generate(prompts, sampling)
            wall = time.perf_counter() - started
            tokens = generator.tokens_generated - tokens
            seconds = generator.seconds - seconds
        finally:
            generator.close()
        speeds[backend] = tokens / seconds
        result = {
            "backend": backend,
            "prompts": len(prompts),
            "samples": args.samples,
            "tokens": tokens,
            "seconds": round(seconds, 1),
            "wall_seconds": round(wall, 1),
            "tokens_per_second": round(tokens / seconds, 1),
        }
        print(json.dumps(result), flush=True)  # noqa: T201
    ratio = speeds["vllm"] / speeds["transformers"]
    print(json.dumps({"vllm_over_transformers": round(ratio, 2)}))  # noqa: T201


if __name__ == "__main__":
    main()
