"""Helpers to run the project's notebooks in tests: ``execute_notebook(path)`` runs one top to bottom in a fresh
``python3`` kernel (working directory: the notebook's folder); ``output_text`` and ``output_kinds`` read what it
showed. Any notebook test can use them (``from notebook_runner import ...``, or the ``run_notebook`` fixture of
this folder's conftest)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute_notebook(path: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """``path`` executed cell by cell (an error in any cell fails with that cell's traceback)."""
    if not path.exists():
        pytest.fail(f"notebook missing: {path}")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def output_text(nb: nbformat.NotebookNode) -> str:
    """Every printed or displayed text of the executed code cells, joined."""
    return "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def output_kinds(nb: nbformat.NotebookNode) -> list[str]:
    """The MIME types of every displayed output (e.g. ``image/png``), in order."""
    return [k for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) for k in o.get("data", {})]
