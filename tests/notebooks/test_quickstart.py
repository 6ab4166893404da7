"""``notebooks/quickstart.ipynb`` runs top to bottom (its cells assert their own checks: totals are the sums of
the layer table, per-step rows add up, Spikformer is not spike-driven, Spikingformer has no integer MACs), is
stored without outputs, and shows its tables, energies, audit and plots."""
import nbformat
from notebook_runner import NOTEBOOKS, output_kinds, output_text


def test_stored_without_outputs():
    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_quickstart_runs_top_to_bottom(run_notebook):
    nb = run_notebook("quickstart.ipynb", timeout=240)
    text = output_text(nb)
    for expected in ("spikformer-4-384-cifar10", "spikingformer-4-384-cifar10", "NOT SPIKE-DRIVEN",
                     "integer-input", "ANN / SNN", "Energy, level 2"):
        assert expected in text, expected
    assert output_kinds(nb).count("image/png") == 3
