"""Report.merge: reports of parts of the data merge into the report of one run on all of it."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from snnenergy import Report, create_model, profile
from snnenergy.neurons.lif import LIF

TABLES = ("layers", "per_step", "neurons", "other_ops", "unsupported")
FRACTIONS = ("dead", "saturated")


def assert_same_report(whole: Report, merged: Report) -> None:
    """Every table equal; dead/saturated either equal or NaN with bounds that hold the whole run's value."""
    bounds = merged.meta.get("merge", {}).get("bounds", {})
    for name in TABLES:
        w, m = getattr(whole, name), getattr(merged, name)
        assert list(w.columns) == list(m.columns), name
        assert len(w) == len(m), name
        if name == "neurons":
            for col in FRACTIONS:
                for layer, wv, mv in zip(w.layer, w[col], m[col]):
                    if math.isnan(mv) and not math.isnan(wv):
                        lo, hi = bounds[layer][col]
                        assert lo - 1e-12 <= wv <= hi + 1e-12, (layer, col, lo, wv, hi)
                    else:
                        assert mv == wv or (math.isnan(mv) and math.isnan(wv)), (layer, col, wv, mv)
            w, m = w.drop(columns=list(FRACTIONS)), m.drop(columns=list(FRACTIONS))
        pd.testing.assert_frame_equal(w.reset_index(drop=True), m.reset_index(drop=True), check_exact=True,
                                      check_dtype=not w.empty, obj=name)


@pytest.fixture(scope="module")
def attention():
    torch.manual_seed(0)
    return create_model("snn-attention-block").double().eval(), torch.randn(6, 3, 32, 32, dtype=torch.float64)


def test_merge_of_two_halves_equals_the_whole(attention):
    model, x = attention
    whole = profile(model, x, batch_size=2)
    merged = Report.merge([profile(model, x[:4], batch_size=2), profile(model, x[4:], batch_size=2)])
    assert merged.meta["samples"] == 6 and merged.meta["batches"] == 3
    assert merged.meta["merge"]["samples"] == [4, 2]
    assert_same_report(whole, merged)
    assert merged.totals() == whole.totals()
    assert merged.energy().totals == whole.energy().totals
    edges = lambda r: set(r.provenance.itertuples(index=False, name=None))  # noqa: E731
    assert edges(merged) == edges(whole) and len(edges(whole)) > 5


def test_kinds_ranges_and_sources_merge(tmp_path):
    """Parts seeing binary, ternary and integer inputs merge into the worst kind and the union of the ranges."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(8, 4), LIF(step_mode="m"), nn.Linear(4, 3)).double()
    binary = (torch.rand(2, 3, 8, dtype=torch.float64) > 0.5).double()
    ternary = torch.randint(-1, 2, (2, 2, 8)).double()
    integer = torch.randint(0, 4, (2, 1, 8)).double()
    batches = [binary, ternary, integer]
    whole = profile(model, batches, time_steps=2, batch_dim=1)
    first = whole.layers.set_index("layer").loc["0"]
    assert first.input_kind == "integer" and (first.input_min, first.input_max) == (-1.0, 3.0)
    parts = [profile(model, b, time_steps=2, batch_dim=1) for b in batches]
    assert [p.layers.input_kind[0] for p in parts] == ["binary", "ternary", "integer"]
    # the parts come as Report objects, dicts and JSON files alike
    parts[1] = parts[1].to_dict()
    parts[2].to_json(tmp_path / "p2.json")
    parts[2] = tmp_path / "p2.json"
    assert_same_report(whole, Report.merge(parts))


class _DataDependent(nn.Module):
    """A branch (with its own layers) that runs only for inputs with a positive mean: rows seen by one part."""

    time_steps = 2

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.lif = LIF(step_mode="m")
        self.extra = nn.Linear(8, 4)
        self.extra_lif = LIF(step_mode="m")

    def forward(self, x):
        s = self.lif(self.fc(x).unsqueeze(0).repeat(2, 1, 1))
        if float(x.mean()) > 0:
            s = self.extra_lif(self.extra(s))
        return s.mean(0)


def test_rows_seen_by_only_some_parts():
    torch.manual_seed(2)
    model = _DataDependent().double()
    neg = torch.randn(3, 8, dtype=torch.float64) - 3.0
    pos = torch.randn(2, 8, dtype=torch.float64) + 3.0
    whole = profile(model, [neg, pos])
    merged = Report.merge([profile(model, neg), profile(model, pos)])
    assert "extra" in set(whole.layers.layer)
    assert_same_report(whole, merged)


def test_dead_and_saturated_bounds_hold_the_exact_value(attention):
    model, x = attention
    whole = profile(model, x)
    merged = Report.merge([profile(model, x[i:i + 2]) for i in range(0, 6, 2)])
    assert_same_report(whole, merged)
    # a fraction of 0 in any part is exact: no neuron is dead in the union then
    saturated = merged.neurons.saturated
    assert (saturated[whole.neurons.saturated == 0] == 0).all()


def test_one_report_merges_into_itself(attention):
    model, x = attention
    r = profile(model, x[:2])
    assert_same_report(r, Report.merge([r]))


def test_mismatched_reports_are_refused(attention):
    model, x = attention
    a = profile(model, x[:2])
    other = profile(create_model("snn-attention-block", time_steps=2).double(), x[:2])
    with pytest.raises(ValueError, match=r"^cannot merge reports: report 1 has time_steps=2 but report 0 has time_steps=4"):
        Report.merge([a, other])
    renamed = profile(model, x[:2], model_name="another")
    with pytest.raises(ValueError, match="report 1 has model='another'"):
        Report.merge([a, renamed])
    d = a.to_dict()
    d["meta"] = dict(d["meta"], counting="per batch")
    with pytest.raises(ValueError, match="counting="):
        Report.merge([a, d])
    d["meta"] = dict(a.meta, snnenergy="0.0.1")
    with pytest.raises(ValueError, match="snnenergy='0.0.1'"):
        Report.merge([a, d])
    rates = profile(model, x[:2], rates_only=True)
    with pytest.raises(ValueError, match="rates_only=True"):
        Report.merge([a, rates])
    with pytest.raises(ValueError, match="at least one report"):
        Report.merge([])
    with pytest.raises(TypeError, match="report 1 is a int"):
        Report.merge([a, 3])


def test_shared_fractions_keep_the_common_value_or_refuse_disagreement(attention):
    """Parts whose dead / saturated were computed over all the data (summed across processes) keep that value;
    parts that disagree cannot have been, and give NaN (listed as not merged) rather than a guess."""
    from snnenergy.report.merge import merge_reports

    model, x = attention
    whole = profile(model, x[:4]).neurons
    parts = [profile(model, x[:2]), profile(model, x[2:4])]
    for p in parts:  # as if each process had summed the counts of both parts first
        p.neurons["dead"], p.neurons["saturated"] = whole.dead.to_numpy(), whole.saturated.to_numpy()
    assert ((whole.dead > 0) & (whole.dead < 1)).any()
    shared = merge_reports(parts, shared_fractions=True)
    pd.testing.assert_series_equal(shared.neurons.dead, whole.dead, check_exact=True)
    pd.testing.assert_series_equal(shared.neurons.saturated, whole.saturated, check_exact=True)
    assert not shared.meta["merge"]["bounds"]
    assert merge_reports(parts).neurons.dead[(whole.dead > 0) & (whole.dead < 1)].isna().all()  # bounded only
    parts[1].neurons.loc[0, "dead"] = 0.5 if whole.dead[0] != 0.5 else 0.25
    disagree = merge_reports(parts, shared_fractions=True)
    assert math.isnan(disagree.neurons.dead[0]) and "neurons.dead" in disagree.meta["merge"]["not_merged"]
