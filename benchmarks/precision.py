"""An SFT step, a DPO step and a generation batch in each precision this machine offers,
as seconds and as ratios to fp32: what ``precision: auto`` chooses from, measured.

Usage::

    python benchmarks/precision.py                      # the precisions the hardware offers
    python benchmarks/precision.py --precisions fp32 bf16 --model data/06_models/M1

A CPU offers fp32, and bf16 where it has AVX512-BF16 or AMX (elsewhere bf16 is emulated:
``--precisions fp32 bf16`` shows how slow); a CUDA device offers fp32, fp16, and bf16
where it computes it. The model is ``--model``, or M0 built from the embedded GGUF.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def _offered() -> list[str]:
    from self_rewarding.hardware import detect_hardware

    hardware = detect_hardware()
    if hardware.device == "cuda":
        return ["fp32", "fp16", *(["bf16"] if hardware.cuda_bf16 else [])]
    return ["fp32", *(["bf16"] if hardware.cpu_native_bf16 else [])]


def _trainer_config(kind: str, steps: int) -> dict:
    from kedro.config import OmegaConfigLoader

    loader = OmegaConfigLoader(str(PROJECT / "conf"), base_env="base", default_run_env="local")
    trainer = dict(loader["parameters"][kind]["trainer"])
    trainer.update(max_steps=steps, logging_steps=steps, report_to="none")
    return trainer


def _examples(n: int) -> list[dict]:
    from self_rewarding.records import read_jsonl

    seed_file = "data/01_raw/oasst2_partial/oasst_en_ift_candidates_no_alpacaeval.jsonl"
    rows = read_jsonl(PROJECT / seed_file)
    rows = [r for r in rows if len(r["response"].split()) <= 120][:n]
    return [{"prompt": r["prompt"], "response": r["response"]} for r in rows]


def _seconds_per_step(train, model, rows, kind, *, precision, steps, work: Path) -> float:
    metrics = train(
        model, rows, work / f"{kind}-{precision}", _trainer_config(kind, steps), precision=precision
    )
    return metrics["train_runtime"] / metrics["train_steps"]


def _generation(model, prompts, precision, max_new_tokens) -> tuple[float, float]:
    from self_rewarding.core.types import GenerationConfig, SamplingConfig
    from self_rewarding.generation import open_engine

    generator = open_engine(model, GenerationConfig(backend="auto", precision=precision))
    sampling = SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=max_new_tokens, n=1)
    try:
        generator.generate(prompts[:1], sampling)  # engine start and warm-up
        tokens, seconds = generator.tokens_generated, generator.seconds
        generator.generate(prompts, sampling)
        tokens, seconds = generator.tokens_generated - tokens, generator.seconds - seconds
    finally:
        generator.close()
    return seconds, tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precisions", nargs="+", default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args()

    from self_rewarding.hardware import detect_hardware
    from self_rewarding.train.dpo import train_dpo
    from self_rewarding.train.sft import train_sft

    hardware = detect_hardware()
    precisions = args.precisions or _offered()
    with tempfile.TemporaryDirectory(prefix="precision-bench-") as scratch:
        work = Path(scratch)
        model = args.model
        if model is None:
            from self_rewarding.core.types import BaseModelConfig
            from self_rewarding.models.base_model import save_base_model

            model = str(save_base_model(BaseModelConfig(), work / "M0"))
        sft_rows = _examples(8 * args.steps)
        dpo_rows = [
            {"prompt": a["prompt"], "chosen": a["response"], "rejected": b["response"]}
            for a, b in zip(sft_rows, sft_rows[1:] + sft_rows[:1], strict=True)
        ][: 4 * args.steps]
        prompts = [row["prompt"] for row in _examples(args.prompts)]
        results = {}
        for precision in precisions:
            timing = {"precision": precision, "steps": args.steps, "work": work}
            sft = _seconds_per_step(train_sft, model, sft_rows, "sft", **timing)
            dpo = _seconds_per_step(train_dpo, model, dpo_rows, "dpo", **timing)
            gen_seconds, tokens_per_second = _generation(
                model, prompts, precision, args.max_new_tokens
            )
            results[precision] = {
                "sft_seconds_per_step": sft,
                "dpo_seconds_per_step": dpo,
                "generation_seconds": gen_seconds,
                "generation_tokens_per_second": tokens_per_second,
            }
            print(f"{precision}: {json.dumps(results[precision])}", flush=True)  # noqa: T201

    reference = results.get("fp32")
    lines = [
        f"Hardware: {hardware.device}, CPU capability {hardware.cpu_capability}, native bf16 "
        f"{hardware.cpu_native_bf16}, CUDA {hardware.cuda_name or '-'}; model {model}",
        "SFT step: batch 8 (sft.trainer); DPO step: batch 4 (dpo.trainer); generation: "
        f"{args.prompts} prompts x {args.max_new_tokens} tokens",
        "",
        "| precision | SFT s/step | DPO s/step | generation s | tokens/s | "
        "SFT vs fp32 | DPO vs fp32 | generation vs fp32 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for precision, r in results.items():
        ratios = (
            [
                reference["sft_seconds_per_step"] / r["sft_seconds_per_step"],
                reference["dpo_seconds_per_step"] / r["dpo_seconds_per_step"],
                reference["generation_seconds"] / r["generation_seconds"],
            ]
            if reference
            else [float("nan")] * 3
        )
        lines.append(
            f"| {precision} | {r['sft_seconds_per_step']:.2f} | {r['dpo_seconds_per_step']:.2f} | "
            f"{r['generation_seconds']:.1f} | {r['generation_tokens_per_second']:.1f} | "
            + " | ".join(f"{x:.2f}x" for x in ratios)
            + " |"
        )
    lines.append("(ratios: fp32 time / this precision's time; above 1 is faster than fp32)")
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
