"""Readable renderings of an :class:`~snnenergy.audit.verdict.Audit`: console text and Markdown."""
from __future__ import annotations

import math

import pandas as pd

_V_VIEW = ["layer", "op", "input_kind", "input_min", "input_max", "rule", "cause", "energy_at_stake_mJ", "fix"]
_E_VIEW = ["layer", "op", "exception", "input_kind", "macs", "energy_mJ", "energy_share", "reason"]
_A_VIEW = ["layer", "op", "input_kind", "other_operand", "note", "ac"]


def _site(row) -> str:
    label = f"{row.layer}:{row.op}" if row.layer else str(row.op)
    return label + (f"#{row.index}" if row.index >= 0 else "")


def _range(row) -> str:
    if isinstance(row.input_min, float) and math.isnan(row.input_min):
        return ""
    return f" in [{row.input_min:.4g}, {row.input_max:.4g}]"


def text_audit(audit, width: int | None = None) -> str:
    """The verdict, each violation with its cause, chain, energy and fix, then the exceptions, wrapped to
    ``width`` columns (default: the terminal's width)."""
    from ..report.render import middle_wrap, terminal_width

    width = width or terminal_width()
    lines = [audit.headline()]
    if len(audit.violations):
        lines.append("Violations:")
        for r in audit.violations.itertuples(index=False):
            kind = f" ({r.input_kind}{_range(r)})" if r.input_kind else ""
            lines.append(f"  ✗ {_site(r)}{kind}: {r.rule}; cause {r.cause}")
            lines.append(f"      chain: {r.chain}")
            lines.append(f"      energy at stake {r.energy_at_stake_mJ:.4g} mJ ({r.energy_basis}); fix: {r.fix}")
    if len(audit.exceptions):
        lines.append("Accepted exceptions:")
        for r in audit.exceptions.itertuples(index=False):
            lines.append(f"  ~ {_site(r)}{_range(r)}: {r.exception}: {r.reason}")
            lines.append(f"      {r.macs:,.0f} MACs, {r.energy_mJ:.4g} mJ ({r.energy_share:.1%} of the SNN energy); "
                         f"chain: {r.chain}")
    if len(audit.allowed):
        counts = audit.allowed["note"].value_counts()
        lines.append("Allowed, listed: " + ", ".join(f"{n} ×{c}" for n, c in counts.items()))
    lines += [f"note: {n}" for n in audit.notes]
    return "\n".join(middle_wrap(line, width) for line in lines)


def _md_table(df: pd.DataFrame, cols: list[str]) -> str:
    if not len(df):
        return "_none_"
    view = df[[c for c in cols if c in df.columns]].copy()
    return view.to_markdown(index=False, floatfmt=".4g")


def markdown_audit(audit) -> str:
    parts = [f"# Spike-driven audit: {audit.model}", "", f"**{audit.level}**: {audit.headline()}", ""]
    parts += ["## Violations", "", _md_table(audit.violations, _V_VIEW + ["chain"]), ""]
    parts += ["## Accepted exceptions", "", _md_table(audit.exceptions, _E_VIEW + ["chain"]), ""]
    parts += ["## Allowed, listed", "", _md_table(audit.allowed, _A_VIEW), ""]
    if audit.notes:
        parts += ["## Notes", ""] + [f"- {n}" for n in audit.notes] + [""]
    return "\n".join(parts)
