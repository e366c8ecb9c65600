"""IFEval of every evaluated model, read from the ``evaluate_ifeval`` outputs.

Prints the report's IFEval table and paired steps (``pipelines/evaluation/report.py``)
from ``data/07_model_output/<model>/ifeval_responses.jsonl`` (written by ``dvc repro`` or
``kedro run --pipelines=evaluation --namespaces=<model> --tags=evaluate_ifeval``), with
each model's share of answers cut by ``max_new_tokens`` and its mean answer tokens::

    python benchmarks/ifeval_models.py

Or of response files named on the command line, for example another ``model.base`` as M0
against the embedded one; with two, it also prints the first minus the second as a step,
paired on the same prompts, and with more, the steps named by ``--step LATER:EARLIER``::

    python benchmarks/ifeval_models.py qwen=other/ifeval_responses.jsonl \
        smollm2=data/07_model_output/M0/ifeval_responses.jsonl
    python benchmarks/ifeval_models.py M0=a.jsonl M1=b.jsonl M2=c.jsonl --step M1:M0 --step M2:M1
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


def parse_steps(steps: list[str], names: list[str]) -> list[tuple[str, str]]:
    """``LATER:EARLIER`` arguments as (later, earlier) pairs of named files.

    Without any, two named files make one step, the first minus the second.
    """
    if not steps:
        return [(names[0], names[1])] if len(names) == 2 else []
    pairs = []
    for step in steps:
        later, sep, earlier = step.partition(":")
        if not sep:
            raise SystemExit(f"expected --step LATER:EARLIER, got {step!r}")
        for name in (later, earlier):
            if name not in names:
                raise SystemExit(f"--step {step}: {name!r} is none of the named files {names}")
        pairs.append((later, earlier))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "responses", nargs="*", metavar="NAME=PATH", help="ifeval_responses.jsonl files"
    )
    parser.add_argument(
        "--step",
        action="append",
        default=[],
        metavar="LATER:EARLIER",
        help="a paired step between two named files (repeatable)",
    )
    arguments = parser.parse_args()
    named = parse_named_files(arguments.responses)
    named_on_command_line = bool(named)
    if arguments.step and not named:
        raise SystemExit("--step compares named files: give them as NAME=PATH")
    steps = parse_steps(arguments.step, list(named))

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
    if named_on_command_line:  # only the steps asked for, never the loop's own
        step_table = next(i for i, line in enumerate(lines) if line.startswith("| IFEval step"))
        if steps:  # each later minus its earlier, as the report writes a step
            step_lines = [
                _ifeval_step_line(outcomes, later, earlier, evaluation) for later, earlier in steps
            ]
            lines = [*lines[: step_table + 2], *step_lines, ""]
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
