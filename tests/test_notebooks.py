"""The notebooks run top to bottom with tiny budgets, so they never rot.

Each notebook's cell tagged ``parameters`` is replaced by the small values below before the
notebook is executed in a real Jupyter kernel, from the notebooks folder. The reproduction notebook
re-runs committed runs and must fail where a committed row differs from what the code gives.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

#: per notebook, the parameters cell the test runs instead of the notebook's own
TINY_PARAMETERS = {
    "quickstart.ipynb": 'BUDGET = 30\nDATASET = "cifar100"\nSEED = 1',
    "nb201_reproduction.ipynb": (
        'RESULTS_DIR = "../benchmarks/results/nb201"\nRERUN_AGENTS = ["random", "rea"]\nRERUN_SEEDS = 2'
    ),
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


def execute(path: Path, parameters: str):
    """The notebook executed with ``parameters`` in its parameters cell; raises CellExecutionError,
    with the cell and traceback, if any cell fails."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[parameters_cell(notebook)].source = parameters
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}
    )
    client.execute()
    return notebook


def stream_text(notebook) -> str:
    return "".join(o.text for c in notebook.cells if c.cell_type == "code" for o in c.outputs if "text" in o)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_with_tiny_budgets(path):
    notebook = execute(path, TINY_PARAMETERS[path.name])
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in outputs), "a plot was drawn"
    if path.name == "nb201_reproduction.ipynb":
        assert "4 committed runs reproduced exactly" in stream_text(notebook)


def test_reproduction_notebook_fails_when_a_committed_row_differs(tmp_path):
    """A copy of the committed grid whose rea seed-1 row names another architecture: the re-run differs."""
    committed = NOTEBOOKS_DIR.parent / "benchmarks" / "results" / "nb201"
    shutil.copy(committed / "table.md", tmp_path / "table.md")
    with open(committed / "runs.csv", newline="") as file:
        reader = csv.DictReader(file)
        fields, rows = reader.fieldnames, list(reader)
    target = next(
        r for r in rows if (r["agent"], r["dataset"], r["budget"], r["seed"]) == ("rea", "cifar10", "500", "1")
    )
    target["best_arch"] = next(r["best_arch"] for r in rows if r["best_arch"] != target["best_arch"])
    with open(tmp_path / "runs.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fields)
        writer.writeheader()
        writer.writerows(rows)
    parameters = TINY_PARAMETERS["nb201_reproduction.ipynb"].replace("../benchmarks/results/nb201", str(tmp_path))
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="did not reproduce its committed row"):
        execute(NOTEBOOKS_DIR / "nb201_reproduction.ipynb", parameters)
