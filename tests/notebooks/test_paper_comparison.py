"""``notebooks/paper_comparison.ipynb`` (conventions, replays, the published-number table, rate tables and plots on
small configurations) runs top to bottom: its cells assert their own checks (the Spikingformer-8-512 replay within
0.5 % of its log, every convention in the table, the LaTeX rate table, non-empty PNG and SVG files); it is stored
without outputs and shows its tables and six plots."""
import nbformat
from notebook_runner import NOTEBOOKS, output_kinds, output_text

NAME = "paper_comparison.ipynb"


def test_stored_without_outputs():
    nb = nbformat.read(NOTEBOOKS / NAME, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_paper_comparison_runs_top_to_bottom(run_notebook):
    nb = run_notebook(NAME, timeout=240)
    text = output_text(nb)
    for expected in ("spikingformer-8-512", "logged 7.4635 mJ", "snnenergy (our exact rules, same rates)",
                     "reproduced", "\\toprule", "untrained", "neurobench"):
        assert expected in text, expected
    assert output_kinds(nb).count("image/png") == 6
