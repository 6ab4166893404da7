"""Building a report table in one step from finished columns: numpy arrays of their final dtype and lists of text.

A frame built this way equals ``pd.DataFrame`` of the same columns (same column order, dtypes and values) but
skips pandas' per-column inference, checks and consolidation, which were most of the time of building a
report's tables: each dtype's columns are stacked into one block, and the frame is made from its blocks.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

try:  # pandas >= 2.2: whether text columns get pandas' ``str`` dtype (the default from pandas 3)
    from pandas._config import using_string_dtype as _using_string_dtype
except ImportError:  # pragma: no cover - older pandas: ``object`` unless the option is there and set
    def _using_string_dtype() -> bool:
        try:
            return bool(pd.get_option("future.infer_string"))
        except (KeyError, pd.errors.OptionError):
            return False

try:  # pandas >= 3: a frame from its blocks, without inference
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:  # older pandas: from its columns, without inference
    _from_blocks = None

_TEXT_TYPES = {str, float}  # text, with NaN where a row has none
_TEXT_DTYPES: dict[bool, Any] = {}
_LAYOUTS: dict[tuple, tuple] = {}
_INDEXES: dict[int, pd.RangeIndex] = {}


def frame(cols: dict) -> pd.DataFrame:
    """The table of ``cols``, in order. A key is a column name, with a 1-D numpy array (bool, int or float) or a
    list of text (str, NaN in rows without one) as value, or a tuple of names with a 2-D array ``[rows, names]``
    of one numeric dtype. Anything else is left to ``pd.DataFrame`` (so the result is the same either way)."""
    try:
        return _assembled(cols)
    except (AttributeError, ImportError, TypeError):  # a pandas whose internals differ: let pandas build it
        return inferred_frame(cols)


def _assembled(cols: dict) -> pd.DataFrame:
    """:func:`frame` from blocks (through pandas internals that tests/report/test_frames.py checks)."""
    numeric: dict[np.dtype, list[np.ndarray]] = {}
    texts: list[list] = []
    shape: list[tuple[Any, Any]] = []  # (key, dtype or "text") per entry: what the frame's layout depends on
    rows = set()
    for key, v in cols.items():
        group = type(key) is tuple
        if type(v) is list and not group:
            text = _text_kind(v)
            if not text:
                return inferred_frame(cols)
            texts.append((v, text == _WITH_NAN))
            shape.append((key, "text"))
        elif type(v) is np.ndarray and v.dtype.kind in "biuf" and (
                v.ndim == 2 and group and v.shape[1] == len(key) or v.ndim == 1 and not group):
            numeric.setdefault(v.dtype, []).append(v if group else v[:, None])
            shape.append((key, v.dtype))
        else:
            return inferred_frame(cols)
        rows.add(len(v))
    text_key, text_dtype = _text_dtype()
    layout = _layout(tuple(shape), text_key, text_dtype == object)
    if len(rows) != 1 or 0 in rows or layout is None:
        return inferred_frame(cols)
    n = rows.pop()
    labels, numeric_at, text_at = layout
    blocks = [(np.concatenate(arrays, axis=1).T, numeric_at[dtype]) for dtype, arrays in numeric.items()]
    if texts:
        blocks.extend(_text_blocks(texts, n, text_dtype, text_at))
    index = _INDEXES.get(n)
    if index is None:
        if len(_INDEXES) > 256:
            _INDEXES.clear()
        index = _INDEXES[n] = pd.RangeIndex(n)  # handed out as views, as the labels are
    if _from_blocks is not None:
        return _from_blocks(blocks, index=index._view(), columns=labels._view())
    return _from_columns(blocks, labels._view(), index._view())  # pandas < 3


def _layout(shape: tuple, text_key: bool, text_as_objects: bool) -> tuple | None:
    """Column labels, the positions of each numeric dtype's columns and those of the text columns (one array
    per text column, or one for all when text is stored as objects) for a frame of this ``shape``; made once
    per shape (an Index is slow to make; each frame gets its own view of it, so that setting its
    ``columns.name`` stays with that frame). ``None`` when column names repeat."""
    cache_key = (shape, text_key, text_as_objects)
    layout = _LAYOUTS.get(cache_key)
    if layout is None:
        names: list = []
        numeric_at: dict[np.dtype, list[int]] = {}
        text_at: list[int] = []
        for key, kind in shape:
            at = len(names)
            if type(key) is tuple:
                names.extend(key)
            else:
                names.append(key)
            if kind == "text":
                text_at.append(at)
            else:
                numeric_at.setdefault(kind, []).extend(range(at, len(names)))
        if len(set(names)) != len(names):
            return None
        texts = [text_at] if text_as_objects else [[at] for at in text_at]
        if len(_LAYOUTS) > 256:
            _LAYOUTS.clear()
        layout = _LAYOUTS[cache_key] = (pd.Index(names), {k: _positions(v) for k, v in numeric_at.items()},
                                        [_positions(v) for v in texts])
    return layout


def _positions(at: list[int]) -> np.ndarray:
    """Column positions as a block placement (read-only: it is shared by every frame of one layout)."""
    out = np.array(at, dtype=np.intp)
    out.flags.writeable = False
    return out


def inferred_frame(cols: dict) -> pd.DataFrame:
    """``pd.DataFrame`` of ``cols`` (tuple keys spread into their columns): pandas infers every dtype."""
    flat: dict[str, Any] = {}
    for key, v in cols.items():
        if type(key) is tuple:
            if np.ndim(v) != 2 or np.shape(v)[1] != len(key):
                raise ValueError(f"columns {key} need a 2-D array of {len(key)} columns, got shape {np.shape(v)}")
            flat.update((name, v[:, j]) for j, name in enumerate(key))
        else:
            flat[key] = v
    return pd.DataFrame(flat)


def _text_blocks(texts: list[tuple[list, bool]], n: int, dtype: Any, text_at: list) -> list[tuple]:
    """The blocks of the text columns ``texts`` (values, has NaN), in pandas' text dtype ``dtype``: one 2-D block
    of objects, or one array per column. With Python storage the arrays wrap rows of one object array directly
    (what ``_from_sequence`` stores after its checks, which ``_text_kind`` has made already)."""
    objects = np.empty((len(texts), n), dtype=object)
    for row, (values, _) in zip(objects, texts):
        row[:] = values
    if dtype == object:
        return [(objects, text_at[0])]
    cls = dtype.construct_array_type()
    if getattr(dtype, "storage", None) != "python" or not hasattr(cls, "_simple_new"):
        return [(cls._from_sequence(values, dtype=dtype), at) for (values, _), at in zip(texts, text_at)]
    for row, (values, has_nan) in zip(objects, texts):
        if has_nan:
            row[[type(x) is float for x in values]] = dtype.na_value
    return [(cls._simple_new(row, dtype), at) for row, at in zip(objects, text_at)]


def _from_columns(blocks: list, labels: pd.Index, index: pd.Index) -> pd.DataFrame:
    """The frame of ``blocks`` through its columns (for pandas without ``create_dataframe_from_blocks``)."""
    columns: list[Any] = [None] * len(labels)
    for values, where in blocks:
        if values.ndim == 1:
            columns[where[0]] = values
        else:
            for row, at in zip(values, where):
                columns[at] = row
    return pd.DataFrame._from_arrays(columns, columns=labels, index=index, verify_integrity=False)


_NOT_TEXT, _TEXT, _WITH_NAN = 0, 1, 2


def _text_kind(values: list) -> int:
    """Whether pandas infers a text column for ``values``: strings (``_TEXT``), with NaN in some rows but not all
    (``_WITH_NAN``); else ``_NOT_TEXT``."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return _TEXT
    nan_only = kinds == _TEXT_TYPES and all(x != x for x in values if type(x) is float)
    return _WITH_NAN if nan_only else _NOT_TEXT


def _text_dtype() -> tuple[bool, Any]:
    """The dtype pandas gives a column of Python strings under its current options, ``object`` (pandas 2) or its
    ``str`` dtype (pandas 3, or ``future.infer_string``), with that option's setting; probed once per setting."""
    key = bool(_using_string_dtype())
    dtype = _TEXT_DTYPES.get(key)
    if dtype is None:
        dtype = _TEXT_DTYPES[key] = pd.Series(["text"]).dtype
    return key, dtype
