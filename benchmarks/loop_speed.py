"""The loop's generation steps on both backends, on the same prompts: seconds, tokens/s and
the vLLM/transformers ratio of each, the engine's start, and vLLM's prefix caching on
the judge's shared rubric (on against off).

The steps are those of one iteration with the default sampling (conf/base): the
self-instruct few-shot prompts (plain text, T=0.6), N=4 candidates per prompt, and the
judge in ``score_first`` (one token after ``Score: ``) and ``sampled`` (3 samples, the
paper's) modes. Prompts come from a finished run: the seed prompts of ``ift_train``, the
accepted prompts and candidates of iteration 1.

Usage::

    python benchmarks/loop_speed.py --model data/06_models/M1 --n 16
"""

from __future__ import annotations

import argparse
import json
import random
import time

import yaml

from self_rewarding.core.self_instruct import SELF_INSTRUCT_STOP, build_self_instruct_prompt
from self_rewarding.core.types import JudgeConfig, SamplingConfig
from self_rewarding.judge_service import judge_sampling, render_judge_prompts
from self_rewarding.records import read_jsonl


def _steps(args) -> list[tuple[str, list[str], SamplingConfig, bool]]:
    """(name, prompts, sampling, chat) of each generation step, as the iteration runs it."""
    with open("conf/base/parameters_iteration.yml", encoding="utf-8") as stream:
        iteration = yaml.safe_load(stream)["iteration"]
    rng = random.Random(0)
    seeds = [r["prompt"] for r in read_jsonl(args.ift_train)]
    few_shot = [build_self_instruct_prompt(rng.sample(seeds, 8)) for _ in range(args.n)]
    instruct = SamplingConfig(
        **{**iteration["self_instruct"]["sampling"], "stop": SELF_INSTRUCT_STOP}
    )
    accepted = [r["prompt"] for r in read_jsonl(args.generated_prompts) if r["accepted"]]
    candidates = read_jsonl(args.candidates)[: args.n]
    judge_prompts = render_judge_prompts((c["prompt"], c["response"]) for c in candidates)
    judge = iteration["judge"]
    judge_sampled = SamplingConfig(**judge["sampling"])
    return [
        ("self_instruct", few_shot, instruct, False),
        ("candidates", accepted[: args.n], SamplingConfig(**iteration["candidates"]), True),
        (
            "judge score_first",
            judge_prompts,
            judge_sampling(JudgeConfig(mode="score_first", sampling=judge_sampled)),
            True,
        ),
        (
            "judge sampled",
            judge_prompts,
            judge_sampling(JudgeConfig(mode="sampled", sampling=judge_sampled)),
            True,
        ),
    ]


def _measure(generator, steps) -> dict[str, dict]:
    measured = {}
    for name, prompts, sampling, chat in steps:
        tokens, seconds = generator.tokens_generated, generator.seconds
        started = time.perf_counter()
        generator.generate(prompts, sampling, chat=chat)
        wall = time.perf_counter() - started
        tokens = generator.tokens_generated - tokens
        measured[name] = {
            "prompts": len(prompts),
            "tokens": tokens,
            "seconds": round(wall, 2),
            "tokens_per_second": round(tokens / max(generator.seconds - seconds, 1e-9), 1),
        }
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/06_models/M1")
    parser.add_argument("--ift-train", default="data/05_model_input/ift_train.jsonl")
    parser.add_argument(
        "--generated-prompts", default="data/03_primary/iter1/generated_prompts.jsonl"
    )
    parser.add_argument("--candidates", default="data/07_model_output/iter1/candidates.jsonl")
    parser.add_argument("--n", type=int, default=16, help="prompts per step")
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    from self_rewarding.core.types import GenerationConfig
    from self_rewarding.generation import open_engine
    from self_rewarding.generation.vllm_backend import VLLMGenerator
    from self_rewarding.hardware import resolve

    steps = _steps(args)
    warm_up = SamplingConfig(max_new_tokens=1)
    results: dict[str, dict] = {}
    engines = {
        "vllm": lambda: open_engine(
            args.model, GenerationConfig(backend="vllm", precision=args.precision)
        ),
        "vllm, no prefix caching": lambda: VLLMGenerator(
            args.model, precision=resolve(args.precision), prefix_caching=False
        ),
        "transformers": lambda: open_engine(
            args.model, GenerationConfig(backend="transformers", precision=args.precision)
        ),
    }
    for label, start in engines.items():
        started = time.perf_counter()
        generator = start()
        try:
            generator.generate(["Hello"], warm_up)  # the engine starts (vLLM) / warms up
            start_seconds = time.perf_counter() - started
            measured = _measure(generator, steps)
            results[label] = {"start_seconds": round(start_seconds, 1), **measured}
        finally:
            generator.close()
        print(json.dumps({"engine": label, **results[label]}), flush=True)  # noqa: T201
    print(_table(results, [name for name, *_ in steps]))  # noqa: T201


def _table(results: dict[str, dict], steps: list[str]) -> str:
    vllm, hf = results["vllm"], results["transformers"]
    uncached = results["vllm, no prefix caching"]
    lines = [
        f"\n{'step':<18} {'prompts':>7}  {'vLLM s':>7} {'tok/s':>7}  {'HF s':>7} {'tok/s':>7}"
        f"  {'HF/vLLM time':>12}  {'no-cache/cache':>14}"
    ]
    for name in steps:
        lines.append(
            f"{name:<18} {vllm[name]['prompts']:>7}  {vllm[name]['seconds']:>7.1f} "
            f"{vllm[name]['tokens_per_second']:>7.1f}  {hf[name]['seconds']:>7.1f} "
            f"{hf[name]['tokens_per_second']:>7.1f}  "
            f"{hf[name]['seconds'] / vllm[name]['seconds']:>11.2f}x  "
            f"{uncached[name]['seconds'] / vllm[name]['seconds']:>13.2f}x"
        )
    lines.append(
        f"{'engine start':<18} {'':>7}  {vllm['start_seconds']:>7.1f} {'':>7}  "
        f"{hf['start_seconds']:>7.1f}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
