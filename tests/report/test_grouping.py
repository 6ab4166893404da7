"""``Report.group_by`` on a small hybrid ANN–SNN model built from zoo parts: an ANN branch over frames and an
SNN branch over events, fused by a linear head. Group sums equal the totals; per-group figures equal hand sums
(dense MACs from torch's FlopCounterMode, energy from the 45 nm figures E_AC = 0.9 pJ, E_MAC = 4.6 pJ)."""
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import snnenergy
from snnenergy.energy import get_preset
from snnenergy.models import calibrate_batchnorm

E_AC, E_MAC = 0.9, 4.6  # pJ (Horowitz 45 nm, as the spiking-transformer papers)


class Hybrid(nn.Module):
    """HDI-Former-style toy: ANN Spikingformer over frames, SNN Spikingformer over events, fused by a head."""

    def __init__(self):
        super().__init__()
        tiny = dict(embed_dim=16, depth=1, num_heads=2, num_classes=8)
        self.frames = snnenergy.create_model("spikingformer-4-384-cifar10", ann=True, **tiny)
        self.events = snnenergy.create_model("spikingformer-2-256-dvs128", time_steps=2, **tiny)
        self.fuse = nn.Linear(16, 11)
        self.time_steps = 2

    def forward(self, frames, events):
        return self.fuse(torch.cat([self.frames(frames), self.events(events)], dim=-1))


@pytest.fixture(scope="module")
def setup():
    g = torch.Generator().manual_seed(0)
    m = Hybrid().double().eval()
    frames = torch.rand(2, 3, 32, 32, dtype=torch.float64, generator=g)
    events = (torch.rand(2, 2, 2, 64, 64, dtype=torch.float64, generator=g) > 0.7).double()
    calibrate_batchnorm(m.frames, frames)
    calibrate_batchnorm(m.events, events)
    return m, frames, events, snnenergy.profile(m, (frames, events), weights="untrained")


def _dense_macs(module, *inputs) -> float:
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        module(*inputs)
    snnenergy.neurons.reset.reset_net(module)
    return fc.get_total_flops() / 2


def test_fp32_preset_is_the_papers_figures():
    p = get_preset("fp32")
    assert (p.e_ac, p.e_mac) == (E_AC, E_MAC)


def test_top_level_groups_are_the_branches(setup):
    m, frames, events, r = setup
    g = r.group_by("top", level=1).set_index("group")
    assert list(g.index) == ["frames", "events", "fuse"]
    # the ANN branch has no spikes: every op a MAC; the SNN branch has neurons and ACs
    assert g.loc["frames", "ac"] == 0 and g.loc["frames", "neuron_layers"] == 0
    assert g.loc["events", "ac"] > 0 and g.loc["events", "neuron_layers"] > 0
    # dense MACs per sample of each branch, counted by torch's FlopCounterMode on the branch alone
    assert g.loc["frames", "dense_ops"] == pytest.approx(_dense_macs(m.frames, frames) / 2, rel=1e-12)
    assert g.loc["events", "dense_ops"] == pytest.approx(_dense_macs(m.events, events) / 2, rel=1e-12)
    assert g.loc["fuse", "dense_ops"] == 16 * 11


def test_group_sums_equal_totals(setup):
    *_, r = setup
    totals = r.totals()
    for level in (1, 2):
        g = r.group_by("top", level=level)
        for c in ("dense_ops", "effective_ops", "ac", "mac", "integer_mac"):
            assert g[c].sum() == pytest.approx(totals[c], rel=1e-12)
        assert g["neuron_updates"].sum() == pytest.approx(totals["neuron_updates"], rel=1e-12)
        assert g["spikes"].sum() == pytest.approx(totals["spikes"], rel=1e-12)
        e = r.energy(level=level)
        for c in ("snn_mJ", "ann_mJ", "qnn_mJ"):
            assert g[c].sum() == pytest.approx(e.totals[c], rel=1e-12)
        for term in ("ac_mJ", "mac_mJ", "integer_mJ", "neuron_mJ"):
            assert g[term].sum() == pytest.approx(e.breakdown.loc["snn", term], rel=1e-12, abs=1e-18)


def test_per_group_energy_equals_hand_sums(setup):
    *_, r = setup
    g = r.group_by("top", level=1).set_index("group")
    layers = r.layers
    for group in ("frames", "events", "fuse"):
        rows = layers[(layers["layer"] == group) | layers["layer"].str.startswith(group + ".")]
        ac, mac, imac = (float(rows[c].sum()) for c in ("ac", "mac", "integer_mac"))
        assert g.loc[group, "ac"] == ac and g.loc[group, "mac"] == mac
        hand = (E_AC * ac + E_MAC * (mac + imac)) / 1e9  # level 1, integer inputs as MACs
        assert g.loc[group, "snn_mJ"] == pytest.approx(hand, rel=1e-12)
    # level 2 adds, per SNN neuron and step, an add + a multiply (leak) + a compare, and an add per spike
    p = get_preset("fp32")
    g2 = r.group_by("top", level=2).set_index("group")
    n = r.neurons
    hand_neuron = (float((n["neurons"] * r.time_steps).sum()) * (p.e_add + p.e_mul + p.compare)
                   + float(n["spikes"].sum()) * p.e_add) / 1e9
    assert n["has_leak"].all() and n["per_step"].all()
    assert g2.loc["events", "neuron_mJ"] == pytest.approx(hand_neuron, rel=1e-12)
    assert g2.loc["frames", "neuron_mJ"] == 0


def test_mapping_and_callable(setup):
    *_, r = setup
    by_map = r.group_by({"frames": "ANN branch", "events.block": "SNN blocks", "events": "SNN tokenizer+head"},
                        level=1).set_index("group")
    assert list(by_map.index) == ["ANN branch", "SNN tokenizer+head", "SNN blocks", "(rest)"]
    top = r.group_by("top", level=1).set_index("group")
    assert by_map.loc["ANN branch", "mac"] == top.loc["frames", "mac"]
    assert by_map.loc["(rest)", "mac"] == top.loc["fuse", "mac"]  # layers no prefix matches
    assert by_map.loc["SNN blocks", "ac"] + by_map.loc["SNN tokenizer+head", "ac"] == pytest.approx(
        top.loc["events", "ac"], rel=1e-12)
    attn = r.group_by(lambda p: "attention" if ".attn" in p else "rest", level=1).set_index("group")
    layers = r.layers
    hand = float(layers.loc[layers["layer"].str.contains(".attn", regex=False), "ac"].sum())
    assert attn.loc["attention", "ac"] == hand
    assert attn["snn_mJ"].sum() == pytest.approx(r.energy(level=1).totals["snn_mJ"], rel=1e-12)


def test_bad_grouping_is_one_clear_line(setup):
    *_, r = setup
    with pytest.raises(ValueError, match="not a rule; use 'top', 'block', a mapping"):
        r.group_by("branch")
    with pytest.raises(TypeError, match="must return a str"):
        r.group_by(lambda p: 3)
    with pytest.raises(ValueError, match="mapping is empty"):
        r.group_by({})
