"""The :class:`Audit`: a spike-driven verdict with its violations, accepted exceptions and allowed notes."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .rules import EXC_ENCODER, EXC_THRESHOLD_SCALE

FORMAT = "snnenergy-audit"
FORMAT_VERSION = 1

LEVELS = ("spike-driven", "spike-driven with exceptions", "not spike-driven")
LEVEL_NEUTRAL = (EXC_ENCODER, EXC_THRESHOLD_SCALE)  # exceptions that leave the level at "spike-driven"
VIOLATION_COLUMNS = ["layer", "op", "index", "input_kind", "input_min", "input_max", "producer", "cause", "cause_op",
                     "chain", "rule", "energy_mJ", "energy_at_stake_mJ", "energy_basis", "fix", "other_operand",
                     "other_min", "other_max", "producer_b"]
EXCEPTION_COLUMNS = ["layer", "op", "index", "input_kind", "input_min", "input_max", "exception", "reason", "producer",
                     "chain", "macs", "energy_mJ", "energy_share", "energy_basis"]
ALLOWED_COLUMNS = ["layer", "op", "index", "input_kind", "input_min", "input_max", "other_operand", "note", "reason",
                   "producer", "ac"]
_TABLES = {"violations": VIOLATION_COLUMNS, "exceptions": EXCEPTION_COLUMNS, "allowed": ALLOWED_COLUMNS}


def level_of(violations: pd.DataFrame, exceptions: pd.DataFrame) -> str:
    """``not spike-driven`` with any violation; ``spike-driven with exceptions`` with an exception on a synaptic
    op other than the encoder (a scale folded into a threshold is not a synaptic op: listed, not graded); else
    ``spike-driven``."""
    if len(violations):
        return LEVELS[2]
    if len(exceptions) and (~exceptions["exception"].isin(LEVEL_NEUTRAL)).any():
        return LEVELS[1]
    return LEVELS[0]


_FLOAT_COLUMNS = {"input_min", "input_max", "other_min", "other_max", "energy_mJ", "energy_at_stake_mJ", "macs",
                  "energy_share", "ac"}


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A table with exactly ``columns``: ``index`` int64, numbers float64 (NaN where missing), text "" where
    missing (so a table reads back from JSON unchanged)."""
    df = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    for c in columns:
        if c == "index":
            df[c] = df[c].astype("int64")
        elif c in _FLOAT_COLUMNS:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        else:
            df[c] = df[c].where(df[c].notna(), "").astype(object)
    return df


def _table_dict(df: pd.DataFrame) -> dict[str, Any]:
    return json.loads(df.to_json(orient="split", index=False, double_precision=15))


@dataclass
class Audit:
    """The spike-driven audit of one profiled model.

    * ``spike_driven``: no violation; ``level``: one of ``LEVELS``;
    * ``violations``: one row per synaptic site or op that is not spike-driven: ``layer``, ``op``, ``index``
      (-1 for a non-synaptic op, counted per module), ``input_kind`` and value range, the ``producer`` of its
      input, the ``cause`` (the op that made the values non-binary) and the ``chain`` of ops from it to this op,
      the ``rule``, its ``energy_mJ`` and ``energy_at_stake_mJ`` (its energy now minus its energy if its input
      were spikes at the same effective count), how that was priced (``energy_basis``) and a ``fix``;
    * ``exceptions``: accepted non-spike inputs with their ``reason``, ``macs``, ``energy_mJ`` and
      ``energy_share`` of the model's level-1 SNN energy;
    * ``allowed``: products and inputs that are allowed but listed (integer accumulations, ternary spikes).
    """

    model: str
    preset: str
    integer_as: str
    violations: pd.DataFrame
    exceptions: pd.DataFrame
    allowed: pd.DataFrame
    totals: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        return level_of(self.violations, self.exceptions)

    @property
    def spike_driven(self) -> bool:
        return len(self.violations) == 0

    def passes(self, strict: bool = False) -> bool:
        """Spike-driven; with ``strict``, also no exception on a synaptic op other than the encoder."""
        return self.level == LEVELS[0] if strict else self.spike_driven

    def summary(self) -> dict[str, Any]:
        """One row for a table of audits."""
        v, e = self.violations, self.exceptions
        rules = ", ".join(f"{r} ×{n}" for r, n in v["rule"].value_counts().sort_index().items()) if len(v) else ""
        excs = ", ".join(f"{r} ×{n}" for r, n in e["exception"].value_counts().sort_index().items()) if len(e) else ""
        int_max = v.loc[v["input_kind"] == "integer", "input_max"]
        return {"model": self.model, "level": self.level, "spike_driven": self.spike_driven,
                "violations": len(v), "violation_rules": rules, "integer_max": float(int_max.max()) if len(int_max)
                else math.nan, "exceptions": len(e), "exception_kinds": excs, "allowed": len(self.allowed),
                "snn_mJ": self.totals.get("snn_mJ", math.nan), "at_stake_mJ": self.totals.get("at_stake_mJ", math.nan),
                "causes": "; ".join(sorted(set(v["cause"]))) if len(v) else ""}

    # ------------------------------------------------------------------------------- serialise
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "model": self.model, "preset": self.preset,
                "integer_as": self.integer_as, "level": self.level, "spike_driven": self.spike_driven,
                "totals": self.totals, "notes": self.notes,
                "tables": {name: _table_dict(getattr(self, name)) for name in _TABLES}}

    def to_json(self, path: str | os.PathLike | None = None, indent: int | None = 1) -> str:
        """JSON text of the audit; written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=True)
        if path is not None:
            from ..report.report import atomic_write

            atomic_write(path, text)
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Audit":
        from ..report.report import check_format

        check_format(data, FORMAT, FORMAT_VERSION, "audit")
        tables = {}
        for name, columns in _TABLES.items():
            t = data["tables"][name]
            tables[name] = frame([dict(zip(t["columns"], row)) for row in t["data"]], columns)
        return cls(data["model"], data["preset"], data["integer_as"], tables["violations"], tables["exceptions"],
                   tables["allowed"], dict(data.get("totals", {})), list(data.get("notes", [])))

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> "Audit":
        """Read an audit written by :meth:`to_json` (a JSON string or a file path)."""
        s = os.fspath(text_or_path)
        if not s.lstrip().startswith("{"):
            with open(s, encoding="utf-8") as f:
                s = f.read()
        return cls.from_dict(json.loads(s))

    # --------------------------------------------------------------------------------- render
    def headline(self) -> str:
        t = self.totals
        return (f"{self.model}: {self.level.upper()}  ({len(self.violations)} violation(s), {len(self.exceptions)} "
                f"exception(s), {len(self.allowed)} allowed non-binary input(s) listed); energy at stake "
                f"{t.get('at_stake_mJ', math.nan):.4g} mJ of {t.get('snn_mJ', math.nan):.4g} mJ per sample "
                f"(preset {self.preset}, level 1, integer inputs as {self.integer_as})")

    def to_markdown(self) -> str:
        """A Markdown document: the verdict, then the violations, exceptions and allowed tables."""
        from .render import markdown_audit

        return markdown_audit(self)

    def __str__(self) -> str:
        from .render import text_audit

        return text_audit(self)

    def __repr__(self) -> str:
        return (f"Audit(model={self.model!r}, level={self.level!r}, violations={len(self.violations)}, "
                f"exceptions={len(self.exceptions)})")
