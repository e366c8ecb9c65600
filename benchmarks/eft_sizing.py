"""How much EFT data does a judge need, and what does it buy?

Trains M1 = SFT(M0, IFT + EFT) for several EFT sizes with the ``conf/base`` SFT settings,
then measures, for each size: the judge probe's parse rate (share of answers holding
``Score: X``), the judge's strict pairwise accuracy (ties wrong) on the OASST1-validation
replies in each scoring mode with its 95 % bootstrap interval over prompts, and the
training time (per EFT example too). Runs on CPU or GPU, without Kedro.

Usage::

    python benchmarks/eft_sizing.py --eft-sizes 0 48 96 192 --output eft_sizing.json
    python benchmarks/eft_sizing.py --eft-sizes 0 72 --judge-prompts 60 --modes score_first
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from self_rewarding.core.seed_data import (
    build_eft_candidates,
    build_eft_eval,
    build_ift_examples,
    normalise_prompt,
)
from self_rewarding.core.types import (
    BaseModelConfig,
    EFTConfig,
    EvaluationConfig,
    IFTConfig,
    JudgeProbeConfig,
)
from self_rewarding.pipelines.evaluation.nodes import alignment_items
from self_rewarding.records import read_jsonl

ROOT = Path(__file__).parents[1]
RAW = ROOT / "data/01_raw"


def _eval_prompts() -> set[str]:
    prompts = [
        r["prompt"] for r in read_jsonl(RAW / "oasst1/oasst1_en_validation_first_turn_ranked.jsonl")
    ]
    prompts += [r["instruction"] for r in read_jsonl(RAW / "alpaca_eval/alpaca_eval_prompts.jsonl")]
    prompts += [t for r in read_jsonl(RAW / "mt_bench/question.jsonl") for t in r["turns"]]
    return {normalise_prompt(p) for p in prompts}


def judge_accuracy(model_dir: Path, replies: list[dict], modes: list[str]) -> dict:
    """The model's strict pairwise accuracy on the replies in each scoring mode, with its
    95 % interval, tie share and seconds per reply (``benchmarks/judge_modes.py``)."""
    from judge_modes import measure_modes

    found = {}
    for mode, measured in measure_modes(model_dir, replies, modes)["modes"].items():
        found[f"{mode}.accuracy"] = measured["metrics"]["pairwise_accuracy"]
        found[f"{mode}.accuracy_ci"] = measured["intervals"]["pairwise_accuracy"]
        found[f"{mode}.tie_share"] = measured["metrics"]["tie_share"]
        found[f"{mode}.seconds_per_reply"] = round(measured["seconds_per_reply"], 3)
        found["human_pairs"] = measured["metrics"]["human_pairs"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default=None, help="M0 directory (default: build it)")
    parser.add_argument("--ift", type=int, default=None, help="IFT examples (conf/base)")
    parser.add_argument("--eft-sizes", type=int, nargs="+", default=[0, 48, 96, 192])
    parser.add_argument("--probe-items", type=int, default=50)
    parser.add_argument(
        "--judge-prompts", type=int, default=None, help="OASST1-val prompts judged (all)"
    )
    parser.add_argument(
        "--modes", nargs="+", default=["sampled", "expected", "score_first"], help="scoring"
    )
    parser.add_argument("--output", type=Path, default=Path("eft_sizing.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)

    from self_rewarding.models.base_model import save_base_model
    from self_rewarding.pipelines.judging import probe_judge
    from self_rewarding.train.sft import train_sft

    conf = {}
    for name in (
        "parameters_data_processing.yml",
        "parameters_sft.yml",
        "parameters_base_model.yml",
    ):
        conf.update(yaml.safe_load((ROOT / "conf/base" / name).read_text()))
    work = Path(tempfile.mkdtemp(prefix="eft-sizing-"))
    base = (
        Path(args.base_model)
        if args.base_model
        else save_base_model(BaseModelConfig(), work / "M0")
    )

    eval_prompts = _eval_prompts()
    ift_config = IFTConfig(**{**conf["ift"], **({"max_examples": args.ift} if args.ift else {})})
    ift, _ = build_ift_examples(
        read_jsonl(RAW / "oasst2_partial/oasst_en_ift_candidates_no_alpacaeval.jsonl"),
        eval_prompts,
        ift_config,
    )
    eft_pool, _ = build_eft_candidates(
        read_jsonl(RAW / "oasst2_partial/oasst2_en_first_turn_quality_scored.jsonl"),
        eval_prompts,
        EFTConfig(**{**conf["eft"], "max_examples": max(args.eft_sizes)}),
    )
    eft_eval = pd.DataFrame(
        build_eft_eval(read_jsonl(RAW / "oasst1/oasst1_en_validation_first_turn_ranked.jsonl"))
    )
    probe = JudgeProbeConfig(**{**conf["judge_probe"], "n_items": args.probe_items})
    replies = alignment_items(
        eft_eval, EvaluationConfig(judge_alignment_prompts=args.judge_prompts)
    ).to_dict(orient="records")

    results = []
    for size in args.eft_sizes:
        # The balanced pool is ordered round robin over scores: any prefix stays balanced.
        examples = ift + eft_pool[:size]
        random.Random(0).shuffle(examples)
        started = time.perf_counter()
        metrics = train_sft(base, examples, work / f"M1-eft{size}", conf["sft"]["trainer"])
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        probe_metrics, _ = probe_judge(work / f"M1-eft{size}", eft_eval, probe)
        probe_seconds = time.perf_counter() - started
        accuracy = judge_accuracy(work / f"M1-eft{size}", replies, args.modes)
        results.append(
            {
                "eft_examples": size,
                "ift_examples": len(ift),
                "train_steps": metrics["train_steps"],
                "train_seconds": round(train_seconds, 1),
                "probe_seconds": round(probe_seconds, 1),
                "parse_rate": probe_metrics["parse_rate"],
                "score_std": round(probe_metrics["score_std"], 3),
                **accuracy,
            }
        )
        print(json.dumps(results[-1]), flush=True)  # noqa: T201
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
