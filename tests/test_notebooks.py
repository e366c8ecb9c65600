"""The executed notebook against the committed metrics: it keeps its outputs, and running
it again on the committed files prints the same tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

PROJECT_ROOT = Path(__file__).parents[1]
NOTEBOOK = PROJECT_ROOT / "notebooks/iteration_comparison.ipynb"


def _texts(notebook) -> list[str]:
    """Every printed line and text result of the code cells, in order."""
    texts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output.output_type == "stream":
                texts.append(output.text)
            elif output.output_type == "execute_result":
                texts.append(output.data["text/plain"])
    return texts


def test_the_committed_notebook_keeps_its_outputs_and_figures():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code)
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 2


@pytest.mark.slow
def test_running_the_notebook_again_prints_what_it_keeps(tmp_path):
    shutil.copytree(PROJECT_ROOT / "data/08_reporting", tmp_path / "data/08_reporting")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    kept = _texts(notebook)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    assert _texts(notebook) == kept
