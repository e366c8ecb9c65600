"""IFEval of every evaluated model, read from the ``evaluate_ifeval`` outputs.

Prints the report's IFEval table and paired steps (``pipelines/evaluation/report.py``)
from ``data/07_model_output/<model>/ifeval_responses.jsonl`` (written by ``dvc repro`` or
``kedro run --pipelines=evaluation --namespaces=<model> --tags=evaluate_ifeval``), with
each model's share of answers cut by ``max_new_tokens`` and its mean answer tokens::

    python benchmarks/ifeval_models.py
"""

# ruff: noqa: T201 (a benchmark: it prints its results)

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))


def main() -> int:
    import pandas as pd
    import torch

    from self_rewarding.core.topology import evaluated_models
    from self_rewarding.core.types import EvaluationConfig
    from self_rewarding.loop_topology import read_iterations
    from self_rewarding.pipelines.evaluation.ifeval import ifeval_metrics, outcomes_of
    from self_rewarding.pipelines.evaluation.report import ifeval_lines

    evaluation = EvaluationConfig()
    responses = {}
    for model in evaluated_models(read_iterations(PROJECT)):
        path = PROJECT / "data/07_model_output" / model / "ifeval_responses.jsonl"
        if path.is_file():
            responses[model] = pd.read_json(path, lines=True)
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
    print("\n".join(ifeval_lines(outcomes, rows, evaluation)))
    print("| model | answers cut at max_new_tokens | mean answer tokens |")
    print("| --- | --- | --- |")
    for model, frame in responses.items():
        cut = (frame["finish_reason"] == "length").mean()
        print(f"| {model} | {cut:.3f} | {frame['n_tokens'].mean():.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
