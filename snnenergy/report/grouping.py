"""Energy and op counts per group of layers (``Report.group_by``): per branch or stage of a hybrid ANN–SNN model.

A group is named for every layer path by one of three rules:

* ``"top"``: the first component of the module path (``events.block.0.attn.q_conv`` -> ``events``);
  ``"block"``: the top-level block up to its index (``events.block.0``, see :func:`block_of`);
* a mapping ``{prefix: group}``: the longest prefix (on whole path components) that matches; layers no
  prefix matches go to ``"(rest)"``, so the groups always add up to the whole model;
* a callable ``path -> group name``.

Each row sums the per-site counts of ``Report.layers`` (``dense_ops``, ``ac``, ``mac``, ``integer_mac``), the
neuron updates and spikes of ``Report.neurons`` and the per-term energy of ``Report.energy`` for the group.
"""
from __future__ import annotations

from typing import Callable, Mapping, Union

import numpy as np
import pandas as pd

from ..energy.model import TERMS
from .render import block_of

Grouping = Union[str, Mapping[str, str], Callable[[str], str]]
REST = "(rest)"
ROOT = "(model)"
COUNT_COLUMNS = ("dense_ops", "effective_ops", "ac", "mac", "integer_mac")
ENERGY_COLUMNS = (*TERMS, "snn_mJ", "ann_mJ", "qnn_mJ")
GROUP_COLUMNS = ["group", "sites", "neuron_layers", *COUNT_COLUMNS, "neuron_updates", "spikes", *ENERGY_COLUMNS]


def top_of(layer: str) -> str:
    """The first component of a module path (``"(model)"`` for ops of the root module)."""
    return layer.split(".", 1)[0] if layer else ROOT


def _prefix_rule(mapping: Mapping[str, str]) -> Callable[[str], str]:
    prefixes = sorted(((str(p).strip("."), str(g)) for p, g in mapping.items()), key=lambda pg: -len(pg[0]))
    if not prefixes:
        raise ValueError("group_by mapping is empty; give {module prefix: group name}, e.g. {'ann': 'ANN'}")

    def rule(layer: str) -> str:
        for prefix, group in prefixes:
            if prefix == "" or layer == prefix or layer.startswith(prefix + "."):
                return group
        return REST

    return rule


def grouping_rule(by: Grouping) -> Callable[[str], str]:
    """A function ``layer path -> group name`` for ``by`` (``"top"``, ``"block"``, a mapping or a callable)."""
    if isinstance(by, str):
        rules = {"top": top_of, "block": block_of}
        if by not in rules:
            raise ValueError(f"group_by={by!r} is not a rule; use 'top', 'block', a mapping {{prefix: group}} or a "
                             "callable on the layer path")
        return rules[by]
    if isinstance(by, Mapping):
        return _prefix_rule(by)
    if callable(by):
        def rule(layer: str) -> str:
            name = by(layer)
            if not isinstance(name, str):
                raise TypeError(f"group_by callable returned {name!r} for layer {layer!r}; it must return a str")
            return name
        return rule
    raise TypeError(f"group_by must be 'top', 'block', a mapping or a callable, got {type(by).__name__}")


def _sum_by(df: pd.DataFrame, keys: pd.Series, columns) -> pd.DataFrame:
    cols = [c for c in columns if c in df.columns]
    if df.empty or not cols:
        return pd.DataFrame(columns=cols)
    return df[cols].astype(np.float64).groupby(keys.to_numpy(), sort=False).sum(min_count=0)


def group_table(report, by: Grouping = "top", preset: str = "fp32", level: int = 2,
                integer_as: str = "mac") -> pd.DataFrame:
    """One row per group (in network order): sites, neuron layers, op counts, neuron updates, spikes and the
    energy per term (mJ per sample) of ``report.energy(preset, level, integer_as)``."""
    rule = grouping_rule(by)
    layers, neurons = report.layers, report.neurons
    site_groups = layers["layer"].astype(str).map(rule) if not layers.empty else pd.Series(dtype=str)
    neuron_groups = neurons["layer"].astype(str).map(rule) if not neurons.empty else pd.Series(dtype=str)
    order = list(dict.fromkeys([*site_groups, *neuron_groups]))
    out = pd.DataFrame(index=pd.Index(order, name="group"))
    out["sites"] = site_groups.value_counts().reindex(order).fillna(0).astype(int) if order else []
    out["neuron_layers"] = neuron_groups.value_counts().reindex(order).fillna(0).astype(int) if order else []
    out = out.join(_sum_by(layers, site_groups, COUNT_COLUMNS))
    if not neurons.empty:
        steps = np.where(neurons["per_step"].astype(bool), report.time_steps, 1)
        n = pd.DataFrame({"neuron_updates": neurons["neurons"].to_numpy(np.float64) * steps,
                          "spikes": neurons["spikes"].to_numpy(np.float64)})
        out = out.join(_sum_by(n, neuron_groups, ("neuron_updates", "spikes")))
    if not report.meta.get("rates_only") and not layers.empty:
        e = report.energy(preset=preset, level=level, integer_as=integer_as).to_dataframe()
        out = out.join(_sum_by(e, e["layer"].astype(str).map(rule), ENERGY_COLUMNS))
    out = out.reindex(columns=GROUP_COLUMNS[1:]).fillna(0.0)
    return out.reset_index()
