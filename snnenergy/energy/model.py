"""Energy from counts: levels, the ANN counterpart, the SNN/ANN ratio and the break-even firing rate.

Level 1: E = E_MAC·MACs + E_AC·ACs (the spiking-transformer papers' convention).
Level 2: level 1 + neuron state updates: per neuron and time step one add (integrate), one multiply (leak,
LIF-type neurons only) and one compare (threshold); per spike one add (reset).
The ANN counterpart is the same graph with every synaptic op dense as MACs at T = 1 (first layer included,
as a MAC layer like every other); at level 2 each neuron becomes a ReLU costing one compare per activation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .presets import DEFAULT_PRESET, EnergyPreset, get_preset

PJ_PER_MJ = 1e9
INTEGER_AS = ("mac", "ac")


@dataclass
class EnergyReport:
    """Energy per sample (mJ) of a profiled model, per layer and in total, with its assumptions."""

    preset: EnergyPreset
    level: int
    layers: pd.DataFrame
    neurons: pd.DataFrame
    totals: dict[str, float]
    assumptions: list[str] = field(default_factory=list)

    def to_dataframe(self) -> pd.DataFrame:
        """Per-layer energy table (synaptic sites, plus neuron layers at level 2)."""
        if self.level >= 2 and not self.neurons.empty:
            return pd.concat([self.layers, self.neurons], ignore_index=True)
        return self.layers.copy()

    def to_dict(self) -> dict[str, Any]:
        return {"preset": self.preset.to_dict(), "level": self.level, "totals": self.totals,
                "assumptions": self.assumptions}

    def __str__(self) -> str:
        t = self.totals
        r = t["break_even_rate"]
        if r != r:
            verdict = "n/a (no spike-driven layer)"
        elif r > 1:
            verdict = f"{r:.3g} (> 1: the SNN is cheaper at any firing rate)"
        elif r < 0:
            verdict = f"{r:.3g} (< 0: the SNN costs more than the ANN even without a single spike)"
        else:
            verdict = f"{r:.3g}"
        lines = [
            f"Energy, level {self.level}, preset {self.preset.name} "
            f"(E_MAC {self.preset.e_mac} pJ, E_AC {self.preset.e_ac} pJ; {self.preset.source})",
            f"  SNN {t['snn_mJ']:.6g} mJ  |  ANN {t['ann_mJ']:.6g} mJ  |  ANN/SNN {t['ann_over_snn']:.3g}x"
            f"  |  break-even input firing rate {verdict}",
        ]
        lines += [f"  - {a}" for a in self.assumptions]
        return "\n".join(lines)


def estimate_energy(
    report, preset: str | EnergyPreset = DEFAULT_PRESET, level: int = 1, integer_as: str = "mac"
) -> EnergyReport:
    """Energy of ``report`` (a :class:`snnenergy.report.Report`) under ``preset`` at ``level`` (1 or 2).

    ``integer_as``: how integer activations into weight layers are priced: ``"mac"`` (a multiplication each,
    our default, since the weight must be scaled by a multi-bit value) or ``"ac"`` (one accumulate each).
    """
    p = get_preset(preset)
    if level not in (1, 2):
        if level == 3:
            raise NotImplementedError("energy level 3 (memory access) is not implemented yet; use level 1 or 2")
        raise ValueError(f"energy level must be 1 (ops) or 2 (+ neuron updates), got {level!r}")
    if integer_as not in INTEGER_AS:
        raise ValueError(f"integer_as must be one of {INTEGER_AS}, got {integer_as!r}")
    T = int(report.meta["time_steps"])
    layers = report.layers
    cols = ["layer", "op", "index", "input_kind", "ac", "integer_mac", "mac", "ann_mac", "snn_mJ", "ann_mJ"]
    if layers.empty:
        table = pd.DataFrame(columns=cols)
    else:
        table = layers[["layer", "op", "index", "input_kind", "ac", "integer_mac", "mac"]].copy()
        # the ANN runs one step: per-step layers cost their dense ops once, un-timed layers as counted
        table["ann_mac"] = np.where(layers["per_step"].astype(bool), layers["dense_ops"] / T, layers["dense_ops"])
        imac_cost = p.e_mac if integer_as == "mac" else p.e_ac
        table["snn_mJ"] = (p.e_ac * table["ac"] + p.e_mac * table["mac"] + imac_cost * table["integer_mac"]) / PJ_PER_MJ
        table["ann_mJ"] = p.e_mac * table["ann_mac"] / PJ_PER_MJ
    neurons = _neuron_energy(report.neurons, p, T) if level >= 2 else pd.DataFrame()
    snn = float(table["snn_mJ"].sum()) if not table.empty else 0.0
    ann = float(table["ann_mJ"].sum()) if not table.empty else 0.0
    if level >= 2 and not neurons.empty:
        snn += float(neurons["snn_mJ"].sum())
        ann += float(neurons["ann_mJ"].sum())
    totals = {"snn_mJ": snn, "ann_mJ": ann, "ann_over_snn": ann / snn if snn else float("inf"),
              "break_even_rate": _break_even(report, table, neurons, p, T, ann, level)}
    assumptions = _assumptions(p, level, integer_as, T, report)
    return EnergyReport(p, level, table, neurons, totals, assumptions)


def _neuron_energy(neurons: pd.DataFrame, p: EnergyPreset, T: int) -> pd.DataFrame:
    if neurons.empty:
        return pd.DataFrame(columns=["layer", "op", "updates", "spikes", "snn_mJ", "ann_mJ"])
    steps = np.where(neurons["per_step"].astype(bool), T, 1)
    updates = neurons["neurons"] * steps
    per_update = p.e_add + p.compare + np.where(neurons["has_leak"].astype(bool), p.e_mul, 0.0)
    return pd.DataFrame({
        "layer": neurons["layer"], "op": "neuron", "updates": updates, "spikes": neurons["spikes"],
        "snn_mJ": (updates * per_update + neurons["spikes"] * p.e_add) / PJ_PER_MJ,
        "ann_mJ": neurons["neurons"] * p.compare / PJ_PER_MJ,
    })


def _break_even(report, table, neurons, p: EnergyPreset, T: int, ann_mJ: float, level: int) -> float:
    """Input firing rate of the AC layers at which E_SNN = E_ANN, assuming ACs (and, at level 2, resets)
    scale linearly with the firing rate and everything else stays as measured."""
    layers = report.layers
    if layers.empty:
        return float("nan")
    spiking = layers["ac"] > 0
    dense_ac = float(layers.loc[spiking, "dense_ops"].sum())
    fixed = float((table["snn_mJ"] - p.e_ac * table["ac"] / PJ_PER_MJ).sum())
    slope = p.e_ac * dense_ac / PJ_PER_MJ
    if level >= 2 and not neurons.empty:
        fixed += float((neurons["snn_mJ"] - neurons["spikes"] * p.e_add / PJ_PER_MJ).sum())
        steps = np.where(report.neurons["per_step"].astype(bool), T, 1)
        slope += float((report.neurons["neurons"] * steps).sum()) * p.e_add / PJ_PER_MJ
    if slope == 0:
        return float("nan")
    return (ann_mJ - fixed) / slope


def _assumptions(p: EnergyPreset, level: int, integer_as: str, T: int, report) -> list[str]:
    out = [
        f"energies per sample; T = {T}; preset {p.name}: E_MAC {p.e_mac} pJ, E_AC {p.e_ac} pJ, "
        f"E_mul {p.e_mul} pJ, E_add {p.e_add} pJ ({p.source})",
        "effective counts: only terms whose two operands are both nonzero (exact, padding-aware); "
        "bias, BatchNorm, pooling, softmax and residual adds not priced",
        f"integer (multi-bit) activations into weight layers priced as {'MACs' if integer_as == 'mac' else 'ACs'}",
        "real-valued inputs (the encoding layer included) priced as MACs at every time step they run",
        "ANN counterpart: same graph, every synaptic op dense as MACs at T = 1",
    ]
    if level >= 2:
        out.append("level 2: per neuron and step E_add (integrate) + E_mul (leak, LIF-type only) + E_cmp "
                   "(threshold); per spike E_add (reset); ANN neurons are ReLUs at one compare each")
    if str(report.meta.get("weights", "")).startswith("untrained"):
        out.append("untrained weights: firing rates (and so energies) of random weights mean little")
    return out
