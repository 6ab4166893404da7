"""Side-by-side comparison of models: one row per model with its counts, energy (SNN / ANN / QNN and under a
paper's convention), the audit verdict and the model card's published energy (a reference value).

``compare_models(["sdt-2-256-cifar10", report, ...])`` takes zoo names (profiled here on the shipped samples)
or finished :class:`~snnenergy.report.Report` objects. ``compare_text`` renders the table for a terminal of a
given width (models as columns, in as many groups as the width needs); ``compare_markdown`` for documents.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .text_table import Column, fit_table, middle_ellipsis

COLUMNS = ["model", "weights", "inputs", "time_steps", "samples", "params", "dense_ops", "ac", "mac", "integer_mac",
           "firing_rate", "preset", "level", "integer_as", "snn_mJ", "ann_mJ", "qnn_mJ", "qnn_bits", "ann_over_snn",
           "qnn_over_snn", "convention", "convention_mJ", "audit", "violations", "published_mJ"]

PUBLISHED_LABEL = "published energy (ref.)"  # the rendered label of ``published_mJ``, shown only when filled
# (column, label, kind) of the rendered table; kind picks the number format and unit
_VIEW = [
    ("time_steps", "T", "int"), ("samples", "samples", "int"), ("params", "params", "count"),
    ("dense_ops", "dense ops", "count"), ("ac", "ACs", "count"), ("mac", "MACs", "count"),
    ("integer_mac", "integer MACs", "count"), ("firing_rate", "mean firing rate", "rate"),
    ("snn_mJ", "SNN energy", "energy"), ("ann_mJ", "ANN energy", "energy"), ("qnn_mJ", "QNN energy", "energy"),
    ("ann_over_snn", "ANN / SNN", "ratio"), ("qnn_over_snn", "QNN / SNN", "ratio"),
    ("convention_mJ", "SNN energy, {convention}", "energy"), ("audit", "audit", "text"),
    ("published_mJ", PUBLISHED_LABEL, "energy"),
]
_COUNT_UNITS = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))
_ENERGY_UNITS = ((1.0, "mJ"), (1e3, "µJ"), (1e6, "nJ"), (1e9, "pJ"))


# ----------------------------------------------------------------------------------------------- the table
def compare_models(
    models: str | Sequence[Any],
    preset: str = "fp32",
    level: int = 1,
    integer_as: str = "mac",
    convention: str = "snnenergy",
    *,
    batch_size: int | None = None,
    time_steps: int | None = None,
    seed: int | None = 0,
    device: str = "cpu",
) -> pd.DataFrame:
    """One row per model (columns :data:`COLUMNS`, counts and energies per sample).

    ``models``: zoo names or aliases (a list, or one comma-separated string), paths of ``report.json`` files
    (as ``snnenergy profile --out`` writes them, e.g. of a trained checkpoint) and/or :class:`Report` objects.
    A name is built untrained from ``seed``, with its BatchNorm calibrated on the shipped sample inputs, and
    profiled on them (``batch_size`` samples per pass, ``time_steps`` overriding its T); its ``weights`` column
    says so. ``snn_mJ``/``ann_mJ``/``qnn_mJ`` are ``report.energy(preset, level, integer_as)``;
    ``convention_mJ`` is the SNN energy under ``convention`` (equal to ``snn_mJ`` for ``"snnenergy"``);
    ``audit`` is the spike-driven level; ``published_mJ`` is the model card's published energy, a reference
    value for the published configuration, not a result of this run.
    """
    items = _as_items(models)
    from ..energy.presets import get_preset

    get_preset(preset)
    if level not in (1, 2, 3):
        raise ValueError(f"energy level must be 1, 2 or 3, got {level!r}")
    rows = []
    for item in items:
        if _is_report(item):
            report = item
        elif item.lower().endswith(".json"):
            report = _read_report(item)
        else:
            report = profile_by_name(item, batch_size=batch_size, time_steps=time_steps, seed=seed, device=device)
        rows.append(report_row(report, preset=preset, level=level, integer_as=integer_as, convention=convention))
    return pd.DataFrame(rows, columns=COLUMNS)


def _read_report(path: str):
    import os

    from .report import Report

    if not os.path.isfile(path):
        raise FileNotFoundError(f"report file not found: {path} (a report.json written by `snnenergy profile --out`)")
    return Report.from_json(path)


def _is_report(item: Any) -> bool:
    return hasattr(item, "layers") and hasattr(item, "meta") and hasattr(item, "energy")


def _as_items(models: str | Sequence[Any]) -> list[Any]:
    items = [m.strip() for m in models.split(",")] if isinstance(models, str) else list(models)
    if not items or any(isinstance(m, str) and not m for m in items):
        raise ValueError("give one or more models, e.g. 'snn-cnn-residual,sdt-2-256-cifar10' (no empty names)")
    bad = [type(m).__name__ for m in items if not isinstance(m, str) and not _is_report(m)]
    if bad:
        raise TypeError(f"models must be zoo names or snnenergy Reports, got {', '.join(sorted(set(bad)))}")
    names = [m for m in items if isinstance(m, str)]
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:
        raise ValueError(f"model(s) given twice: {', '.join(twice)}")
    return items


def profile_by_name(name: str, batch_size: int | None = None, time_steps: int | None = None, seed: int | None = 0,
                    device: str = "cpu"):
    """Profile the zoo model ``name`` as ``snnenergy profile --model NAME`` does: untrained weights from
    ``seed``, BatchNorm calibrated on the shipped sample inputs, the weights labelled so."""
    from ..api import profile
    # the CLI's model/input resolution, reused so that both label untrained weights the same way
    from ..prepare import prepare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nothing to warn about for a zoo name on the shipped samples
        prep = prepare(model_name=name, batch_size=batch_size, time_steps=time_steps, seed=seed)
    report = profile(prep.model, prep.batches, time_steps=prep.time_steps, device=device, model_name=prep.label,
                     weights=prep.weights)
    report.meta.update(prep.meta, inputs=prep.inputs, params=sum(p.numel() for p in prep.model.parameters()))
    return report


def _published_mJ(report) -> float:
    pub = report.meta.get("published") or {}
    if "energy_mJ" not in pub:
        from ..models import model_card

        try:
            pub = model_card(str(report.meta.get("model", ""))).published
        except KeyError:  # not a zoo model: nothing published
            pub = {}
    value = pub.get("energy_mJ")
    return float(value) if isinstance(value, (int, float)) else math.nan


def _audit_cells(report, preset: str, integer_as: str) -> tuple[str, float]:
    if report.meta.get("rates_only") or report.layers.empty:
        return "no op records", math.nan
    audit = report.audit(preset=preset, integer_as=integer_as)
    return audit.level, float(len(audit.violations))


def _weights(report) -> str:
    text = str(report.meta.get("weights") or "")
    seed = report.meta.get("seed")
    return f"{text} (seed {seed})" if text and seed is not None else text


def report_row(report, preset: str = "fp32", level: int = 1, integer_as: str = "mac",
               convention: str = "snnenergy") -> dict[str, Any]:
    """The comparison row (see :func:`compare_models`) of one report."""
    if report.meta.get("rates_only"):
        raise ValueError(f"{report.meta.get('model')}: a rates-only profile has no op counts to compare; "
                         "profile with rates_only=False")
    t = report.totals()
    e = report.energy(preset=preset, level=level, integer_as=integer_as).totals
    conv = report.energy(preset=preset, level=level, integer_as=integer_as, convention=convention)
    conv_mJ = conv.totals["snn_mJ"] if hasattr(conv, "level") else conv.mJ
    audit, violations = _audit_cells(report, preset, integer_as)
    params = report.meta.get("params")
    return {
        "model": str(report.meta.get("model", "model")), "weights": _weights(report),
        "inputs": str(report.meta.get("inputs") or ""), "time_steps": report.time_steps,
        "samples": report.meta.get("samples"), "params": float(params) if params is not None else math.nan,
        **{c: t[c] for c in ("dense_ops", "ac", "mac", "integer_mac")},
        "firing_rate": t.get("firing_rate", math.nan), "preset": preset, "level": level, "integer_as": integer_as,
        **{c: e[c] for c in ("snn_mJ", "ann_mJ", "qnn_mJ", "qnn_bits", "ann_over_snn", "qnn_over_snn")},
        "convention": convention, "convention_mJ": float(conv_mJ), "audit": audit, "violations": violations,
        "published_mJ": _published_mJ(report),
    }


# ---------------------------------------------------------------------------------------------- rendering
def published_shown(df: pd.DataFrame) -> bool:
    """Whether the rendered table shows the published-energy column: only when some model card publishes one
    (an all-empty column is left out, and so must every sentence about it be)."""
    return "published_mJ" in df and bool(df["published_mJ"].notna().any())


def _energy_unit(df: pd.DataFrame) -> tuple[float, str]:
    """One energy unit for every energy row (mJ down to pJ), so that rows compare at a glance."""
    cols = [c for c, _, kind in _VIEW if kind == "energy" and c in df]
    values = df[cols].to_numpy(dtype=np.float64).ravel()
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    return next(((f, u) for f, u in _ENERGY_UNITS if top * f >= 0.1), _ENERGY_UNITS[-1])


def _count_unit(values: np.ndarray) -> tuple[float, str]:
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    return next(((f, u) for f, u in _COUNT_UNITS if top >= f), _COUNT_UNITS[-1])


def _significant(v: float, digits: int = 4) -> str:
    """``v`` with ``digits`` significant digits in plain notation (thousands separated)."""
    if not np.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{decimals}f}"


def _audit_text(level: str, violations: float) -> str:
    if level == "not spike-driven":
        return f"NOT spike-driven ({violations:.0f})" if violations == violations else "NOT spike-driven"
    return {"spike-driven with exceptions": "with exceptions"}.get(level, level)


def display_rows(df: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """``(label with unit, cells per model)`` for each shown quantity, in the order of the rendered table."""
    out = []
    convention = str(df["convention"].iloc[0]) if len(df) else "snnenergy"
    e_factor, e_unit = _energy_unit(df)
    for col, label, kind in _VIEW:
        if col == "convention_mJ" and convention == "snnenergy":
            continue  # the same figure as the SNN energy
        if col == "published_mJ" and not published_shown(df):
            continue
        label = label.format(convention=convention)
        if kind == "text":
            cells = [_audit_text(a, v) for a, v in zip(df["audit"], df["violations"])]
        elif kind == "int":
            cells = ["–" if pd.isna(v) else f"{int(v):d}" for v in df[col]]
        elif kind == "ratio":
            cells = ["–" if not np.isfinite(v) else f"{v:.3g}x" for v in df[col].astype(float)]
        elif kind == "rate":
            cells = ["–" if not np.isfinite(v) else f"{v:.4f}" for v in df[col].astype(float)]
        else:
            values = df[col].to_numpy(dtype=np.float64)
            factor, unit = (e_factor, e_unit) if kind == "energy" else _count_unit(values)
            cells = [_significant(v) for v in (values * factor if kind == "energy" else values / factor)]
            label = f"{label} ({unit})" if unit else label
        out.append((label, cells))
    return out


def _settings_lines(df: pd.DataFrame) -> list[str]:
    if not len(df):
        return ["no models"]
    r = df.iloc[0]
    lines = [f"Counts and energies per sample; energy: preset {r['preset']}, level {r['level']}, integer inputs as "
             f"{r['integer_as']!r}."]
    if r["convention"] != "snnenergy":
        lines.append(f"SNN energy, {r['convention']}: the same counts priced under the {r['convention']} "
                     "convention (its own rules: the level and integer rule above do not apply).")
    return lines


def _shared_or_each(df: pd.DataFrame, col: str, what: str) -> list[str]:
    values = [str(v) for v in df[col]]
    if len(set(values)) == 1:
        return [f"{what}: {values[0]}"] if values[0] else []
    return [f"{what} of {m}: {v}" for m, v in zip(df["model"], values) if v]


def _notes(df: pd.DataFrame) -> list[str]:
    notes = _shared_or_each(df, "weights", "weights") + _shared_or_each(df, "inputs", "inputs")
    notes.append("audit: the spike-driven level (NOT spike-driven: number of violations in brackets; with "
                 "exceptions: spike-driven apart from accepted exceptions); `snnenergy audit --model NAME` explains")
    if published_shown(df):
        notes.append("published energy: the model card's reference value for the published configuration and "
                     "trained weights, not computed here")
    return notes


def _groups(labels: list[str], models: list[str], rows: list[list[str]], width: int) -> list[list[int]]:
    """Model indices per printed block, each block as many models as fit beside the label column."""
    label_w = max(map(len, labels))
    groups: list[list[int]] = []
    used = label_w
    for i, name in enumerate(models):
        w = max([len(name), *(len(r[i]) for r in rows)]) + 2
        if groups and used + w <= width:
            groups[-1].append(i)
            used += w
        else:
            groups.append([i])
            used = label_w + w
    return groups


def compare_text(df: pd.DataFrame, width: int = 100) -> str:
    """The comparison as console text no wider than ``width``: quantities as rows, models as columns (split into
    blocks of models when they do not fit side by side; long model names shortened in the middle)."""
    import textwrap

    shown = display_rows(df)
    labels = [label for label, _ in shown]
    cells = [c for _, c in shown]
    models = list(df["model"])
    lines = [w for line in _settings_lines(df) for w in textwrap.wrap(line, width, subsequent_indent="  ")]
    for group in _groups(labels, models, cells, width):
        names = middle_ellipsis([models[i] for i in group], max(8, width - max(map(len, labels)) - 2))
        # only the labels may be shortened: a number cut to fit would read as another number
        columns = [Column("", labels, shrink=True)] + [Column(n, [row[i] for row in cells], right=True)
                                                       for n, i in zip(names, group)]
        lines += [""] + fit_table(columns, width)
    lines.append("")
    for note in _notes(df):
        lines += textwrap.wrap("- " + note, width, subsequent_indent="  ")
    return "\n".join(lines) + "\n"


def compare_markdown(df: pd.DataFrame) -> str:
    """The comparison as a Markdown table (one row per model), with its settings and notes."""
    shown = display_rows(df)
    head = "| model | " + " | ".join(label for label, _ in shown) + " |"
    rule = "|---|" + "|".join("---:" for _ in shown) + "|"
    rows = ["| " + " | ".join([m, *(cells[i] for _, cells in shown)]).replace("\n", " ") + " |"
            for i, m in enumerate(df["model"])]
    notes = [f"- {n}" for n in _notes(df)]
    return "\n".join(["# Model comparison", "", *_settings_lines(df), "", head, rule, *rows, "", *notes]) + "\n"


__all__ = ["COLUMNS", "PUBLISHED_LABEL", "compare_models", "compare_text", "compare_markdown", "display_rows",
           "profile_by_name", "published_shown", "report_row"]
