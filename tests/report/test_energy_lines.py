"""The console's energy lines: the break-even rate next to the measured rate it is compared with, memory with
its addressing share, and wrapping that never parts a number from its unit."""
import pytest
import torch
from torch import nn

import snnenergy
from snnenergy.neurons import IF
from snnenergy.report.render import energy_lines, energy_split, middle_wrap


class SpikeLinear(nn.Module):
    """A fixed spike train [T = 2, B = 1, 4] into Linear(4, 3): 2 + 3 nonzero inputs over 8 positions."""

    def __init__(self) -> None:
        super().__init__()
        self.lif = IF(v_threshold=1.0)  # fires wherever its input is 1, then resets to 0
        self.fc = nn.Linear(4, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.lif(x))


X = torch.tensor([[[1.0, 0, 1, 0]], [[1.0, 1, 1, 0]]])  # [T, B, N]


@pytest.fixture(scope="module")
def report():
    torch.manual_seed(0)
    return snnenergy.profile(SpikeLinear(), X, time_steps=2, batch_dim=1)


def test_the_measured_rate_of_the_spike_driven_ops_is_their_acs_over_their_acs_at_rate_1(report):
    layers = report.layers.set_index("layer")
    assert layers.loc["fc", "input_kind"] == "binary"
    nonzero = 5  # spikes into fc: 2 at t = 0, 3 at t = 1
    assert report.neurons.set_index("layer").loc["lif", "spikes"] == nonzero
    e = report.energy(level=1)
    assert e.totals["spike_input_rate"] == pytest.approx(nonzero / 8)  # 8 input positions over the two steps
    line = next(x for x in energy_lines(report, e, is_snn=True) if "break-even" in x)
    assert f"measured {100 * nonzero / 8:.4g} %" in line and "below it the SNN costs less" in line


def test_no_measured_rate_without_spike_driven_ops():
    r = snnenergy.profile(nn.Linear(4, 3), torch.rand(2, 4))
    assert r.energy(level=1).totals["spike_input_rate"] != r.energy(level=1).totals["spike_input_rate"]  # NaN


def test_memory_says_how_much_of_it_is_addressing(report):
    e = report.energy(level=3)
    s = energy_split(e)
    addressing = float(e.layers["addressing_mJ"].sum()) + (float(e.neurons["addressing_mJ"].sum())
                                                            if "addressing_mJ" in e.neurons else 0.0)
    assert s["addressing"] == pytest.approx(addressing) and s["memory"] > s["addressing"] > 0
    line = next(x for x in energy_lines(report, e, is_snn=True) if "memory" in x and "synaptic" in x)
    assert f"(addressing {addressing:.4g} mJ of it)" in line


@pytest.mark.parametrize("unit", ["%", "mJ", "pJ", "V", "M", "x"])
def test_wrapping_keeps_a_number_with_its_unit(unit):
    for cut in range(30, 60):  # wherever the line would break, the number and its unit stay on one line
        line = "word " * (cut // 5) + f"1.034 {unit} and more words after it to wrap"
        wrapped = middle_wrap(line, 40).splitlines()
        assert any(f"1.034 {unit}" in w for w in wrapped), wrapped
        assert all(len(w) <= 40 for w in wrapped)
