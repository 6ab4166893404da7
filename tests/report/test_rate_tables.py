"""Firing-rate tables (``Report.rate_table``): values equal the neuron table's rates, roles come from the graph
(not from names), CSV round-trips and the LaTeX parses back into the expected rows."""
import io
import re

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import snnenergy
from snnenergy.models import calibrate_batchnorm
from snnenergy.neurons import LIF


def _tiny(attn_order: str):
    m = snnenergy.create_model("spikingformer-4-384-cifar10", embed_dim=32, depth=2, num_heads=2, time_steps=2,
                               attn_order=attn_order).double().eval()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    calibrate_batchnorm(m, x)
    return snnenergy.profile(m, x, weights="untrained")


@pytest.fixture(scope="module")
def report():
    return _tiny("qk")


def test_layer_table_equals_neuron_rates(report):
    t = report.rate_table(by="layer", percent=False)
    n = report.neurons
    assert list(t["layer"]) == list(n["layer"])
    np.testing.assert_array_equal(t["mean"].to_numpy(), n["firing_rate"].to_numpy())
    for step in range(report.time_steps):
        np.testing.assert_array_equal(t[f"t={step + 1}"].to_numpy(), n[f"rate_t{step}"].to_numpy())
    pct = report.rate_table(by="layer")
    np.testing.assert_allclose(pct["mean"].to_numpy(), 100 * n["firing_rate"].to_numpy())


# Spikingformer's block (from the model's code): the block-input LIF (our module calls it attn.proj_lif) feeds
# the q/k/v convolutions; q_lif, k_lif, v_lif feed the attention products; attn_lif follows them; then the MLP.
EXPECTED = {"attn.proj_lif": "attn-in", "attn.q_lif": "Q", "attn.k_lif": "K", "attn.v_lif": "V",
            "attn.attn_lif": "attn", "mlp.mlp1_lif": "MLP 1", "mlp.mlp2_lif": "MLP 2"}


@pytest.mark.parametrize("order", ["qk", "kv"])
def test_block_table_roles_and_rates(order, report):
    r = report if order == "qk" else _tiny("kv")
    t = r.rate_table(by="block", percent=False)
    assert list(t["block"]) == ["block.0", "block.1"]
    assert list(t.columns[1:]) == list(EXPECTED.values())
    rates = dict(zip(r.neurons["layer"], r.neurons["firing_rate"]))
    for row in t.itertuples(index=False):
        values = dict(zip(t.columns, row))
        for path, role in EXPECTED.items():
            assert values[role] == rates[f"{values['block']}.{path}"]


class _Mix(nn.Module):
    """Q (K^T V) attention whose neurons have names that say nothing: the roles must come from the graph."""

    def __init__(self):
        super().__init__()
        self.lin, self.n1, self.n2, self.n3, self.after = nn.Linear(8, 24), LIF(), LIF(), LIF(), LIF()

    def forward(self, x):
        h = self.lin(x)
        third = h.shape[-1] // 3
        v, q, k = (n(h[..., i * third:(i + 1) * third]) for i, n in enumerate((self.n1, self.n2, self.n3)))
        return self.after(q @ (k.transpose(-1, -2) @ v))


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.mix, self.out = _Mix(), LIF()

    def forward(self, x):
        return self.out(self.mix(x))


class _Renamed(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([_Block()])
        self.time_steps = 2

    def forward(self, x):
        return self.blocks[0](x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1))  # [T, B, N, 8]


def test_roles_follow_the_graph_not_the_names():
    torch.manual_seed(0)
    m = _Renamed().double()
    r = snnenergy.profile(m, 3 * torch.rand(2, 5, 8, dtype=torch.float64))
    roles = dict(zip(*[snnenergy.report.rate_tables.block_roles(r)[c] for c in ("layer", "role")]))
    assert roles == {"blocks.0.mix.n1": "V", "blocks.0.mix.n2": "Q", "blocks.0.mix.n3": "K",
                     "blocks.0.mix.after": "attn", "blocks.0.out": "MLP 1"}


def test_saved_report_gives_the_same_tables(report):
    back = snnenergy.Report.from_json(report.to_json())  # no provenance table: the producer labels suffice
    for by in ("layer", "block"):
        pd.testing.assert_frame_equal(back.rate_table(by=by), report.rate_table(by=by))


def test_csv_round_trip(report):
    for by in ("layer", "block"):
        frame = report.rate_table(by=by)
        back = pd.read_csv(io.StringIO(report.rate_table(format="csv", by=by)))
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def _parse_latex(text: str) -> tuple[list[str], list[list[str]]]:
    body = text.split(r"\midrule")[1].split(r"\bottomrule")[0]
    head = text.split(r"\toprule")[1].split(r"\midrule")[0]
    split = lambda line: [c.strip() for c in line.strip().rstrip("\\").split("&")]  # noqa: E731
    return split(head), [split(line) for line in body.strip().splitlines()]


@pytest.mark.parametrize("by", ["layer", "block"])
def test_latex_parses_into_the_rows(report, by):
    text = report.rate_table(format="latex", by=by)
    assert text.startswith(r"\begin{table}") and r"\begin{tabular}" in text and r"\end{table}" in text
    assert text.count(r"\toprule") == text.count(r"\midrule") == text.count(r"\bottomrule") == 1
    frame = report.rate_table(by=by)
    head, rows = _parse_latex(text)
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", text).group(1)
    assert len(spec) == len(head) == len(frame.columns)
    assert len(rows) == len(frame)
    expected_head = [re.sub(r"^t=(\d+)$", r"$t{=}\1$", c).replace("_", r"\_") for c in frame.columns]
    assert head == expected_head
    for cells, row in zip(rows, frame.itertuples(index=False)):
        assert len(cells) == len(frame.columns)
        for cell, col, v in zip(cells, frame.columns, row):
            if isinstance(v, str):
                assert cell == v.replace("_", r"\_")
            elif col == "neurons":
                assert int(cell) == int(v)
            elif np.isnan(v):
                assert cell == "--"
            else:
                assert float(cell) == pytest.approx(v, abs=0.005 + 1e-12)


def test_bad_arguments_say_what_is_right(report):
    with pytest.raises(ValueError, match="format must be one of frame, csv, latex"):
        report.rate_table(format="xlsx")
    with pytest.raises(ValueError, match="by must be 'layer'"):
        report.rate_table(by="stage")
