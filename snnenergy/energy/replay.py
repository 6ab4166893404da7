"""Replays: energy from published per-layer firing rates instead of a forward pass.

``estimate(model_name, rates="published", convention="spikingformer")`` builds the zoo model, takes its dense
per-site op counts from one profile of the untrained model on one sample (shapes only: the weights and the
sample do not matter), combines them with a rate table and prices the result under a convention, next to
our exact convention for the same rates.

Padding-exact dense counts come from the same profile with every neuron forced to fire (threshold far
below any membrane value), so that every spike tensor is all ones and the effective count of each site is
its padding-exact dense count. The model is built for the replay and discarded.

Rate tables are CSV files with ``#`` header lines (``# key: value``: ``model``, ``source``, ...) and the
columns ``layer`` (a module path of the zoo model, glob patterns allowed), ``measure`` (``output``: the
firing rate of the neuron layer at that path; ``input``: the input firing rate of the weight layer at that
path) and ``rate`` (a fraction) or ``rate_percent``. The published tables ship in ``snnenergy/energy/data``.
"""
from __future__ import annotations

import fnmatch
import functools
import io
import os
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from .conventions import ConventionResult, SiteTable, apply_convention, get_convention
from .conventions.base import SITE_COLUMNS, SPIKE_KINDS
from .conventions.script import head_factor
from .conventions.sites import first_label, neuron_of
from .presets import DEFAULT_PRESET, get_preset

MEASURES = ("output", "input")
MISSING = ("error", "skip")
_SATURATE = -1e9  # a threshold every membrane value exceeds: each neuron fires at every step


@dataclass
class RateTable:
    """Firing rates by module path: ``entries`` (layer, measure, rate as a fraction) and the file's header."""

    entries: pd.DataFrame
    meta: dict[str, str] = field(default_factory=dict)
    path: str = ""

    @property
    def source(self) -> str:
        return self.meta.get("source", self.path or "user rate table")

    def lookup(self, layer: str, measure: str) -> float:
        """The rate for ``layer`` (exact path first, then the first matching glob pattern); NaN if none."""
        e = self.entries[self.entries["measure"] == measure]
        exact = e[e["layer"] == layer]
        if len(exact):
            return float(exact["rate"].iloc[0])
        for pattern, rate in zip(e["layer"], e["rate"]):
            if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(layer, pattern):
                return float(rate)
        return float("nan")


def _parse(text: str, where: str) -> RateTable:
    meta: dict[str, str] = {}
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep and key.strip() and " " not in key.strip():
                meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    try:
        df = pd.read_csv(io.StringIO("\n".join(body)))
    except Exception as e:  # noqa: BLE001 - any parse error is reported the same way
        raise ValueError(f"{where}: cannot read the rate table: {e}") from e
    return _checked(df, where, meta)


def _checked(df: pd.DataFrame, where: str, meta: dict[str, str] | None = None) -> RateTable:
    if "layer" not in df.columns or ("rate" not in df.columns and "rate_percent" not in df.columns):
        raise ValueError(f"{where}: a rate table needs the columns layer, measure and rate (a fraction) or "
                         f"rate_percent; got {list(df.columns)}")
    df = df.copy()
    if "measure" not in df.columns:
        df["measure"] = "output"
    rate = df["rate"] if "rate" in df.columns else df["rate_percent"] / 100.0
    df["rate"] = pd.to_numeric(rate, errors="coerce")
    bad = df[~df["measure"].isin(MEASURES)]
    if len(bad):
        raise ValueError(f"{where}: measure must be one of {MEASURES}; got {sorted(set(bad['measure']))}")
    out_of_range = df[~df["rate"].between(0.0, 1.0)]
    if len(out_of_range):
        raise ValueError(f"{where}: rates must be fractions in [0, 1] (or rate_percent in [0, 100]); "
                         f"bad rows: {', '.join(map(str, out_of_range['layer'][:5]))}")
    return RateTable(df[["layer", "measure", "rate"]].reset_index(drop=True), dict(meta or {}), where)


def load_rates(source: str | os.PathLike | pd.DataFrame | RateTable) -> RateTable:
    """A rate table from a CSV file, a DataFrame (columns layer, measure, rate) or a :class:`RateTable`."""
    if isinstance(source, RateTable):
        return source
    if isinstance(source, pd.DataFrame):
        return _checked(source, "rate DataFrame")
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"rate table not found: {path} (a CSV with columns layer, measure, rate; or "
                                "'published')")
    with open(path, encoding="utf-8") as f:
        return _parse(f.read(), path)


def _data_files() -> list[Any]:
    return sorted((f for f in resources.files("snnenergy.energy").joinpath("data").iterdir()
                   if f.name.endswith(".csv")), key=lambda f: f.name)


def published_rate_tables() -> dict[str, RateTable]:
    """The shipped rate tables, keyed by their ``# model:`` header."""
    out = {}
    for f in _data_files():
        table = _parse(f.read_text(encoding="utf-8"), f"snnenergy/energy/data/{f.name}")
        out[table.meta.get("model", f.name)] = table
    return out


def published_rates(model_name: str) -> RateTable:
    """The shipped rate table of a zoo model; a clear error naming the models that have one otherwise."""
    from ..models.registry import resolve_name

    name = resolve_name(model_name)
    tables = published_rate_tables()
    if name not in tables:
        raise ValueError(f"no published firing rates ship for {name!r}; available: {', '.join(sorted(tables))} "
                         "(or pass your own CSV with --rates FILE)")
    return tables[name]


# ----------------------------------------------------------------------------------------- structure
@functools.lru_cache(maxsize=8)
def _structure(model_name: str) -> tuple[pd.DataFrame, int, dict[str, Any], tuple[str, ...]]:
    """Per-site dense, bias and padding-exact dense counts of a zoo model (one sample, all neurons firing),
    with the sites' operand kinds and producers; plus T, the card config and the neurons that did not fire."""
    import torch

    from ..api import profile
    from ..models import create_model, model_card

    card = model_card(model_name)
    model = create_model(card.name)
    saved = [(m, m.v_threshold) for m in model.modules() if isinstance(getattr(m, "v_threshold", None), float)]
    try:
        for m, _ in saved:
            m.v_threshold = _SATURATE
        x = torch.rand((1, *card.input_shape), generator=torch.Generator().manual_seed(0)) + 0.5
        report = profile(model, x, model_name=card.name, weights="untrained (shapes only)")
        layers = report.layers.copy()
        quiet = tuple(report.neurons.loc[report.neurons["firing_rate"] < 1.0, "layer"]) if not report.neurons.empty \
            else ()
    finally:
        for m, v in saved:
            m.v_threshold = v
    return layers, int(report.meta["time_steps"]), dict(card.config), quiet


def _producer_site(label: str, layers: pd.DataFrame, before: int) -> int | None:
    """Row of the site whose output is ``label`` (``layer:op``), the last such site before row ``before``."""
    node, _, op = label.rpartition(":")
    rows = [i for i in range(before) if layers["layer"].iat[i] == node and layers["op"].iat[i] == op]
    return rows[-1] if rows else None


def replay_sites(model_name: str, rates: Any = "published", missing: str = "error") -> SiteTable:
    """The site table of ``model_name`` with the firing rates of ``rates`` (see :func:`estimate`)."""
    from ..models.registry import resolve_name

    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}, got {missing!r}")
    name = resolve_name(model_name)
    table = published_rates(name) if isinstance(rates, str) and rates == "published" else load_rates(rates)
    L, T, config, quiet = _structure(name)
    n = len(L)
    weight = (L["other_operand"] == "weight").to_numpy()
    producer = L["producer"].map(first_label).to_numpy()
    producer_b = (L["other_producer"].map(first_label).fillna("").to_numpy() if "other_producer" in L.columns
                  else np.array([""] * n))
    producer_b = np.where(weight, "", producer_b)
    rate_a, rate_b = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        rate_a[i] = _operand_rate(table, L["layer"].iat[i], L["input_kind"].iat[i], producer[i], site_input=True)
        if not weight[i]:
            rate_b[i] = _operand_rate(table, "", L["other_operand"].iat[i], producer_b[i], site_input=False)
    out_el = L["output_elements"].to_numpy(dtype=np.float64) if "output_elements" in L.columns else None
    unknown_k: list[str] = []
    for i in range(n):  # a non-spike operand made by another product: its nonzero fraction, from independence
        if not weight[i] and np.isnan(rate_b[i]) and producer_b[i]:
            j = _producer_site(producer_b[i], L, i)
            if j is not None and np.isfinite(rate_a[j]) and np.isfinite(rate_b[j]):
                if out_el is not None and out_el[j] > 0:
                    k = L["dense_ops"].iat[j] / out_el[j]  # terms summed per output element
                    rate_b[i] = 1.0 - (1.0 - rate_a[j] * rate_b[j]) ** k
                else:
                    rate_b[i] = 1.0
                    unknown_k.append(str(L["layer"].iat[i]))
    frame = pd.DataFrame({
        "layer": L["layer"], "op": L["op"], "index": L["index"], "weight": weight,
        "kind_a": L["input_kind"], "kind_b": L["other_operand"], "first": producer == "<input>",
        "per_step": L["per_step"].astype(bool).to_numpy(), "dense": L["dense_ops"].to_numpy(dtype=np.float64),
        "bias": L["bias_ops"].to_numpy(dtype=np.float64),
        "valid_dense": np.full(n, np.nan) if quiet else L["effective_ops"].to_numpy(dtype=np.float64),
        "rate_a": rate_a, "rate_b": rate_b, "mean_a": rate_a,
        "effective": np.nan, "ac": np.nan, "integer_mac": np.nan, "mac": np.nan,
        "producer": producer, "producer_b": producer_b,
    }, columns=SITE_COLUMNS)
    frame = _handle_missing(frame, missing, name, table)
    source = f"{table.source}; dense ops of {name} from its structure"
    notes = []
    if unknown_k:
        notes.append(f"nonzero fraction of the integer operand (a product of spikes) taken as 1, an upper bound, "
                     f"at {len(unknown_k)} site(s) such as {unknown_k[0]} (output sizes not in the profile)")
    return SiteTable(frame, T, name, config, exact=False, source=source, notes=notes)


def _operand_rate(table: RateTable, layer: str, kind: str, producer: str, site_input: bool) -> float:
    if site_input:
        r = table.lookup(layer, "input")
        if np.isfinite(r):
            return r
    if kind == "real":
        return 1.0
    neuron = neuron_of(producer)
    return table.lookup(neuron, "output") if neuron else float("nan")


def _handle_missing(frame: pd.DataFrame, missing: str, name: str, table: RateTable) -> pd.DataFrame:
    lacking = frame["rate_a"].isna() | (~frame["weight"] & frame["kind_b"].isin(SPIKE_KINDS) & frame["rate_b"].isna())
    if not lacking.any():
        return frame
    if missing == "skip":
        return frame[~lacking].reset_index(drop=True)
    sites = frame[lacking]
    listed = ", ".join(f"{l} (input from {p or 'unknown'})" for l, p in zip(sites["layer"][:6], sites["producer"][:6]))
    more = f" and {len(sites) - 6} more" if len(sites) > 6 else ""
    raise ValueError(f"rate table {table.path or '(given)'} has no rate for {len(sites)} site(s) of {name}: {listed}{more}; "
                     "add rows (measure 'output' for the neuron feeding a site, 'input' for the site) or pass "
                     "missing='skip' to leave those sites out")


# ------------------------------------------------------------------------------------------ estimate
@dataclass
class Replay:
    """A convention's energy from published rates, our exact convention on the same rates, and the gap."""

    model: str
    result: ConventionResult
    exact: ConventionResult
    logged_mJ: float | None
    logged_source: str
    differences: pd.DataFrame
    notes: list[str]

    @property
    def mJ(self) -> float:
        return self.result.mJ

    def __str__(self) -> str:
        lines = [f"{self.model}: {self.result.convention} convention from published firing rates"]
        if self.logged_mJ is not None:
            gap = 100.0 * (self.result.mJ / self.logged_mJ - 1.0)
            lines.append(f"  replayed {self.result.mJ:.6g} mJ  vs  logged {self.logged_mJ:.6g} mJ ({gap:+.3f}%; "
                         f"{self.logged_source})")
        else:
            lines.append(f"  replayed {self.result.mJ:.6g} mJ (no logged value for this convention)")
        lines.append(f"  MAC {self.result.totals['mac_ops'] / 1e9:.6g} G, AC {self.result.totals['ac_ops'] / 1e9:.6g} G")
        lines.append(f"  snnenergy (our exact rules, same rates): {self.exact.mJ:.6g} mJ "
                     f"(MAC {self.exact.totals['mac_ops'] / 1e9:.6g} G, AC {self.exact.totals['ac_ops'] / 1e9:.6g} G)")
        lines.append("  where they differ (mJ):")
        for row in self.differences.itertuples(index=False):
            lines.append(f"    {row.part:<34} {row.convention_mJ:>10.5g} {row.snnenergy_mJ:>10.5g}  "
                         f"{row.delta_mJ:+.5g}  {row.why}")
        lines += [f"  - {n}" for n in self.notes]
        lines.append(str(self.result))
        return "\n".join(lines)


_LOG_KEYS = {"spikingformer": ("energy_mJ_log", "official energy log")}


def estimate(model_name: str, rates: Any = "published", convention: str = "spikingformer",
             preset: str = DEFAULT_PRESET, missing: str = "error", **options: Any) -> Replay:
    """Energy per sample of a zoo model from per-layer firing rates instead of a forward pass.

    Args:
        model_name: a zoo model (``snnenergy models``).
        rates: ``"published"`` (the table shipped for the model), a CSV path, a DataFrame or a RateTable.
        convention: a name in :data:`snnenergy.energy.conventions.CONVENTIONS`.
        preset: energy preset; ``missing``: ``"error"`` or ``"skip"`` for sites the table has no rate for;
        options: the convention's options (e.g. ``ssa_heads=8`` for ``spikingformer``).
    """
    from ..models import model_card

    get_convention(convention)
    sites = replay_sites(model_name, rates, missing)
    p = get_preset(preset)
    result = apply_convention(sites, convention, p, **options)
    exact = apply_convention(sites, "snnenergy", p)
    card = model_card(sites.model)
    key, label = _LOG_KEYS.get(result.convention, (None, ""))
    logged = card.published.get(key) if key and (p.e_mac, p.e_ac) == (4.6, 0.9) else None  # logs used 4.6/0.9 pJ
    src = f"{label}, model card {sites.model} published[{key!r}]" if logged is not None else ""
    diff, notes = _differences(sites, result, exact, options)
    _, _, _, quiet = _structure(sites.model)
    if quiet:
        notes.append(f"padding-exact counts unavailable: neurons {', '.join(quiet[:3])} could not be made to fire")
    return Replay(sites.model, result, exact, float(logged) if logged is not None else None, src, diff, notes)


def _part(s: pd.DataFrame) -> np.ndarray:
    weight = s["weight"].to_numpy(dtype=bool)
    spike = s["kind_a"].isin(SPIKE_KINDS).to_numpy()
    return np.where(~weight, "attention products (act x act)",
                    np.where(s["first"].to_numpy(dtype=bool), "encoding layer",
                             np.where(spike, "spike-input weight layers",
                                      np.where(s["kind_a"] == "integer", "integer-input weight layers",
                                               "real-input weight layers (head)"))))


def _differences(sites: SiteTable, result: ConventionResult, exact: ConventionResult,
                 options: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    s = sites.frame
    part = _part(s)
    df = pd.DataFrame({"part": part, "convention_mJ": result.terms["mJ"].to_numpy(),
                       "snnenergy_mJ": exact.terms["mJ"].to_numpy()})
    g = df.groupby("part", sort=False).sum().reset_index()
    g["delta_mJ"] = g["convention_mJ"] - g["snnenergy_mJ"]
    why = {k: "" for k in g["part"]}
    e_ac = result.preset.e_ac / 1e9
    spike_w = (part == "spike-input weight layers")
    rate = s["rate_a"].to_numpy(dtype=np.float64)
    valid = s["valid_dense"].to_numpy(dtype=np.float64)
    dense = s["dense"].to_numpy(dtype=np.float64)
    pad = float(np.nansum(((dense - valid) * rate)[spike_w])) * e_ac
    bias = float(np.nansum((s["bias"].to_numpy(dtype=np.float64) * rate)[spike_w])) * e_ac
    notes = []
    if result.convention == "spikingformer":
        factor, heads_note = head_factor(sites, options.get("ssa_heads"))
        why["spike-input weight layers"] = f"bias adds {bias:.4g} mJ + taps on padding {pad:.4g} mJ in the script"
        why["encoding layer"] = "script: dense incl. padding taps; ours: padding-exact"
        why["real-input weight layers (head)"] = "script adds the bias to the head's MACs"
        why["attention products (act x act)"] = (
            f"script: {heads_note}; gated by the sparser operand's rate; ours: the model's heads, a term counts "
            "only where both operands are nonzero")
        notes.append("the logged rates are unweighted per-batch means over the batches the script ran; a replay "
                     "cannot undo that averaging (it matters for unequal batches and small runs such as the CML "
                     "log, which covers only a few batches of 2 images)")
    else:
        why["spike-input weight layers"] = f"taps on padding {pad:.4g} mJ (nominal FLOPs vs padding-exact)"
        why["encoding layer"] = "nominal vs padding-exact MACs; x T or once per the convention"
        why["attention products (act x act)"] = "gating rule and head count of the convention vs coincidences"
    g["why"] = [why.get(k, "") for k in g["part"]]
    return g[["part", "convention_mJ", "snnenergy_mJ", "delta_mJ", "why"]], notes


def uniform_sites(model_name: str, rate: float) -> SiteTable:
    """The site table of a zoo model with every spike operand firing at ``rate`` (real inputs stay dense)."""
    from ..models.registry import resolve_name

    name = resolve_name(model_name)
    L, T, config, quiet = _structure(name)
    entries = pd.DataFrame({"layer": ["*", "*"], "measure": ["output", "input"], "rate": [float(rate)] * 2})
    table = RateTable(entries, {"source": f"every neuron at rate {rate:g}"}, "uniform")
    sites = replay_sites(name, table)
    f = sites.frame
    non_spike = ~f["kind_a"].isin(SPIKE_KINDS) & (f["kind_a"] != "real")
    f.loc[non_spike, ["rate_a", "mean_a"]] = float(rate)  # integer inputs: the same rate, for a bound
    f.loc[~f["weight"] & f["rate_b"].isna(), "rate_b"] = float(rate)
    f.loc[f["kind_a"] == "real", ["rate_a", "mean_a"]] = 1.0
    f.loc[~f["weight"] & (f["kind_b"] == "real"), "rate_b"] = 1.0
    return sites


def implied_rate(model_name: str, mJ: float, convention: str, preset: str = DEFAULT_PRESET) -> float:
    """The one input firing rate, common to every spike-driven op, at which ``convention`` gives ``mJ``.

    The convention's energy is affine in a common rate r (MAC layers fixed, ACs proportional to r), so two
    evaluations at r = 0 and r = 1 give it. The answer says how dense the published figure's spikes must be."""
    e0 = apply_convention(uniform_sites(model_name, 0.0), convention, preset).mJ
    e1 = apply_convention(uniform_sites(model_name, 1.0), convention, preset).mJ
    return (mJ - e0) / (e1 - e0) if e1 != e0 else float("nan")
