"""Building the per-site table a convention prices (see :mod:`.base`) from a profile's :class:`Report`."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .base import SITE_COLUMNS, SiteTable

INPUT_LABEL = "<input>"


def neuron_of(label: str) -> str | None:
    """``block.0.attn.k_lif:spikes`` -> ``block.0.attn.k_lif`` (None for a label not made by a neuron)."""
    node, sep, op = str(label).rpartition(":")
    return node if sep and op == "spikes" else None


def first_label(labels: Any) -> str:
    """The main producer of a ``;``-joined provenance cell."""
    if not isinstance(labels, str) or not labels:
        return ""
    return labels.split(";")[0]


def model_config(name: str) -> dict[str, Any]:
    """The zoo card's config of ``name`` (empty for a model outside the zoo)."""
    from ...models import model_card

    try:
        return dict(model_card(name).config)
    except KeyError:
        return {}


def _column(df: pd.DataFrame, name: str, default: float = np.nan) -> np.ndarray:
    if name in df.columns:
        return df[name].to_numpy(dtype=np.float64)
    return np.full(len(df), default)


def sites_from_report(report) -> SiteTable:
    """The site table of a measured profile: exact counts, pooled input rates and the operands' provenance."""
    L = report.layers
    T = int(report.meta["time_steps"])
    if L.empty:
        frame = pd.DataFrame(columns=SITE_COLUMNS)
    else:
        weight = (L["other_operand"] == "weight").to_numpy()
        producer = L["producer"].map(first_label)
        producer_b = (L["other_producer"].map(first_label) if "other_producer" in L.columns
                      else pd.Series([""] * len(L)))
        producer_b = producer_b.where(~weight, "")
        neuron_rates = dict(zip(report.neurons["layer"], report.neurons["firing_rate"])) if not report.neurons.empty else {}
        rate_b = np.array([neuron_rates.get(neuron_of(p), np.nan) for p in producer_b], dtype=np.float64)
        rate_a = L["input_rate"].to_numpy(dtype=np.float64)
        effective = L["effective_ops"].to_numpy(dtype=np.float64)
        # mean |value| of the input: the value-weighted count per nonzero term, times the nonzero rate
        vw = _column(L, "value_weighted_ops")
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_a = np.where(np.isfinite(vw) & (effective > 0), rate_a * vw / effective, rate_a)
        frame = pd.DataFrame({
            "layer": L["layer"], "op": L["op"], "index": L["index"], "weight": weight,
            "kind_a": L["input_kind"], "kind_b": L["other_operand"],
            "first": (producer == INPUT_LABEL).to_numpy(), "per_step": L["per_step"].astype(bool).to_numpy(),
            "dense": L["dense_ops"].to_numpy(dtype=np.float64), "bias": L["bias_ops"].to_numpy(dtype=np.float64),
            "valid_dense": _column(L, "full_rate_ops"), "rate_a": rate_a, "rate_b": rate_b, "mean_a": mean_a,
            "effective": effective, "ac": L["ac"].to_numpy(dtype=np.float64),
            "integer_mac": L["integer_mac"].to_numpy(dtype=np.float64), "mac": L["mac"].to_numpy(dtype=np.float64),
            "producer": producer.to_numpy(), "producer_b": producer_b.to_numpy(),
        }, columns=SITE_COLUMNS)
    name = str(report.meta.get("model", ""))
    return SiteTable(frame, T, name, model_config(name), exact=True,
                     source=f"profile of {name} on {report.meta.get('samples')} samples",
                     batches=report.meta.get("batches"), samples=report.meta.get("samples"))
