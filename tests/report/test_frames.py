"""Report tables built from their blocks (``snnenergy.report.frames``) equal pandas' own constructor exactly:
same columns in order, dtypes and values, on every path (blocks, columns, inferred) and text setting; the
tables of real profiles equal the frame pandas infers from their values; frames share nothing mutable."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from snnenergy import neurons, profile
from snnenergy.report import frames

NAN = float("nan")


def _spread(cols: dict) -> dict:
    """``cols`` with tuple keys spread into one column each (what ``pd.DataFrame`` is given)."""
    out = {}
    for key, v in cols.items():
        if isinstance(key, tuple):
            out.update((name, v[:, j].copy()) for j, name in enumerate(key))
        else:
            out[key] = v
    return out


def _cases(rng: np.random.Generator) -> list[dict]:
    n = 5
    return [
        {"layer": [f"blocks.{i}.q" for i in range(n)], "index": rng.integers(0, 9, n),
         ("a", "b", "c"): rng.normal(size=(n, 3)), "flag": rng.random(n) > 0.5,
         "producer": ["x", NAN, "y;z", NAN, ""], ("s", "t"): rng.integers(0, 5, (n, 2)),
         "rate": np.where(rng.random(n) > 0.5, NAN, rng.random(n))},
        {"only_floats": rng.random(n)},
        {"text": list("abcde")},
        {"all_nan": [NAN] * n, "x": rng.random(n)},  # all-NaN list: pandas infers float64
        {"mixed": ["a", 1, "b", 2.0, None], "x": rng.random(n)},  # not text: pandas decides
        {"f32": rng.random(n).astype(np.float32), "u8": rng.integers(0, 3, n).astype(np.uint8)},
        {"empty": np.zeros(0), "empty_text": []},
    ]


@pytest.mark.parametrize("path", ["blocks", "columns"])
def test_frame_equals_pandas_constructor(path, monkeypatch):
    if path == "columns":
        monkeypatch.setattr(frames, "_from_blocks", None)
    for cols in _cases(np.random.default_rng(0)):
        got, want = frames.frame(cols), pd.DataFrame(_spread(cols))
        assert list(got.columns) == list(want.columns)
        assert list(got.dtypes) == list(want.dtypes)
        assert got.columns.dtype == want.columns.dtype
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got.to_csv() == want.to_csv()


def test_frame_follows_the_text_inference_option():
    cols = _cases(np.random.default_rng(1))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the option is deprecated in pandas 3
        for infer in (False, True):
            try:
                ctx = pd.option_context("future.infer_string", infer)
            except (KeyError, pd.errors.OptionError):
                pytest.skip("this pandas has no future.infer_string option")
            with ctx:
                got, want = frames.frame(cols), pd.DataFrame(_spread(cols))
                assert list(got.dtypes) == list(want.dtypes)
                pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_bad_columns_fail_as_in_pandas():
    with pytest.raises(ValueError):
        frames.frame({"a": np.zeros(3), "b": np.zeros(4)})
    with pytest.raises(ValueError):
        frames.frame({("a", "b"): np.zeros((3, 3))})  # two names, three columns


def test_frames_of_one_layout_share_nothing_mutable():
    cols = {"layer": ["a", "b"], ("x", "y"): np.arange(4.0).reshape(2, 2), "i": np.arange(2)}
    first = frames.frame(cols)
    first.columns.name = "mine"
    first.index.name = "rows"
    first.loc[0, "x"] = -1.0
    first.loc[1, "layer"] = "changed"
    first.insert(0, "new", 1.0)
    second = frames.frame(cols)
    assert second.columns.name is None and second.index.name is None
    assert list(second.columns) == ["layer", "x", "y", "i"]
    assert second.loc[0, "x"] == 0.0 and second.loc[1, "layer"] == "b"
    assert cols["x", "y"][0, 0] == 0.0  # the caller's arrays are copied, not taken over


class _Products(nn.Module):
    """A product of two activations before any weight layer (operand-B columns before the rates)."""

    def __init__(self) -> None:
        super().__init__()
        self.lif = neurons.LIF()
        self.fc = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.lif(x)
        return self.fc((s @ s.transpose(-1, -2)) @ s)


def _inferred(df: pd.DataFrame) -> pd.DataFrame:
    """The frame pandas builds from ``df``'s values as plain Python lists."""
    return pd.DataFrame({c: df[c].tolist() for c in df.columns})


@pytest.mark.parametrize("rates_only", [False, True])
def test_profile_tables_equal_the_frames_pandas_infers(rates_only):
    torch.manual_seed(0)
    x = torch.randn(3, 2, 4, 6, dtype=torch.float64) * 2
    report = profile(_Products().double(), x, batch_dim=1, time_steps=3, rates_only=rates_only)
    for name in ("layers", "per_step", "neurons"):
        table = getattr(report, name)
        if table.empty:
            continue
        pd.testing.assert_frame_equal(table, _inferred(table), check_exact=True)
    if not rates_only:
        columns = report.layers.columns.tolist()
        assert columns.index("other_min") < columns.index("rate_t0")
        layers = report.layers
        assert layers["other_producer"].isna().tolist() == (layers["other_operand"] == "weight").tolist()
