"""Turning a profiling session's device accumulators into the report's tables (one transfer, at the end)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..profiler.kinds import INTEGER, KIND_NAMES, N_KINDS, SPIKE_KINDS, WEIGHT

LAYER_COLUMNS = [
    "layer", "op", "index", "input_kind", "other_operand", "input_min", "input_max", "input_rate",
    "dense_ops", "effective_ops", "ac", "integer_mac", "mac", "bias_ops", "calls", "per_step", "producer",
    "weight_params", "input_elements", "output_elements", "value_weighted_ops", "full_rate_ops",
]
PROVENANCE_COLUMNS = ["node", "layer", "op", "category", "input"]
NEURON_COLUMNS = ["layer", "type", "neurons", "firing_rate", "spikes", "dead", "saturated", "has_leak",
                  "output_min", "output_max", "per_step", "calls"]


def _bucket_masks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which (kind A, kind B) pairs are ACs, integer MACs and MACs (flattened [N_KINDS * N_KINDS])."""
    bucket = np.zeros((N_KINDS, N_KINDS), dtype=np.int64)  # 0 AC, 1 integer MAC, 2 MAC
    for ka in range(N_KINDS):
        for kb in range(N_KINDS):
            if kb == WEIGHT:
                bucket[ka, kb] = 0 if ka in SPIKE_KINDS else 1 if ka == INTEGER else 2
            else:
                bucket[ka, kb] = 0 if ka in SPIKE_KINDS or kb in SPIKE_KINDS else 2
    flat = bucket.reshape(-1)
    return flat == 0, flat == 1, flat == 2


_AC, _IMAC, _MAC = _bucket_masks()


def _time_mode(calls: int, untimed: int, T: int, batches: int) -> str:
    if untimed == 0:
        return "steps"
    if untimed == calls and T > 1 and calls == T * batches:
        return "call"  # the layer ran once per time step (a single-step model)
    if untimed == calls:
        return "none"
    return "mixed"


_FLOAT_TYPES = {float, np.float64}


def _column(values: list) -> Any:
    """A typed array for a column of floats, bools or ints (pandas then skips its per-value inference), else the
    list itself."""
    types = set(map(type, values))
    if types <= _FLOAT_TYPES:
        return np.array(values, dtype=np.float64)
    if types == {bool} or types == {np.bool_}:
        return np.array(values, dtype=bool)
    if types == {int}:
        return np.array(values, dtype=np.int64)
    return values


def site_summaries(session, samples: int) -> dict[str, Any]:
    """The per-site arrays both site tables are built from, one row per site (stacked once, so that the
    tables are column operations rather than a loop of small reductions per site)."""
    T = session.T
    batches = max(session.forward_id, 1)
    sites = list(session.sites.values())
    if not sites:
        return {"sites": []}
    eff = np.stack([site.effective for site in sites])  # [sites, kind A, kind B, slot]
    flat = eff.reshape(len(sites), N_KINDS * N_KINDS, -1)
    return {
        "sites": sites,
        "nnz": np.stack([site.nnz for site in sites]).astype(np.float64),
        "dense": np.array([site.dense for site in sites], dtype=np.float64),
        "elements": np.array([site.elements for site in sites], dtype=np.float64),
        "ac": flat[:, _AC].sum(1), "imac": flat[:, _IMAC].sum(1), "mac": flat[:, _MAC].sum(1),
        "eff_steps": eff.sum((1, 2)),
        "kinds": np.stack([site.kind_calls for site in sites]),
        "modes": ["call" if site.call_ordered and site.untimed_calls == site.calls else
                  _time_mode(site.calls, site.untimed_calls, T, batches) for site in sites],
    }


def _worst_rows(counts: np.ndarray) -> np.ndarray:
    """Per row of ``counts`` ``[rows, kinds]``, the highest kind with a nonzero count (0 when none)."""
    used = counts != 0
    last = counts.shape[1] - 1 - np.argmax(used[:, ::-1], axis=1)
    return np.where(used.any(1), last, 0)


def _rates(num: np.ndarray, den: np.ndarray, timed: np.ndarray, T: int) -> np.ndarray:
    """``num / den`` per slot (NaN where ``den`` is 0), the first T slots, NaN on rows without time steps."""
    rates = np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)[:, :T]
    rates[~timed] = np.nan
    return rates


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den != 0)


def layer_table(session, samples: int, summaries: dict[str, Any]) -> pd.DataFrame:
    T = session.T
    sites = summaries["sites"]
    if not sites:
        return pd.DataFrame(columns=LAYER_COLUMNS + [f"rate_t{t}" for t in range(T)])
    batches = max(session.forward_id, 1)
    s = float(samples)
    kinds = summaries["kinds"]
    ka = _worst_rows(kinds.sum(2))
    weight = kinds[:, :, WEIGHT].sum(1) > 0
    kb = np.where(weight, WEIGHT, _worst_rows(kinds.sum(1)))
    nnz, elements = summaries["nnz"], summaries["elements"]
    el_total = elements.sum(1)
    modes = summaries["modes"]
    cols: dict[str, Any] = {
        "layer": [site.layer for site in sites],
        "op": [site.op for site in sites],
        "index": np.array([site.index for site in sites], dtype=np.int64),
        "input_kind": [KIND_NAMES[k] for k in ka],
        "other_operand": [KIND_NAMES[k] for k in kb],
        "input_min": np.array([site.a_min for site in sites], dtype=np.float64),
        "input_max": np.array([site.a_max for site in sites], dtype=np.float64),
        "input_rate": _ratio(nnz.sum(1), el_total),
        "dense_ops": summaries["dense"].sum(1) / s,
        "effective_ops": summaries["eff_steps"].sum(1) / s,
        "ac": summaries["ac"].sum(1) / s,
        "integer_mac": summaries["imac"].sum(1) / s,
        "mac": summaries["mac"].sum(1) / s,
        "bias_ops": np.array([site.bias_ops for site in sites], dtype=np.float64) / s,
        "calls": np.array([site.calls for site in sites], dtype=np.float64) / batches,
        "per_step": np.array([m in ("steps", "call") for m in modes], dtype=bool),
        "producer": [";".join(p for p, _ in sorted(site.producers_a.items(), key=lambda kv: -kv[1]))
                     for site in sites],
        "weight_params": np.array([float(math.prod(site.weight_shape)) if w and site.weight_shape is not None
                                   else 0.0 for site, w in zip(sites, weight)], dtype=np.float64),
        "input_elements": el_total / s,
        "output_elements": np.array([site.output_elements for site in sites], dtype=np.float64) / s,
        "value_weighted_ops": np.array([site.value_weighted for site in sites], dtype=np.float64) / s,
        "full_rate_ops": np.array([site.full_rate_ops for site in sites], dtype=np.float64) / s,
    }
    other = _other_operand_columns(sites, weight) if not weight.all() else {}
    rates = _rates(nnz, elements, np.array([m != "none" for m in modes]), T)
    step_cols = {f"rate_t{t}": rates[:, t] for t in range(T)}
    # columns in order of first appearance, as a frame of the rows would have them
    for part in ((other, step_cols) if not weight[0] else (step_cols, other)):
        cols.update(part)
    return pd.DataFrame(cols)


def _other_operand_columns(sites: list, weight: np.ndarray) -> dict[str, Any]:
    """Range and producer of operand B, for products of two activations (NaN on weight layers' rows)."""
    nan = float("nan")
    producer = [nan if w else ";".join(sorted(site.producers_b, key=lambda p: -site.producers_b[p]))
                for site, w in zip(sites, weight)]
    return {
        "other_min": np.array([nan if w else site.b_min for site, w in zip(sites, weight)], dtype=np.float64),
        "other_max": np.array([nan if w else site.b_max for site, w in zip(sites, weight)], dtype=np.float64),
        "other_producer": _column(producer),
    }


STEP_COLUMNS = ["layer", "op", "index", "step", "dense_ops", "effective_ops", "ac", "integer_mac", "mac",
                "input_rate"]


def step_table(session, samples: int, summaries: dict[str, Any]) -> pd.DataFrame:
    T = session.T
    s = float(samples)
    sites = summaries["sites"]
    keep = [i for i, m in enumerate(summaries.get("modes", ())) if m != "none"]
    if not keep:
        return pd.DataFrame([], columns=STEP_COLUMNS)
    rows = np.array(keep)

    def per_step(name: str) -> np.ndarray:
        return summaries[name][rows, :T].reshape(-1)

    nnz, elements = per_step("nnz"), per_step("elements")
    cols = {
        "layer": [sites[i].layer for i in keep for _ in range(T)],
        "op": [sites[i].op for i in keep for _ in range(T)],
        "index": np.repeat(np.array([sites[i].index for i in keep], dtype=np.int64), T),
        "step": np.tile(np.arange(T, dtype=np.int64), len(keep)),
        "dense_ops": per_step("dense") / s, "effective_ops": per_step("eff_steps") / s, "ac": per_step("ac") / s,
        "integer_mac": per_step("imac") / s, "mac": per_step("mac") / s,
        "input_rate": np.divide(nnz, elements, out=np.full_like(nnz, np.nan), where=elements != 0),
    }
    return pd.DataFrame(cols, columns=STEP_COLUMNS)


def site_tables(session, samples: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    summaries = site_summaries(session, samples)
    return layer_table(session, samples, summaries), step_table(session, samples, summaries)


def neuron_table(session, samples: int) -> pd.DataFrame:
    T = session.T
    session.neuron_fractions()
    cols_names = NEURON_COLUMNS + [f"rate_t{t}" for t in range(T)]
    neurons = list(session.neurons.values())
    if not neurons:
        return pd.DataFrame([], columns=cols_names)
    batches = max(session.forward_id, 1)
    nan = float("nan")
    spikes = np.stack([st.spikes for st in neurons])
    elements = np.array([st.elements for st in neurons], dtype=np.float64)
    modes = [_time_mode(st.calls, st.untimed_calls, T, batches) for st in neurons]
    timed = np.array([m in ("steps", "call") for m in modes], dtype=bool)
    total_el, total_spikes = elements.sum(1), spikes.sum(1)
    rates = _rates(spikes, elements, np.array([m != "none" for m in modes]), T)
    cols: dict[str, Any] = {
        "layer": [st.layer for st in neurons],
        "type": [st.type for st in neurons],
        "neurons": total_el / samples / np.where(timed, T, 1),
        "firing_rate": _ratio(total_spikes, total_el),
        "spikes": total_spikes / samples,
        "dead": np.array([st.dead if st.neuron_steps else nan for st in neurons], dtype=np.float64),
        "saturated": np.array([st.saturated if st.neuron_steps else nan for st in neurons], dtype=np.float64),
        "has_leak": np.array([bool(st.has_leak) for st in neurons], dtype=bool),
        "output_min": np.array([st.out_min if np.isfinite(st.out_min) else nan for st in neurons], dtype=np.float64),
        "output_max": np.array([st.out_max if np.isfinite(st.out_max) else nan for st in neurons], dtype=np.float64),
        "per_step": timed,
        "calls": np.array([st.calls for st in neurons], dtype=np.float64) / batches,
    }
    cols.update({f"rate_t{t}": rates[:, t] for t in range(T)})
    # ``cols`` is already in column order, and its arrays are fresh: no reindexing, no copies (measurably
    # faster on the rates-only path, where this table is most of the work after the forward)
    return pd.DataFrame(cols, copy=False)


def other_table(session, samples: int) -> pd.DataFrame:
    rows = [{"layer": o.layer, "op": o.op, "calls": o.calls / max(session.forward_id, 1),
             "elements": o.elements / samples} for o in session.others.values()]
    return pd.DataFrame(rows, columns=["layer", "op", "calls", "elements"])


def provenance_table(session) -> pd.DataFrame:
    """One row per distinct producer → consumer edge (see ``ProfileSession.provenance_edges``)."""
    return pd.DataFrame(session.provenance_edges(), columns=PROVENANCE_COLUMNS)


def unsupported_table(session) -> pd.DataFrame:
    rows = [{"layer": layer, "op": op, "calls": n} for (layer, op), n in session.unsupported.items()]
    return pd.DataFrame(rows, columns=["layer", "op", "calls"])
