"""Merging reports of the same model made separately (per shard of a dataset, per process, per machine).

The result equals one run over all the data. Every count column of a report is a per-sample (or per-batch)
mean of an integer total, so each report's total is recovered exactly (value × samples, rounded to the
integer it must be), totals are added and divided by the merged number of samples. Other columns follow a
rule each:

* counts per sample (``dense_ops``, ``ac``, ``spikes``, ``elements``, ...): totals added, ÷ all samples;
* calls per forward: totals added, ÷ all batches; ``unsupported.calls`` (a plain total): added;
* value ranges: min of the minima, max of the maxima; operand kinds: the worst kind seen
  (binary < ternary < integer < real; ``weight`` for a weight operand);
* rates (``input_rate``, ``firing_rate``, ``rate_t*``): nonzeros over elements. A neuron table row gives its
  elements exactly (``neurons`` × samples × steps) and a layer row gives them when it carries
  ``input_elements``: the nonzeros are recovered as integers and the merged rate is the whole run's, to the
  bit. A layer table without ``input_elements`` weights each report's rate by its samples, which is exact
  when the op sees the same number of elements per sample in every report (any model whose shapes do not
  depend on the data), up to float rounding;
* ``dead`` / ``saturated`` (fractions of neurons that never / always fired): a neuron is dead in the union
  only if it is dead in every part, which fractions alone cannot tell. The merged value is exact where it
  is determined (one part; a part with none gives 0; the bounds below meet) and NaN otherwise, with
  the bounds ``[max(0, Σ fᵢ - (k-1)), min fᵢ]`` in ``meta["merge"]["bounds"]``. Parts whose fractions
  were already computed over all the data (``shared_fractions=True``: processes that summed their
  per-neuron counts before, as :func:`snnenergy.distributed.profile_distributed` does) agree, and their
  common value is kept (NaN, listed in ``not_merged``, if they do not);
* ``producer`` lists: the union, in order of first appearance (a whole run orders them by how often each
  producer fed the op, which the parts do not record); the ``provenance`` edges: the union of the parts';
* anything else: kept where all parts agree, else NaN (listed in ``meta["merge"]["not_merged"]``).

Reports of different models, time steps, counting rules, versions, weights or modes are refused.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

KIND_ORDER = ("binary", "ternary", "integer", "real")  # worst last; "weight" marks a weight operand

#: meta entries that must be equal in every merged report (what makes two runs the same experiment)
MUST_MATCH = ("model", "time_steps", "counting", "snnenergy", "rates_only", "weights")

KEYS = {
    "layers": ["layer", "op", "index"],
    "per_step": ["layer", "op", "index", "step"],
    "neurons": ["layer"],
    "other_ops": ["layer", "op"],
    "unsupported": ["layer", "op"],
}

PER_SAMPLE = {"dense_ops", "effective_ops", "ac", "integer_mac", "mac", "bias_ops", "input_elements",
              "output_elements", "value_weighted_ops", "full_rate_ops", "spikes", "elements", "neurons"}
MINIMA = {"input_min", "other_min", "output_min"}
MAXIMA = {"input_max", "other_max", "output_max"}
KINDS = {"input_kind", "other_operand"}
ALL = {"per_step", "has_leak"}
UNIONS = {"producer", "other_producer", "producer_b"}
FRACTIONS = {"dead", "saturated"}


def merge_reports(reports: Iterable[Any], shared_fractions: bool = False):
    """One :class:`~snnenergy.report.Report` equal to a single run over the data of all ``reports``.

    ``reports``: :class:`Report` objects, their ``to_dict()`` dicts, JSON texts or paths of ``report.json``
    files, all of the same model, T, counting rules and snnenergy version. ``shared_fractions``: every
    part's ``dead`` / ``saturated`` are already those of all the data (see the module docstring). Raises
    ``ValueError`` (one line) for an empty list or mismatched reports.
    """
    from .report import Report

    parts = [_as_report(r, i) for i, r in enumerate(reports)]
    if not parts:
        raise ValueError("Report.merge needs at least one report; got none")
    _check_compatible(parts)
    ctx = _Context(parts)
    ctx.shared_fractions = shared_fractions
    tables = {name: _merge_table(name, [getattr(p, name) for p in parts], ctx) for name in KEYS}
    meta = dict(parts[0].meta)
    meta["samples"] = int(ctx.samples.sum())
    meta["batches"] = int(ctx.batches.sum())
    devices = list(dict.fromkeys(str(p.meta.get("device")) for p in parts))
    meta["device"] = devices[0] if len(devices) == 1 else ",".join(devices)
    if len(parts) > 1:
        meta["merge"] = {"parts": len(parts), "samples": [int(s) for s in ctx.samples],
                         "bounds": ctx.bounds, "not_merged": sorted(set(ctx.not_merged))}
    provenance = _union_rows([p.provenance for p in parts])
    return Report(meta, **tables, builders={"provenance": lambda: provenance})


def _union_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Distinct rows of all ``frames`` in order of first appearance (provenance edges: a set)."""
    present = [f for f in frames if not f.empty]
    if not present:
        return frames[0].copy() if frames else pd.DataFrame()
    return pd.concat(present, ignore_index=True).drop_duplicates(ignore_index=True)


# ------------------------------------------------------------------ inputs and checks

def _as_report(r: Any, i: int):
    from .report import Report

    if isinstance(r, Report):
        return r
    if isinstance(r, dict):
        return Report.from_dict(r)
    if isinstance(r, (str, os.PathLike)):
        return Report.from_json(r)
    raise TypeError(f"report {i} is a {type(r).__name__}; expected a Report, a Report.to_dict() dict or a JSON path")


def _check_compatible(parts: Sequence[Any]) -> None:
    first = parts[0].meta
    for i, p in enumerate(parts[1:], start=1):
        for key in MUST_MATCH:
            a, b = first.get(key), p.meta.get(key)
            if a != b:
                raise ValueError(f"cannot merge reports: report {i} has {key}={b!r} but report 0 has {key}={a!r}; "
                                 "only reports of the same model, T, weights and counting version merge")
        if not p.meta.get("samples"):
            raise ValueError(f"cannot merge reports: report {i} has no samples")
    if not first.get("samples"):
        raise ValueError("cannot merge reports: report 0 has no samples")


class _Context:
    """Per-part sample and batch counts, and what the merge could not do exactly."""

    def __init__(self, parts: Sequence[Any]) -> None:
        self.samples = np.array([float(p.meta["samples"]) for p in parts])
        self.batches = np.array([float(p.meta.get("batches") or 1) for p in parts])
        self.T = int(parts[0].meta["time_steps"])
        self.bounds: dict[str, dict[str, list[float]]] = {}
        self.not_merged: list[str] = []
        self.layer_elements: dict[tuple, np.ndarray] | None = None  # (layer, op, index) -> elements per part
        self.shared_fractions = False  # the parts' dead / saturated are already of all the data


# ------------------------------------------------------------------ tables

def _align(frames: Sequence[pd.DataFrame], keys: list[str]) -> tuple[pd.DataFrame, list[pd.DataFrame], np.ndarray]:
    """The union of rows (first appearance order) and every frame re-indexed onto it, with a presence mask."""
    indexed = []
    for i, df in enumerate(frames):
        if df.empty:
            indexed.append(None)
            continue
        d = df.set_index(keys)
        if d.index.has_duplicates:
            dup = d.index[d.index.duplicated()][0]
            raise ValueError(f"cannot merge reports: report {i} has duplicate rows for {dict(zip(keys, _tuple(dup)))}")
        indexed.append(d)
    union: list = []
    seen: set = set()
    for d in indexed:
        if d is None:
            continue
        for k in d.index:
            if k not in seen:
                seen.add(k)
                union.append(k)
    index = pd.MultiIndex.from_tuples([_tuple(k) for k in union], names=keys) if len(keys) > 1 else \
        pd.Index(union, name=keys[0])
    present = np.zeros((len(frames), len(union)), dtype=bool)
    aligned = []
    for i, d in enumerate(indexed):
        if d is None:
            aligned.append(pd.DataFrame(index=index))
            continue
        present[i] = index.isin(d.index)
        aligned.append(d.reindex(index))
    return index.to_frame(index=False), aligned, present


def _tuple(k: Any) -> tuple:
    return k if isinstance(k, tuple) else (k,)


def _merge_table(name: str, frames: list[pd.DataFrame], ctx: _Context) -> pd.DataFrame:
    template = next((f for f in frames if not f.empty), frames[0])
    keys = KEYS[name]
    if all(f.empty for f in frames):
        return template.copy()
    key_frame, aligned, present = _align(frames, keys)
    columns: dict[str, Any] = {k: key_frame[k].to_numpy() for k in keys}
    weights = _rate_weights(name, aligned, present, key_frame, ctx)
    for col in template.columns:
        if col in keys:
            continue
        values = [a[col].to_numpy(dtype=object) if col in a.columns else np.full(len(key_frame), np.nan, dtype=object)
                  for a in aligned]
        columns[col] = _merge_column(name, col, values, present, weights, ctx, key_frame)
    out = pd.DataFrame(columns, columns=list(template.columns))
    for col, dt in template.dtypes.items():
        if out[col].dtype == dt:
            continue
        try:
            out[col] = out[col].astype(dt)
        except (TypeError, ValueError):
            pass
    return out


def _stack(values: list[Any]) -> np.ndarray:
    """Cells of one column, one row per part, as floats (NaN where missing or not a number)."""
    return np.vstack([pd.to_numeric(pd.Series(v, dtype=object), errors="coerce").to_numpy(dtype=np.float64,
                                                                                       na_value=np.nan)
                      for v in values])


def _recover(x: np.ndarray) -> np.ndarray:
    """Round values that are integers up to float error (recovered totals), keep the others."""
    r = np.round(x)
    close = np.abs(x - r) <= 1e-9 * np.maximum(1.0, np.abs(x))
    return np.where(close, r, x)


def _rate_weights(name: str, aligned, present, key_frame, ctx: _Context) -> dict[str, tuple[np.ndarray, bool]]:
    """Elements behind each rate column, per part and row, and whether they are exact integers."""
    s = ctx.samples[:, None]
    out: dict[str, tuple[np.ndarray, bool]] = {}
    if name == "layers":
        if all("input_elements" in a.columns for a in aligned):
            total = np.round(np.nan_to_num(_stack([a["input_elements"].to_numpy(dtype=object) for a in aligned])) * s)
            exact = True
        else:
            total, exact = np.broadcast_to(s, present.shape).copy(), False
        total = np.where(present, total, 0.0)
        out["input_rate"] = (total, exact)
        per_step = total / ctx.T
        out["rate_t"] = (per_step, exact and bool(np.all(np.mod(total, ctx.T) == 0)))
        ctx.layer_elements = {"keys": [tuple(r) for r in key_frame.itertuples(index=False, name=None)],
                              "per_step": out["rate_t"]}
    elif name == "per_step" and ctx.layer_elements:
        lookup = {k: j for j, k in enumerate(ctx.layer_elements["keys"])}
        per_step, exact = ctx.layer_elements["per_step"]
        cols = np.array([lookup.get(tuple(r[:3]), -1) for r in key_frame.itertuples(index=False, name=None)])
        w = np.where(cols >= 0, per_step[:, np.maximum(cols, 0)], 0.0) if per_step.size else np.zeros(present.shape)
        out["input_rate"] = (np.where(present, w, 0.0), exact)
    elif name == "neurons":
        neurons = np.nan_to_num(_stack([a["neurons"].to_numpy(dtype=object) for a in aligned])) if aligned else None
        steps = np.vstack([np.where(a["per_step"].fillna(False).astype(bool).to_numpy(), ctx.T, 1) for a in aligned])
        per_step = np.where(present, np.round(neurons * s), 0.0)
        out["rate_t"] = (per_step, True)
        out["firing_rate"] = (per_step * steps, True)
    return out


def _merge_column(table: str, col: str, values: list[Any], present: np.ndarray, weights, ctx: _Context,
                  key_frame: pd.DataFrame) -> Any:
    if col in PER_SAMPLE:
        return _recover(np.nan_to_num(_stack(values)) * ctx.samples[:, None]).sum(0) / ctx.samples.sum()
    if col == "calls":
        if table == "unsupported":
            return np.nansum(_stack(values), 0).round().astype(np.int64)
        return _recover(np.nan_to_num(_stack(values)) * ctx.batches[:, None]).sum(0) / ctx.batches.sum()
    if col in MINIMA or col in MAXIMA:
        return _extreme(_stack(values), present, col in MINIMA)
    if col in KINDS:
        return _worst_kind(values, present)
    if col in ALL:
        return np.array([all(bool(v[j]) for v, p in zip(values, present[:, j]) if p)
                         for j in range(present.shape[1])])
    if col in UNIONS:
        return _union(values, present)
    if col in FRACTIONS:
        if ctx.shared_fractions:
            return _shared_fraction(col, _stack(values), present, ctx)
        return _fraction(col, _stack(values), present, key_frame, ctx)
    rate_key = "rate_t" if col.startswith("rate_t") else col
    if rate_key in weights:
        w, exact = weights[rate_key]
        return _ratio(_stack(values), w, exact)
    return _same(table, col, values, present, ctx)


def _extreme(x: np.ndarray, present: np.ndarray, lower: bool) -> np.ndarray:
    x = np.where(present, x, np.nan)
    with np.errstate(all="ignore"), _quiet_nan():
        return np.nanmin(x, 0) if lower else np.nanmax(x, 0)


class _quiet_nan:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


def _worst_kind(values: list[Any], present: np.ndarray) -> list[str]:
    out = []
    for j in range(present.shape[1]):
        seen = [str(v[j]) for v, p in zip(values, present[:, j]) if p and isinstance(v[j], str)]
        if "weight" in seen:
            out.append("weight")
        else:
            known = [k for k in seen if k in KIND_ORDER]
            out.append(max(known, key=KIND_ORDER.index) if known else (seen[0] if seen else ""))
    return out


def _union(values: list[Any], present: np.ndarray) -> list[Any]:
    out: list[Any] = []
    for j in range(present.shape[1]):
        names: list[str] = []
        any_text = False
        for v, p in zip(values, present[:, j]):
            cell = v[j]
            if p and isinstance(cell, str):
                any_text = True
                names += [n for n in cell.split(";") if n]
        out.append(";".join(dict.fromkeys(names)) if any_text else np.nan)
    return out


def _ratio(x: np.ndarray, w: np.ndarray, exact: bool) -> np.ndarray:
    """Σ rateᵢ·elementsᵢ / Σ elementsᵢ over the parts with a rate; nonzeros rounded when elements are exact."""
    valid = ~np.isnan(x) & (w > 0)
    num = np.where(valid, x * w, 0.0)
    if exact:
        num = _recover(num)
    den = np.where(valid, w, 0.0).sum(0)
    with np.errstate(all="ignore"):
        return np.where(den > 0, num.sum(0) / np.where(den > 0, den, 1.0), np.nan)


def _fraction(col: str, x: np.ndarray, present: np.ndarray, key_frame: pd.DataFrame, ctx: _Context) -> np.ndarray:
    out = np.full(x.shape[1], np.nan)
    for j in range(x.shape[1]):
        f = x[present[:, j], j]
        if f.size == 0 or np.isnan(f).any():
            continue
        if f.size == 1 or f.min() == 0 or f.min() == 1:  # one part, or determined: 0 stays 0, all-1 stays 1
            out[j] = f.min()
            continue
        lo, hi = max(0.0, float(f.sum()) - (f.size - 1)), float(f.min())
        if lo == hi:
            out[j] = hi
            continue
        ctx.bounds.setdefault(str(key_frame.iloc[j, 0]), {})[col] = [lo, hi]
    return out


def _shared_fraction(col: str, x: np.ndarray, present: np.ndarray, ctx: _Context) -> np.ndarray:
    """The value every part holds (fractions computed over all the data), NaN where they differ."""
    out = np.full(x.shape[1], np.nan)
    for j in range(x.shape[1]):
        f = x[present[:, j], j]
        if f.size == 0 or np.isnan(f).all():
            continue
        if np.isnan(f).any() or f.min() != f.max():
            ctx.not_merged.append(f"neurons.{col}")
            continue
        out[j] = f[0]
    return out


def _same(table: str, col: str, values: list[Any], present: np.ndarray, ctx: _Context) -> list[Any]:
    out: list[Any] = []
    for j in range(present.shape[1]):
        cells = [v[j] for v, p in zip(values, present[:, j]) if p]
        distinct = {repr(c) for c in cells if not (isinstance(c, float) and np.isnan(c))}
        if len(distinct) <= 1:
            out.append(cells[0] if cells else np.nan)
        else:
            out.append(np.nan)
            ctx.not_merged.append(f"{table}.{col}")
    return out
