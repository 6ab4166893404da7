"""Plots of reports (seaborn/matplotlib): each function returns a :class:`matplotlib.figure.Figure`; ``save(fig,
path)`` writes it as PNG and SVG.

Figures are built without pyplot (a bare ``Figure`` on the Agg canvas), so plotting neither opens windows nor
changes matplotlib's global state. Long layer names are shortened in the middle; energies are in mJ, µJ or nJ
per sample, whichever reads best.
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .rate_tables import layer_groups, layer_rate_frame
from .text_table import middle_ellipsis

NAME_WIDTH = 34
CONVENTION_LEVEL = 1  # the energy level of the ``snnenergy`` convention (synaptic ACs and MACs only)
TERM_LABELS = {"ac_mJ": "AC", "mac_mJ": "MAC", "integer_mJ": "integer MAC", "neuron_mJ": "neuron update",
               "memory_mJ": "memory", "addressing_mJ": "addressing"}
_STYLE = {"axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _sns():
    import seaborn as sns

    return sns


def short_names(names: Sequence[str], width: int = NAME_WIDTH) -> list[str]:
    """Layer names shortened in the middle to ``width`` characters (still distinct)."""
    return middle_ellipsis([str(n) for n in names], width)


def energy_unit(max_mj: float) -> tuple[float, str]:
    """(factor from mJ, unit) so that the largest value reads between 0.1 and 1000."""
    for factor, unit in ((1.0, "mJ"), (1e3, "µJ"), (1e6, "nJ"), (1e9, "pJ")):
        if max_mj * factor >= 0.1:
            return factor, unit
    return 1e9, "pJ"


def _setting(report) -> str:
    """``T = 4, <weights>``: the run's time steps and what its weights are (e.g. untrained: illustrative only)."""
    weights = str(report.meta.get("weights", "") or "")
    return f"T = {report.time_steps}" + (f", {weights}" if weights else "")


def _label(report) -> str:
    """The subtitle of a one-report plot: the model, its T and its weights."""
    return f"{report.meta.get('model', 'model')} ({_setting(report)})"


def _labels(named: Sequence[tuple[str, object]]) -> str:
    """The subtitle of a plot of several reports: their shared T and weights once, or each report's on its own
    line when they differ."""
    settings = [_setting(r) for _, r in named]
    if len(set(settings)) == 1:
        return f"all models: {settings[0]}"
    return "\n".join(f"{label} ({s})" for (label, _), s in zip(named, settings))


def _tick_every(ax, labels: Sequence[str], axis: str, limit: int) -> None:
    """Label every k-th tick so that at most ``limit`` labels show."""
    step = max(1, int(np.ceil(len(labels) / limit)))
    pos = np.arange(len(labels))[::step]
    shown = [labels[i] for i in pos]
    if axis == "y":
        ax.set_yticks(pos + 0.5 if getattr(ax, "_snn_heat", False) else pos, shown)
    else:
        ax.set_xticks(pos + 0.5 if getattr(ax, "_snn_heat", False) else pos, shown)


# --------------------------------------------------------------------------------------------- firing rates
def rate_heatmap(report, max_labels: int = 60) -> Figure:
    """Firing rate (%) of every neuron layer (rows, network order) at every time step (columns)."""
    sns = _sns()
    frame = layer_rate_frame(report, percent=True)
    steps = [c for c in frame.columns if c.startswith("t=")]
    data = frame[steps].to_numpy(np.float64)
    names = short_names(frame["layer"])
    n, T = data.shape
    fig = _figure(min(4.0 + 0.55 * T + 0.07 * max(map(len, names), default=10), 14), min(2.0 + 0.24 * n, 22))
    ax = fig.add_subplot()
    with sns.axes_style("white"):
        sns.heatmap(pd.DataFrame(data, index=names, columns=[c[2:] for c in steps]), ax=ax, cmap="viridis",
                    annot=n * T <= 160 and T <= 8, fmt=".1f", annot_kws={"fontsize": 7}, vmin=0,
                    cbar_kws={"label": "firing rate (%)"}, linewidths=0.2 if n * T <= 400 else 0)
    ax._snn_heat = True
    _tick_every(ax, names, "y", max_labels)
    ax.tick_params(axis="y", labelsize=8, rotation=0)
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron layer (network order)")
    ax.set_title(f"Firing rate per layer and time step\n{_label(report)}", fontsize=10)
    return fig


def rate_bars(report, sort: str = "rate", top: int = 50, max_labels: int = 70) -> Figure:
    """Mean firing rate (%) per neuron layer as horizontal bars, coloured by role within the numbered block (or by
    top-level module in a model without numbered blocks: ``rate_tables.layer_groups``) when there are at most
    10 groups; ``sort="rate"`` (highest first, the ``top`` layers) or ``"order"`` (network order, every layer,
    tick labels thinned to ``max_labels``)."""
    if sort not in ("rate", "order"):
        raise ValueError(f"sort must be 'rate' or 'order', got {sort!r}")
    sns = _sns()
    frame = layer_rate_frame(report, percent=True)
    frame["role"], legend_title = layer_groups(report)
    frame["name"] = short_names(frame["layer"])
    hue_order = list(dict.fromkeys(frame["role"]))
    total = len(frame)
    if sort == "rate":
        frame = frame.sort_values("mean", ascending=False, kind="stable").head(top)
    n = len(frame)
    fig = _figure(9.0, min(2.2 + 0.2 * n, 22))
    ax = fig.add_subplot()
    colour = {"hue": "role", "hue_order": hue_order, "palette": "tab10"} if len(hue_order) <= 10 else {}
    with sns.axes_style("whitegrid"):
        sns.barplot(frame, x="mean", y="name", dodge=False, ax=ax, orient="h", **colour)
    _tick_every(ax, list(frame["name"]), "y", max_labels)
    ax.tick_params(axis="y", labelsize=7 if n > 30 else 8)
    ax.set_xlabel("mean firing rate (%)")
    shown = f" (highest first{f', top {n} of {total}' if n < total else ''})" if sort == "rate" else \
        " (network order)"
    ax.set_ylabel("neuron layer" + shown)
    if colour:
        ax.legend(title=legend_title, fontsize=7, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(f"Mean firing rate per neuron layer\n{_label(report)}", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------- energy
def energy_by_layer(report, preset: str = "fp32", level: int = 2, top: int = 25, integer_as: str = "mac") -> Figure:
    """Energy per sample of each layer (module path), stacked by term (AC, MAC, integer MAC, neuron update,
    memory, addressing); the ``top`` layers by energy, the rest summed in one bar."""
    e = report.energy(preset=preset, level=level, integer_as=integer_as)
    df = e.to_dataframe()
    terms = [t for t in TERM_LABELS if t in df.columns and float(df[t].abs().sum()) > 0]
    per = df.groupby(df["layer"].astype(str), sort=False)[terms].sum()
    per = per.loc[per.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    if len(per) > top:
        rest = per.iloc[top:].sum()
        per = pd.concat([per.iloc[:top], pd.DataFrame([rest], index=[f"({len(per) - top} other layers)"])])
    fig, factor, unit = _stacked_terms(per, terms, "layer (highest energy first)")
    total = e.totals["snn_mJ"] * factor
    fig.axes[0].set_title(f"SNN energy per layer by term, preset {e.preset.name}, level {level} "
                          f"(total {total:.4g} {unit})\n{_label(report)}", fontsize=10)
    return fig


def energy_by_group(report, by="top", preset: str = "fp32", level: int = 2, integer_as: str = "mac") -> Figure:
    """Energy per sample of each group of layers (``Report.group_by``: top-level module, mapping or callable;
    e.g. the ANN and SNN branches of a hybrid model), stacked by term, in network order."""
    from .grouping import group_table

    g = group_table(report, by=by, preset=preset, level=level, integer_as=integer_as).set_index("group")
    terms = [t for t in TERM_LABELS if float(g[t].abs().sum()) > 0]
    fig, factor, unit = _stacked_terms(g[terms], terms, "group (network order)")
    fig.axes[0].set_title(f"SNN energy per group by term, preset {preset}, level {level} "
                          f"(total {g['snn_mJ'].sum() * factor:.4g} {unit})\n{_label(report)}", fontsize=10)
    return fig


def _stacked_terms(per: pd.DataFrame, terms: list[str], ylabel: str) -> tuple[Figure, float, str]:
    """Horizontal bars, one per row of ``per`` (mJ), stacked by the term columns."""
    factor, unit = energy_unit(float(per.sum(axis=1).max()) if len(per) else 0.0)
    per = per * factor
    names = short_names(per.index)
    fig = _figure(9.5, min(2.4 + 0.26 * len(per), 20))
    ax = fig.add_subplot()
    colors = dict(zip(TERM_LABELS, _sns().color_palette("Set2", len(TERM_LABELS))))
    left = np.zeros(len(per))
    y = np.arange(len(per))
    for t in terms:
        ax.barh(y, per[t].to_numpy(), left=left, color=colors[t], label=TERM_LABELS[t], height=0.75)
        left += per[t].to_numpy()
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    if len(per) <= 40:  # the total at the end of each bar
        for yi, v in zip(y, left):
            ax.text(v, yi, f" {v:.3g}", va="center", ha="left", fontsize=7)
    ax.set_xlim(0, float(left.max()) * 1.1 if len(left) and left.max() > 0 else 1)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel(f"energy per sample ({unit})")
    ax.set_ylabel(ylabel)
    ax.legend(title="term", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig, factor, unit


def _named(reports) -> list[tuple[str, object]]:
    """(label, report) pairs; repeated labels get ``#2``, ``#3``."""
    if isinstance(reports, Mapping):
        return [(str(k), v) for k, v in reports.items()]
    if hasattr(reports, "layers"):
        reports = [reports]
    out, seen = [], {}
    for i, r in enumerate(reports):
        label = str(r.meta.get("model", f"model {i}"))
        seen[label] = seen.get(label, 0) + 1
        out.append((label if seen[label] == 1 else f"{label} #{seen[label]}", r))
    return out


def snn_ann_qnn(reports, preset: str = "fp32", level: int = 2, integer_as: str = "mac") -> Figure:
    """SNN, ANN and QNN energy per sample of each architecture (a Report, a list of them or {label: Report}),
    log scale, with the ANN/SNN ratio above each group."""
    sns = _sns()
    named = _named(reports)
    rows, ratios = [], []
    for label, r in named:
        t = r.energy(preset=preset, level=level, integer_as=integer_as).totals
        ratios.append(t["ann_over_snn"])
        rows += [{"model": label, "network": f"SNN (T = {r.time_steps})", "mJ": t["snn_mJ"]},
                 {"model": label, "network": "ANN (dense MACs)", "mJ": t["ann_mJ"]},
                 {"model": label, "network": f"QNN ({t['qnn_bits']}-bit)", "mJ": t["qnn_mJ"]}]
    df = pd.DataFrame(rows).dropna(subset=["mJ"])
    df["network"] = df["network"].str.replace(r" \(T = \d+\)", "", regex=True).str.replace(
        r"QNN \(\d+-bit\)", "QNN (⌈log₂(T+1)⌉ bits)", regex=True)
    factor, unit = energy_unit(float(df["mJ"].max()))
    df["E"] = df["mJ"] * factor
    labels = [f"{n}\nANN/SNN {q:.3g}x" for n, q in zip(short_names([m for m, _ in named], 28), ratios)]
    df["model"] = df["model"].map(dict(zip([m for m, _ in named], labels)))
    fig = _figure(max(6.0, 3.2 + 1.9 * len(named)), 5.0)  # room for the legend outside and long names
    ax = fig.add_subplot()
    sns.barplot(df, x="model", y="E", hue="network", ax=ax, palette="Set1")
    _log_axis(ax, "y")
    ax.set_ylabel(f"energy per sample ({unit}, log scale)")
    ax.set_xlabel("")
    if len(named) * max(len(m) for m, _ in named) > 70:
        ax.tick_params(axis="x", rotation=25)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")
    for c in ax.containers:
        ax.bar_label(c, fmt="%.3g", fontsize=7, padding=1)
    ax.legend(title="network", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.margins(y=0.15)
    missing = "" if df["network"].str.startswith("QNN").any() else "\n(QNN not priced on a chip preset)"
    ax.set_title(f"SNN vs ANN vs QNN energy, preset {preset}, level {level}{missing}\n{_labels(named)}",
                 fontsize=10)
    return fig


POINT_COLUMNS = ["model", "family", "dataset", "mJ", "top1", "kind", "energy_method"]
UNKNOWN_METHOD = "method not stated or not verified"


def published_method(family: str) -> str:
    """How a family's papers counted their published energy: the paper convention that reproduces it
    (``energy.conventions.published.FAMILY_CONVENTION``), or :data:`UNKNOWN_METHOD`."""
    from ..energy.conventions import CONVENTIONS
    from ..energy.conventions.published import FAMILY_CONVENTION

    conv = FAMILY_CONVENTION.get(family)
    return CONVENTIONS[conv].title if conv in CONVENTIONS else UNKNOWN_METHOD


def measured_method(level: int, convention: str) -> str:
    """How a measured energy was counted: our exact counts at ``level``, or a paper convention's own rules."""
    if convention == "snnenergy":
        return f"snnenergy exact counts, level {level}"
    from ..energy.conventions import get_convention

    return f"{get_convention(convention).title} (on our counts)"


def _published_points() -> pd.DataFrame:
    from ..models import list_models, model_card

    rows = []
    for name in list_models():
        c = model_card(name)
        acc, energy = c.published.get("top1"), c.published.get("energy_mJ")
        if isinstance(acc, (int, float)) and isinstance(energy, (int, float)):
            rows.append({"model": name, "family": c.family, "dataset": c.dataset, "mJ": float(energy),
                         "top1": float(acc), "kind": "published", "energy_method": published_method(c.family)})
    return pd.DataFrame(rows, columns=POINT_COLUMNS)


def _measured_points(reports, preset: str, level: int, convention: str) -> tuple[pd.DataFrame, list[str]]:
    from ..models import model_card

    rows, skipped = [], []
    for label, r in _named(reports):
        try:
            c = model_card(str(r.meta.get("model")))
        except KeyError:
            skipped.append(f"{label}: not a zoo model (no published accuracy)")
            continue
        acc = c.published.get("top1")
        if not isinstance(acc, (int, float)):
            skipped.append(f"{label}: no published top-1")
            continue
        mj = (r.energy(preset=preset, level=level).totals["snn_mJ"] if convention == "snnenergy"
              else r.energy(preset=preset, convention=convention).mJ)
        weights = str(r.meta.get("weights", "as given"))
        kind = "measured, untrained" if weights.startswith("untrained") else f"measured ({weights})"
        rows.append({"model": label, "family": c.family, "dataset": c.dataset, "mJ": mj, "top1": float(acc),
                     "kind": kind, "energy_method": measured_method(level, convention)})
    return pd.DataFrame(rows, columns=POINT_COLUMNS), skipped


def _log_axis(ax, axis: str = "x") -> None:
    """A log axis labelled 1, 2, 5, 10, 20, ... in plain numbers."""
    getattr(ax, f"set_{axis}scale")("log")
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


# label offsets (points) tried in turn: beside the point first, then rings further out (with a leader line)
_DIRECTIONS = ((1, 0, "left", "center"), (-1, 0, "right", "center"), (0.7, 0.7, "left", "bottom"),
               (0.7, -0.7, "left", "top"), (-0.7, 0.7, "right", "bottom"), (-0.7, -0.7, "right", "top"),
               (0, 1, "center", "bottom"), (0, -1, "center", "top"))
_RINGS = (7.0, 16.0, 26.0, 38.0, 52.0)


def _overlap(a, b) -> float:
    """Overlap area of two boxes (x0, y0, x1, y1)."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _annotate_apart(ax, xs, ys, labels, fontsize: int = 7, avoid=(), marker_size: float = 70.0) -> list:
    """Label points so that no label covers another label or a marker: each label takes the first offset (beside
    its point, then on rings further out) whose box, measured by the renderer, stays inside the axes and clears
    the labels already placed and every marker in ``avoid`` ((x, y) data points; the labelled points are always
    avoided); when none clears, the offset with the least overlap. A label set away from its point gets a thin
    leader line to it, so that each label can be paired with its point. Returns the annotations.

    Call it last, once the figure's other parts are in place: it settles the layout first, and the labels are
    kept out of the layout so that it does not move afterwards."""
    from matplotlib.font_manager import FontProperties

    fig = ax.figure
    fig.canvas.draw()  # settle the layout and the axis limits (log scales) before mapping points to the screen
    renderer = fig.canvas.get_renderer()
    to_px = fig.dpi / 72.0
    radius = (np.sqrt(marker_size) / 2 + 1.5) * to_px  # a marker's half-width (scatter sizes are points²), padded
    points = [*zip(xs, ys), *avoid]
    markers = [(px - radius, py - radius, px + radius, py + radius)
               for px, py in (ax.transData.transform((x, y)) for x, y in points)]
    frame = ax.bbox.extents
    font = FontProperties(size=fontsize)
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for x, y, text in zip(xs, ys, labels):
        px, py = ax.transData.transform((x, y))
        w, h, _ = renderer.get_text_width_height_descent(str(text), font, ismath=False)
        w, h = w + 2, h + 2
        best = None
        for ring in _RINGS:
            for ux, uy, ha, va in _DIRECTIONS:
                dx, dy = ux * ring, uy * ring
                tx, ty = px + dx * to_px, py + dy * to_px  # the text's anchor on the screen
                x0 = {"left": tx, "right": tx - w, "center": tx - w / 2}[ha]
                y0 = {"bottom": ty, "top": ty - h, "center": ty - h / 2}[va]
                box = (x0, y0, x0 + w, y0 + h)
                outside = w * h - _overlap(box, frame)
                cost = 10 * outside + sum(_overlap(box, b) for b in placed) + sum(_overlap(box, m) for m in markers)
                if best is None or cost < best[0]:
                    best = (cost, ring, dx, dy, ha, va, box)
                if cost == 0:
                    break
            if best[0] == 0:
                break
        _, ring, dx, dy, ha, va, box = best
        placed.append(box)
        leader = {"arrowprops": {"arrowstyle": "-", "color": "0.35", "lw": 0.6, "shrinkA": 1,
                                 "shrinkB": radius / to_px - 1}} if ring > _RINGS[0] else {}
        a = ax.annotate(str(text), (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize, ha=ha,
                        va=va, **leader)
        a.set_in_layout(False)
        out.append(a)
    return out


def _bookkeeping_note(points: pd.DataFrame, preset: str, level: int, convention: str) -> list[str]:
    """The footnote's lines on how the plotted energies were counted: the published ones by each paper's own
    method (grouped), the measured ones by ours, at the level and preset used."""
    pub = points[points["kind"] == "published"]
    lines = []
    if len(pub):
        methods = pub.groupby("energy_method", sort=True)["family"].agg(lambda f: ", ".join(sorted(set(f))))
        lines.append("published: energy and top-1 as printed by the papers (model cards); each paper counted its "
                     "energy with its own bookkeeping, so published energies are not on one common scale: "
                     + "; ".join(f"{m} ({fams})" for m, fams in methods.items()))
    if (points["kind"] != "published").any():
        if convention == "snnenergy":
            how = f"our exact counts at energy level {level}" + (" (synaptic ops only)" if level == 1 else "")
        else:
            how = f"the {convention} convention's own rules on our counts"
        lines.append(f"measured: energy counted here by {how}, preset {preset}, plotted at the model card's "
                     "published top-1")
    return lines


def accuracy_vs_energy(reports=(), preset: str = "fp32", level: int = 1, convention: str = "snnenergy",
                       datasets: Iterable[str] | None = None) -> Figure:
    """Published top-1 vs published energy of every zoo model card that has both ("published"), next to the
    energy we measure for ``reports`` plotted at their card's published top-1 ("measured, untrained" when the
    weights are untrained). One panel per dataset; energy on a log axis. The footnote says how each energy was
    counted: the papers' own bookkeepings differ (``published_method``), ours is at ``level`` and ``preset``."""
    import textwrap

    sns = _sns()
    pub = _published_points()
    ours, skipped = _measured_points(reports, preset, level, convention)
    df = pd.concat([pub, ours], ignore_index=True)
    names = list(datasets) if datasets is not None else list(dict.fromkeys([*ours["dataset"], *pub["dataset"]]))
    df = df[df["dataset"].isin(names)]
    if df.empty:
        raise ValueError("no published or measured (energy, top-1) point to plot for datasets " + ", ".join(names))
    names = [d for d in names if d in set(df["dataset"])]
    width = 8.0 * len(names) + 2.4
    fig = _figure(width, 6.0)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    markers = {k: ("o" if k == "published" else "X") for k in df["kind"].unique()}
    for ax, ds in zip(axes, names):
        part = df[df["dataset"] == ds]
        sns.scatterplot(part, x="mJ", y="top1", hue="family", style="kind", markers=markers, s=70, ax=ax,
                        hue_order=sorted(df["family"].unique()), style_order=list(markers), legend=ax is axes[-1],
                        edgecolor="white", linewidth=0.6)
        _log_axis(ax)
        _pad_limits(ax, part["mJ"], part["top1"])
        ax.set_xlabel("energy per sample (mJ, log scale)")
        ax.set_ylabel("top-1 accuracy (%), published")
        ax.set_title(f"{ds}: {int((part['kind'] == 'published').sum())} published, "
                     f"{int((part['kind'] != 'published').sum())} measured", fontsize=9)
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    lines = _bookkeeping_note(df, preset, level, convention) + ([f"skipped: {'; '.join(skipped)}"] if skipped else [])
    chars = int(width * 15)  # about what a line of the 7-point footnote holds across the figure
    note = "\n".join(w for line in lines for w in textwrap.wrap(line, chars, subsequent_indent="  "))
    measured = bool((df["kind"] != "published").any())
    fig.suptitle("Accuracy vs energy across the zoo: " + ("published figures and our measurements" if measured
                 else "published figures only (nothing measured)"), fontsize=10)
    fig.supxlabel(note, fontsize=7, ha="left", x=0.01)
    for ax, ds in zip(axes, names):  # last: the labels need the final layout
        part = df[df["dataset"] == ds]
        ours_here = part[part["kind"] != "published"].sort_values("mJ")
        _annotate_apart(ax, ours_here["mJ"], ours_here["top1"], ours_here["model"], fontsize=7,
                        avoid=list(zip(part.loc[part["kind"] == "published", "mJ"],
                                       part.loc[part["kind"] == "published", "top1"])))
    return fig


def _pad_limits(ax, x: pd.Series, y: pd.Series, min_decades: float = 0.5, min_points: float = 2.0) -> None:
    """Axis limits 10% beyond the points on each side, spanning at least ``min_decades`` of the log x axis and
    ``min_points`` percentage points of accuracy: a panel of two close points does not put them in its
    corners or stretch 0.4 points of accuracy over the whole height."""
    lx, hx = np.log10(x.min()), np.log10(x.max())
    mid, span = (lx + hx) / 2, max(hx - lx, min_decades)
    ax.set_xlim(10 ** (mid - 0.6 * span), 10 ** (mid + 0.6 * span))
    mid, span = (y.min() + y.max()) / 2, max(y.max() - y.min(), min_points)
    ax.set_ylim(mid - 0.6 * span, mid + 0.6 * span)


def convention_bars(report, preset: str = "fp32") -> Figure:
    """Energy per sample of one run under every paper convention (``snnenergy.energy.conventions``), or, if
    conventions are not available, under every preset and level (``report.energy_table``)."""
    sns = _sns()
    try:
        from ..energy.conventions import convention_table

        table = convention_table(report, preset=preset)
        df = pd.DataFrame({"label": table["convention"], "mJ": table["mJ"]})
        ylabel, what = "convention", f"paper conventions, preset {preset}"
        # the snnenergy convention is Report.energy at level 1 (synaptic ops only), whatever level other plots use
        what += f"\n(red: our exact counts at energy level {CONVENTION_LEVEL}, synaptic ops only; " \
                "levels 2-3 do not apply to conventions)"
    except ImportError:
        table = report.energy_table(presets=("fp32", "int8"), levels=(1, 2, 3)).dropna(subset=["snn_mJ"])
        df = pd.DataFrame({"label": [f"{p}, level {lv}" for p, lv in zip(table["preset"], table["level"])],
                           "mJ": table["snn_mJ"]})
        ylabel, what = "preset and level", "presets and levels"
    df = df.sort_values("mJ", ascending=False, kind="stable")
    factor, unit = energy_unit(float(df["mJ"].max()))
    df["E"] = df["mJ"] * factor
    fig = _figure(8.0, 1.8 + 0.45 * len(df))
    ax = fig.add_subplot()
    colors = ["#d62728" if lab == "snnenergy" else "#1f77b4" for lab in df["label"]]
    sns.barplot(df, x="E", y="label", ax=ax, palette=colors, hue="label", legend=False, orient="h")
    for c in ax.containers:
        ax.bar_label(c, fmt="%.4g", fontsize=8, padding=2)
    ax.margins(x=0.15)
    ax.set_xlabel(f"SNN energy per sample ({unit})")
    ax.set_ylabel(ylabel)
    ax.set_title(f"One run under {what}\n{_label(report)}", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------- output
def save(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> list[str]:
    """Write ``fig`` as ``<path>.png`` and ``<path>.svg`` (a ``.png``/``.svg`` suffix on ``path`` is dropped);
    returns the two paths."""
    stem = os.fspath(path)
    root, ext = os.path.splitext(stem)
    if ext.lower() in (".png", ".svg"):
        stem = root
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    out = []
    for suffix in (".png", ".svg"):
        fig.savefig(stem + suffix, dpi=dpi, bbox_inches="tight")
        out.append(stem + suffix)
    return out


PLOTS = {"rates-heatmap": rate_heatmap, "rates-bars": rate_bars, "energy-layers": energy_by_layer,
         "energy-groups": energy_by_group,
         "snn-ann-qnn": snn_ann_qnn, "accuracy-energy": accuracy_vs_energy, "conventions": convention_bars}
