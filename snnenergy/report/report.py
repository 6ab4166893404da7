"""The :class:`Report`: one object holding every table of a profile, with energy, serialisation and display."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from .build import (layer_table, neuron_table, other_table, provenance_table, site_summaries, step_table,
                    unsupported_table)

FORMAT = "snnenergy-report"
FORMAT_VERSION = 1
_TABLES = ("layers", "per_step", "neurons", "other_ops", "unsupported", "provenance")
_OPTIONAL_TABLES = ("provenance",)  # absent from reports written before the audit existed


class Report:
    """Counts per sample for one model on one set of inputs.

    Tables (pandas DataFrames, built on first access):
      * ``layers``: one row per synaptic op site (module path ``layer`` as in ``named_modules()``, ``op``,
        ``index`` of that op within the module's forward); operand kinds, value range, input firing rate,
        ``dense_ops``, ``effective_ops``, ``ac``, ``integer_mac``, ``mac``, ``bias_ops``, the ``producer`` of the
        activation operand (provenance), per-step input rates ``rate_t*``;
      * ``per_step``: the same counts per time step (long format);
      * ``neurons``: one row per neuron layer: ``firing_rate``, per-step rates, ``dead``, ``saturated`` fractions;
      * ``other_ops``: non-synaptic ops (norms, softmax, pooling, adds, scaling) with calls and elements;
      * ``unsupported``: ops the profiler does not know, with call counts (never silently zero).
    """

    def __init__(
        self,
        meta: dict[str, Any],
        layers: pd.DataFrame | None = None,
        per_step: pd.DataFrame | None = None,
        neurons: pd.DataFrame | None = None,
        other_ops: pd.DataFrame | None = None,
        unsupported: pd.DataFrame | None = None,
        provenance: pd.DataFrame | None = None,
        builders: dict[str, Callable[[], pd.DataFrame]] | None = None,
    ) -> None:
        self.meta = meta
        given = {"layers": layers, "per_step": per_step, "neurons": neurons, "other_ops": other_ops,
                 "unsupported": unsupported, "provenance": provenance}
        self._tables = {k: v for k, v in given.items() if v is not None}
        self._builders = builders or {}

    def _table(self, name: str) -> pd.DataFrame:
        df = self._tables.get(name)
        if df is None:
            builder = self._builders.get(name)
            df = builder() if builder is not None else pd.DataFrame()
            self._tables[name] = df
        return df

    layers = property(lambda self: self._table("layers"), doc="Synaptic op sites (see the class docstring).")
    per_step = property(lambda self: self._table("per_step"),
                        doc="Counts per time step, long format (sites with per_step False in ``layers`` are absent).")
    neurons = property(lambda self: self._table("neurons"), doc="Neuron layers and their firing rates.")
    other_ops = property(lambda self: self._table("other_ops"), doc="Non-synaptic ops: calls and elements.")
    unsupported = property(lambda self: self._table("unsupported"), doc="Ops not counted, with call counts.")
    provenance = property(lambda self: self._table("provenance"),
                          doc="Producer → consumer edges: node, layer, op, category, input (one row per edge).")

    # ------------------------------------------------------------------ totals
    @property
    def time_steps(self) -> int:
        return int(self.meta["time_steps"])

    def totals(self) -> dict[str, float]:
        """Per-sample totals of the count columns and the mean firing rate over all neurons; a count unknown for
        some layer (a dry run's ACs without rates) is unknown in total (NaN), not summed as zero."""
        out = {c: float(self.layers[c].sum(skipna=False)) if not self.layers.empty else 0.0
               for c in ("dense_ops", "effective_ops", "ac", "integer_mac", "mac", "bias_ops")}
        n = self.neurons
        if not n.empty:
            steps = np.where(n["per_step"].astype(bool), self.time_steps, 1)
            out["neuron_updates"] = float((n["neurons"] * steps).sum())
            out["spikes"] = float(n["spikes"].sum())
            out["firing_rate"] = out["spikes"] / out["neuron_updates"] if out["neuron_updates"] else float("nan")
        return out

    def energy(self, preset: str = "fp32", level: int = 1, integer_as: str = "mac", convention: str = "snnenergy",
               sram_kib: float | None = None, dram: bool = False, sram_model: str = "packed",
               **convention_options):
        """Energy per sample (an :class:`snnenergy.energy.EnergyReport`); see :func:`estimate_energy`.

        ``convention`` other than ``"snnenergy"`` replays a paper's bookkeeping (:mod:`snnenergy.energy.conventions`)
        and returns its ``ConventionResult`` (``.mJ``, ``.terms``, ``.assumptions``); ``convention_options`` go
        to it (e.g. ``ssa_heads``, ``integer``). ``sram_kib``, ``dram``, ``sram_model``: the level-3 memory model
        (:mod:`snnenergy.energy.memory`)."""
        if convention != "snnenergy":
            from ..energy.conventions import apply_convention

            return apply_convention(self, convention, preset, **convention_options)
        if convention_options:
            raise TypeError(f"options {sorted(convention_options)} apply only to a paper convention, "
                            "not to convention='snnenergy'")
        from ..energy.model import estimate_energy

        return estimate_energy(self, preset=preset, level=level, integer_as=integer_as, sram_kib=sram_kib,
                               dram=dram, sram_model=sram_model)

    def energy_table(self, presets=("fp32",), levels=(1, 2, 3), integer_as: str = "mac", **memory):
        """One DataFrame row per (preset, level): totals, ratios, break-even rates (%) and per-term totals."""
        from ..energy.table import energy_table

        return energy_table(self, presets=presets, levels=levels, integer_as=integer_as, **memory)

    def rate_table(self, format: str = "frame", by: str = "layer", percent: bool = True, blocks: str = "repeated",
                   digits: int = 2):
        """Firing rates in the papers' format: per layer x time step (``by="layer"``) or per block with one column
        per role, attention input / Q / K / V / attention / MLP (``by="block"``), as a DataFrame
        (``format="frame"``), CSV or booktabs LaTeX text; see :mod:`snnenergy.report.rate_tables`."""
        from .rate_tables import rate_table

        return rate_table(self, format=format, by=by, percent=percent, blocks=blocks, digits=digits)

    def group_by(self, by="top", preset: str = "fp32", level: int = 2, integer_as: str = "mac") -> pd.DataFrame:
        """Energy (mJ per sample, per term) and op counts (AC / MAC / integer MAC, neuron updates) per group of
        layers: ``by="top"`` (top-level module, e.g. the branches of a hybrid ANN–SNN model), ``"block"``, a
        mapping ``{module prefix: group}`` or a callable on the layer path; see :mod:`snnenergy.report.grouping`."""
        from .grouping import group_table

        return group_table(self, by=by, preset=preset, level=level, integer_as=integer_as)

    def audit(self, preset: str = "fp32", integer_as: str = "mac"):
        """The spike-driven audit of this profile (an :class:`snnenergy.audit.Audit`); see :func:`audit_report`."""
        from ..audit.api import audit_report

        return audit_report(self, preset=preset, integer_as=integer_as)

    def to_dataframe(self) -> pd.DataFrame:
        """The per-layer synaptic-op table (a copy)."""
        return self.layers.copy()

    # ------------------------------------------------------------- serialise
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "meta": self.meta,
            "tables": {name: _frame_to_dict(getattr(self, name)) for name in _TABLES},
        }

    def to_json(self, path: str | os.PathLike | None = None, indent: int | None = 1) -> str:
        """JSON text of the whole report; written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=True, default=_json_default)
        if path is not None:
            atomic_write(path, text)
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Report":
        check_format(data, FORMAT, FORMAT_VERSION, "report")
        stored = data["tables"]
        missing = [n for n in _TABLES if n not in stored and n not in _OPTIONAL_TABLES]
        if missing:
            raise ValueError(f"report is missing its table(s) {', '.join(missing)}; was it written by snnenergy?")
        tables = {name: _frame_from_dict(stored[name]) for name in _TABLES if name in stored}
        return cls(meta=data["meta"], **tables)

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> "Report":
        """Read a report written by :meth:`to_json` (a JSON string or a file path)."""
        s = os.fspath(text_or_path)
        if not s.lstrip().startswith("{"):
            with open(s, encoding="utf-8") as f:
                s = f.read()
        return cls.from_dict(json.loads(s))

    @classmethod
    def merge(cls, reports) -> "Report":
        """One report equal to a single run over the data of ``reports`` (Reports, their dicts or JSON paths) made
        separately, e.g. per shard or per process; refuses reports of different models, T or counting versions.
        The rules per column are in :mod:`snnenergy.report.merge`."""
        from .merge import merge_reports

        return merge_reports(reports)

    def to_markdown(self, preset: str = "fp32", level: int = 1, integer_as: str = "mac") -> str:
        """A Markdown document: summary, energy, per-block, per-site, neuron and unsupported-op tables."""
        from .render import markdown_report

        return markdown_report(self, preset=preset, level=level, integer_as=integer_as)

    def save(self, out_dir: str | os.PathLike, preset: str = "fp32", level: int = 1,
             integer_as: str = "mac", sram_kib: float | None = None, dram: bool = False,
             sram_model: str = "packed") -> dict[str, str]:
        """Write ``report.json`` (with the energy totals under ``meta.energy``), ``layers.csv``, ``neurons.csv``,
        ``energy.csv`` and ``report.md`` to ``out_dir``, each atomically and with the permissions the umask
        gives new files. A report whose ACs are unknown (a dry run without rates) gets no energy."""
        memory = {"sram_kib": sram_kib, "dram": dram, "sram_model": sram_model}
        os.makedirs(out_dir, exist_ok=True)
        paths = {
            "json": os.path.join(out_dir, "report.json"),
            "layers_csv": os.path.join(out_dir, "layers.csv"),
            "neurons_csv": os.path.join(out_dir, "neurons.csv"),
            "energy_csv": os.path.join(out_dir, "energy.csv"),
            "markdown": os.path.join(out_dir, "report.md"),
        }
        from .render import markdown_report

        data = self.to_dict()
        energy = None
        if not self.meta.get("rates_only") and not self.layers.empty and not self.layers["ac"].isna().any():
            energy = self.energy(preset, level, integer_as=integer_as, **memory)
            data["meta"] = {**data["meta"], "energy": {"preset": energy.preset.name, "level": level,
                                                       "integer_as": integer_as, "memory": memory,
                                                       "totals": energy.totals}}
        texts = {
            "json": json.dumps(data, indent=1, allow_nan=True, default=_json_default),
            "layers_csv": self.layers.to_csv(index=False),
            "neurons_csv": self.neurons.to_csv(index=False),
            "energy_csv": energy.to_dataframe().to_csv(index=False) if energy is not None else "",
            "markdown": markdown_report(self, preset=preset, level=level, integer_as=integer_as, **memory),
        }
        mode = 0o666 & ~_umask()
        for key, path in paths.items():
            atomic_write(path, texts[key])
            os.chmod(path, mode)
        return paths

    def __str__(self) -> str:
        from .render import console_text

        return console_text(self)

    def __repr__(self) -> str:
        t = self.totals()
        return (f"Report(model={self.meta.get('model')!r}, T={self.time_steps}, samples={self.meta.get('samples')}, "
                f"ac={t['ac']:.4g}, mac={t['mac']:.4g}, integer_mac={t['integer_mac']:.4g})")


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_format(data: Any, fmt: str, version: int, what: str) -> None:
    """Refuse ``data`` unless it is a dict marked as ``fmt`` at ``version`` (one line saying which is wrong)."""
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"not an snnenergy {what} (missing format marker {fmt!r})")
    if data.get("version") != version:
        raise ValueError(f"{what} format version {data.get('version')} is not supported (expected {version})")


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never a half-written file. The file
    gets the permissions the umask gives a new file (``mkstemp`` alone would make it 0600)."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, (torch.device, torch.dtype)):
        return str(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


def _frame_to_dict(df: pd.DataFrame) -> dict[str, Any]:
    return {
        "columns": list(df.columns),
        "dtypes": [str(t) for t in df.dtypes],
        "data": [[_cell(v) for v in row] for row in df.itertuples(index=False, name=None)],
    }


def _cell(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _frame_from_dict(d: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(d["data"], columns=d["columns"])
    for col, dt in zip(d["columns"], d["dtypes"]):
        if dt in ("object", "str", "string") or dt.startswith("string"):
            continue
        df[col] = df[col].astype(dt)
    return df


def build_report(session, model_name: str, weights: str | None, batches: int, rates_only: bool,
                 keep_neuron_counts: bool = False) -> Report:
    """Move the session's counts to the host (one copy, with the fractions of neurons that never / always
    spiked) and wrap them in a :class:`Report` whose tables are built when first read.
    ``keep_neuron_counts``: keep the spikes per neuron on the device (for combining across processes)."""
    session.finalize(keep_neuron_counts)
    samples = session.samples
    meta = {
        "model": model_name,
        "time_steps": session.T,
        "samples": samples,
        "batches": batches,
        "device": str(session.device),
        "weights": weights or "as given",
        "inputs": "as given to snnenergy.profile",
        "rates_only": rates_only,
        "torch": torch.__version__,
        "snnenergy": _version(),
        "counting": "per sample; effective = terms whose activation is nonzero (both, for two activations); "
                    "dense = nominal (fvcore) MACs; "
                    "attention: every Q·Kᵀ score counts, masked probabilities (exactly zero) do not count in P·V",
        # user modules that behave like unregistered neurons (state kept, non-spike inputs turned into spikes)
        "probable_neurons": list(getattr(session, "probable_neurons", [])),
    }
    summaries: list = []

    def sites() -> list:
        if not summaries:
            summaries.append(site_summaries(session, samples))
        return summaries[0]

    builders = {
        "layers": lambda: layer_table(session, samples, sites()),
        "per_step": lambda: step_table(session, samples, sites()),
        "neurons": lambda: neuron_table(session, samples),
        "other_ops": lambda: other_table(session, samples),
        "unsupported": lambda: unsupported_table(session),
        "provenance": lambda: provenance_table(session),
    }
    return Report(meta, builders=builders)  # host work only: the device work was done by finalize


def _version() -> str:
    from .. import __version__

    return __version__
