"""benchmarks/pair_precision.py on kept verdicts: the precision it prints per iteration,
pooled and at each minimum margin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks/pair_precision.py"


def verdict(
    iteration: str, outcome: str, margin: float, consistent: bool = False, prompt_id: str = ""
) -> dict:
    return {
        "iteration": iteration,
        "prompt_id": prompt_id,
        "outcome": outcome,
        "margin": margin,
        "consistent": consistent,
    }


def run_benchmark(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCHMARK), *arguments], capture_output=True, text=True, check=False
    )


def summarise(results: Path) -> str:
    completed = run_benchmark("--results", str(results), "--summarise")
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def table_row(output: str, label: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_precision_is_printed_per_iteration_pooled_and_per_margin(tmp_path):
    rows = [
        verdict("iter1", "win", 0.05, consistent=True),
        verdict("iter1", "win", 0.25),
        verdict("iter1", "loss", 0.35),
        verdict("iter1", "tie", 0.15),
        verdict("iter2", "win", 0.40),
        verdict("iter2", "loss", 0.02),
    ]
    (tmp_path / "0.json").write_text(
        json.dumps(
            {"referee": "a referee", "rows": rows, "seconds_per_verdict": 2.0, "peak_rss_gib": 1.5}
        )
    )
    output = summarise(tmp_path)

    assert "a referee: 6 pairs (2.00 s per verdict, peak 1.50 GiB)" in output
    # A tie counts against the chosen answer.
    iter1 = table_row(output, "iter1")
    assert iter1[1] == "4" and iter1[2].startswith("0.500 [")
    assert iter1[3] == "0.250" and iter1[4] == "0.250"
    iter2 = table_row(output, "iter2")
    assert iter2[1] == "2" and iter2[2].startswith("0.500 [")
    pooled = table_row(output, "pooled")
    assert pooled[1] == "6" and pooled[2].startswith("0.500 [")
    # Margins 0.25, 0.35 and 0.40 are kept at 0.2: two of three prefer the chosen answer.
    at_02 = table_row(output, "0.2")
    assert at_02[1] == "3" and at_02[2].startswith("0.667 [")
    assert table_row(output, "0.5")[1] == "0"


def write_referee(path: Path, referee: str, outcomes: dict[tuple[str, str], str]) -> None:
    rows = [
        verdict(iteration, outcome, 0.1, prompt_id=prompt_id)
        for (iteration, prompt_id), outcome in outcomes.items()
    ]
    path.write_text(
        json.dumps(
            {"referee": referee, "rows": rows, "seconds_per_verdict": 1.0, "peak_rss_gib": 1.0}
        )
    )


def test_a_second_referee_is_compared_with_the_first_on_the_same_pairs(tmp_path):
    write_referee(
        tmp_path / "0.json",
        "first",
        {("iter1", "a"): "loss", ("iter1", "b"): "win", ("iter2", "a"): "loss"},
    )
    # Pair (iter2, b) was not judged by the first referee, so it is left out of the pairing.
    write_referee(
        tmp_path / "1.json",
        "second",
        {
            ("iter1", "a"): "win",
            ("iter1", "b"): "win",
            ("iter2", "a"): "win",
            ("iter2", "b"): "loss",
        },
    )
    output = summarise(tmp_path)

    line = next(line for line in output.splitlines() if "precision difference" in line)
    assert line.startswith("second - first: precision difference +0.667 [")
    assert line.endswith("on the same 3 pairs")


def test_summarise_without_results_is_refused():
    completed = run_benchmark("--summarise")
    assert completed.returncode != 0
    assert "--summarise reads the verdicts kept in --results DIR" in completed.stderr


def test_summarise_of_a_folder_without_verdicts_names_it(tmp_path):
    completed = run_benchmark("--results", str(tmp_path), "--summarise")
    assert completed.returncode != 0
    assert f"{tmp_path}: no kept verdicts" in completed.stderr
