"""``spikingformer``: the Spikingformer group's syops-based energy script (``energy_consumption_calculation``).

What the script does, as rules (reference: Spikingformer repository, its README example and energy logs):

* forward hooks on Conv/Linear modules count nominal dense ops per call **with the bias adds**, on the
  time-folded batch (so T is included);
* a layer whose input holds only 0 and 1 books ``dense x rate`` ACs, rate = mean of the input over all
  T x B x C x H x W elements; any other input books its dense ops as MACs (in practice the first conv and the
  head);
* per-layer rates are unweighted means of per-batch rates over the evaluation batches;
* the attention matmuls are invisible to module hooks; an analytic term is added per block instead:
  T x H x N x d x d x (min(fr_K, fr_V) + fr_Q), with the head count H set by hand per embedding size;
* BatchNorm, LIF and pooling ops are computed by the hooks but not priced; E = 4.6 pJ x MACs + 0.9 pJ x ACs.
"""
from __future__ import annotations

import numpy as np

from ..presets import EnergyPreset
from .base import SiteTable, product_spike_rate, require_rates, terms_frame

#: the script's hand-set ``ssa_info`` head count per embedding size (the trained 768 model has 8 heads)
SCRIPT_HEADS = {384: 8, 512: 8, 768: 12}


def head_factor(sites: SiteTable, ssa_heads: int | None) -> tuple[float, str]:
    """Scale of the attention term from the model's head count to the script's hand-set one.

    For the K^T V-first order the per-block cost T x N x D^2 / H falls with H, so the script's term is the
    model's times H_model / H_script. Other orders, or a model without a known config, keep the model's cost."""
    cfg = sites.config
    heads, dim = cfg.get("num_heads"), cfg.get("embed_dim")
    script = ssa_heads if ssa_heads is not None else SCRIPT_HEADS.get(dim) if isinstance(dim, int) else None
    if not heads or not script:
        return 1.0, "attention term with the model's own head count (the script's ssa_info has no entry for it)"
    if cfg.get("attn_order", "kv") != "kv":
        return 1.0, (f"attention order {cfg.get('attn_order')!r}: the script's K^T V-first formula does not apply; "
                     "the model's own attention cost is used")
    if heads == script:
        return 1.0, f"attention term with H = {heads} heads (the script's ssa_info agrees with the model)"
    return heads / script, (f"attention term with the script's hand-set H = {script} heads for D = {dim}; the "
                            f"model has {heads} (x{heads / script:.4g} of its real K^T V-first cost)")


def price_spikingformer(sites: SiteTable, preset: EnergyPreset, ssa_heads: int | None = None):
    s = sites.frame
    weight = s["weight"].to_numpy(dtype=bool)
    spikes_01 = weight & (s["kind_a"] == "binary").to_numpy()  # Nspks_max = 1: only {0, 1} is a spike input
    require_rates(s, spikes_01, "rate_a", "spikingformer")
    with_bias = s["dense"].to_numpy(dtype=np.float64) + s["bias"].to_numpy(dtype=np.float64)
    factor, heads_note = head_factor(sites, ssa_heads)
    gate = product_spike_rate(s)
    attn = ~weight & np.isfinite(gate)
    ac = np.where(spikes_01, with_bias * s["rate_a"].to_numpy(dtype=np.float64), 0.0)
    ac = ac + np.where(attn, s["dense"].to_numpy(dtype=np.float64) * factor * np.nan_to_num(gate), 0.0)
    mac = np.where(weight & ~spikes_01, with_bias, 0.0)
    rule = np.where(weight, np.where(spikes_01, "{0,1} input: (dense + bias) x rate ACs",
                                     "non-binary input (rate set to 100%): dense + bias MACs"),
                    np.where(attn, "analytic SSA term: T H N d^2 x fr(sparser spike operand)",
                             "product with no spike operand: not in the script"))
    batching = ("rates pooled over all samples of this run; the script averages per-batch rates (equal when all "
                "batches have the same size)")
    if sites.batches is not None:
        batching += f"; this run: {sites.batches} batch(es), {sites.samples} sample(s)"
    elif not sites.exact:
        batching = "rates as the log prints them: unweighted means of per-batch rates over the batches it ran"
    assumptions = [
        "weight layers: nominal dense ops per sample with T folded in and the bias adds included",
        "a layer is a spike layer only if its input holds exactly 0 and 1 (ternary and integer inputs are MACs)",
        batching,
        heads_note,
        "BatchNorm, LIF and pooling ops not priced; every weight layer priced (the script sums modules named "
        "*conv* or *head*, which in the Spikformer-family models are all of them)",
    ]
    return terms_frame(s, mac, ac, rule, preset), assumptions
