"""benchmarks/ifeval_models.py on named response files: the steps it prints and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks/ifeval_models.py"


def write_responses(path: Path, followed: list[bool]) -> Path:
    """One checked response per prompt, following its single instruction or not."""
    rows = [
        {
            "key": key,
            "strict": [ok],
            "loose": [ok],
            "n_tokens": 10,
            "finish_reason": "stop",
        }
        for key, ok in enumerate(followed)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run_benchmark(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCHMARK), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )


def step_lines(output: str) -> list[str]:
    table = output.split("| IFEval step", 1)[1].split("\n\n", 1)[0]
    return [line for line in table.splitlines()[2:] if line.startswith("| ")]


def test_named_steps_are_paired_differences_in_the_order_asked(tmp_path):
    m0 = write_responses(tmp_path / "m0.jsonl", [False] * 8)
    m1 = write_responses(tmp_path / "m1.jsonl", [True] * 4 + [False] * 4)
    m2 = write_responses(tmp_path / "m2.jsonl", [True] * 8)

    result = run_benchmark(f"M0={m0}", f"M1={m1}", f"M2={m2}", "--step", "M1:M0", "--step", "M2:M0")

    assert result.returncode == 0, result.stderr
    lines = step_lines(result.stdout)
    assert [line.split(" | ")[0] for line in lines] == ["| M1 - M0", "| M2 - M0"]
    assert "+0.500" in lines[0]
    assert "+1.000" in lines[1]
    # The loop's own steps (M2 - M1) are not added to freely named files.
    assert "M2 - M1" not in result.stdout


def test_two_named_files_make_one_step_the_first_minus_the_second(tmp_path):
    better = write_responses(tmp_path / "better.jsonl", [True] * 6 + [False] * 2)
    worse = write_responses(tmp_path / "worse.jsonl", [True] * 2 + [False] * 6)

    result = run_benchmark(f"qwen={better}", f"smollm2={worse}")

    assert result.returncode == 0, result.stderr
    lines = step_lines(result.stdout)
    assert len(lines) == 1
    assert lines[0].startswith("| qwen - smollm2 | +0.500")


def test_a_step_naming_no_file_is_refused_with_the_names(tmp_path):
    m0 = write_responses(tmp_path / "m0.jsonl", [True, False])

    result = run_benchmark(f"M0={m0}", "--step", "M1:M0")

    assert result.returncode != 0
    assert "--step M1:M0: 'M1' is none of the named files ['M0']" in result.stderr


def test_a_missing_responses_file_is_named(tmp_path):
    result = run_benchmark(f"M0={tmp_path / 'absent.jsonl'}")

    assert result.returncode != 0
    assert f"M0: no such responses file: {tmp_path / 'absent.jsonl'}" in result.stderr
