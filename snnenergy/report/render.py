"""Human-readable renderings of a :class:`Report`: console text and Markdown."""
from __future__ import annotations

import io

import pandas as pd

_LAYER_VIEW = ["layer", "op", "input_kind", "input_rate", "dense_ops", "ac", "integer_mac", "mac", "producer"]
_NEURON_VIEW = ["layer", "type", "neurons", "firing_rate", "dead", "saturated"]


def _fmt_frame(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    view = df[[c for c in cols if c in df.columns]].copy()
    for c in view.columns:
        if view[c].dtype.kind == "f":
            if c in ("input_rate", "firing_rate", "dead", "saturated"):
                view[c] = view[c].map(lambda v: f"{v:.4f}" if pd.notna(v) else "–")
            else:
                view[c] = view[c].map(lambda v: f"{v:,.0f}" if pd.notna(v) else "–")
    return view


def summary_lines(report, preset: str = "fp32", level: int = 1) -> list[str]:
    m = report.meta
    t = report.totals()
    lines = [
        f"model {m['model']}  |  T = {m['time_steps']}  |  {m['samples']} sample(s) in {m['batches']} batch(es)"
        f"  |  device {m['device']}  |  weights: {m['weights']}",
        f"per sample: ACs {t['ac']:,.0f}  |  integer MACs {t['integer_mac']:,.0f}  |  MACs {t['mac']:,.0f}"
        f"  |  dense {t['dense_ops']:,.0f}",
    ]
    if "firing_rate" in t:
        lines.append(f"neurons: mean firing rate {t['firing_rate']:.4f} over {t['neuron_updates']:,.0f} neuron-steps")
    if not m.get("rates_only") and not report.layers.empty:
        lines.append(str(report.energy(preset, level)))
    if not report.unsupported.empty:
        ops = ", ".join(f"{r.op} ×{r.calls}" for r in report.unsupported.itertuples())
        lines.append(f"UNSUPPORTED ops (not counted): {ops}")
    return lines


def console_text(report, preset: str = "fp32", level: int = 1) -> str:
    """Rich-rendered tables as plain text (for ``print(report)`` and the CLI)."""
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(file=buf, width=160, force_terminal=False, color_system=None)
    if not report.layers.empty:
        table = Table(title="Synaptic ops per sample", show_lines=False)
        view = _fmt_frame(report.layers, _LAYER_VIEW)
        for c in view.columns:
            table.add_column(c, justify="right" if c not in ("layer", "op", "input_kind", "producer") else "left",
                             overflow="fold")
        for row in view.itertuples(index=False):
            table.add_row(*[str(v) for v in row])
        console.print(table)
    if not report.neurons.empty:
        table = Table(title="Neuron layers")
        view = _fmt_frame(report.neurons, _NEURON_VIEW)
        for c in view.columns:
            table.add_column(c, justify="left" if c in ("layer", "type") else "right")
        for row in view.itertuples(index=False):
            table.add_row(*[str(v) for v in row])
        console.print(table)
    for line in summary_lines(report, preset, level):
        console.print(line, markup=False, highlight=False)
    return buf.getvalue()


def markdown_report(report, preset: str = "fp32", level: int = 1) -> str:
    parts = [f"# snnenergy report: {report.meta['model']}", ""]
    parts += [f"- {line}" if not line.startswith("  ") else line for line in summary_lines(report, preset, level)]
    if not report.layers.empty:
        parts += ["", "## Synaptic ops (per sample)", "", _fmt_frame(report.layers, _LAYER_VIEW).to_markdown(index=False)]
    if not report.neurons.empty:
        parts += ["", "## Neuron layers", "", _fmt_frame(report.neurons, _NEURON_VIEW).to_markdown(index=False)]
    if not report.other_ops.empty:
        parts += ["", "## Other ops (not synaptic; per sample)", "", report.other_ops.to_markdown(index=False)]
    if not report.unsupported.empty:
        parts += ["", "## Unsupported ops (not counted)", "", report.unsupported.to_markdown(index=False)]
    return "\n".join(parts) + "\n"
