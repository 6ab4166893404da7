"""Turning a profiling session's device accumulators into the report's tables (one transfer, at the end)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ..profiler.kinds import INTEGER, KIND_NAMES, N_KINDS, REAL, SPIKE_KINDS, WEIGHT

LAYER_COLUMNS = [
    "layer", "op", "index", "input_kind", "other_operand", "input_min", "input_max", "input_rate",
    "dense_ops", "effective_ops", "ac", "integer_mac", "mac", "bias_ops", "calls", "per_step", "producer",
]
NEURON_COLUMNS = ["layer", "type", "neurons", "firing_rate", "spikes", "dead", "saturated", "has_leak",
                  "output_min", "output_max", "per_step", "calls"]


def _worst(kind_calls: np.ndarray) -> int:
    used = np.nonzero(kind_calls)[0]
    return int(used.max()) if used.size else 0


def _buckets(eff: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split effective ops [kind_a, kind_b, slot] into AC, integer-MAC and MAC per slot."""
    ac = np.zeros(eff.shape[-1], dtype=np.int64)
    imac = np.zeros_like(ac)
    mac = np.zeros_like(ac)
    for ka in range(N_KINDS):
        for kb in range(N_KINDS):
            v = eff[ka, kb]
            if not v.any():
                continue
            if kb == WEIGHT:
                if ka in SPIKE_KINDS:
                    ac += v
                elif ka == INTEGER:
                    imac += v
                else:
                    mac += v
            elif ka in SPIKE_KINDS or kb in SPIKE_KINDS:
                ac += v
            else:
                mac += v
    return ac, imac, mac


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


def site_tables(session, samples: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    T = session.T
    rows: list[dict[str, Any]] = []
    step_rows: list[dict[str, Any]] = []
    batches = max(session.forward_id, 1)
    for site in session.sites.values():
        eff = site.effective
        kinds = site.kind_calls
        nnz = site.nnz.astype(np.float64)
        dense = np.array(site.dense, dtype=np.float64)
        elements = np.array(site.elements, dtype=np.float64)
        ka = _worst(kinds.sum(1))
        weight = kinds[:, WEIGHT].sum() > 0
        kb = WEIGHT if weight else _worst(kinds.sum(0))
        ac, imac, mac = _buckets(eff)
        mode = _time_mode(site.calls, site.untimed_calls, T, batches)
        s = float(samples)
        producers = sorted(site.producers_a.items(), key=lambda kv: -kv[1])
        row = {
            "layer": site.layer,
            "op": site.op,
            "index": site.index,
            "input_kind": KIND_NAMES[ka],
            "other_operand": KIND_NAMES[kb],
            "input_min": float(site.a_min),
            "input_max": float(site.a_max),
            "input_rate": float(nnz.sum() / elements.sum()) if elements.sum() else float("nan"),
            "dense_ops": dense.sum() / s,
            "effective_ops": eff.sum() / s,
            "ac": ac.sum() / s,
            "integer_mac": imac.sum() / s,
            "mac": mac.sum() / s,
            "bias_ops": site.bias_ops / s,
            "calls": site.calls / batches,
            "per_step": mode in ("steps", "call"),
            "producer": ";".join(p for p, _ in producers),
        }
        if kb != WEIGHT:
            row["other_min"] = float(site.b_min)
            row["other_max"] = float(site.b_max)
            row["other_producer"] = ";".join(sorted(site.producers_b, key=lambda p: -site.producers_b[p]))
        rates, _ = _fold(np.divide(nnz, elements, out=np.full_like(nnz, np.nan), where=elements > 0), mode, T)
        for t in range(T):
            row[f"rate_t{t}"] = rates[t]
        rows.append(row)
        for t in range(T):
            if mode == "none":
                break
            step_rows.append({
                "layer": site.layer, "op": site.op, "index": site.index, "step": t,
                "dense_ops": dense[t] / s, "effective_ops": eff[..., t].sum() / s, "ac": ac[t] / s,
                "integer_mac": imac[t] / s, "mac": mac[t] / s,
                "input_rate": nnz[t] / elements[t] if elements[t] else np.nan,
            })
    layers = pd.DataFrame(rows)
    if layers.empty:
        layers = pd.DataFrame(columns=LAYER_COLUMNS + [f"rate_t{t}" for t in range(T)])
    per_step = pd.DataFrame(step_rows, columns=["layer", "op", "index", "step", "dense_ops", "effective_ops", "ac",
                                                "integer_mac", "mac", "input_rate"])
    return layers, per_step


def neuron_table(session, samples: int) -> pd.DataFrame:
    T = session.T
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
    return pd.DataFrame(rows, columns=cols)


def other_table(session, samples: int) -> pd.DataFrame:
    rows = [{"layer": o.layer, "op": o.op, "calls": o.calls / max(session.forward_id, 1),
             "elements": o.elements / samples} for o in session.others.values()]
    return pd.DataFrame(rows, columns=["layer", "op", "calls", "elements"])


def unsupported_table(session) -> pd.DataFrame:
    rows = [{"layer": layer, "op": op, "calls": n} for (layer, op), n in session.unsupported.items()]
    return pd.DataFrame(rows, columns=["layer", "op", "calls"])
