"""Energy from counts: levels, the ANN and QNN counterparts, per-term breakdown and break-even firing rates.

Level 1: E = E_MAC·MACs + E_AC·ACs (+ integer-input ops by the ``integer_as`` rule), the papers' convention.
Level 2: level 1 + neuron state updates: per neuron and time step one add (integrate), one multiply (leak,
LIF-type neurons only) and one compare (threshold); per spike one add (reset). Chip presets price one neuron
update at the chip's published figure instead.
Level 3: level 2 + memory access and addressing (:mod:`snnenergy.energy.memory`, Lemaire et al. 2022).

The ANN counterpart is the same graph with every synaptic op dense as MACs at T = 1 (first layer included); at
level 2 each neuron becomes a ReLU costing one compare per activation. The QNN counterpart
(:mod:`snnenergy.energy.qnn`) is that ANN at ⌈log₂(T+1)⌉ bits.

Break-even rate: the input firing rate r of every spike-driven synaptic op (binary or ternary input, or a
product with a spike operand), fired or not, at which E_SNN = E_ANN (or E_QNN) when those ops cost r × their
rate-1 count (the boundary-exact count with every input element nonzero, ``full_rate_ops`` of the profile) with
their per-event memory traffic at level 3, and everything else (real-input layers, neurons, resets, bias) costs
what was measured. E_SNN is linear in r, so r = (E_ANN − E_SNN(0)) / (E_SNN(1) − E_SNN(0)).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .memory import MemoryModel, activation_bits, ann_site_memory, neuron_memory, snn_site_memory
from .presets import DEFAULT_PRESET, EnergyPreset, get_preset
from .qnn import QNN_SOURCE, QnnCosts, qnn_bits, qnn_costs

PJ_PER_MJ = 1e9
INTEGER_AS = ("mac", "ac", "spikes")
SPIKE_KINDS = ("binary", "ternary")
TERMS = ("ac_mJ", "mac_mJ", "integer_mJ", "neuron_mJ", "memory_mJ", "addressing_mJ")
LEVEL3_COLUMNS = ("weight_params", "input_elements", "output_elements")
RATE1_COLUMN = "full_rate_ops"
_SITE_KEYS = ["layer", "op", "index", "input_kind", "ac", "integer_mac", "mac"]


@dataclass
class EnergyReport:
    """Energy per sample (mJ) of a profiled model, per layer, per term and in total, with its assumptions."""

    preset: EnergyPreset
    level: int
    layers: pd.DataFrame
    neurons: pd.DataFrame
    totals: dict[str, float]
    assumptions: list[str] = field(default_factory=list)
    integer_as: str = "mac"
    breakdown: pd.DataFrame = field(default_factory=pd.DataFrame)
    rates_assumed: bool = False  # a dry run's: its firing rates (hence ACs) were given, not measured

    def to_dataframe(self) -> pd.DataFrame:
        """Per-layer energy table (synaptic sites, plus neuron layers at level 2 and 3)."""
        if self.level >= 2 and not self.neurons.empty:
            return pd.concat([self.layers, self.neurons], ignore_index=True)
        return self.layers.copy()

    def to_dict(self) -> dict[str, Any]:
        return {"preset": self.preset.to_dict(), "level": self.level, "integer_as": self.integer_as,
                "totals": self.totals, "breakdown": self.breakdown.to_dict(orient="index"),
                "assumptions": self.assumptions}

    def __str__(self) -> str:
        t = self.totals
        p = self.preset
        head = (f"Energy, level {self.level}, preset {p.name} "
                + (f"(chip: {p.e_ac:.4g} pJ per synaptic event, {p.e_neuron:.4g} pJ per neuron update)" if p.chip
                   else f"(E_MAC {p.e_mac} pJ, E_AC {p.e_ac} pJ)")
                + f", integer inputs as {self.integer_as!r}")
        qnn = (f"QNN ({t['qnn_bits']}-bit) {t['qnn_mJ']:.6g} mJ, QNN/SNN {t['qnn_over_snn']:.3g}x"
               if t["qnn_mJ"] == t["qnn_mJ"] else "QNN not priced on a chip preset")
        lines = [head,
                 f"SNN {t['snn_mJ']:.6g} mJ | ANN {t['ann_mJ']:.6g} mJ, ANN/SNN {t['ann_over_snn']:.3g}x | {qnn}",
                 f"{break_even_text(t, self.rates_assumed)}; vs QNN "
                 + (rate_text(t["break_even_rate_qnn"]) if t["qnn_mJ"] == t["qnn_mJ"] else "n/a (no QNN)")]
        snn = self.breakdown.loc["snn"] if "snn" in self.breakdown.index else None
        if snn is not None:
            parts = [f"{k[:-3]} {snn[k]:.4g}" for k in TERMS if snn[k]]
            lines.append("SNN terms (mJ): " + (", ".join(parts) if parts else "none"))
        uncounted = [a for a in self.assumptions if a.startswith(UNCOUNTED_PREFIX)]
        if uncounted:  # said right after the totals it changes, not only among the assumptions
            lines.append(f"{uncounted[0]}: the energies above leave them out")
        lines += [f"- {a}" for a in self.assumptions if a not in uncounted]
        return "\n".join(textwrap.fill(line, width=100, subsequent_indent="    ") for line in lines)


def break_even_text(totals: dict, assumed: bool = False) -> str:
    """``break-even input firing rate of the spike-driven ops (below it the SNN costs less; measured 6.2 %):
    vs ANN ...``, with the rate those ops ran at when there are any (``assumed``: a dry run's, from the rates it
    was given); the QNN part is the caller's."""
    now = totals.get("spike_input_rate", float("nan"))
    measured = f"; {'assumed' if assumed else 'measured'} {100 * now:.4g} %" if now == now else ""
    return (f"break-even input firing rate of the spike-driven ops (below it the SNN costs less{measured}): "
            f"vs ANN {rate_text(totals['break_even_rate'])}")


def rate_text(r: float) -> str:
    """A break-even rate as a percentage, with what a value outside [0, 100] % means."""
    if r != r:
        return "n/a (no spike-driven synaptic op, or nothing to scale)"
    if r > 1:
        return f"{100 * r:.4g} % (> 100 %: the SNN is cheaper at any input firing rate)"
    if r < 0:
        return f"{100 * r:.4g} % (< 0: the SNN costs more even with no input spike)"
    return f"{100 * r:.4g} %"


def estimate_energy(
    report, preset: str | EnergyPreset = DEFAULT_PRESET, level: int = 1, integer_as: str = "mac",
    sram_kib: float | None = None, dram: bool = False, sram_model: str = "packed",
) -> EnergyReport:
    """Energy of ``report`` (a :class:`snnenergy.report.Report`) under ``preset`` at ``level`` (1, 2 or 3).

    ``integer_as``: how integer activations into weight layers are priced: ``"mac"`` (a multiplication each,
    the default, since the weight must be scaled by a multi-bit value), ``"ac"`` (one accumulate per nonzero
    input) or ``"spikes"`` (an integer n costs n accumulates: the n-spike view, from ``value_weighted_ops``).
    ``sram_kib``, ``dram``, ``sram_model``: the level-3 memory model (:class:`~snnenergy.energy.memory.MemoryModel`).
    """
    p = get_preset(preset)
    if level not in (1, 2, 3):
        raise ValueError(f"energy level must be 1 (ops), 2 (+ neuron updates) or 3 (+ memory), got {level!r}")
    if integer_as not in INTEGER_AS:
        raise ValueError(f"integer_as must be one of {INTEGER_AS}, got {integer_as!r}")
    if level == 3 and p.chip:
        raise ValueError(f"preset {p.name!r} is a chip whose per-event figures include its memory; use level 1 or 2")
    mm = MemoryModel(sram_kib=sram_kib, dram=dram, sram_model=sram_model)
    T = int(report.meta["time_steps"])
    q = None if p.chip else qnn_costs(qnn_bits(T))
    sites = report.layers.reset_index(drop=True)
    if not sites.empty and sites["ac"].isna().any():
        raise ValueError("this report's ACs are unknown (a dry run without firing rates): give rates, e.g. "
                         "dry_run(..., assume_rate=0.1) or --assume-rate 0.1, to estimate its energy")
    if level == 3:
        _require(sites, LEVEL3_COLUMNS, "level 3 (memory access)")
    base = _site_base(sites, p, T, integer_as)
    table = _site_energy(sites, base, base["ac"], base["theta"], p, level, mm, q)
    neurons = _neuron_energy(report.neurons, p, T, level, mm, q) if level >= 2 else pd.DataFrame()
    breakdown = _breakdown(table, neurons)
    if q is None:
        breakdown.loc["qnn"] = np.nan
    snn, ann, qnn = (float(breakdown.loc[k, "total_mJ"]) for k in ("snn", "ann", "qnn"))
    e0, e1 = _snn_at_rates(sites, base, neurons, p, level, mm, q)
    totals = {
        "snn_mJ": snn, "ann_mJ": ann, "qnn_mJ": qnn if q is not None else float("nan"),
        "ann_over_snn": ann / snn if snn else float("inf"),
        "qnn_over_snn": (qnn / snn if snn else float("inf")) if q is not None else float("nan"),
        "qnn_bits": qnn_bits(T),
        "break_even_rate": _solve(ann, e0, e1),
        "break_even_rate_qnn": _solve(qnn, e0, e1) if q is not None else float("nan"),
        "spike_input_rate": _spike_input_rate(base),
    }
    assumed = bool(report.meta.get("dry_run"))
    assumptions = _assumptions(p, level, integer_as, T, report, base, mm, q, assumed)
    return EnergyReport(p, level, table, neurons, totals, assumptions, integer_as, breakdown, assumed)


def _require(df: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing and not df.empty:
        raise ValueError(f"{what} needs the profile's per-site column(s) {missing}; profile the model again with "
                         "this snnenergy version")


def _site_base(sites: pd.DataFrame, p: EnergyPreset, T: int, integer_as: str) -> pd.DataFrame:
    """Per-site quantities that do not depend on the firing rate: ANN MACs, rate-1 count, pricing class."""
    b = pd.DataFrame(index=sites.index)
    if sites.empty:
        for c in ("ac", "theta", "events_int", "dense_int", "steps", "ann_mac", "rate1", "in_bits"):
            b[c] = pd.Series(dtype=np.float64)
        b["spike"] = b["event"] = b["mixed_int"] = pd.Series(dtype=bool)
        return b
    kind_a = sites["input_kind"].astype(str)
    kind_b = sites.get("other_operand", pd.Series("weight", index=sites.index)).astype(str)
    b["spike"] = kind_a.isin(SPIKE_KINDS) | kind_b.isin(SPIKE_KINDS)
    b["steps"] = np.where(sites["per_step"].astype(bool), T, 1).astype(np.float64)
    b["ac"] = sites["ac"].astype(np.float64)
    in_el = sites["input_elements"] if "input_elements" in sites else pd.Series(0.0, index=sites.index)
    b["theta"] = sites["input_rate"].fillna(0.0).astype(np.float64) * in_el.astype(np.float64)
    b["ann_mac"] = sites["dense_ops"].astype(np.float64) / b["steps"]
    b["rate1"] = (sites[RATE1_COLUMN] if RATE1_COLUMN in sites else sites["dense_ops"]).astype(np.float64)
    imac = sites["integer_mac"].astype(np.float64)
    separable = kind_a.eq("integer") & kind_b.eq("weight")
    b["mixed_int"] = (imac > 0) & ~separable
    if integer_as == "mac":
        b["events_int"], b["dense_int"] = 0.0, imac
    else:
        if integer_as == "spikes" and bool(((imac > 0) & separable).any()):
            _require(sites, ("value_weighted_ops",), 'integer_as="spikes"')
        weighted = (sites["value_weighted_ops"].astype(np.float64) - b["ac"] if integer_as == "spikes"
                    else imac)
        b["events_int"] = np.where(separable, weighted, 0.0)
        b["dense_int"] = np.where(separable, 0.0, imac)
    b["event"] = b["spike"] | (separable & (integer_as != "mac"))
    lo = sites.get("input_min", pd.Series(0.0, index=sites.index))
    hi = sites.get("input_max", pd.Series(0.0, index=sites.index))
    b["in_bits"] = activation_bits(kind_a, lo, hi, p.word_bits)
    return b


def _site_energy(sites, base, ac, theta, p: EnergyPreset, level: int, mm: MemoryModel,
                 q: QnnCosts | None) -> pd.DataFrame:
    """Per-site counts and per-term energies (mJ) for the SNN, the ANN and the QNN."""
    table = sites[[c for c in _SITE_KEYS if c in sites.columns]].copy()
    if sites.empty:
        return table.assign(**{c: pd.Series(dtype=np.float64) for c in TERMS + ("snn_mJ", "ann_mJ", "qnn_mJ")})
    mac = sites["mac"].to_numpy(np.float64)
    ac = np.asarray(ac, dtype=np.float64)
    ann_mac = base["ann_mac"].to_numpy()
    events = ac + base["events_int"].to_numpy()
    dense = mac + base["dense_int"].to_numpy()
    zero = np.zeros(len(sites))
    c = {"ac": ac, "ann_mac": ann_mac, "rate1_ops": base["rate1"].to_numpy(),
         "ac_mJ": ac * p.e_ac / PJ_PER_MJ, "mac_mJ": mac * p.e_mac / PJ_PER_MJ,
         "integer_mJ": (base["events_int"].to_numpy() * p.e_ac + base["dense_int"].to_numpy() * p.e_mac) / PJ_PER_MJ,
         "neuron_mJ": zero, "ann_mac_mJ": ann_mac * p.e_mac / PJ_PER_MJ,
         "qnn_mac_mJ": ann_mac * (q.e_mac if q else np.nan) / PJ_PER_MJ}
    parts = [table.drop(columns=["ac"]), pd.DataFrame(c, index=sites.index)]
    if level == 3:
        steps = base["steps"].to_numpy()
        parts.append(snn_site_memory(sites, events, dense, np.asarray(theta, dtype=np.float64),
                                     base["event"].to_numpy(), steps, base["in_bits"].to_numpy(), p.word_bits, mm,
                                     p.e_add, p.e_mac))
        parts.append(ann_site_memory(sites, ann_mac, steps, p.word_bits, mm, p.e_add, "ann"))
        parts.append(ann_site_memory(sites, ann_mac, steps, q.bits, mm, q.e_add, "qnn"))
    else:
        parts.append(pd.DataFrame({k: zero for k in ("memory_mJ", "addressing_mJ", "ann_memory_mJ",
                                                     "ann_addressing_mJ", "qnn_memory_mJ", "qnn_addressing_mJ")},
                                  index=sites.index))
    table = pd.concat(parts, axis=1)
    snn = sum(table[t].to_numpy() for t in TERMS)
    ann = table["ann_mac_mJ"].to_numpy() + table["ann_memory_mJ"].to_numpy() + table["ann_addressing_mJ"].to_numpy()
    qnn = (table["qnn_mac_mJ"].to_numpy() + table["qnn_memory_mJ"].to_numpy()
           + table["qnn_addressing_mJ"].to_numpy()) if q else np.full(len(sites), np.nan)
    return pd.concat([table, pd.DataFrame({"snn_mJ": snn, "ann_mJ": ann, "qnn_mJ": qnn}, index=sites.index)], axis=1)


def _neuron_energy(neurons: pd.DataFrame, p: EnergyPreset, T: int, level: int, mm: MemoryModel,
                   q: QnnCosts | None) -> pd.DataFrame:
    cols = ["layer", "op", "updates", "spikes", *TERMS, "snn_mJ", "ann_neuron_mJ", "ann_mJ", "qnn_neuron_mJ",
            "qnn_mJ"]
    if neurons.empty:
        return pd.DataFrame(columns=cols)
    steps = np.where(neurons["per_step"].astype(bool), T, 1)
    updates = (neurons["neurons"] * steps).to_numpy(np.float64)
    spikes = neurons["spikes"].to_numpy(np.float64)
    n = neurons["neurons"].to_numpy(np.float64)
    out = pd.DataFrame({"layer": neurons["layer"].to_numpy(), "op": "neuron", "updates": updates, "spikes": spikes})
    for c in TERMS:
        out[c] = 0.0
    if p.chip:
        out["neuron_mJ"] = updates * p.e_neuron / PJ_PER_MJ
        out["ann_neuron_mJ"] = n * p.e_neuron / PJ_PER_MJ
    else:
        per_update = p.e_add + p.compare + np.where(neurons["has_leak"].astype(bool), p.e_mul, 0.0)
        out["neuron_mJ"] = (updates * per_update + spikes * p.e_add) / PJ_PER_MJ
        out["ann_neuron_mJ"] = n * p.compare / PJ_PER_MJ
    out["qnn_neuron_mJ"] = n * (q.e_add if q else np.nan) / PJ_PER_MJ
    if level == 3:
        mem = neuron_memory(neurons.reset_index(drop=True), updates, p.word_bits, mm)
        out[["potential_reads", "potential_writes", "output_writes", "e_potential_pJ"]] = mem[
            ["potential_reads", "potential_writes", "output_writes", "e_potential_pJ"]].to_numpy()
        out["memory_mJ"] = mem["memory_mJ"].to_numpy()
    out["snn_mJ"] = out[list(TERMS)].sum(axis=1)
    out["ann_mJ"] = out["ann_neuron_mJ"]
    out["qnn_mJ"] = out["qnn_neuron_mJ"]
    return out


def _breakdown(table: pd.DataFrame, neurons: pd.DataFrame) -> pd.DataFrame:
    """Totals per term (columns) for the SNN, the ANN and the QNN (rows); ``total_mJ`` is their sum."""
    def col(df, c):
        return float(df[c].sum(min_count=1)) if c in df and not df.empty else 0.0

    rows = {"snn": {c: col(table, c) + col(neurons, c) for c in TERMS}}
    for net in ("ann", "qnn"):
        r = dict.fromkeys(TERMS, 0.0)
        r["mac_mJ"] = col(table, f"{net}_mac_mJ")
        r["neuron_mJ"] = col(neurons, f"{net}_neuron_mJ")
        r["memory_mJ"] = col(table, f"{net}_memory_mJ")
        r["addressing_mJ"] = col(table, f"{net}_addressing_mJ")
        rows[net] = r
    out = pd.DataFrame.from_dict(rows, orient="index")[list(TERMS)]
    out["total_mJ"] = out.sum(axis=1)
    return out


def _snn_at_rates(sites, base, neurons, p, level, mm, q) -> tuple[float, float]:
    """E_SNN with every spike-driven op at input rate 0 and at rate 1 (all else as measured)."""
    if sites.empty or not bool(base["spike"].any()):
        return float("nan"), float("nan")
    fixed = float(neurons["snn_mJ"].sum()) if not neurons.empty else 0.0
    spike = base["spike"].to_numpy()
    in_el = sites["input_elements"].astype(np.float64) if "input_elements" in sites else base["theta"] * 0.0
    out = []
    for r in (0.0, 1.0):
        ac = np.where(spike, r * base["rate1"], base["ac"])
        theta = np.where(spike, r * in_el, base["theta"])
        out.append(float(_site_energy(sites, base, ac, theta, p, level, mm, q)["snn_mJ"].sum()) + fixed)
    return out[0], out[1]


def _spike_input_rate(base: pd.DataFrame) -> float:
    """The measured input firing rate of the spike-driven ops, the rate a break-even rate is compared with:
    their ACs over their ACs at rate 1 (NaN without such ops)."""
    if base.empty or not bool(base["spike"].any()):
        return float("nan")
    spike = base["spike"].to_numpy()
    full = float(base["rate1"].to_numpy()[spike].sum())
    return float(base["ac"].to_numpy()[spike].sum()) / full if full else float("nan")


def _solve(target: float, e0: float, e1: float) -> float:
    slope = e1 - e0
    if not slope or slope != slope or target != target:
        return float("nan")
    return (target - e0) / slope


def _assumptions(p: EnergyPreset, level: int, integer_as: str, T: int, report, base: pd.DataFrame,
                 mm: MemoryModel, q: QnnCosts | None, assumed: bool = False) -> list[str]:
    ops = (f"chip {p.name}: {p.e_ac:.4g} pJ per synaptic event (every AC and MAC is one event), "
           f"{p.e_neuron:.4g} pJ per neuron update ({p.source}); leaves out: {p.leaves_out}" if p.chip else
           f"preset {p.name}: E_MAC {p.e_mac} pJ, E_AC {p.e_ac} pJ, E_mul {p.e_mul} pJ, E_add {p.e_add} pJ, "
           f"E_cmp {p.compare} pJ, {p.word_bits}-bit words ({p.source})")
    rule = {"mac": "as MACs (the weight is scaled by a multi-bit value)",
            "ac": "as one AC per nonzero input (integer_as='ac')",
            "spikes": "as n ACs for a value n (the n-spike view, value-weighted count; integer_as='spikes')"}
    out = [
        f"energies per sample; T = {T}; {ops}",
        ("effective counts of a dry run: the assumed firing rates times the dense ops (no values were seen; a "
         "product of two spike tensors at the product of their rates)" if assumed else
         "effective counts: only terms whose activation is nonzero (exact, padding-aware; weights count whatever "
         "their value; products of two activations: both nonzero)") + "; bias adds, BatchNorm, pooling, softmax "
        "and residual adds not priced",
        f"integer (multi-bit) activations into weight layers priced {rule[integer_as]}",
        "real-valued inputs (the encoding layer included) priced as MACs at every time step they run",
        "ANN counterpart: same graph, every synaptic op dense (nominal count) as MACs at T = 1",
    ]
    if q is not None:
        out.append(f"QNN counterpart: {q.bits}-bit (⌈log₂({T}+1)⌉): E_mul {q.e_mul:.4g} pJ, E_add {q.e_add:.4g} "
                   f"pJ per op; {QNN_SOURCE}")
    else:
        out.append("QNN counterpart not priced on a chip preset (no QNN figure for the same silicon)")
    if bool(base.get("mixed_int", pd.Series(dtype=bool)).any()) and integer_as != "mac":
        out.append(f"{int(base['mixed_int'].sum())} site(s) mix integer with real inputs: their integer MACs "
                   "are priced as MACs")
    if level >= 2:
        out.append("level 2: " + (f"one chip neuron update ({p.e_neuron:.4g} pJ) per neuron and step; ANN neurons "
                                  "one update per activation" if p.chip else
                                  "per neuron and step E_add (integrate) + E_mul (leak, LIF-type only) + E_cmp "
                                  "(threshold); per spike E_add (reset); ANN/QNN neurons are ReLUs at one compare"))
    if level == 3:
        out += mm.describe()
        out.append("level 3 counts (Lemaire et al. ICONIP 2022): SNN events read a weight and read+write a "
                   "potential each, input events are read from a FIFO, per-step potential read+write per neuron, "
                   "1-bit write per spike, bias reads per output and step; addressing: an accumulate per event "
                   "(+2 MACs per input event in convolutions); ANN: an input and a weight read per MAC (no "
                   "reuse), a write per output")
    out.append("break-even: the input firing rate r of every spike-driven synaptic op, fired or not, at which "
               "E_SNN = E_ANN (E_QNN), those ops costing r × their rate-1 count (with their per-event memory "
               "traffic at level 3), all else as " + ("assumed (a dry run)" if assumed else "measured"))
    spike_conv = base["spike"] & report.layers["op"].astype(str).str.contains("conv").to_numpy() \
        if not report.layers.empty else pd.Series(dtype=bool)
    if RATE1_COLUMN not in report.layers.columns and bool(np.any(spike_conv)):
        out.append("rate-1 counts of spike-driven convolutions approximated by their nominal dense count (taps on "
                   "padding included) because the profile lacks 'full_rate_ops': the break-even rate is "
                   "slightly low")
    if str(report.meta.get("weights", "")).startswith("untrained"):
        out.append("untrained weights: firing rates (and so energies) of random weights mean little")
    note = unsupported_note(report.unsupported)
    if note:
        out.append(note)
    return out


UNCOUNTED_PREFIX = "NOT COUNTED:"


def unsupported_note(unsupported: pd.DataFrame, shown: int = 6) -> str | None:
    """``"NOT COUNTED: N ops of K kinds not counted: op xcalls, ..."`` for the ops the profiler did not know
    (their cost is in no total), or None when there are none."""
    if unsupported is None or unsupported.empty:
        return None
    calls = unsupported.groupby("op", sort=False)["calls"].sum()
    kinds = ", ".join(f"{op} x{int(n)}" for op, n in list(calls.items())[:shown])
    more = f", and {len(calls) - shown} more kinds" if len(calls) > shown else ""
    n, k = int(calls.sum()), len(calls)
    return (f"{UNCOUNTED_PREFIX} {n} op{'s' * (n != 1)} of {k} kind{'s' * (k != 1)} not counted: {kinds}{more} "
            "(report.unsupported lists them by layer)")
