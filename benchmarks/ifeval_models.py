"""IFEval of every evaluated model, read from the ``evaluate_ifeval`` outputs.

Prints the report's IFEval table and paired steps (``pipelines/evaluation/report.py``)
from ``data/07_model_output/<model>/ifeval_responses.jsonl`` (written by ``dvc repro`` or
``kedro run --pipelines=evaluation --namespaces=<model> --tags=evaluate_ifeval``), with
each model's share of answers cut by ``max_new_tokens`` and its mean answer tokens::

    python benchmarks/ifeval_models.py

Or of response files named on the command line, for example another ``model.base`` as M0
against the embedded one; with two, it also prints the first minus the second as a step,
paired on the same prompts::

    python benchmarks/ifeval_models.py qwen=other/ifeval_responses.jsonl \
        smollm2=data/07_model_output/M0/ifeval_responses.jsonl
"""

# ruff: noqa: T201 (a benchmark: it prints its results)

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))


def parse_named_files(pairs: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` arguments as {name: path}; each path must be a file."""
    named = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"expected NAME=PATH, got {pair!r}")
        if not Path(path).is_file():
            raise SystemExit(f"{name}: no such responses file: {path}")
        named[name] = Path(path)
    return named


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "responses", nargs="*", metavar="NAME=PATH", help="ifeval_responses.jsonl files"
    )
    named = parse_named_files(parser.parse_args().responses)
    named_on_command_line = bool(named)

    import pandas as pd
    import torch

    from self_rewarding.core.topology import evaluated_models
    from self_rewarding.core.types import EvaluationConfig
    from self_rewarding.loop_topology import read_iterations
    from self_rewarding.pipelines.evaluation.ifeval import ifeval_metrics, outcomes_of
    from self_rewarding.pipelines.evaluation.report import _ifeval_step_line, ifeval_lines

    evaluation = EvaluationConfig()
    if not named:
        named = {
            model: PROJECT / "data/07_model_output" / model / "ifeval_responses.jsonl"
            for model in evaluated_models(read_iterations(PROJECT))
        }
    responses = {
        model: pd.read_json(path, lines=True) for model, path in named.items() if path.is_file()
    }
    if not responses:
        print("No ifeval_responses.jsonl yet: run the evaluate_ifeval step first.")
        return 1
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    outcomes = {model: outcomes_of(frame) for model, frame in responses.items()}
    rows = [
        {"model": model, **ifeval_metrics(found, evaluation)} for model, found in outcomes.items()
    ]
    lines = ifeval_lines(outcomes, rows, evaluation)
    if named_on_command_line:  # no loop steps among freely named files
        step_table = next(i for i, line in enumerate(lines) if line.startswith("| IFEval step"))
        if len(outcomes) == 2:  # the first minus the second, as the report writes a step
            first, second = outcomes
            lines.insert(step_table + 2, _ifeval_step_line(outcomes, first, second, evaluation))
        else:
            lines = lines[:step_table]
    print("\n".join(lines))
    print("| model | answers cut at max_new_tokens | mean answer tokens |")
    print("| --- | --- | --- |")
    for model, frame in responses.items():
        cut = (frame["finish_reason"] == "length").mean()
        print(f"| {model} | {cut:.3f} | {frame['n_tokens'].mean():.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
