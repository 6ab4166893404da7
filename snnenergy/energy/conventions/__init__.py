"""Paper conventions: each paper's energy bookkeeping as data plus small rules, applied to the same counts.

``apply_convention(report, name, preset)`` prices a profile (or a replay's site table, see
:mod:`snnenergy.energy.replay`) the way a paper or tool did; ``convention_table`` shows them all side by side.

=================  ==========================================================================================
``snnenergy``      our exact counts (the default of ``Report.energy``)
``spikformer``     Spikformer App. C.2: encoder MACs x T, SOP = fr x T x FLOPs elsewhere
``spikingformer``  the Spikingformer group's syops-based script (bias included, {0,1} test, analytic SSA
                   term with hand-set head counts, BN/LIF not priced)
``sdt``            Spike-driven Transformer (BICLab): encoder MACs once, SOP = fr x T x FLOPs
``qkformer``       QKFormer appendix: as SDT, with Q-K attention and SSA terms
``neurobench``     NeuroBench SynapticOperations: effective ops of weight layers only, padding-exact
=================  ==========================================================================================
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..presets import DEFAULT_PRESET, EnergyPreset, get_preset
from .base import Convention, ConventionResult, SiteTable
from .exact import price_neurobench, price_snnenergy
from .rate_based import price_qkformer, price_sdt, price_spikformer
from .script import SCRIPT_HEADS, price_spikingformer
from .sites import sites_from_report

__all__ = ["CONVENTIONS", "Convention", "ConventionResult", "SiteTable", "apply_convention", "convention_table",
           "get_convention", "sites_from_report", "SCRIPT_HEADS"]

_SPIKFORMER = "Zhou et al., Spikformer, ICLR 2023, arXiv 2209.15425v2 App. C.2"
_SPIKINGFORMER = ("Spikingformer repository (zhouchenlin2096/Spikingformer) energy_consumption_calculation, "
                  "syops-counter based; its README example and ImageNet energy logs")
_SDT = ("Yao et al., Spike-driven Transformer, NeurIPS 2023, supplementary 'Energy Consumption Analysis "
        "Details' (Eq. S1, S2) and BICLab's stated formula (E_MAC x FL_1 + E_AC x T x sum fr x FL)")
_QKFORMER = "Zhou et al., QKFormer, NeurIPS 2024, appendix 'Energy Consumption Calculation of QKFormer and ANNs'"
_NEUROBENCH = "NeuroBench 2.x SynapticOperations metric (Yik et al., Nature Communications 2025)"

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("snnenergy", "snnenergy exact counts", "snnenergy: exact effective counts of this toolkit",
               price_snnenergy, ("integer_as",)),
    Convention("spikformer", "Spikformer paper formula", _SPIKFORMER, price_spikformer, ("integer",)),
    Convention("spikingformer", "Spikingformer syops script", _SPIKINGFORMER, price_spikingformer,
               ("ssa_heads",)),
    Convention("sdt", "Spike-driven Transformer formula", _SDT, price_sdt, ("integer",)),
    Convention("qkformer", "QKFormer appendix formula", _QKFORMER, price_qkformer, ("integer",)),
    Convention("neurobench", "NeuroBench synaptic operations", _NEUROBENCH, price_neurobench),
)}


def get_convention(name: str) -> Convention:
    """The :class:`Convention` called ``name``; a clear error listing the known ones otherwise."""
    if isinstance(name, Convention):
        return name
    conv = CONVENTIONS.get(str(name).lower())
    if conv is None:
        raise ValueError(f"unknown energy convention {name!r}; use one of {', '.join(CONVENTIONS)}")
    return conv


def _sites(source) -> SiteTable:
    if isinstance(source, SiteTable):
        return source
    if hasattr(source, "layers") and hasattr(source, "meta"):
        return sites_from_report(source)
    raise TypeError(f"expected a Report or a SiteTable, got {type(source).__name__}")


def apply_convention(report, name: str, preset: str | EnergyPreset = DEFAULT_PRESET,
                     **options: Any) -> ConventionResult:
    """Energy per sample of ``report`` (a :class:`~snnenergy.report.Report` or a :class:`SiteTable`) under
    the convention ``name``; ``.mJ``, ``.terms`` (per site) and ``.assumptions`` (printed by ``str()``)."""
    return get_convention(name).apply(_sites(report), get_preset(preset), **options)


def convention_table(report, preset: str | EnergyPreset = DEFAULT_PRESET,
                     names: list[str] | None = None) -> pd.DataFrame:
    """One row per convention on the same run: energy, MACs, ACs and the ratio to our exact count."""
    sites = _sites(report)
    p = get_preset(preset)
    results = [get_convention(n).apply(sites, p) for n in (names or list(CONVENTIONS))]
    base = next((r.mJ for r in results if r.convention == "snnenergy"), None)
    rows = [{
        "convention": r.convention, "title": CONVENTIONS[r.convention].title, "mJ": r.mJ,
        "mac_G": r.totals["mac_ops"] / 1e9, "ac_G": r.totals["ac_ops"] / 1e9,
        "vs_snnenergy": r.mJ / base if base else float("nan"),
    } for r in results]
    return pd.DataFrame(rows, columns=["convention", "title", "mJ", "mac_G", "ac_G", "vs_snnenergy"])
