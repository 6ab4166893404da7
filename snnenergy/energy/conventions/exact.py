"""``snnenergy``: our own exact counts (the default), and ``neurobench``: effective synaptic operations.

Both count only the terms whose two operands are nonzero, padding taps excluded. From a profile these are
the measured counts; from published rates (a replay) they are estimated as rate x padding-exact dense ops,
i.e. as if the spikes were spread uniformly and independently over positions and channels.
"""
from __future__ import annotations

import numpy as np

from ..presets import EnergyPreset
from .base import SiteTable, is_spike, require_rates, terms_frame

INTEGER_AS = ("mac", "ac")


def _valid(s) -> tuple[np.ndarray, bool]:
    """Padding-exact dense ops (nominal where unknown) and whether any had to fall back."""
    valid = s["valid_dense"].to_numpy(dtype=np.float64)
    unknown = ~np.isfinite(valid)
    return np.where(unknown, s["dense"].to_numpy(dtype=np.float64), valid), bool(unknown.any())


def estimated_effective(sites: SiteTable, convention: str) -> tuple[np.ndarray, list[str]]:
    """Effective ops of a replay: rate_a x valid dense for weight sites, rate_a x rate_b x valid dense for
    products of two activations (a term counts when both operands are nonzero, taken as independent)."""
    s = sites.frame
    valid, fallback = _valid(s)
    weight = s["weight"].to_numpy(dtype=bool)
    require_rates(s, np.ones(len(s), dtype=bool), "rate_a", convention)
    require_rates(s, ~weight, "rate_b", convention)
    ra = s["rate_a"].to_numpy(dtype=np.float64)
    rb = np.where(weight, 1.0, s["rate_b"].to_numpy(dtype=np.float64))
    notes = ["effective ops estimated from rates as rate x padding-exact dense ops (x the other operand's "
             "nonzero rate for products of two activations): spikes taken as spread uniformly and independently"]
    if fallback:
        notes.append("padding-exact dense ops unknown for some sites: nominal dense used there")
    return ra * rb * valid, notes


def price_snnenergy(sites: SiteTable, preset: EnergyPreset, integer_as: str = "mac"):
    if integer_as not in INTEGER_AS:
        raise ValueError(f"integer_as must be one of {INTEGER_AS}, got {integer_as!r}")
    s = sites.frame
    weight = s["weight"].to_numpy(dtype=bool)
    spike_a, spike_b = is_spike(s["kind_a"]), is_spike(s["kind_b"])
    notes = []
    if sites.exact:
        ac, imac, mac = (s[c].to_numpy(dtype=np.float64) for c in ("ac", "integer_mac", "mac"))
    else:
        eff, notes = estimated_effective(sites, "snnenergy")
        is_ac = np.where(weight, spike_a, spike_a | spike_b)
        is_int = weight & (s["kind_a"] == "integer").to_numpy()
        ac = np.where(is_ac, eff, 0.0)
        imac = np.where(is_int, eff, 0.0)
        mac = np.where(~is_ac & ~is_int, eff, 0.0)
    int_mac = integer_as == "mac"
    mac_ops = mac + (imac if int_mac else 0.0)
    ac_ops = ac + (0.0 if int_mac else imac)
    rule = np.where(imac > 0, f"integer input: {'MAC' if int_mac else 'AC'} per nonzero term",
                    np.where(mac > 0, "real operands: MAC per nonzero term", "spikes: AC per nonzero term"))
    assumptions = [
        "exact counts: only terms whose activation is nonzero (both, for a product of two activations), taps on "
        "padding excluded; bias, "
        "BatchNorm, pooling, residual adds and neuron updates not priced (energy level 1)",
        "every layer priced at every time step it runs; the encoding layer is a MAC layer like any real-valued one",
        "attention products counted as they run: binary x binary = coincidences (AC), integer x binary = AC "
        "per nonzero term, with the model's own head count",
        f"integer (multi-bit) inputs into weight layers priced as {'MACs' if int_mac else 'ACs'}",
    ] + notes
    return terms_frame(s, mac_ops, ac_ops, rule, preset), assumptions


def price_neurobench(sites: SiteTable, preset: EnergyPreset):
    s = sites.frame
    weight = s["weight"].to_numpy(dtype=bool)
    spike_a = is_spike(s["kind_a"])
    notes = []
    if sites.exact:
        eff = s["effective"].to_numpy(dtype=np.float64)
    else:
        eff, notes = estimated_effective(sites, "neurobench")
    eff = np.where(weight, eff, 0.0)
    ac = np.where(spike_a, eff, 0.0)
    mac = np.where(~spike_a, eff, 0.0)
    rule = np.where(~weight, "product of two activations: not seen (hooks on Linear/Conv modules only)",
                    np.where(spike_a, "input in {-1,0,1}: AC per nonzero input x nonzero weight",
                             "other input: MAC per nonzero input x weight (multiplicity ignored)"))
    valid, fallback = _valid(s)
    dense = float(valid[weight].sum())
    assumptions = [
        "SynapticOperations: weight layers (Linear, Conv1-3d) only; a layer is spiking (AC) if its input holds "
        "only -1, 0, 1, otherwise its effective ops are MACs",
        "effective ops = nonzero inputs x their valid (padding-exact) fan-out; an integer value n counts once",
        "products of two activations (attention matmuls, masks) are invisible to NeuroBench and count 0",
        "bias not counted (the binarised layer copy has no bias); NeuroBench also skips zero weights, which "
        "this count includes (trained weights are rarely exactly 0)",
        "NeuroBench has no energy model: the preset's E_MAC, E_AC are applied to its MACs and ACs",
        "'Dense' = padding-exact dense ops of the weight layers"
        + (" (nominal where padding-exact is unknown)" if fallback else ""),
    ] + notes
    return terms_frame(s, mac, ac, rule, preset), assumptions, {"dense_ops": dense}
