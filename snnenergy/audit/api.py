"""``audit_report(report)`` and ``audit(model, inputs)``: the spike-driven verdict of a profile."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..energy.model import INTEGER_AS
from ..energy.presets import EnergyPreset, get_preset
from .checks import Context, check_other_ops, check_site
from .graph import ProvenanceGraph
from .verdict import ALLOWED_COLUMNS, EXCEPTION_COLUMNS, VIOLATION_COLUMNS, Audit, frame

SILENT_RATE = 1e-3  # mean firing rate below which the verdict carries a warning


def _provenance(report) -> pd.DataFrame | None:
    try:
        table = getattr(report, "provenance")
    except (AttributeError, KeyError):
        return None
    return table if isinstance(table, pd.DataFrame) and len(table) else None


def _context(report, preset: EnergyPreset, integer_as: str) -> Context:
    table = _provenance(report)
    graph = ProvenanceGraph.from_table(table)
    layers = report.layers
    site_mJ: dict[tuple[str, str, int], float] = {}
    total = 0.0
    if len(layers):
        energy = report.energy(preset=preset, level=1, integer_as=integer_as).layers
        for layer, op, index, mJ in energy[["layer", "op", "index", "snn_mJ"]].itertuples(index=False, name=None):
            site_mJ[(layer, op, int(index))] = float(mJ)
            total += float(mJ)
    neurons = report.neurons
    ranges = {}
    if len(neurons) and "output_min" in neurons.columns:
        ranges = {r.layer: (float(r.output_min), float(r.output_max)) for r in neurons.itertuples(index=False)}
    other = report.other_ops
    elements = {}
    if len(other):
        elements = {(r.layer, r.op): float(r.elements) for r in other.itertuples(index=False)}
    notes = [] if table is not None else [
        "the report has no provenance table: causes are the direct producers only, no walks were possible"]
    rate = report.totals().get("firing_rate", math.nan) if len(neurons) else math.nan
    if rate == rate and rate < SILENT_RATE:
        notes.append(f"the neurons fired at a mean rate of {rate:.2g}: kinds are decided on the values that occurred, "
                     "so a nearly silent network can look spike-driven (calibrate BatchNorm or load trained weights)")
    silent = _sites_without_input(layers)
    if silent:
        more = f" and {len(silent) - 5} more" if len(silent) > 5 else ""
        notes.append(f"{len(silent)} synaptic site(s) saw only zeros ({', '.join(silent[:5])}{more}): their inputs "
                     "count as spikes because no other value occurred, so their verdict says nothing yet (give "
                     "inputs or weights that make the layers before them fire)")
    return Context(graph, ranges, site_mJ, elements, preset.e_ac, preset.e_mac, total, table is not None, notes)


def _sites_without_input(layers: pd.DataFrame) -> list[str]:
    """Labels of the weight-layer sites whose activation input was zero everywhere in the profile."""
    if not len(layers) or not {"input_min", "input_max"} <= set(layers.columns):
        return []
    weighted = layers["other_operand"] == "weight" if "other_operand" in layers.columns else True
    zero = layers[weighted & (layers["input_min"] == 0) & (layers["input_max"] == 0)]
    return list(dict.fromkeys(f"{r.layer}:{r.op}" if r.layer else str(r.op) for r in zero.itertuples(index=False)))


def audit_report(report, preset: str | EnergyPreset = "fp32", integer_as: str = "mac") -> Audit:
    """The spike-driven audit of a :class:`~snnenergy.report.Report` (see :class:`Audit`).

    ``preset`` prices the energy at stake (an energy preset name, table path or :class:`EnergyPreset`);
    ``integer_as`` how integer inputs into weight layers are priced now: ``"mac"``, ``"ac"`` or ``"spikes"``
    (n accumulates for a value n), as in :meth:`Report.energy`."""
    if integer_as not in INTEGER_AS:
        raise ValueError(f"integer_as must be one of {INTEGER_AS}, got {integer_as!r}")
    p = get_preset(preset)
    if report.meta.get("rates_only"):
        raise ValueError("a rates-only profile has no op records to audit; profile with rates_only=False")
    ctx = _context(report, p, integer_as)
    found = [f for row in report.layers.to_dict("records") if (f := check_site(ctx, row)) is not None]
    found += check_other_ops(ctx, report.other_ops)
    tables = {"violations": [], "exceptions": [], "allowed": []}
    for f in found:
        tables[f.table].append(f.row)
    violations = frame(tables["violations"], VIOLATION_COLUMNS)
    exceptions = frame(tables["exceptions"], EXCEPTION_COLUMNS)
    allowed = frame(tables["allowed"], ALLOWED_COLUMNS)
    priced = violations["energy_basis"] == "level-1 ops" if len(violations) else pd.Series(dtype=bool)
    totals = {
        "snn_mJ": ctx.total_mJ,
        "at_stake_mJ": float(violations.loc[priced, "energy_at_stake_mJ"].sum()) if len(violations) else 0.0,
        "exceptions_mJ": float(exceptions["energy_mJ"].sum()) if len(exceptions) else 0.0,
    }
    totals["at_stake_share"] = totals["at_stake_mJ"] / ctx.total_mJ if ctx.total_mJ else math.nan
    return Audit(str(report.meta.get("model", "model")), p.name, integer_as, violations, exceptions, allowed,
                 totals, ctx.notes)


def audit(model, inputs: Any, preset: str | EnergyPreset = "fp32", integer_as: str = "mac",
          **profile_kwargs: Any) -> Audit:
    """Profile ``model`` on ``inputs`` (any input :func:`snnenergy.profile` takes; its keyword arguments pass
    through) and audit the result (see :func:`audit_report`)."""
    from ..api import profile

    if profile_kwargs.get("rates_only"):
        raise ValueError("the audit needs op records: rates_only=True records firing rates only")
    return audit_report(profile(model, inputs, **profile_kwargs), preset=preset, integer_as=integer_as)
