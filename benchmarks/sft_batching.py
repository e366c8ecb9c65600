"""What batching costs an SFT epoch: the same IFT + EFT examples trained with random
batches (TRL's default) and with length-bucketed batches
(``train_sampling_strategy: group_by_length``), as seconds per step and the ratio.

Batches are padded to their longest example; the EFT examples (verbatim judge prompt,
about 500 tokens) and the short IFT ones mix in random batches, so bucketing by length
cuts the padding. The loss is the same per example; only the batches' composition differs.

Usage (after ``make run``, which writes the training sets)::

    python benchmarks/sft_batching.py --examples 96
"""

# ruff: noqa: T201 (a benchmark: it prints its results)

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from self_rewarding.records import read_jsonl

PROJECT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="data/06_models/M0")
    parser.add_argument("--examples", type=int, default=96, help="IFT + EFT examples")
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    from kedro.config import OmegaConfigLoader

    from self_rewarding.train.sft import train_sft

    loader = OmegaConfigLoader(str(PROJECT / "conf"), base_env="base", default_run_env="local")
    trainer = dict(loader["parameters"]["sft"]["trainer"])
    trainer.update(num_train_epochs=1, logging_steps=1000, report_to="none")
    pool = read_jsonl(PROJECT / "data/05_model_input/ift_train.jsonl") + read_jsonl(
        PROJECT / "data/05_model_input/eft_train.jsonl"
    )
    examples = random.Random(0).sample(pool, min(args.examples, len(pool)))
    results = {}
    for strategy in ("random", "group_by_length"):
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            metrics = train_sft(
                args.model,
                examples,
                Path(scratch) / "model",
                {**trainer, "train_sampling_strategy": strategy},
                precision=args.precision,
            )
            seconds = time.perf_counter() - started
        results[strategy] = {
            "examples": len(examples),
            "steps": metrics["train_steps"],
            "train_runtime_s": round(metrics["train_runtime"], 1),
            # Examples longer than max_length are left out: a step is the comparable unit.
            "seconds_per_step": round(metrics["train_runtime"] / metrics["train_steps"], 2),
            "train_loss": round(metrics["train_loss"], 4),
            "wall_s": round(seconds, 1),
        }
        print(json.dumps({strategy: results[strategy]}), flush=True)
    ratio = results["random"]["train_runtime_s"] / results["group_by_length"]["train_runtime_s"]
    print(json.dumps({"random_over_group_by_length": round(ratio, 2)}))


if __name__ == "__main__":
    main()
