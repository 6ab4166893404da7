"""Turning a profiling session's device accumulators into the report's tables (one transfer, at the end).

The per-site and per-neuron-layer numbers are stacked once into a few arrays and reduced over time slots with
numpy; each table's float columns are then computed per row in plain Python (a few IEEE operations per value,
faster than a numpy operation per column on tables of tens of rows) and the frame is made in one step from its
blocks (:mod:`.frames`): no per-column inference, no reindexing, no copies column by column."""
from __future__ import annotations

import math
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd

from ..profiler.kinds import INTEGER, KIND_NAMES, N_KINDS, SPIKE_KINDS, WEIGHT
from .frames import frame

LAYER_COLUMNS = [
    "layer", "op", "index", "input_kind", "other_operand", "input_min", "input_max", "input_rate",
    "dense_ops", "effective_ops", "ac", "integer_mac", "mac", "bias_ops", "calls", "per_step", "producer",
    "weight_params", "input_elements", "output_elements", "value_weighted_ops", "full_rate_ops",
]
PROVENANCE_COLUMNS = ["node", "layer", "op", "category", "input", "constant_sizes", "features"]
NEURON_COLUMNS = ["layer", "type", "neurons", "firing_rate", "spikes", "dead", "saturated", "has_leak",
                  "output_min", "output_max", "per_step", "calls"]


def _bucket_matrix() -> np.ndarray:
    """``[4, N_KINDS * N_KINDS]`` 0/1 rows: every effective op, then the (kind A, kind B) pairs that are ACs,
    integer MACs and MACs; ``matrix @ effective`` sums each bucket in one product."""
    bucket = np.zeros((N_KINDS, N_KINDS), dtype=np.int64)  # 0 AC, 1 integer MAC, 2 MAC
    for ka in range(N_KINDS):
        for kb in range(N_KINDS):
            if kb == WEIGHT:
                bucket[ka, kb] = 0 if ka in SPIKE_KINDS else 1 if ka == INTEGER else 2
            else:
                bucket[ka, kb] = 0 if ka in SPIKE_KINDS or kb in SPIKE_KINDS else 2
    flat = bucket.reshape(-1)
    return np.stack([np.ones_like(flat, dtype=bool), flat == 0, flat == 1, flat == 2]).astype(np.int64)


_BUCKETS = _bucket_matrix()
OP_COLUMNS = ("effective_ops", "ac", "integer_mac", "mac")  # the rows of ``_BUCKETS``


def _time_mode(calls: int, untimed: int, T: int, batches: int) -> str:
    if untimed == 0:
        return "steps"
    if untimed == calls and T > 1 and calls == T * batches:
        return "call"  # the layer ran once per time step (a single-step model)
    if untimed == calls:
        return "none"
    return "mixed"


_SLOT_FIELDS = attrgetter("nnz", "elements", "dense")  # per time slot: nonzeros and elements of A, dense ops
_NNZ, _ELEMENTS, _DENSE = 0, 1, 2


def site_summaries(session, samples: int) -> dict[str, Any]:
    """The per-site arrays both site tables are built from, one row per site: ``slots`` ``[sites, 3, T+1]``
    (float64: nonzeros and elements of operand A, dense ops), ``ops`` ``[sites, 4, T+1]`` (int64: the
    ``OP_COLUMNS``), ``kinds`` ``[sites, kind A, kind B]`` (calls by kind pair), the rows' keys and time modes."""
    T = session.T
    batches = max(session.forward_id, 1)
    sites = list(session.sites.values())
    if not sites:
        return {"sites": []}
    eff = np.array([site.effective for site in sites])  # [sites, kind A, kind B, slot]
    return {
        "sites": sites,
        "layer": [site.layer for site in sites],
        "op": [site.op for site in sites],
        "index": np.array([site.index for site in sites], dtype=np.int64),
        "slots": np.array(list(map(_SLOT_FIELDS, sites)), dtype=np.float64),
        "ops": _BUCKETS @ eff.reshape(len(sites), N_KINDS * N_KINDS, -1),
        "kinds": np.array([site.kind_calls for site in sites]),
        "modes": ["call" if site.call_ordered and site.untimed_calls == site.calls else
                  _time_mode(site.calls, site.untimed_calls, T, batches) for site in sites],
    }


def _step_names(T: int) -> tuple[str, ...]:
    return tuple(f"rate_t{t}" for t in range(T))


_NAN = float("nan")
# the float columns of the layer table, in the order of a row of its float block (after them: rate_t*, and for
# products of two activations other_min, other_max)
_LAYER_FLOATS_1 = ("input_min", "input_max", "input_rate", "dense_ops", *OP_COLUMNS, "bias_ops", "calls")
_LAYER_FLOATS_2 = ("weight_params", "input_elements", "output_elements", "value_weighted_ops", "full_rate_ops")


def _highest(used_rows: list[list[bool]]) -> list[int]:
    """Per row, the highest kind used (0 when none)."""
    return [max((k for k, u in enumerate(row) if u), default=0) for row in used_rows]


def layer_table(session, samples: int, summaries: dict[str, Any]) -> pd.DataFrame:
    """One row per site. Its float columns are computed per row in plain Python, a few small IEEE operations per
    value, and stacked into one block: on tables of a few dozen rows that is faster than a numpy operation per
    column (the sums over time slots stay numpy reductions, as they always were)."""
    T = session.T
    sites = summaries["sites"]
    if not sites:
        return pd.DataFrame(columns=LAYER_COLUMNS + list(_step_names(T)))
    batches = float(max(session.forward_id, 1))
    s = float(samples)
    kinds = summaries["kinds"].tolist()  # [sites][kind A][kind B]: calls
    kind_a = _highest([[any(calls) for calls in site] for site in kinds])
    used_b = [[any(calls) for calls in zip(*site)] for site in kinds]
    kind_b, is_weight = _highest(used_b), [u[WEIGHT] for u in used_b]
    slots = summaries["slots"]
    modes = summaries["modes"]
    rows = []
    for site, w, (nnz, el, dense), ops, (nnz_t, el_t), mode in zip(
            sites, is_weight, slots.sum(2).tolist(), summaries["ops"].sum(2).tolist(),
            slots[:, :_DENSE, :T].tolist(), modes):
        row = [site.a_min, site.a_max, nnz / el if el != 0 else _NAN, dense / s, *(float(v) / s for v in ops),
               float(site.bias_ops) / s, float(site.calls) / batches,
               float(math.prod(site.weight_shape)) if w and site.weight_shape is not None else 0.0,
               el / s, float(site.output_elements) / s, float(site.value_weighted) / s,
               float(site.full_rate_ops) / s]
        row += [_NAN] * T if mode == "none" else [a / b if b > 0 else _NAN for a, b in zip(nnz_t, el_t)]
        row += (_NAN, _NAN) if w else (site.b_min, site.b_max)
        rows.append(row)
    block = np.array(rows, dtype=np.float64)
    k1, k2 = len(_LAYER_FLOATS_1), len(_LAYER_FLOATS_1) + len(_LAYER_FLOATS_2)
    cols: dict[Any, Any] = {
        "layer": summaries["layer"],
        "op": summaries["op"],
        "index": summaries["index"],
        "input_kind": [KIND_NAMES[k] for k in kind_a],
        "other_operand": [KIND_NAMES[WEIGHT if w else k] for w, k in zip(is_weight, kind_b)],
        _LAYER_FLOATS_1: block[:, :k1],
        "per_step": np.array([m in ("steps", "call") for m in modes], dtype=bool),
        "producer": [";".join(p for p, _ in sorted(site.producers_a.items(), key=lambda kv: -kv[1]))
                     for site in sites],
        _LAYER_FLOATS_2: block[:, k1:k2],
    }
    steps = {_step_names(T): block[:, k2:k2 + T]} if T else {}
    other = {} if all(is_weight) else {
        ("other_min", "other_max"): block[:, k2 + T:],
        "other_producer": [_NAN if w else ";".join(sorted(site.producers_b, key=lambda p: -site.producers_b[p]))
                           for site, w in zip(sites, is_weight)],
    }
    # columns in order of first appearance, as a frame of the rows would have them
    for part in ((other, steps) if not is_weight[0] else (steps, other)):
        cols.update(part)
    return frame(cols)


STEP_COLUMNS = ["layer", "op", "index", "step", "dense_ops", "effective_ops", "ac", "integer_mac", "mac",
                "input_rate"]


def step_table(session, samples: int, summaries: dict[str, Any]) -> pd.DataFrame:
    T = session.T
    keep = [i for i, m in enumerate(summaries.get("modes", ())) if m != "none"]
    if not keep:
        return pd.DataFrame([], columns=STEP_COLUMNS)
    rows = np.array(keep)
    slots = summaries["slots"][rows, :, :T].transpose(0, 2, 1).reshape(-1, 3)  # [(site, step), slot fields]
    ops = summaries["ops"][rows, :, :T].transpose(0, 2, 1).reshape(-1, 4)
    nnz, elements = slots[:, _NNZ], slots[:, _ELEMENTS]
    layer, op = summaries["layer"], summaries["op"]
    cols = {  # in STEP_COLUMNS order
        "layer": [layer[i] for i in keep for _ in range(T)],
        "op": [op[i] for i in keep for _ in range(T)],
        ("index", "step"): np.stack([np.repeat(summaries["index"][rows], T),
                                     np.tile(np.arange(T, dtype=np.int64), len(keep))], axis=1),
        ("dense_ops", *OP_COLUMNS): np.concatenate([slots[:, _DENSE:], ops], axis=1) / float(samples),
        "input_rate": np.divide(nnz, elements, out=np.full_like(nnz, np.nan), where=elements != 0),
    }
    return frame(cols)


def site_tables(session, samples: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    summaries = site_summaries(session, samples)
    return layer_table(session, samples, summaries), step_table(session, samples, summaries)


def neuron_table(session, samples: int) -> pd.DataFrame:
    """One row per neuron layer, its float columns computed per row (as in :func:`layer_table`)."""
    T = session.T
    neurons = list(session.neurons.values())
    if not neurons:
        return pd.DataFrame([], columns=NEURON_COLUMNS + list(_step_names(T)))
    batches = max(session.forward_id, 1)
    slots = np.array([(st.spikes, st.elements) for st in neurons], dtype=np.float64)  # [layers, 2, T+1]
    modes = [_time_mode(st.calls, st.untimed_calls, T, batches) for st in neurons]
    timed = [m in ("steps", "call") for m in modes]
    n, fb = float(samples), float(batches)
    rows = []
    for st, per_step, mode, (spikes, el), (spikes_t, el_t) in zip(
            neurons, timed, modes, slots.sum(2).tolist(), slots[:, :, :T].tolist()):
        seen = st.neuron_steps != 0  # dead / saturated fractions are defined
        row = [el / n / (T if per_step else 1), spikes / el if el != 0 else _NAN, spikes / n,
               st.dead if seen else _NAN, st.saturated if seen else _NAN,
               st.out_min if math.isfinite(st.out_min) else _NAN, st.out_max if math.isfinite(st.out_max) else _NAN,
               float(st.calls) / fb]
        row += [_NAN] * T if mode == "none" else [a / b if b > 0 else _NAN for a, b in zip(spikes_t, el_t)]
        rows.append(row)
    block = np.array(rows, dtype=np.float64)
    cols: dict[Any, Any] = {
        "layer": [st.layer for st in neurons],
        "type": [st.type for st in neurons],
        ("neurons", "firing_rate", "spikes", "dead", "saturated"): block[:, :5],
        "has_leak": np.array([bool(st.has_leak) for st in neurons], dtype=bool),
        ("output_min", "output_max"): block[:, 5:7],
        "per_step": np.array(timed, dtype=bool),
        "calls": block[:, 7],
    }
    if T:
        cols[_step_names(T)] = block[:, 8:]
    return frame(cols)


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
