"""The figures benchmarks/README.md quotes are what the committed verdicts print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
BENCHMARKS_README = PROJECT / "benchmarks/README.md"


def summarised(script: str, results: str) -> list[str]:
    """The table rows and paired differences the benchmark prints from kept verdicts."""
    completed = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / script), "--results", results, "--summarise"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT,
    )
    assert completed.returncode == 0, completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    figures = [line for line in lines if line.startswith("| ") and "---" not in line]
    figures += [line for line in lines if "difference" in line]
    assert figures, completed.stdout
    return figures


@pytest.mark.parametrize(
    ("script", "results"),
    [
        ("referees.py", "benchmarks/results/referees_avx2"),
        ("pair_precision.py", "benchmarks/results/pair_precision_avx2"),
        ("pair_precision.py", "benchmarks/results/pair_precision_avx2_rho04"),
    ],
)
def test_benchmarks_readme_quotes_the_committed_results(script, results):
    readme = BENCHMARKS_README.read_text(encoding="utf-8")
    missing = [line for line in summarised(script, results) if line not in readme]
    assert not missing, f"{script} --results {results} prints lines not in the README: {missing}"


CPU_LONG_TABLE = PROJECT / "benchmarks/results/cpu_long_avx2/evaluation_table.md"


def ifeval_rows(table: str) -> list[str]:
    """The rows of the report's two IFEval tables (scores, then paired steps)."""
    lines = table.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("IFEval, checked by code"))
    rows = []
    for line in lines[first + 1 :]:
        if line.startswith("| comparison |"):
            break
        if line.startswith("| ") and "---" not in line:
            rows.append(line)
    return rows


def test_the_cpu_long_runs_ifeval_figures_are_the_committed_reports():
    rows = ifeval_rows(CPU_LONG_TABLE.read_text(encoding="utf-8"))
    last_step = [row for row in rows if row.startswith("| M2 - M1 |")]
    assert last_step, rows
    readme = BENCHMARKS_README.read_text(encoding="utf-8")
    missing = [row for row in rows if row not in readme]
    assert not missing, f"{CPU_LONG_TABLE.name} rows not in benchmarks/README.md: {missing}"
    step = last_step[0].split("|")[2].strip()
    readme_words = " ".join((PROJECT / "README.md").read_text(encoding="utf-8").split())
    assert f"IFEval step M2 - M1 was {step}" in readme_words
