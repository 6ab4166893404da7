"""Human-readable renderings of a :class:`Report`: console text (fitted to the terminal) and Markdown.

Default view: a header (model, weights, inputs), a per-block summary (one row per top-level block or stage),
the top sites by energy, a neuron summary and the energy totals. ``detail=True`` lists every synaptic site and
every neuron layer. Numbers use one format per column.
"""
from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import pandas as pd

from ..wrapping import wrap
from .text_table import Column, fit_table, format_column, middle_ellipsis

_RATE_COLUMNS = ("input_rate", "firing_rate", "dead", "saturated", "rate")
_COUNT_LABELS = {"ac": "ACs", "integer_mac": "int MACs", "mac": "MACs", "dense_ops": "dense"}
TOP_SITES = 10


def terminal_width(default: int = 100) -> int:
    """The terminal's width (``COLUMNS`` when set), ``default`` when there is no terminal."""
    return max(40, shutil.get_terminal_size((default, 24)).columns)


# ---------------------------------------------------------------------------------------------- site labels
def _short(label: Any, layer: str) -> str:
    """A producer label relative to ``layer``: ``block.0.attn.k_lif:spikes`` in ``block.0.attn`` -> ``k_lif``."""
    if not isinstance(label, str) or not label:
        return "?"
    node, _, op = label.partition(":")
    if node == layer:
        return op or node
    if layer and node.startswith(layer + "."):
        node = node[len(layer) + 1:]
    return node if op in ("spikes", "") else f"{node}:{op}"


def site_labels(layers: pd.DataFrame) -> list[str]:
    """One distinct op label per site: the op, its two activation operands for a product of activations
    (``matmul(k_lif, v_lif)``), and ``#index`` where the same layer runs the same op more than once."""
    if layers.empty:
        return []
    dup = layers.duplicated(["layer", "op"], keep=False).to_numpy()
    out = []
    for i, row in enumerate(layers.itertuples(index=False)):
        label = row.op
        if getattr(row, "other_operand", "weight") not in ("weight", None, "") and isinstance(
                getattr(row, "other_producer", None), str):
            label += f"({_short(row.producer, row.layer)}, {_short(row.other_producer, row.layer)})"
        if dup[i]:
            label += f" #{int(row.index)}"
        out.append(label)
    return out


def block_of(layer: str) -> str:
    """The top-level block or stage of a module path: ``block.3.attn.q_conv`` -> ``block.3``,
    ``patch_embed.proj_conv`` -> ``patch_embed``, ``layer1.0.conv1`` -> ``layer1.0``."""
    if not layer:
        return "(model)"
    parts = layer.split(".")
    if len(parts) > 1 and parts[1].isdigit():
        return ".".join(parts[:2])
    return parts[0]


# ------------------------------------------------------------------------------------------------ energy
def rates_unknown(report) -> bool:
    """A dry run without assumed rates: ACs (and so energies) are unknown, only dense ops are."""
    return not report.layers.empty and bool(report.layers["ac"].isna().any())


def _energy(report, preset, level, integer_as, memory=None):
    if report.meta.get("rates_only") or report.layers.empty or rates_unknown(report):
        return None
    return report.energy(preset=preset, level=level, integer_as=integer_as, **(memory or {}))


def _site_energy(report, e) -> np.ndarray:
    """Energy (mJ) of each row of ``report.layers``, aligned by (layer, op, index)."""
    if e is None or e.layers.empty:
        return np.zeros(len(report.layers))
    key = ["layer", "op", "index"]
    cols = [c for c in ("ac_mJ", "mac_mJ", "integer_mJ") if c in e.layers.columns]
    el = e.layers[key].copy()
    el["_mJ"] = e.layers[cols].sum(axis=1) if cols else e.layers["snn_mJ"]
    merged = report.layers[key].merge(el.groupby(key, as_index=False)["_mJ"].sum(), on=key, how="left")
    return merged["_mJ"].fillna(0.0).to_numpy()


def energy_split(e) -> dict[str, float]:
    """Synaptic, neuron and memory energy (mJ per sample) of an EnergyReport."""
    layers = e.layers
    syn_cols = [c for c in ("ac_mJ", "mac_mJ", "integer_mJ") if c in layers.columns]
    synaptic = float(layers[syn_cols].to_numpy().sum()) if syn_cols else float(layers["snn_mJ"].sum())
    total = float(e.totals["snn_mJ"])
    parts = [layers] + ([e.neurons] if getattr(e, "neurons", None) is not None and not e.neurons.empty else [])
    reads = sum(float(df["memory_mJ"].sum()) for df in parts if "memory_mJ" in df.columns)
    addressing = sum(float(df["addressing_mJ"].sum()) for df in parts if "addressing_mJ" in df.columns)
    memory = reads + addressing
    return {"synaptic": synaptic, "neuron": max(total - synaptic - memory, 0.0), "memory": memory,
            "addressing": addressing, "total": total}


def energy_lines(report, e, is_snn: bool, assumptions: bool = True) -> list[str]:
    """The energy totals: preset once, SNN vs its ANN counterpart, the level's terms, what is not counted,
    and (``assumptions``) every assumption the energy model echoes."""
    from ..energy import break_even_text, rate_text

    p, t = e.preset, e.totals
    lines = [preset_line(e)]
    if is_snn:
        qnn_priced = t.get("qnn_mJ", float("nan")) == t.get("qnn_mJ", float("nan"))
        qnn = (f"QNN counterpart ({t['qnn_bits']}-bit) {t['qnn_mJ']:.4g} mJ" if qnn_priced
               else "QNN not priced on a chip preset")
        ratios = f"ANN/SNN {t['ann_over_snn']:.3g}x" + (f", QNN/SNN {t['qnn_over_snn']:.3g}x" if qnn_priced else "")
        lines.append(f"  SNN {t['snn_mJ']:.4g} mJ  |  ANN counterpart {t['ann_mJ']:.4g} mJ  |  {qnn}  |  {ratios}")
        lines.append(f"  {break_even_text(t, e.rates_assumed)}"
                     + (f"; vs QNN {rate_text(t['break_even_rate_qnn'])}" if qnn_priced else ""))
    else:
        lines.append(f"  ANN (no spiking neurons): {t['snn_mJ']:.4g} mJ, every synaptic op a MAC")
    if e.level >= 2:
        s = energy_split(e)
        terms = f"  synaptic {s['synaptic']:.4g} mJ  +  neuron {s['neuron']:.4g} mJ"
        if e.level >= 3 or s["memory"]:
            terms += f"  +  memory {s['memory']:.4g} mJ" + (
                f" (addressing {s['addressing']:.4g} mJ of it)" if s["addressing"] else "")
        lines.append(terms)
    from ..energy.model import UNCOUNTED_PREFIX

    restated = (f"preset {p.name}:", f"chip {p.name}:", UNCOUNTED_PREFIX)
    shown = [a for a in e.assumptions if not any(r in a for r in restated)]
    if assumptions:
        lines += [f"  - {a}" for a in shown]
    else:
        lines.append(f"  ({len(shown)} more assumptions: --detail or report.md lists them)")
    lines += uncounted_lines(report)
    return lines


def preset_line(e) -> str:
    """The preset, once: per-op figures (E_MAC / E_AC, and at level 2 E_add, E_mul, E_cmp), or a chip's per-event
    figures and what they leave out; with the source."""
    p = e.preset
    if p.chip:
        return (f"energy per sample, level {e.level}, chip preset {p.name}: {p.e_ac:.4g} pJ per synaptic event "
                f"(every AC and MAC is one event), {p.e_neuron:.4g} pJ per neuron update ({p.source}); "
                f"leaves out: {p.leaves_out}")
    return (f"energy per sample, level {e.level}, preset {p.name}: E_MAC {p.e_mac} pJ, E_AC {p.e_ac} pJ"
            + (f", E_add {p.e_add} pJ, E_mul {p.e_mul} pJ, E_cmp {p.compare} pJ" if e.level >= 2 else "")
            + f" ({p.source})")


def uncounted_lines(report) -> list[str]:
    """A line naming the ops the profiler did not know, when there are any (their cost is not included)."""
    from ..energy.model import unsupported_note

    note = unsupported_note(report.unsupported)
    return [f"  {note}; the energy above leaves them out"] if note else []


# ------------------------------------------------------------------------------------------------ header
def _published(card_pub: dict) -> str:
    parts = []
    for key, label, unit in (("energy_mJ", "energy", " mJ"), ("sops_G", "SOPs", " G"),
                             ("params_M", "params", " M"), ("top1", "top-1", " %")):
        if isinstance(card_pub.get(key), (int, float)):
            parts.append(f"{label} {card_pub[key]:g}{unit}")
    return ", ".join(parts)


def header_lines(report) -> list[str]:
    """Model, kind (SNN/ANN), T, samples, weights, inputs, and the card's published reference values."""
    m = report.meta
    if m.get("dry_run"):
        return dry_run_header(report)
    n_neurons = len(report.neurons)
    kind = f"SNN, {n_neurons} neuron layers" if n_neurons else "ANN: no spiking neurons"
    samples = f"{m['samples']} sample{'s' if m['samples'] != 1 else ''}"
    batches = f"{m['batches']} batch{'es' if m['batches'] != 1 else ''}"
    lines = [f"model {m['model']} ({kind})  |  T = {m['time_steps']}  |  {samples}, {batches}  |  {m['device']}"]
    seed = f" (seed {m['seed']})" if m.get("seed") is not None else ""
    lines.append(f"weights: {m['weights']}{seed}")
    if m.get("inputs"):
        lines.append(f"inputs: {m['inputs']}")
    pub = m.get("published") or {}
    text = _published(pub)
    if text:
        # a fused model merges linear chains into dense layers: its parameters are not the published model's
        whose = "ours after fusion (chains merged into dense layers)" if m.get("fused") else "ours"
        ours = f"; {whose}: params {m['params'] / 1e6:.2f} M" if m.get("params") else ""
        source = str(pub.get("source", "")).split(";")[0]
        lines.append(f"published (reference values, not computed here): {text}{ours}"
                     + (f"  [{source}]" if source else ""))
    lines += replay_lines(m.get("replay"))
    return lines


def replay_lines(replay: dict | None) -> list[str]:
    """The energy replayed from the card's published per-layer firing rates (``meta["replay"]``, made by
    ``snnenergy profile`` from this report's counts), next to our exact rules at the same rates."""
    if not replay:
        return []
    how = f"({replay['convention']} convention, preset {replay['preset']})"
    if "error" in replay:
        return [f"replay from the published per-layer firing rates {how}: not made: {replay['error']}"]
    logged = f" (its log: {replay['logged_mJ']:g} mJ)" if replay.get("logged_mJ") is not None else ""
    return [f"replayed from the published per-layer firing rates {how}: {replay['mJ']:.4g} mJ{logged}; "
            f"our exact rules at the same rates: {replay['exact_mJ']:.4g} mJ"]


def dry_run_header(report) -> list[str]:
    """Model, kind, T, and what a dry run is (shapes on the meta device; rates assumed, or none)."""
    m = report.meta
    n_neurons = len(report.neurons)
    kind = f"SNN, {n_neurons} neuron layers" if n_neurons else "ANN: no spiking neurons"
    lines = [f"model {m['model']} ({kind})  |  T = {m['time_steps']}  |  dry run on the meta device: no data, "
             "no weights' values, dense ops from shapes"]
    if m.get("params"):
        lines.append(f"parameters: {m['params']:,}")
    if rates_unknown(report):
        lines.append("firing rates: none given, so ACs and energy are unknown (--assume-rate R or --rates FILE)")
    else:
        lines.append(f"firing rates: assumed, {m.get('assumed_rates', '?')}; spike-driven ops = rate x dense ops")
    return lines


def summary_lines(report, preset: str = "fp32", level: int = 1, integer_as: str = "mac",
                  assumptions: bool = True, memory: dict | None = None) -> list[str]:
    """Header, totals, neuron summary and energy as plain lines (console and Markdown)."""
    lines = header_lines(report)
    t = report.totals()
    unknown = rates_unknown(report)
    if not report.meta.get("rates_only"):
        ac = "unknown" if unknown else f"{t['ac']:,.0f}"
        lines.append(f"per sample: ACs {ac}  |  integer MACs {t['integer_mac']:,.0f}  |  "
                     f"MACs {t['mac']:,.0f}  |  dense {t['dense_ops']:,.0f}")
    if "firing_rate" in t and not unknown:
        n = report.neurons
        silent = int((n["firing_rate"] == 0).sum())
        assumed = " (assumed)" if report.meta.get("dry_run") else ""
        lines.append(f"neurons: mean firing rate{assumed} {t['firing_rate']:.4f} over {t['neuron_updates']:,.0f} "
                     f"neuron-steps; {silent} of {len(n)} layers never fire")
    e = _energy(report, preset, level, integer_as, memory)
    if e is not None:
        lines += energy_lines(report, e, is_snn=not report.neurons.empty, assumptions=assumptions)
    else:
        lines += uncounted_lines(report)
    return lines


# ------------------------------------------------------------------------------------------------ tables
def block_table(report, e) -> pd.DataFrame:
    """One row per top-level block or stage: sites, ACs, integer MACs, MACs, energy, mean input and output
    (neuron) firing rates (weighted by dense ops and neuron-steps). A block of neurons only (a model whose
    neuron layers are its own top-level modules) has a row too, so that the rows add up to the totals."""
    layers, n = report.layers, report.neurons
    df = pd.DataFrame({"block": layers["layer"].map(block_of), "ac": layers["ac"],
                       "integer_mac": layers["integer_mac"], "mac": layers["mac"], "mJ": _site_energy(report, e),
                       "dense": layers["dense_ops"], "_w": layers["input_rate"].fillna(0) * layers["dense_ops"]})
    neuron_blocks = n["layer"].map(block_of) if not n.empty else pd.Series(dtype=str)
    order = _network_order(report, list(dict.fromkeys([*df["block"], *neuron_blocks])))
    g = df.groupby("block", sort=False).sum(numeric_only=True).reindex(order)
    if df["ac"].isna().any():  # a dry run without rates: a block with a spike-driven site has unknown ACs
        g["ac"] = g["ac"].where(~df["ac"].isna().groupby(df["block"], sort=False).any().reindex(order))
    sites = df.groupby("block", sort=False).size().reindex(order).fillna(0).astype(int)
    neuron_only = sites == 0
    g.loc[neuron_only, ["ac", "integer_mac", "mac", "mJ", "dense", "_w"]] = 0.0
    g.insert(0, "sites", sites)
    g["input rate"] = np.where(g["dense"] > 0, g["_w"] / g["dense"].where(g["dense"] > 0, 1), np.nan)
    if not n.empty:
        steps = np.where(n["per_step"].astype(bool), report.time_steps, 1) * n["neurons"]
        nb = pd.DataFrame({"block": neuron_blocks, "spikes": n["spikes"], "steps": steps})
        ng = nb.groupby("block", sort=False).sum()
        g["spike rate"] = (ng["spikes"] / ng["steps"]).reindex(g.index)
    if e is not None and e.level >= 2 and not getattr(e, "neurons", pd.DataFrame()).empty and "snn_mJ" in e.neurons:
        col = "neuron_mJ" if "neuron_mJ" in e.neurons else "snn_mJ"  # the update itself (level 3 memory apart)
        ne = e.neurons.assign(block=e.neurons["layer"].map(block_of)).groupby("block", sort=False)[col].sum()
        g["neuron mJ"] = ne.reindex(g.index).fillna(0.0)
    out = g.drop(columns=["dense", "_w"]).reset_index()
    return out.rename(columns={"mJ": "synaptic mJ" if "neuron mJ" in out else "mJ"})


def _network_order(report, blocks: list[str]) -> list[str]:
    """``blocks`` in the order the forward first reached them (the provenance table lists its nodes in that
    order); without one, or for a block it does not name, the order given."""
    try:
        prov = report.provenance
    except (KeyError, AttributeError):
        prov = None
    if prov is None or prov.empty or len(blocks) < 2:
        return blocks
    first: dict[str, int] = {}
    for i, layer in enumerate(prov["layer"].astype(str)):
        if layer:
            first.setdefault(block_of(layer), i)
    given = {b: i for i, b in enumerate(blocks)}
    return sorted(blocks, key=lambda b: (first.get(b, len(prov)), given[b]))


def site_table(report, e, top: int | None) -> pd.DataFrame:
    """Synaptic sites with distinct labels and their energy; the ``top`` most expensive ones when given."""
    layers = report.layers
    df = pd.DataFrame({"layer": layers["layer"], "op": site_labels(layers), "input": layers["input_kind"],
                       "input rate": layers["input_rate"], "ac": layers["ac"], "integer_mac": layers["integer_mac"],
                       "mac": layers["mac"], "mJ": _site_energy(report, e), "producer": layers["producer"]})
    if top is not None:
        df = df.sort_values("mJ", ascending=False, kind="stable").head(top)
    return df


def neuron_view(report) -> pd.DataFrame:
    n = report.neurons
    return n[[c for c in ("layer", "type", "neurons", "firing_rate", "dead", "saturated") if c in n.columns]]


_SHRINKABLE = ("layer", "block", "producer")
_DROPPABLE = ("producer", "input", "type", "saturated", "dead", "sites", "integer_mac")


def _columns(df: pd.DataFrame) -> list[Column]:
    cols = []
    for c in df.columns:
        numeric = df[c].dtype.kind in "fiu"
        cells = format_column(df[c], rate=c in _RATE_COLUMNS or c.endswith("rate"), mJ=c.endswith("mJ"))
        cols.append(Column(_COUNT_LABELS.get(c, c), cells, right=numeric, shrink=c in _SHRINKABLE,
                           drop_order=_DROPPABLE.index(c) if c in _DROPPABLE else None))
    return cols


def _table_text(title: str, df: pd.DataFrame, width: int) -> list[str]:
    return [title, *fit_table(_columns(df), width), ""]


def _memory(sram_kib, dram, sram_model) -> dict:
    return {"sram_kib": sram_kib, "dram": dram, "sram_model": sram_model}


def _without_energy(df: pd.DataFrame, e, report=None) -> pd.DataFrame:
    """``df`` without energy columns when there is no energy, and without the block rates a dry run without
    assumed rates cannot know."""
    if report is not None and rates_unknown(report):
        df = df.drop(columns=[c for c in ("input rate", "spike rate") if c in df.columns])
    return df.drop(columns=[c for c in df.columns if c.endswith("mJ")]) if e is None else df


def console_text(report, preset: str = "fp32", level: int = 1, *, detail: bool = False, width: int | None = None,
                 integer_as: str = "mac", top: int = TOP_SITES, sram_kib: float | None = None, dram: bool = False,
                 sram_model: str = "packed") -> str:
    """The report as plain text no wider than ``width`` (default: the terminal's width). ``sram_kib``, ``dram``,
    ``sram_model``: the level-3 memory model (see :meth:`Report.energy`)."""
    width = width or terminal_width()
    rates_only = bool(report.meta.get("rates_only"))
    memory = _memory(sram_kib, dram, sram_model)
    e = _energy(report, preset, level, integer_as, memory)
    out: list[str] = []
    if not rates_only and not report.layers.empty:
        title = "Per block (per sample; mJ at the preset below)" if e is not None else "Per block (per sample)"
        out += _table_text(title, _without_energy(block_table(report, e), e, report), width)
        if detail:
            out += _table_text("Every synaptic site (per sample)", _without_energy(site_table(report, e, None), e),
                               width)
        elif e is None:
            out += _table_text(f"Top {min(top, len(report.layers))} of {len(report.layers)} synaptic sites by "
                               "dense ops (--detail lists all)", _top_dense(report, top), width)
        else:
            out += _table_text(f"Top {min(top, len(report.layers))} of {len(report.layers)} synaptic sites by "
                               "energy (--detail lists all)", site_table(report, e, top), width)
    if not report.neurons.empty and (detail or rates_only):
        out += _table_text("Neuron layers", neuron_view(report), width)
    out += [middle_wrap(line, width) for line in summary_lines(report, preset, level, integer_as, detail, memory)]
    return "\n".join(out) + "\n"


def _top_dense(report, top: int) -> pd.DataFrame:
    df = site_table(report, None, None).drop(columns=["mJ"])
    df.insert(len(df.columns) - 1, "dense", report.layers["dense_ops"].to_numpy())
    return df.sort_values("dense", ascending=False, kind="stable").head(top)


def middle_wrap(line: str, width: int) -> str:
    """``line`` wrapped at spaces to ``width`` (continuation lines indented), never between a number and its
    unit."""
    if len(line) <= width:
        return line
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return "\n".join(wrap(line, width, subsequent_indent=indent, break_long_words=True, break_on_hyphens=False))


# ---------------------------------------------------------------------------------------------- Markdown
def _markdown_table(df: pd.DataFrame) -> str:
    cols = _columns(df)
    head = "| " + " | ".join(c.name for c in cols) + " |"
    rule = "|" + "|".join("---:" if c.right else "---" for c in cols) + "|"
    rows = ["| " + " | ".join(c.cells[i].replace("|", "\\|") for c in cols) + " |" for i in range(len(df))]
    return "\n".join([head, rule, *rows])


def markdown_report(report, preset: str = "fp32", level: int = 1, integer_as: str = "mac", *,
                    sram_kib: float | None = None, dram: bool = False, sram_model: str = "packed") -> str:
    """A Markdown document: summary, energy, blocks, every site, neurons, other and unsupported ops."""
    memory = _memory(sram_kib, dram, sram_model)
    e = _energy(report, preset, level, integer_as, memory)
    parts = [f"# snnenergy report: {report.meta['model']}", ""]
    for line in summary_lines(report, preset, level, integer_as, memory=memory):
        text = line.strip()
        parts.append(f"  {text}" if text.startswith("- ") else f"- {text}")
    if e is not None:
        parts += ["", "## Per block (per sample)", "", _markdown_table(block_table(report, e)),
                  "", "## Synaptic sites (per sample)", "", _markdown_table(site_table(report, e, None))]
    if not report.neurons.empty:
        parts += ["", "## Neuron layers", "", _markdown_table(neuron_view(report))]
    if not report.other_ops.empty:
        parts += ["", "## Other ops (not synaptic; per sample)", "", _markdown_table(report.other_ops)]
    if not report.unsupported.empty:
        parts += ["", "## Unsupported ops (not counted)", "", _markdown_table(report.unsupported)]
    return "\n".join(parts) + "\n"


__all__ = ["console_text", "markdown_report", "summary_lines", "site_labels", "block_of", "block_table",
           "terminal_width", "middle_ellipsis", "energy_split"]
