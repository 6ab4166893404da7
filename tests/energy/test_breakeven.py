"""Break-even firing rate over every spike-driven synaptic op, fired or not, from rate-1 (boundary-exact) counts."""
import pytest
import torch
from torch import nn

from energy_hand import report, site
from snnenergy import profile
from snnenergy.neurons import LIF

T = 4


def two_sites(fc_ac: float):
    """A real-input encoder (5 MACs per step) and a spike-driven conv: 25 nominal taps per step, of which 20 fall
    on real pixels (the rate-1 count), firing ``fc_ac`` ACs in all."""
    return report(T, [
        site("enc", "linear", "real", dense_ops=20.0, mac=20.0, effective_ops=20.0, input_rate=1.0),
        site("conv", "conv2d", "binary", dense_ops=100.0, full_rate_ops=80.0, ac=fc_ac, effective_ops=fc_ac,
             input_rate=fc_ac / 80.0),
    ])


# E_ANN = 4.6 * (5 + 25) = 138 pJ; E_SNN(r) = 4.6 * 20 + 0.9 * 80 r  =>  r = (138 - 92) / 72
HAND_RATE = (138.0 - 92.0) / 72.0


@pytest.mark.parametrize("fc_ac", [40.0, 0.5, 0.0])
def test_break_even_same_for_firing_almost_silent_and_silent(fc_ac):
    e = two_sites(fc_ac).energy("fp32", level=1)
    assert e.totals["break_even_rate"] == pytest.approx(HAND_RATE)
    assert e.totals["break_even_rate"] != pytest.approx(46.0 / 90.0)  # not the nominal (padding-tap) count
    assert f"{100 * HAND_RATE:.4g} %" in str(e)


def test_break_even_against_the_qnn():
    e = two_sites(3.0).energy("fp32", level=1)
    # QNN at T = 4: 3 bits, E_MAC = 0.2 (3/8)^2 + 0.03 (3/8) = 0.039375 pJ over 30 dense MACs
    qnn = 30 * (0.2 * (3 / 8) ** 2 + 0.03 * 3 / 8)
    assert e.totals["qnn_mJ"] == pytest.approx(qnn * 1e-9)
    assert e.totals["break_even_rate_qnn"] == pytest.approx((qnn - 92.0) / 72.0)


def test_break_even_includes_spike_products_and_not_integer_inputs():
    r = report(2, [
        site("attn", "matmul", "binary", other_operand="binary", dense_ops=64.0, full_rate_ops=64.0, ac=3.0,
             effective_ops=3.0, input_rate=0.1),
        site("fc", "linear", "integer", dense_ops=10.0, integer_mac=4.0, effective_ops=4.0, input_rate=0.4,
             input_max=3.0),
    ])
    e = r.energy("fp32", level=1)
    ann = 4.6 * (32 + 5)
    assert e.totals["break_even_rate"] == pytest.approx((ann - 4.6 * 4) / (0.9 * 64))


def test_break_even_nan_only_without_spike_driven_ops():
    r = report(1, [site("enc", "linear", "real", dense_ops=4.0, mac=4.0, input_rate=1.0)])
    e = r.energy()
    assert e.totals["break_even_rate"] != e.totals["break_even_rate"]
    assert "n/a" in str(e)


class Net(nn.Module):
    """Real-valued encoder conv, a LIF layer, a spiking linear layer 32 -> 5, T = 2."""

    def __init__(self, gain: float):
        super().__init__()
        self.time_steps, self.gain = 2, gain
        self.enc = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.lif = LIF()
        self.fc = nn.Linear(2 * 4 * 4, 5, bias=False)

    def forward(self, x):
        T = self.time_steps
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        s = self.lif(self.enc(x.flatten(0, 1)).reshape(T, x.shape[1], 2, 4, 4) * self.gain)
        return self.fc(s.flatten(2)).mean(0)


def test_break_even_end_to_end_firing_vs_silent():
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    rates = []
    for gain in (3.0, 0.05, 0.0):
        torch.manual_seed(0)
        r = profile(Net(gain), x)
        rates.append(r.neurons.iloc[0].firing_rate)
        e = r.energy("fp32", level=1)
        # ANN: 4.6 * (288 encoder + 160 fc MACs); SNN: 400 encoder MACs (2 steps x 2 maps x 100 real taps) fixed,
        # fc at rate r: 0.9 * r * (2 steps x 32 x 5)
        assert e.totals["break_even_rate"] == pytest.approx((4.6 * (288 + 160) - 4.6 * 400) / (0.9 * 320))
    assert rates[0] > rates[1] and rates[2] == 0


def test_break_even_uses_boundary_exact_rate1_count_of_convs():
    class Spk(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_steps = 1
            self.conv = nn.Conv2d(2, 2, 3, padding=1, bias=False)

        def forward(self, s):
            return self.conv(s)

    r = profile(Spk(), (torch.rand(1, 2, 4, 4) > 0.5).float(), time_steps=1)
    if "full_rate_ops" not in r.layers.columns:
        pytest.skip("the profile has no full_rate_ops column yet (requested from the profiler)")
    # valid fan-out of a 4x4 map under a padded 3x3 kernel: (2+3+3+2)^2 = 100 taps per (C_in, C_out) pair
    assert r.layers.iloc[0].full_rate_ops == 400
    e = r.energy("fp32", level=1)
    assert e.totals["break_even_rate"] == pytest.approx(4.6 * 576 / (0.9 * 400))
