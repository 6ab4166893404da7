"""Every plot function writes a non-empty PNG and SVG, leaves no pyplot state, and the ``plot`` command works."""
import os

import matplotlib
import pytest
from click.testing import CliRunner

import snnenergy
from small_models import small_spikingformer_report
from snnenergy.report import plots


@pytest.fixture(scope="module")
def report():
    return small_spikingformer_report("untrained (BatchNorm calibrated)")


def _check_written(paths):
    png, svg = paths
    assert png.endswith(".png") and svg.endswith(".svg")
    with open(png, "rb") as f:
        head = f.read(8)
    assert head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 5000
    with open(svg, encoding="utf-8") as f:
        text = f.read()
    assert "<svg" in text and len(text) > 5000


def _texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


CASES = {
    "rate_heatmap": lambda r: plots.rate_heatmap(r),
    "rate_bars": lambda r: plots.rate_bars(r),
    "rate_bars_order": lambda r: plots.rate_bars(r, sort="order"),
    "energy_by_layer": lambda r: plots.energy_by_layer(r, level=2, top=8),
    "energy_by_layer_level3": lambda r: plots.energy_by_layer(r, level=3),
    "energy_by_group": lambda r: plots.energy_by_group(r, by="block"),
    "snn_ann_qnn": lambda r: plots.snn_ann_qnn({"tiny A": r, "tiny B": r}),
    "accuracy_vs_energy": lambda r: plots.accuracy_vs_energy([r]),
    "convention_bars": lambda r: plots.convention_bars(r),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_plot_writes_png_and_svg(report, tmp_path, name):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = CASES[name](report)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert plt.get_fignums() == before  # built without pyplot: nothing global left behind
    text = _texts(fig)
    assert fig.axes and any(ax.get_title() for ax in fig.axes) or fig._suptitle is not None
    _check_written(plots.save(fig, tmp_path / f"{name}.png"))
    if name.startswith("rate"):
        assert "firing rate (%)" in text
    if name in ("energy_by_layer", "energy_by_layer_level3", "energy_by_group", "snn_ann_qnn", "convention_bars"):
        assert "per sample (" in text  # the unit is on the axis


def test_accuracy_plot_labels_published_and_measured(report):
    fig = plots.accuracy_vs_energy([report])
    text = _texts(fig)
    assert "published" in text and "measured, untrained" in text
    pub = plots._published_points()
    card_points = [n for n in snnenergy.list_models()
                   if {"top1", "energy_mJ"} <= set(snnenergy.model_card(n).published)]
    assert sorted(pub["model"]) == sorted(card_points) and len(card_points) > 0


def test_energy_plot_stacks_the_terms_to_the_total(report):
    fig = plots.energy_by_layer(report, level=2, top=1000)
    ax = fig.axes[0]
    widths = sum(p.get_width() for p in ax.patches)
    label = ax.get_xlabel()
    scale = {"(mJ)": 1.0, "(µJ)": 1e3, "(nJ)": 1e6, "(pJ)": 1e9}[label[label.index("("):]]
    # the bars' widths, back in mJ, add up to the SNN total
    assert widths / scale == pytest.approx(report.energy(level=2).totals["snn_mJ"], rel=1e-9)


def test_short_names_and_units():
    names = ["block.10.attention.query_projection_lif", "block.11.attention.query_projection_lif"]
    short = plots.short_names(names, 20)
    assert len(set(short)) == 2 and all(len(s) < len(n) for s, n in zip(short, names))
    assert plots.energy_unit(2.0) == (1.0, "mJ") and plots.energy_unit(0.002) == (1e3, "µJ")


def test_plot_command(report, tmp_path):
    from snnenergy.cli import main

    path = tmp_path / "report.json"
    report.to_json(path)
    res = CliRunner().invoke(main, ["plot", "rates-bars", "--report", str(path), "--out", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    _check_written([str(tmp_path / "p" / "rates-bars.png"), str(tmp_path / "p" / "rates-bars.svg")])
    bad = CliRunner().invoke(main, ["plot", "rates-bars"])
    assert bad.exit_code != 0 and "give --model" in bad.output
