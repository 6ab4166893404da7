"""What every convention works on: a per-site table (from a profile or from published rates) and its result.

A *site* is one synaptic op of the model (a weight layer, or a product of two activations). Conventions
price sites from these columns, whatever produced them:

``layer, op, index``        the site, as in ``Report.layers``;
``weight``                  True for activation x weight, False for a product of two activations;
``kind_a, kind_b``          operand kinds (``binary``, ``ternary``, ``integer``, ``real``; ``kind_b`` is
                            ``weight`` for weight sites);
``first``                   the activation operand is the model input (the encoding layer);
``per_step``                the site runs once per time step (its counts include the factor T);
``dense``                   nominal dense MACs per sample (taps on padding included, bias excluded);
``bias``                    bias additions per sample;
``valid_dense``             padding-exact dense MACs (NaN when unknown);
``rate_a, rate_b``          nonzero fraction of each activation operand (NaN when not known or a weight);
``mean_a``                  mean |value| of operand A (= ``rate_a`` for spikes; larger for integer inputs);
``effective, ac, integer_mac, mac``   exact counts of a profile (NaN in a replay from rates);
``producer, producer_b``    provenance labels of the operands.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..presets import EnergyPreset

PJ_PER_MJ = 1e9
SPIKE_KINDS = ("binary", "ternary")
SITE_COLUMNS = ["layer", "op", "index", "weight", "kind_a", "kind_b", "first", "per_step", "dense", "bias",
                "valid_dense", "rate_a", "rate_b", "mean_a", "effective", "ac", "integer_mac", "mac", "producer",
                "producer_b"]
TERM_COLUMNS = ["layer", "op", "index", "mac_ops", "ac_ops", "mJ", "rule"]


@dataclass
class SiteTable:
    """Per-site inputs of a convention plus the run's context (``T``; model config for head counts)."""

    frame: pd.DataFrame
    time_steps: int
    model: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    exact: bool = True  # True: exact counts of a profile; False: rates only (a replay)
    source: str = ""
    batches: int | None = None
    samples: int | None = None
    notes: list[str] = field(default_factory=list)  # caveats of how the table was built, echoed in results


@dataclass
class ConventionResult:
    """Energy per sample (mJ) of one run under one paper's bookkeeping."""

    convention: str
    mJ: float
    terms: pd.DataFrame
    assumptions: list[str]
    preset: EnergyPreset
    totals: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        t = self.totals
        head = (f"{self.convention}: {self.mJ:.6g} mJ per sample (MAC {t.get('mac_ops', 0) / 1e9:.6g} G, "
                f"AC {t.get('ac_ops', 0) / 1e9:.6g} G; E_MAC {self.preset.e_mac} pJ, E_AC {self.preset.e_ac} pJ)")
        return "\n".join([head] + [f"  - {a}" for a in self.assumptions])


@dataclass(frozen=True)
class Convention:
    """A named bookkeeping: ``price(sites, preset, **options) -> (terms, assumptions[, extra totals])``."""

    name: str
    title: str
    source: str
    price: Callable[..., tuple[pd.DataFrame, list[str]]]
    options: tuple[str, ...] = ()

    def apply(self, sites: SiteTable, preset: EnergyPreset, **options: Any) -> ConventionResult:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            allowed = ", ".join(self.options) or "none"
            raise TypeError(f"convention {self.name!r} has no option(s) {unknown}; its options: {allowed}")
        out = self.price(sites, preset, **options)
        terms, assumptions = out[0], out[1]
        mac, ac = float(terms["mac_ops"].sum()), float(terms["ac_ops"].sum())
        totals = {"mac_ops": mac, "ac_ops": ac, "mJ": float(terms["mJ"].sum())}
        if len(out) > 2:
            totals.update(out[2])
        assumptions = assumptions + list(sites.notes)
        if not sites.exact:
            assumptions = assumptions + [f"replayed from firing rates, not measured ({sites.source})"]
        return ConventionResult(self.name, totals["mJ"], terms, [self.source] + assumptions, preset, totals)


def terms_frame(sites: pd.DataFrame, mac: np.ndarray, ac: np.ndarray, rule: list[str] | np.ndarray,
                preset: EnergyPreset) -> pd.DataFrame:
    """The per-site result table: ops priced as MACs and as ACs, their energy and the rule that priced them."""
    mac = np.asarray(mac, dtype=np.float64)
    ac = np.asarray(ac, dtype=np.float64)
    return pd.DataFrame({
        "layer": sites["layer"].to_numpy(), "op": sites["op"].to_numpy(), "index": sites["index"].to_numpy(),
        "mac_ops": mac, "ac_ops": ac, "mJ": (preset.e_mac * mac + preset.e_ac * ac) / PJ_PER_MJ,
        "rule": list(rule),
    }, columns=TERM_COLUMNS)


def is_spike(kind: pd.Series) -> np.ndarray:
    return kind.isin(SPIKE_KINDS).to_numpy()


def product_spike_rate(s: pd.DataFrame) -> np.ndarray:
    """For products of two activations: the rate of the sparser spike operand (NaN where neither is spikes).

    This is how the Spikingformer group's script gates its analytic attention term (K^T V by the sparser of
    K and V, Q (K^T V) by Q)."""
    a = np.where(is_spike(s["kind_a"]), s["rate_a"].to_numpy(dtype=np.float64), np.nan)
    b = np.where(is_spike(s["kind_b"]), s["rate_b"].to_numpy(dtype=np.float64), np.nan)
    both = np.vstack([a, b])
    out = np.full(len(s), np.nan)
    ok = ~np.all(np.isnan(both), axis=0)
    out[ok] = np.nanmin(both[:, ok], axis=0)
    return out


def require_rates(s: pd.DataFrame, mask: np.ndarray, column: str, convention: str) -> None:
    """A clear error when a site that needs a firing rate has none."""
    missing = mask & np.isnan(s[column].to_numpy(dtype=np.float64))
    if missing.any():
        names = ", ".join(f"{l}:{o}" for l, o in zip(s.loc[missing, "layer"], s.loc[missing, "op"]))
        raise ValueError(f"convention {convention!r} needs the input firing rate of {names}; "
                         "give it in the rate table (measure 'input' for the site, or 'output' of the neuron "
                         "that feeds it)")
