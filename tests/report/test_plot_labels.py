"""What the plots say about themselves: untrained weights on every plot (several reports included), the level of
the conventions plot, how the accuracy-energy plot's energies were counted and whether anything was measured,
legend groups that are true for a model without numbered blocks, and point labels that cover no marker."""
import matplotlib
import numpy as np
import pytest
import torch

import snnenergy
from snnenergy.energy.conventions import convention_table
from snnenergy.models import calibrate_batchnorm
from small_models import small_spikingformer_report
from snnenergy.report import Report, plots
from snnenergy.report.rate_tables import OUTSIDE_NUMBERED, layer_groups

WEIGHTS = "untrained (BatchNorm calibrated): illustrative only"


@pytest.fixture(scope="module")
def report():
    return small_spikingformer_report(WEIGHTS)


@pytest.fixture(scope="module")
def residual():
    """The zoo's residual CNN: its neurons are stem.lif, block.unit1.lif, block.unit2.lif, down.lif (``block`` is
    a module name, not a numbered block)."""
    m = snnenergy.create_model("snn-cnn-residual", seed=0).double().eval()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    calibrate_batchnorm(m, x)
    return snnenergy.profile(m, x, model_name="snn-cnn-residual", weights=WEIGHTS)


def _texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def _relabelled(report, **meta):
    r = Report.from_json(report.to_json())
    r.meta.update(meta)
    return r


# ------------------------------------------------------------------------------------- 1. snn-ann-qnn weights
def test_snn_ann_qnn_says_the_weights_like_every_other_plot(report):
    title = plots.snn_ann_qnn({"tiny A": report, "tiny B": report}).axes[0].get_title()
    assert f"T = 2, {WEIGHTS}" in title and title.count(WEIGHTS) == 1  # shared: said once
    assert f"T = 2, {WEIGHTS}" in plots.rate_heatmap(report).axes[0].get_title()  # the same words as the others
    trained = _relabelled(report, weights="trained checkpoint")
    title = plots.snn_ann_qnn({"tiny A": report, "tiny B": trained}).axes[0].get_title()
    assert f"tiny A (T = 2, {WEIGHTS})" in title and "tiny B (T = 2, trained checkpoint)" in title


# ------------------------------------------------------------------------------------- 5. conventions level
def test_conventions_plot_states_the_level_its_snnenergy_bar_is_at(report):
    title = plots.convention_bars(report).axes[0].get_title()
    assert f"energy level {plots.CONVENTION_LEVEL}" in title and WEIGHTS in title
    # the claim holds: the snnenergy convention is Report.energy at that level
    table = convention_table(report).set_index("convention")
    assert table.loc["snnenergy", "mJ"] == pytest.approx(
        report.energy(level=plots.CONVENTION_LEVEL).totals["snn_mJ"], rel=1e-9)
    assert table.loc["snnenergy", "mJ"] != pytest.approx(report.energy(level=2).totals["snn_mJ"], rel=1e-6)


# ------------------------------------------------------------------------------- 4, 6. accuracy vs energy
def test_accuracy_footnote_says_how_each_energy_was_counted(report):
    measured = _relabelled(report, model="sdt-8-384")
    fig = plots.accuracy_vs_energy([measured], preset="fp32", level=1, datasets=["imagenet"])
    note = fig._supxlabel.get_text().replace("\n  ", " ")
    assert "own bookkeeping" in note and "not on one common scale" in note
    assert "Spike-driven Transformer formula (sdt)" in note and "Spikformer paper formula (spikformer)" in note
    assert f"{plots.UNKNOWN_METHOD} (meta-spikeformer, sew-resnet)" in note
    assert "energy level 1 (synaptic ops only), preset fp32" in note
    note2 = plots.accuracy_vs_energy([measured], preset="int8", level=2, datasets=["imagenet"])._supxlabel.get_text()
    assert "energy level 2, preset int8" in note2.replace("\n  ", " ")
    pub = plots._published_points().set_index("model")
    assert pub.loc["sdt-8-384", "energy_method"] == "Spike-driven Transformer formula"
    assert pub.loc["sew-resnet34", "energy_method"] == plots.UNKNOWN_METHOD


def test_accuracy_title_claims_measurements_only_when_there_are_some(report, residual):
    with_ours = plots.accuracy_vs_energy([_relabelled(report, model="sdt-8-384")], datasets=["imagenet"])
    assert "our measurements" in with_ours._suptitle.get_text()
    skipped = plots.accuracy_vs_energy([residual], datasets=["imagenet"])  # no published top-1: skipped
    title, note = skipped._suptitle.get_text(), skipped._supxlabel.get_text()
    assert "measurement" not in title and "published figures only" in title
    assert "measured:" not in note and "skipped: snn-cnn-residual" in note


# ------------------------------------------------------------------------------------- 3. labels vs markers
def _boxes(fig, annotations):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    # the text's own box (an Annotation's extent would include its leader line)
    return [matplotlib.text.Text.get_window_extent(a, renderer) for a in annotations]


def test_labels_cover_no_marker_and_no_other_label():
    fig = plots._figure(5, 4)
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(0, 1, 12), rng.uniform(0, 1, 12)  # a crowd: labelled points among other markers
    others = list(zip(rng.uniform(0, 1, 25), rng.uniform(0, 1, 25)))
    ax.scatter([*xs, *(x for x, _ in others)], [*ys, *(y for _, y in others)], s=70)
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    annotations = plots._annotate_apart(ax, xs, ys, [f"model-{i}-384" for i in range(12)], avoid=others)
    boxes = _boxes(fig, annotations)
    radius = np.sqrt(70) / 2 * fig.dpi / 72
    for i, b in enumerate(boxes):
        assert b.x0 >= ax.bbox.x0 - 1 and b.x1 <= ax.bbox.x1 + 1 and b.y0 >= ax.bbox.y0 - 1 and b.y1 <= ax.bbox.y1 + 1
        for j, other in enumerate(boxes):
            assert i == j or not b.overlaps(other), (i, j)
        for x, y in [*zip(xs, ys), *others]:
            px, py = ax.transData.transform((x, y))
            assert not (b.x0 < px + radius and b.x1 > px - radius and b.y0 < py + radius and b.y1 > py - radius), \
                (annotations[i].get_text(), x, y)
    moved = [a for a in annotations if a.arrow_patch is not None]
    assert moved, "a crowd this dense needs leader lines"
    for a in moved:  # a leader line joins each moved label to its own point
        assert np.allclose(a.xy, (xs[annotations.index(a)], ys[annotations.index(a)]))


def test_accuracy_plot_labels_clear_the_published_markers(report):
    near = [_relabelled(report, model=m) for m in ("sdt-8-384", "spikingformer-8-384", "cml-spikingformer-8-384")]
    fig = plots.accuracy_vs_energy(near, datasets=["imagenet"])
    ax = fig.axes[0]
    annotations = [t for t in ax.texts if isinstance(t, matplotlib.text.Annotation)]
    assert sorted(a.get_text() for a in annotations) == sorted(r.meta["model"] for r in near)
    radius = np.sqrt(70) / 2 * fig.dpi / 72
    markers = np.concatenate([c.get_offsets() for c in ax.collections])
    for box in _boxes(fig, annotations):
        for px, py in ax.transData.transform(markers):
            assert not (box.x0 < px + radius and box.x1 > px - radius and box.y0 < py + radius and box.y1 > py - radius)


def test_a_panel_of_two_close_points_keeps_them_off_its_edges(report):
    two = [_relabelled(report, model=m) for m in ("spikformer-4-384-cifar10", "spikingformer-4-384-cifar10")]
    ax = plots.accuracy_vs_energy(two, datasets=["cifar10"]).axes[0]
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert y1 - y0 >= 2.0  # at least two points of accuracy, however close the cards' top-1 are
    assert np.log10(x1 / x0) >= 0.5
    for x, y in points:  # each point at least 10% of the axis away from every edge
        fx = np.log10(x / x0) / np.log10(x1 / x0)
        fy = (y - y0) / (y1 - y0)
        assert 0.1 <= fx <= 0.9 and 0.1 <= fy <= 0.9


# ------------------------------------------------------------------------------------- 7. rates-bars legend
def test_rate_bars_legend_is_true_without_numbered_blocks(residual):
    groups, title = layer_groups(residual)
    assert list(residual.neurons["layer"]) == ["stem.lif", "block.unit1.lif", "block.unit2.lif", "down.lif"]
    assert groups == ["stem", "block", "block", "down"] and title == "block (top-level module)"
    legend = plots.rate_bars(residual).axes[0].get_legend()
    assert legend.get_title().get_text() == title
    assert [t.get_text() for t in legend.get_texts()] == ["stem", "block", "down"]
    assert "outside" not in _texts(plots.rate_bars(residual))


def test_rate_bars_legend_with_numbered_blocks(report):
    groups, title = layer_groups(report)
    layers = list(report.neurons["layer"])
    assert title == "role in block"
    for layer, g in zip(layers, groups):
        inside = layer.startswith(("block.0.", "block.1."))
        assert (g != OUTSIDE_NUMBERED) == inside, (layer, g)
    assert "Q" in groups and OUTSIDE_NUMBERED in groups
    legend = plots.rate_bars(report).axes[0].get_legend()
    assert legend.get_title().get_text() == "role in block"
