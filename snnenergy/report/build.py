"""Turning a profiling session's device accumulators into the report's tables (one transfer, at the end)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..profiler.kinds import INTEGER, KIND_NAMES, N_KINDS, SPIKE_KINDS, WEIGHT

LAYER_COLUMNS = [
    "layer", "op", "index", "input_kind", "other_operand", "input_min", "input_max", "input_rate",
    "dense_ops", "effective_ops", "ac", "integer_mac", "mac", "bias_ops", "calls", "per_step", "producer",
]
NEURON_COLUMNS = ["layer", "type", "neurons", "firing_rate", "spikes", "dead", "saturated", "has_leak",
                  "output_min", "output_max", "per_step", "calls"]


def _worst(kind_calls: np.ndarray) -> int:
    used = np.nonzero(kind_calls)[0]
    return int(used.max()) if used.size else 0


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


def _buckets(eff: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split effective ops [kind_a, kind_b, slot] into AC, integer-MAC and MAC per slot."""
    flat = eff.reshape(N_KINDS * N_KINDS, -1)
    return flat[_AC].sum(0), flat[_IMAC].sum(0), flat[_MAC].sum(0)


def _time_mode(calls: int, untimed: int, T: int, batches: int) -> str:
    if untimed == 0:
        return "steps"
    if untimed == calls and T > 1 and calls == T * batches:
        return "call"  # the layer ran once per time step (a single-step model)
    if untimed == calls:
        return "none"
    return "mixed"


def _fold(values: np.ndarray, mode: str, T: int) -> tuple[np.ndarray, float]:
    """Per-step values (length T, NaN when the op has no time step) and the total."""
    total = float(values.sum())
    if mode in ("steps", "call", "mixed"):
        return values[:T].astype(np.float64), total
    return np.full(T, np.nan), total


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


def _frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    """``pd.DataFrame(rows)`` (columns in order of first appearance, NaN where a row lacks one), built from typed
    columns: a few times quicker than from the records."""
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    nan = float("nan")
    return pd.DataFrame({c: _column([row.get(c, nan) for row in rows]) for c in columns}, columns=columns)


def site_summaries(session, samples: int) -> list[dict[str, Any]]:
    """The per-site numbers both site tables are built from."""
    T = session.T
    batches = max(session.forward_id, 1)
    out = []
    for site in session.sites.values():
        eff = site.effective
        nnz = site.nnz.astype(np.float64)
        elements = np.array(site.elements, dtype=np.float64)
        ac, imac, mac = _buckets(eff)
        out.append({
            "site": site, "nnz": nnz, "dense": np.array(site.dense, dtype=np.float64), "elements": elements,
            "ac": ac, "imac": imac, "mac": mac, "eff_steps": eff.sum((0, 1)),
            "mode": _time_mode(site.calls, site.untimed_calls, T, batches),
        })
    return out


def layer_table(session, samples: int, summaries: list[dict[str, Any]]) -> pd.DataFrame:
    T = session.T
    batches = max(session.forward_id, 1)
    s = float(samples)
    rows: list[dict[str, Any]] = []
    for d in summaries:
        site, nnz, elements = d["site"], d["nnz"], d["elements"]
        kinds = site.kind_calls
        ka = _worst(kinds.sum(1))
        weight = kinds[:, WEIGHT].sum() > 0
        kb = WEIGHT if weight else _worst(kinds.sum(0))
        producers = sorted(site.producers_a.items(), key=lambda kv: -kv[1])
        el_total = elements.sum()
        row = {
            "layer": site.layer,
            "op": site.op,
            "index": site.index,
            "input_kind": KIND_NAMES[ka],
            "other_operand": KIND_NAMES[kb],
            "input_min": float(site.a_min),
            "input_max": float(site.a_max),
            "input_rate": float(nnz.sum() / el_total) if el_total else float("nan"),
            "dense_ops": d["dense"].sum() / s,
            "effective_ops": d["eff_steps"].sum() / s,
            "ac": d["ac"].sum() / s,
            "integer_mac": d["imac"].sum() / s,
            "mac": d["mac"].sum() / s,
            "bias_ops": site.bias_ops / s,
            "calls": site.calls / batches,
            "per_step": d["mode"] in ("steps", "call"),
            "producer": ";".join(p for p, _ in producers),
        }
        if kb != WEIGHT:
            row["other_min"] = float(site.b_min)
            row["other_max"] = float(site.b_max)
            row["other_producer"] = ";".join(sorted(site.producers_b, key=lambda p: -site.producers_b[p]))
        rates, _ = _fold(np.divide(nnz, elements, out=np.full_like(nnz, np.nan), where=elements > 0), d["mode"], T)
        for t in range(T):
            row[f"rate_t{t}"] = rates[t]
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=LAYER_COLUMNS + [f"rate_t{t}" for t in range(T)])
    return _frame(rows)


STEP_COLUMNS = ["layer", "op", "index", "step", "dense_ops", "effective_ops", "ac", "integer_mac", "mac",
                "input_rate"]


def step_table(session, samples: int, summaries: list[dict[str, Any]]) -> pd.DataFrame:
    T = session.T
    s = float(samples)
    rows: list[dict[str, Any]] = []
    for d in summaries:
        if d["mode"] == "none":
            continue
        site, nnz, elements, dense = d["site"], d["nnz"], d["elements"], d["dense"]
        for t in range(T):
            rows.append({
                "layer": site.layer, "op": site.op, "index": site.index, "step": t,
                "dense_ops": dense[t] / s, "effective_ops": d["eff_steps"][t] / s, "ac": d["ac"][t] / s,
                "integer_mac": d["imac"][t] / s, "mac": d["mac"][t] / s,
                "input_rate": nnz[t] / elements[t] if elements[t] else np.nan,
            })
    if not rows:
        return pd.DataFrame(rows, columns=STEP_COLUMNS)
    return _frame(rows, STEP_COLUMNS)


def site_tables(session, samples: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    summaries = site_summaries(session, samples)
    return layer_table(session, samples, summaries), step_table(session, samples, summaries)


def neuron_table(session, samples: int) -> pd.DataFrame:
    T = session.T
    session.neuron_fractions()
    rows = []
    batches = max(session.forward_id, 1)
    for st in session.neurons.values():
        spikes = st.spikes
        elements = np.array(st.elements, dtype=np.float64)
        mode = _time_mode(st.calls, st.untimed_calls, T, batches)
        total_el = elements.sum()
        rates, _ = _fold(np.divide(spikes, elements, out=np.full_like(spikes, np.nan), where=elements > 0), mode, T)
        steps_per_call = T if mode in ("steps", "call") else 1
        row = {
            "layer": st.layer,
            "type": st.type,
            "neurons": total_el / samples / steps_per_call,
            "firing_rate": float(spikes.sum() / total_el) if total_el else float("nan"),
            "spikes": float(spikes.sum()) / samples,
            "dead": float(st.dead) if st.neuron_steps else float("nan"),
            "saturated": float(st.saturated) if st.neuron_steps else float("nan"),
            "has_leak": bool(st.has_leak),
            "output_min": float(st.out_min) if np.isfinite(st.out_min) else float("nan"),
            "output_max": float(st.out_max) if np.isfinite(st.out_max) else float("nan"),
            "per_step": mode in ("steps", "call"),
            "calls": st.calls / batches,
        }
        for t in range(T):
            row[f"rate_t{t}"] = rates[t]
        rows.append(row)
    cols = NEURON_COLUMNS + [f"rate_t{t}" for t in range(T)]
    return _frame(rows, cols) if rows else pd.DataFrame(rows, columns=cols)


def other_table(session, samples: int) -> pd.DataFrame:
    rows = [{"layer": o.layer, "op": o.op, "calls": o.calls / max(session.forward_id, 1),
             "elements": o.elements / samples} for o in session.others.values()]
    return pd.DataFrame(rows, columns=["layer", "op", "calls", "elements"])


def unsupported_table(session) -> pd.DataFrame:
    rows = [{"layer": layer, "op": op, "calls": n} for (layer, op), n in session.unsupported.items()]
    return pd.DataFrame(rows, columns=["layer", "op", "calls"])
