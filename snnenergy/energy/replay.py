"""Replays: energy from published per-layer firing rates instead of a forward pass.

``estimate(model_name, rates="published", convention="spikingformer")`` takes the zoo model's dense per-site
op counts from a profile (shapes only: the weights and the sample do not matter), combines them with a rate
table and prices the result under a convention, next to our exact convention for the same rates.

The profile is either one the caller already has (``estimate(report)`` or ``estimate(name, report=report)``:
its ``full_rate_ops`` column gives each site's padding-exact count at rate 1, so nothing runs again), or one
made here of the untrained model on one sample with every neuron forced to fire (threshold far below any
membrane value), so that every spike tensor is all ones and each site's effective count is its
padding-exact dense count. That model is built for the replay and discarded.

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
import textwrap
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from .conventions import ConventionResult, SiteTable, apply_convention, get_convention
from .conventions.base import SITE_COLUMNS, SPIKE_KINDS
from .conventions.script import head_factor
from .conventions.sites import INPUT_LABEL, first_label, neuron_of
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
        raise ValueError(f"no published firing rates ship for {name!r}, only for {', '.join(sorted(tables))}; pass "
                         "your own CSV (--rates FILE)")
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


@dataclass(frozen=True)
class _Structure:
    """What a replay takes from a profile: the sites (``Report.layers`` columns) with ``rate1``, the
    padding-exact count of each site at rate 1 (NaN where unknown), T, the card config and caveats."""

    layers: pd.DataFrame
    time_steps: int
    config: dict[str, Any]
    notes: tuple[str, ...] = ()


def _structure_from_profile(name: str) -> _Structure:
    layers, T, config, quiet = _structure(name)
    layers = layers.assign(rate1=np.nan if quiet else layers["effective_ops"].to_numpy(dtype=np.float64))
    notes = (f"padding-exact counts unavailable: neurons {', '.join(quiet[:3])} could not be made to fire",) \
        if quiet else ()
    return _Structure(layers, T, config, notes)


def _is_report(obj: Any) -> bool:
    return hasattr(obj, "layers") and isinstance(getattr(obj, "meta", None), dict)


def _replay_target(model: Any, report: Any) -> tuple[str, Any]:
    """The zoo name a replay is for and the report to take its counts from (None: profile here)."""
    from ..models.registry import resolve_name

    if _is_report(model):
        if report is not None and report is not model:
            raise ValueError("give the report once: estimate(report) or estimate(model_name, report=report)")
        model, report = None, model
    if report is None:
        if not isinstance(model, str):
            raise TypeError(f"expected a zoo model name or a Report, got {type(model).__name__}")
        return resolve_name(model), None
    if not _is_report(report):
        raise TypeError(f"report= takes a Report (snnenergy.profile(...)), got {type(report).__name__}")
    of = str(report.meta.get("model", ""))
    try:
        own = resolve_name(of)
    except KeyError:
        own = None
    if model is None:
        if own is None:
            raise ValueError(f"the report is of {of!r}, not a zoo model: pass the zoo model it profiles, "
                             "estimate(name, report=report)")
        return own, report
    name = resolve_name(model)
    if own is not None and own != name:
        raise ValueError(f"the report is of {own}, not {name}: replay {own}, or profile {name} first")
    return name, report


def _structure_from_report(report: Any, name: str) -> _Structure:
    """The sites of an existing profile of ``name``: its dense and bias counts and its rate-1 counts
    (``full_rate_ops``; unknown, so nominal dense, for a report without that column)."""
    from ..models import model_card

    card = model_card(name)
    L = report.layers
    if report.meta.get("rates_only") or L.empty:
        raise ValueError(f"the report of {name} has no op counts (a rates-only profile): profile without "
                         "rates_only to replay from it")
    T = int(report.meta.get("time_steps", 0))
    if T != card.time_steps:
        raise ValueError(f"the report of {name} was profiled at T = {T}, the published rates are for the card's "
                         f"T = {card.time_steps}: profile at T = {card.time_steps}")
    _check_input_size(L, card, T)
    notes: tuple[str, ...] = ()
    if "full_rate_ops" in L.columns:
        rate1 = L["full_rate_ops"].to_numpy(dtype=np.float64)
    else:
        rate1 = np.full(len(L), np.nan)
        notes = ("the report has no full_rate_ops column (a dry run or an older report): padding-exact counts "
                 "unknown, nominal dense ops used",)
    return _Structure(_rate1_kinds(L).assign(rate1=rate1), T, dict(card.config), notes)


def _check_input_size(L: pd.DataFrame, card: Any, T: int) -> None:
    """A report of the model on inputs of another size would replay other dense counts: refuse it. The
    encoding site sees one sample per step (T of them a sample) for images, the card's T x 2 x H x W once
    for event streams."""
    first = L[L["producer"].map(first_label) == INPUT_LABEL]
    if "input_elements" not in L.columns or first.empty:
        return
    per_step = bool(first["per_step"].iat[0]) and card.input_kind != "events"
    got, want = float(first["input_elements"].iat[0]), float(np.prod(card.input_shape)) * (T if per_step else 1)
    if got != want:
        raise ValueError(f"the report of {card.name} was profiled on inputs of another size ({got:,.0f} input "
                         f"elements per sample at {first['layer'].iat[0]}, {want:,.0f} at the card's "
                         f"{tuple(card.input_shape)}): profile at the card's input shape")


def _rate1_kinds(L: pd.DataFrame) -> pd.DataFrame:
    """Operand kinds as they are at rate 1. A product of two activations sums k > 1 terms per output
    element, so at rate 1 its output is an integer (k) even where a sparse run saw only 0 and 1; a site
    that takes such an operand is priced as at rate 1, like the all-firing profile prices it."""
    out_el = L["output_elements"].to_numpy(dtype=np.float64) if "output_elements" in L.columns else None
    if out_el is None:
        return L
    L = L.copy()
    weight = (L["other_operand"] == "weight").to_numpy()
    for col, prod_col in (("input_kind", "producer"), ("other_operand", "other_producer")):
        if prod_col not in L.columns:
            continue
        for i in range(len(L)):
            if (col == "other_operand" and weight[i]) or L[col].iat[i] not in SPIKE_KINDS:
                continue
            j = _producer_site(first_label(L[prod_col].iat[i]), L, i)
            if j is not None and L["other_operand"].iat[j] != "weight" and out_el[j] > 0 \
                    and L["dense_ops"].iat[j] / out_el[j] > 1:
                L.iat[i, L.columns.get_loc(col)] = "integer"
    return L


def _producer_site(label: str, layers: pd.DataFrame, before: int) -> int | None:
    """Row of the site whose output is ``label`` (``layer:op``), the last such site before row ``before``."""
    node, _, op = label.rpartition(":")
    rows = [i for i in range(before) if layers["layer"].iat[i] == node and layers["op"].iat[i] == op]
    return rows[-1] if rows else None


def replay_sites(model_name: Any, rates: Any = "published", missing: str = "error", *,
                 report: Any = None) -> SiteTable:
    """The site table of ``model_name`` with the firing rates of ``rates`` (see :func:`estimate`)."""
    return _replay_sites(model_name, rates, missing, report)[0]


def _replay_sites(model: Any, rates: Any, missing: str, report: Any) -> tuple[SiteTable, tuple[str, ...]]:
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}, got {missing!r}")
    name, report = _replay_target(model, report)
    table = published_rates(name) if isinstance(rates, str) and rates == "published" else load_rates(rates)
    st = _structure_from_report(report, name) if report is not None else _structure_from_profile(name)
    L, T, config = st.layers, st.time_steps, st.config
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
        for rate, made_by in ((rate_a, producer[i]), (rate_b, producer_b[i])):
            j = _producer_site(made_by, L, i) if np.isnan(rate[i]) and made_by else None
            if j is not None and not weight[j] and np.isfinite(rate_a[j]) and np.isfinite(rate_b[j]):
                if out_el is not None and out_el[j] > 0:
                    k = L["dense_ops"].iat[j] / out_el[j]  # terms summed per output element
                    rate[i] = 1.0 - (1.0 - rate_a[j] * rate_b[j]) ** k
                else:
                    rate[i] = 1.0
                    unknown_k.append(str(L["layer"].iat[i]))
    frame = pd.DataFrame({
        "layer": L["layer"], "op": L["op"], "index": L["index"], "weight": weight,
        "kind_a": L["input_kind"], "kind_b": L["other_operand"], "first": producer == INPUT_LABEL,
        "per_step": L["per_step"].astype(bool).to_numpy(), "dense": L["dense_ops"].to_numpy(dtype=np.float64),
        "bias": L["bias_ops"].to_numpy(dtype=np.float64), "valid_dense": L["rate1"].to_numpy(dtype=np.float64),
        "rate_a": rate_a, "rate_b": rate_b, "mean_a": rate_a,
        "effective": np.nan, "ac": np.nan, "integer_mac": np.nan, "mac": np.nan,
        "producer": producer, "producer_b": producer_b,
    }, columns=SITE_COLUMNS)
    frame = _handle_missing(frame, missing, name, table)
    where = f"the given profile of {name}" if report is not None else "its structure"
    source = f"{table.source}; dense ops of {name} from {where}"
    notes = []
    if unknown_k:
        notes.append(f"nonzero fraction of the integer operand (a product of spikes) taken as 1, an upper bound, "
                     f"at {len(unknown_k)} site(s) such as {unknown_k[0]} (output sizes not in the profile)")
    return SiteTable(frame, T, name, config, exact=False, source=source, notes=notes), st.notes


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
        return self.text()

    def text(self, width: int | None = None) -> str:
        """The replay in words; with ``width``, a difference whose reason would not fit beside its numbers has
        the reason on indented lines below them (other long lines are the caller's to wrap)."""
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
        lines.append(f"  where they differ (mJ; difference = {self.result.convention} - snnenergy):")
        lines += self._difference_rows(width)
        lines += [f"  - {n}" for n in self.notes]
        lines.append(str(self.result))
        return "\n".join(lines)

    def _difference_rows(self, width: int | None) -> list[str]:
        """The table of :attr:`differences` under a header: part, the convention's mJ, ours, the difference and
        why (beside the numbers, or below them, wrapped to ``width``, when it would not fit)."""
        w = max(10, len(self.result.convention))
        rows = [f"    {'part':<34} {self.result.convention:>{w}} {'snnenergy':>10} {'difference':>11}  why"]
        for r in self.differences.itertuples(index=False):
            numbers = f"    {r.part:<34} {r.convention_mJ:>{w}.5g} {r.snnenergy_mJ:>10.5g} {r.delta_mJ:>+11.5g}"
            if width is None or len(numbers) + 2 + len(r.why) <= width:
                rows.append(f"{numbers}  {r.why}".rstrip())
            else:
                rows += [numbers, *textwrap.wrap(r.why, width, initial_indent=" " * 8, subsequent_indent=" " * 8,
                                                 break_on_hyphens=False)]
        return rows


_LOG_KEYS = {"spikingformer": ("energy_mJ_log", "official energy log")}


def estimate(model: Any, rates: Any = "published", convention: str = "spikingformer",
             preset: str = DEFAULT_PRESET, missing: str = "error", *, report: Any = None,
             **options: Any) -> Replay:
    """Energy per sample of a zoo model from per-layer firing rates instead of a forward pass.

    Args:
        model: a zoo model name (``snnenergy models``), or a :class:`~snnenergy.Report` of one.
        rates: ``"published"`` (the table shipped for the model), a CSV path, a DataFrame or a RateTable.
        convention: a name in :data:`snnenergy.energy.conventions.CONVENTIONS`.
        preset: energy preset; ``missing``: ``"error"`` or ``"skip"`` for sites the table has no rate for;
        report: a profile of the same model (at the card's T and input shape) to take the dense and rate-1
            counts from, instead of profiling the model here; also given as ``model``;
        options: the convention's options (e.g. ``ssa_heads=8`` for ``spikingformer``).
    """
    from ..models import model_card

    get_convention(convention)
    sites, structure_notes = _replay_sites(model, rates, missing, report)
    p = get_preset(preset)
    result = apply_convention(sites, convention, p, **options)
    exact = apply_convention(sites, "snnenergy", p)
    card = model_card(sites.model)
    key, label = _LOG_KEYS.get(result.convention, (None, ""))
    logged = card.published.get(key) if key and (p.e_mac, p.e_ac) == (4.6, 0.9) else None  # logs used 4.6/0.9 pJ
    src = f"{label}, model card {sites.model} published[{key!r}]" if logged is not None else ""
    diff, notes = _differences(sites, result, exact, options)
    notes += list(structure_notes)
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
