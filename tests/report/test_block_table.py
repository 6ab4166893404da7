"""The console and Markdown reports' per-block table, whose rows add up to the report's totals also for a model
whose neuron layers are its own top-level modules (an ``nn.Sequential``-style SNN), and their header."""
import pytest
import torch
from torch import nn

import snnenergy
from snnenergy.neurons import LIF
from snnenergy.report.render import block_table, console_text


class FlatSNN(nn.Module):
    """conv1, bn1, lif1, conv2, bn2, lif2, fc as direct children, multi-step [T, B, ...]."""

    def __init__(self, T: int = 2) -> None:
        super().__init__()
        self.T = T
        self.conv1, self.bn1, self.lif1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), LIF()
        self.conv2, self.bn2, self.lif2 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), LIF()
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        T, B = x.shape[:2]
        s = self.lif1(self.bn1(self.conv1(x.flatten(0, 1))).reshape(T, B, 8, *x.shape[-2:]) * 3)
        s = self.lif2(self.bn2(self.conv2(s.flatten(0, 1))).reshape(T, B, 8, *x.shape[-2:]) * 3)
        return self.fc(s.mean((0, 3, 4)))


@pytest.fixture(scope="module")
def report():
    torch.manual_seed(0)
    return snnenergy.profile(FlatSNN().eval(), torch.rand(2, 3, 8, 8), time_steps=2)


def test_neuron_only_blocks_have_rows_in_network_order(report):
    t = block_table(report, report.energy(level=2))
    assert list(t["block"]) == ["conv1", "lif1", "conv2", "lif2", "fc"]
    lif = t.set_index("block").loc[["lif1", "lif2"]]
    assert (lif["sites"] == 0).all() and (lif["ac"] == 0).all()
    n = report.neurons.set_index("layer")
    assert lif["spike rate"].tolist() == pytest.approx(n.loc[["lif1", "lif2"], "firing_rate"].tolist())


def test_block_rows_add_up_to_the_totals(report):
    e = report.energy(level=2)
    t = block_table(report, e)
    assert t["neuron mJ"].sum() == pytest.approx(float(e.neurons["neuron_mJ" if "neuron_mJ" in e.neurons
                                                                  else "snn_mJ"].sum()), rel=1e-12)
    assert t["neuron mJ"].sum() > 0
    assert t["synaptic mJ"].sum() == pytest.approx(float(e.layers[["ac_mJ", "mac_mJ", "integer_mJ"]].sum().sum()),
                                                   rel=1e-12)
    assert t["sites"].sum() == len(report.layers)


def test_the_console_report_lists_the_neuron_blocks(report):
    text = console_text(report, level=2, width=100)
    table = text.split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in table[3:]] == ["conv1", "lif1", "conv2", "lif2", "fc"]


def test_a_fused_model_says_its_parameters_are_the_fused_ones(report):
    from snnenergy.report.render import header_lines
    meta = dict(report.meta)
    try:
        report.meta.update(published={"params_M": 15.1}, params=36_830_000)
        plain = [line for line in header_lines(report) if line.startswith("published")]
        report.meta["fused"] = True
        fused = [line for line in header_lines(report) if line.startswith("published")]
    finally:
        report.meta.clear()
        report.meta.update(meta)
    assert plain[0].endswith("; ours: params 36.83 M")
    assert "ours after fusion (chains merged into dense layers): params 36.83 M" in fused[0]
