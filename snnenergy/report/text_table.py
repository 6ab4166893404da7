"""Plain-text tables that fit a given width: one number format per column, long names shortened in the
middle (never so that two different names look the same), least important columns dropped last."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

ELLIPSIS = "…"
GAP = "  "
_MIN_NAME = 16  # shrinkable columns are first shortened to this, before any column is dropped
_MIN_LAST = 8


@dataclass
class Column:
    """One column: its header, its cells as text, alignment, whether names in it may be shortened, and
    its place in the order columns are dropped when the table is too wide (None: never)."""

    name: str
    cells: list[str]
    right: bool = False
    shrink: bool = False
    drop_order: int | None = None

    @property
    def width(self) -> int:
        return max([len(self.name), *map(len, self.cells)])


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def format_column(values: pd.Series, rate: bool = False, mJ: bool = False) -> list[str]:
    """The cells of one column, all in one format: rates ``0.1234``, energies ``1.2345``, whole counts
    ``1,234,567``, fractional counts ``1,234.5``; missing values ``–``."""
    if values.dtype.kind not in "fiu":
        return ["–" if _is_missing(v) else str(v) for v in values]
    present = values.dropna()
    if rate:
        fmt = "{:.4f}"
    elif mJ:
        fmt = "{:.4f}"
    elif present.empty or bool((present == present.round()).all()):
        fmt = "{:,.0f}"
    else:
        fmt = "{:,.1f}"
    return ["–" if _is_missing(v) else fmt.format(v) for v in values.astype(float)]


def middle_ellipsis(values: Sequence[str], width: int) -> list[str]:
    """``values`` shortened in the middle to at most ``width`` characters, widening as needed so that
    distinct values stay distinct."""
    distinct = len(set(values))
    longest = max(map(len, values), default=0)
    for w in range(max(width, 3), longest + 1):
        out = [_cut(v, w) for v in values]
        if len(set(out)) == distinct:
            return out
    return list(values)


def _cut(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    head = (width - 1) * 2 // 5
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + text[len(text) - tail:]


def _total(cols: list[Column]) -> int:
    return sum(c.width for c in cols) + len(GAP) * (len(cols) - 1)


def _shrink(cols: list[Column], width: int, floor: int) -> None:
    """Shorten the widest shrinkable column by one step at a time until the table fits or none can shrink."""
    while _total(cols) > width:
        candidates = [c for c in cols if c.shrink and c.width > max(floor, len(c.name))]
        if not candidates:
            return
        col = max(candidates, key=lambda c: c.width)
        target = max(floor, len(col.name), col.width - (_total(cols) - width))
        new = middle_ellipsis(col.cells, target)
        if max(map(len, new), default=0) >= col.width:  # cannot shorten further without a collision
            col.shrink = False
        col.cells = new


def fit_table(columns: list[Column], width: int) -> list[str]:
    """The table's lines (header, rule, rows), none wider than ``width``: shrinkable columns are shortened
    first, then droppable columns removed in their order (names re-shortened each time, so that what remains
    uses the room freed)."""
    droppable = sorted((c for c in columns if c.drop_order is not None), key=lambda c: c.drop_order)
    for k in range(len(droppable) + 1):
        gone = {id(c) for c in droppable[:k]}
        cols = [Column(c.name, list(c.cells), c.right, c.shrink, c.drop_order) for c in columns if id(c) not in gone]
        _shrink(cols, width, _MIN_NAME if k < len(droppable) else _MIN_LAST)
        if _total(cols) <= width:
            break
    while len(cols) > 1 and _total(cols) > width:  # still too wide: keep the leftmost columns that fit
        cols.pop()
    widths = [c.width for c in cols]
    lines = [GAP.join(c.name.rjust(w) if c.right else c.name.ljust(w) for c, w in zip(cols, widths)).rstrip(),
             GAP.join("-" * w for w in widths)]
    n = len(cols[0].cells) if cols else 0
    for i in range(n):
        lines.append(GAP.join(c.cells[i].rjust(w) if c.right else c.cells[i].ljust(w)
                              for c, w in zip(cols, widths)).rstrip())
    return [line[:width] for line in lines]
