"""The papers' rate formula, SOP = fr x T x FLOPs: Spikformer (App. C.2), Spike-driven Transformer (supplement
Eq. S1-S2) and QKFormer (App. "Energy consumption calculation").

All three price the encoding layer (the one that sees the image) as MACs and every other synaptic op as
SOPs: its nominal dense MACs per time step, times T, times the firing rate of its input. They differ in
whether the encoding layer's MACs are multiplied by T, and none of the papers spells out how integer inputs
(sums of spikes) and the attention products are counted; those choices are options here, stated in the output.
"""
from __future__ import annotations

import numpy as np

from ..presets import EnergyPreset
from .base import SiteTable, product_spike_rate, require_rates, terms_frame

INTEGER_RULES = ("value", "nonzero", "mac")


def rate_formula(sites: SiteTable, preset: EnergyPreset, first_times_T: bool, integer: str, convention: str):
    """(terms, notes) of E = E_MAC x FLOPs(encoder) + E_AC x sum(fr x T x FLOPs) over every other site."""
    if integer not in INTEGER_RULES:
        raise ValueError(f"integer must be one of {INTEGER_RULES}, got {integer!r}")
    s = sites.frame
    T = sites.time_steps
    weight = s["weight"].to_numpy(dtype=bool)
    first = s["first"].to_numpy(dtype=bool) & weight
    dense = s["dense"].to_numpy(dtype=np.float64)
    per_step = s["per_step"].to_numpy(dtype=bool)
    integer_in = weight & (s["kind_a"] == "integer").to_numpy()
    enc = np.where(per_step & (not first_times_T), dense / T, dense)
    rest = weight & ~first
    require_rates(s, rest & ~(integer_in & (integer == "mac")), "rate_a", convention)
    fr = np.where(integer_in & (integer == "value"), s["mean_a"].to_numpy(dtype=np.float64),
                  s["rate_a"].to_numpy(dtype=np.float64))
    prod_rate = product_spike_rate(s)
    prod = ~weight
    prod_rate = np.where(prod & np.isnan(prod_rate), 1.0, prod_rate)  # no spike operand: dense
    mac = np.where(first, enc, 0.0) + np.where(integer_in & (integer == "mac") & ~first, dense, 0.0)
    ac = np.where(rest & ~(integer_in & (integer == "mac")), np.nan_to_num(fr) * dense, 0.0)
    ac = ac + np.where(prod, prod_rate * dense, 0.0)
    rule = np.where(first, "encoding layer: MACs" + (" x T" if first_times_T else " once (no T)"),
                    np.where(prod, "attention product: fr(sparser spike operand) x T x FLOPs",
                             "SOP = fr x T x FLOPs"))
    int_text = {"value": "an integer input n counts as n spikes (fr = mean input value)",
                "nonzero": "an integer input counts once per nonzero value (fr = nonzero fraction)",
                "mac": "integer inputs priced as dense MACs"}[integer]
    notes = [
        f"T = {T}; FLOPs = nominal dense MACs per time step (taps on padding included), bias and BatchNorm "
        "(folded into the conv) not priced; pooling, residual adds, neuron updates free",
        "encoding layer (input = the model input): E_MAC x its FLOPs" + (" x T" if first_times_T else
                                                                          ", counted once (not x T)"),
        "every other synaptic op: E_AC x fr x T x FLOPs with fr = firing rate of its input, real-valued inputs "
        "after the encoder included (fr = their nonzero fraction)",
        f"integer inputs (sums of spikes): {int_text} (the paper does not say; option integer=)",
        "attention products: fr of the sparser spike operand x T x FLOPs, with the model's head count "
        "(the paper does not define its attention SOPs)",
    ]
    return terms_frame(s, mac, ac, rule, preset), notes


def price_spikformer(sites: SiteTable, preset: EnergyPreset, integer: str = "value"):
    terms, notes = rate_formula(sites, preset, True, integer, "spikformer")
    notes.append("published Spikformer energies use one constant MAC term, 4.6 pJ x 0.3468 G (the D=512 model's "
                 "first conv x T) for every size; this convention uses the model's own encoder")
    return terms, notes


def price_sdt(sites: SiteTable, preset: EnergyPreset, integer: str = "value"):
    terms, notes = rate_formula(sites, preset, False, integer, "sdt")
    notes.append("BICLab's hand (Excel) calculation: re-parameterised conv chains (RepConv, SepConv) are merged "
                 "into one conv before counting; here each conv of the model is counted as built")
    return terms, notes


def price_qkformer(sites: SiteTable, preset: EnergyPreset, integer: str = "value"):
    terms, notes = rate_formula(sites, preset, False, integer, "qkformer")
    notes.append("Q-K attention (token mask x K) and SSA products priced by the same attention rule; the paper "
                 "argues the mask is nearly free but gives no op count for its SOP_QKTA term")
    return terms, notes
