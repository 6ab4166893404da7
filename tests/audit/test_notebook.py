"""The notebook ``notebooks/audit_your_residual_design.ipynb`` runs from top to bottom (it asserts its own
finding: the fix turns the spike-sum design spike-driven)."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "audit_your_residual_design.ipynb"


def test_notebook_executes_and_shows_the_three_designs():
    if not NOTEBOOK.exists():
        pytest.fail(f"notebook missing: {NOTEBOOK}")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    run_in = {"metadata": {"path": str(NOTEBOOK.parent)}}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources=run_in).execute()
    text = "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    for name in ("spike-sum", "membrane shortcut", "gated"):
        assert name in text
    assert "NOT SPIKE-DRIVEN" in text and "violations 2 -> 0" in text
