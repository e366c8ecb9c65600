"""benchmarks/iteration_sizing.py on hand-made results: the IFEval fields a run records and
the table that pairs two settings' M2s of one seed."""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks/iteration_sizing.py"
SETTING = ["length_control_rho=0.4"]


@functools.cache
def load_benchmark():
    spec = importlib.util.spec_from_file_location("iteration_sizing", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluation(followed: list[bool], words: list[int] | None, cut: int = 0) -> dict:
    """A model's IFEval records as ``evaluate_model`` writes them, one instruction each."""
    rows = []
    for key, ok in enumerate(followed):
        row = {
            "key": key,
            "strict": [ok],
            "loose": [ok],
            "finish_reason": "length" if key < cut else "stop",
        }
        if words is not None:
            row["words"] = words[key]
        rows.append(row)
    return {"ifeval": rows}


def result_row(seed: int, settings: list[str], m2: dict, m1: dict) -> dict:
    """A results line with every field the summary prints; IFEval from the records."""
    fields = load_benchmark().ifeval_step_fields(m2, m1)
    return {
        "size": 32,
        "seed": seed,
        "settings": settings,
        "pairs": 30,
        "dpo_steps": 24,
        "dpo_train_loss": 0.3,
        "heldout_pairs": 60,
        "heldout_loss": 0.6,
        "heldout_reward_accuracy": 0.7,
        "heldout_reward_accuracy_ci": [0.6, 0.8],
        "pair_precision": 0.4,
        "pair_precision_ci": [0.2, 0.6],
        "judge_prompts": 60,
        "judge_step": 0.0,
        "judge_step_ci": [0.0, 0.0],
        "chosen_words": 70.0,
        "rejected_words": 35.0,
        "iteration_seconds": 360.0,
        **fields,
    }


def summary(folder: Path, rows: list[dict]) -> str:
    """What ``--summarise`` prints for these results lines."""
    results = folder / "results.jsonl"
    results.write_text("".join(json.dumps(row) + "\n" for row in rows))
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--summarise", "--results", str(results)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_a_run_records_its_answers_words_and_m2s_outcomes():
    m1 = evaluation([True, False, False, False], None)
    m2 = evaluation([True, True, False, False], [10, 20, 30, 40], cut=1)
    fields = load_benchmark().ifeval_step_fields(m2, m1)
    assert fields["ifeval_step"] == 0.25
    assert fields["ifeval_words_m2"] == 25.0
    assert fields["ifeval_words_m1"] is None  # written before words were kept
    assert fields["ifeval_cut_share"] == 0.25
    assert [r["loose"] for r in fields["ifeval_m2_outcomes"]] == [[True], [True], [False], [False]]


def test_the_summary_pairs_each_setting_with_base_on_the_same_seed(tmp_path):
    m1 = evaluation([False] * 8, [50] * 8)
    base_m2 = evaluation([True, False, False, False, False, False, False, False], [120] * 8, cut=6)
    controlled_m2 = evaluation([True, True, True, True, True, False, False, False], [60] * 8)
    rows = [
        result_row(0, [], base_m2, m1),
        result_row(0, SETTING, controlled_m2, m1),
        result_row(1, SETTING, controlled_m2, m1),  # no base run of seed 1: not paired
    ]
    table = summary(tmp_path, rows).split("M2 of one setting against M2 of another", 1)[1]
    lines = [line for line in table.splitlines() if line.startswith("| 32 ")]
    assert len(lines) == 1
    cells = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert cells[:4] == ["32", "0", "length_control_rho=0.4", "(none)"]
    assert cells[4].startswith("+0.500 [")
    assert cells[4].endswith("(n=8)")
    assert cells[5:] == ["60 / 120", "0.00 / 0.75"]


def test_rows_without_m2_outcomes_make_no_pairing_table(tmp_path):
    m1 = evaluation([False] * 4, None)
    rows = [result_row(0, [], evaluation([True] * 4, None), m1)]
    for row in rows:
        del row["ifeval_m2_outcomes"]  # results written before outcomes were kept
    rows.append({**rows[0], "settings": SETTING})
    printed = summary(tmp_path, rows)
    assert "| 32 | 0 |" in printed
    assert "M2 of one setting against M2 of another" not in printed
