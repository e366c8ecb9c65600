"""README's results block against the committed metrics: the same numbers, or a failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from self_rewarding.readme_results import BEGIN, END, main, results_block, splice

PROJECT_ROOT = Path(__file__).parents[1]


def test_readme_quotes_the_committed_metrics():
    assert main(["--root", str(PROJECT_ROOT), "--check"]) == 0


@pytest.fixture
def project_copy(tmp_path) -> Path:
    shutil.copy(PROJECT_ROOT / "README.md", tmp_path / "README.md")
    shutil.copytree(
        PROJECT_ROOT / "data/08_reporting",
        tmp_path / "data/08_reporting",
        ignore=shutil.ignore_patterns("*.md", "plots", "validation"),
    )
    return tmp_path


def test_a_readme_number_that_differs_from_the_metrics_fails(project_copy):
    summary_path = project_copy / "data/08_reporting/evaluation_summary.json"
    summary = json.loads(summary_path.read_text())
    summary[0]["judge_alignment.pairwise_accuracy"] = 0.999
    summary_path.write_text(json.dumps(summary))
    assert main(["--root", str(project_copy), "--check"]) == 1
    # Rewriting the block brings README back in line, with the new number in it.
    assert main(["--root", str(project_copy)]) == 0
    assert main(["--root", str(project_copy), "--check"]) == 0
    assert "| 0.999 [" in (project_copy / "README.md").read_text()


def test_win_rates_show_only_under_a_trusted_referee(project_copy):
    reporting = project_copy / "data/08_reporting"
    referee_path = reporting / "instruction_following.json"
    referee = json.loads(referee_path.read_text())
    referee["evaluator.human_agreement.strict.ci_low"] = 0.45
    referee_path.write_text(json.dumps(referee))
    assert "referee not trusted" in results_block(reporting)
    referee["evaluator.human_agreement.strict.ci_low"] = 0.55
    referee_path.write_text(json.dumps(referee))
    block = results_block(reporting)
    assert "referee not trusted" not in block
    assert "trusted." in block


def test_a_readme_without_the_block_is_refused():
    with pytest.raises(ValueError, match="no results block"):
        splice("# A README\n", f"{BEGIN}\n{END}")
