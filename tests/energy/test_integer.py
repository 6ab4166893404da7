"""integer_as: integer inputs into weight layers as MACs, as one AC per nonzero, or as n ACs (n-spike view)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from energy_hand import report, site
from snnenergy import profile


class IntConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.time_steps = 1
        self.conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(x)


def test_integer_as_spikes_on_an_integer_input_conv():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(-3, 4, (2, 2, 5, 5), generator=g).float()
    r = profile(IntConv(), x, time_steps=1)
    if "value_weighted_ops" not in r.layers.columns:
        pytest.skip("the profile has no value_weighted_ops column yet")
    # independent: every (output position, tap) of the unfolded padded input, |x| (or x != 0) times C_out = 3,
    # per sample (2 samples)
    cols = F.unfold(x, 3, padding=1)
    weighted = float(cols.abs().sum()) * 3 / 2
    nonzero = float((cols != 0).sum()) * 3 / 2
    site_ = r.layers.iloc[0]
    assert site_.input_kind == "integer"
    assert site_.value_weighted_ops == pytest.approx(weighted)
    assert site_.integer_mac == pytest.approx(nonzero)
    mac, ac, spikes = (r.energy("fp32", integer_as=k) for k in ("mac", "ac", "spikes"))
    assert mac.totals["snn_mJ"] == pytest.approx(nonzero * 4.6e-9)
    assert ac.totals["snn_mJ"] == pytest.approx(nonzero * 0.9e-9)
    assert spikes.totals["snn_mJ"] == pytest.approx(weighted * 0.9e-9)
    assert spikes.breakdown.loc["snn", "integer_mJ"] == pytest.approx(weighted * 0.9e-9)
    assert any("n-spike" in a for a in spikes.assumptions) and "'spikes'" in str(spikes)


def test_integer_as_spikes_by_hand_and_its_errors():
    # a site seen with binary and integer inputs: 6 ACs from binary steps, 4 integer MACs whose values weigh 10
    sites = [site("fc", "linear", "integer", dense_ops=20.0, ac=6.0, integer_mac=4.0, effective_ops=10.0,
                  value_weighted_ops=16.0, input_rate=0.5, input_max=3.0)]
    r = report(2, sites)
    assert r.energy(integer_as="spikes").totals["snn_mJ"] == pytest.approx((6 + 10) * 0.9e-9)
    assert r.energy(integer_as="ac").totals["snn_mJ"] == pytest.approx((6 + 4) * 0.9e-9)
    assert r.energy(integer_as="mac").totals["snn_mJ"] == pytest.approx((6 * 0.9 + 4 * 4.6) * 1e-9)
    del sites[0]["value_weighted_ops"]
    with pytest.raises(ValueError, match="value_weighted_ops"):
        report(2, sites).energy(integer_as="spikes")
    with pytest.raises(ValueError, match="integer_as"):
        report(2, sites).energy(integer_as="weighted")
