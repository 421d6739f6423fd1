"""The notebooks run top to bottom with tiny budgets, so they never rot.

Each notebook's cell tagged ``parameters`` is replaced by the small values below before the
notebook is executed in a real Jupyter kernel, from the notebooks folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

#: per notebook, the parameters cell the test runs instead of the notebook's own
TINY_PARAMETERS = {
    "quickstart.ipynb": 'BUDGET = 30\nDATASET = "cifar100"\nSEED = 1',
    "nb201_reproduction.ipynb": 'RESULTS_DIR = "../benchmarks/results/nb201"\nQUICK_CHECK_BUDGET = 20',
}


def parameters_cell(notebook) -> int:
    """Index of the notebook's one code cell tagged ``parameters``."""
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1 and notebook.cells[tagged[0]].cell_type == "code", "one code cell tagged 'parameters'"
    return tagged[0]


def test_every_notebook_has_tiny_parameters():
    assert {path.name for path in NOTEBOOKS} == set(TINY_PARAMETERS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebook_was_run_in_order_without_errors(path):
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code_cells] == list(range(1, len(code_cells) + 1))
    assert not [o for cell in code_cells for o in cell.outputs if o.output_type == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_with_tiny_budgets(path):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[parameters_cell(notebook)].source = TINY_PARAMETERS[path.name]
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in outputs), "a plot was drawn"
