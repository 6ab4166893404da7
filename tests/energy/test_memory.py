"""Level 3 (memory access and addressing) on a hand-computed two-layer SNN and its ANN/QNN counterparts."""
import pytest

from energy_hand import neuron, report, site
from snnenergy.energy.memory import MemoryModel

T = 2


def snn():
    """fc1: real input 4 -> 3 (dense 24 MACs over 2 steps); lif1: 3 neurons, 2 spikes; fc2: spikes 3 -> 2 (the 2
    spikes reach 2 outputs each: 4 ACs); lif2: 2 neurons, 1 spike. No bias. Every memory is below 8 KiB."""
    return report(T, [
        site("fc1", "linear", "real", dense_ops=24.0, mac=24.0, effective_ops=24.0, input_rate=1.0,
             input_min=-1.0, weight_params=12.0, input_elements=8.0, output_elements=6.0),
        site("fc2", "linear", "binary", dense_ops=12.0, ac=4.0, effective_ops=4.0, input_rate=2 / 6,
             weight_params=6.0, input_elements=6.0, output_elements=4.0, full_rate_ops=12.0),
    ], [neuron("lif1", 3.0, 2.0), neuron("lif2", 2.0, 1.0)])


W32 = 10 * 32 / 64  # pJ: a 32-bit read from an SRAM of <= 8 KiB (Horowitz: 10 pJ per 64 bits)
W1 = 10 / 64  # a 1-bit spike


def test_every_snn_memory_count():
    e = snn().energy("fp32", level=3)
    fc1, fc2 = e.layers.set_index("layer").loc["fc1"], e.layers.set_index("layer").loc["fc2"]
    # fc1 runs as a formal layer per step: a weight and an input read per MAC, a write per output
    assert (fc1.weight_reads, fc1.input_reads, fc1.output_writes) == (24, 24, 6)
    assert (fc1.potential_reads, fc1.potential_writes, fc1.addressing_acc, fc1.addressing_mac) == (0, 0, 24, 0)
    # fc2 is event-driven: per synaptic event a weight read and a potential read + write; a FIFO read per spike
    assert (fc2.weight_reads, fc2.potential_reads, fc2.potential_writes) == (4, 4, 4)
    assert (fc2.input_reads, fc2.output_writes, fc2.addressing_acc, fc2.addressing_mac) == (2, 0, 4, 0)
    n = e.neurons.set_index("layer")
    assert list(n.potential_reads) == [6, 4] and list(n.potential_writes) == [6, 4]
    assert list(n.output_writes) == [2, 1]


def test_level3_totals_by_hand():
    e = snn().energy("fp32", level=3)
    fc1 = 24 * 4.6 + (24 + 24 + 6) * W32 + 24 * 0.9  # MACs, memory, addressing
    fc2 = 4 * 0.9 + (4 + 8) * W32 + 2 * W1 + 4 * 0.9
    lif1 = 6 * (0.9 + 0.9 + 3.7) + 2 * 0.9 + 2 * 6 * W32 + 2 * W1
    lif2 = 4 * (0.9 + 0.9 + 3.7) + 1 * 0.9 + 2 * 4 * W32 + 1 * W1
    assert e.totals["snn_mJ"] == pytest.approx((fc1 + fc2 + lif1 + lif2) * 1e-9)
    assert e.breakdown.loc["snn", "memory_mJ"] == pytest.approx(
        ((24 + 24 + 6 + 12) * W32 + 2 * W1 + 20 * W32 + 3 * W1) * 1e-9)
    assert e.breakdown.loc["snn", "addressing_mJ"] == pytest.approx((24 + 4) * 0.9e-9)
    # ANN, once: fc1 12 MACs (12 weight + 12 input reads, 3 writes, 12 addressing adds), fc2 6 MACs; ReLUs
    ann = 12 * 4.6 + 27 * W32 + 12 * 0.9 + 6 * 4.6 + 14 * W32 + 6 * 0.9 + 5 * 0.9
    assert e.totals["ann_mJ"] == pytest.approx(ann * 1e-9)
    # QNN, 2 bits (T = 2): E_mul 0.2/16, E_add 0.03/4, 2-bit reads at 10 * 2/64 pJ
    w2, mul, add = 10 * 2 / 64, 0.2 / 16, 0.03 / 4
    qnn = 18 * (mul + add) + (27 + 14) * w2 + 18 * add + 5 * add
    assert e.totals["qnn_mJ"] == pytest.approx(qnn * 1e-9)
    terms = e.layers[["ac_mJ", "mac_mJ", "integer_mJ", "neuron_mJ", "memory_mJ", "addressing_mJ"]].sum(axis=1)
    assert list(terms) == pytest.approx(list(e.layers.snn_mJ))
    # break-even: fc2 at rate r costs r * (12 ACs + 12 weight reads + 24 potential accesses + 6 FIFO reads
    # + 12 addressing adds); all else stays as measured
    slope = 12 * 0.9 + 36 * W32 + 6 * W1 + 12 * 0.9
    fixed = fc1 + lif1 + lif2
    assert e.totals["break_even_rate"] == pytest.approx((ann - fixed) / slope)


def test_sram_sizes_interpolate_and_dram():
    # one 20 KiB SRAM: 64-bit read interpolated between 10 pJ (8 KiB) and 20 pJ (32 KiB): 15 pJ
    e = snn().energy("fp32", level=3, sram_kib=20)
    fc1 = e.layers.set_index("layer").loc["fc1"]
    assert fc1.e_weight_pJ == pytest.approx(15 * 32 / 64)
    assert fc1.memory_mJ == pytest.approx(54 * 7.5e-9)
    # weights beyond a 0.01 KiB SRAM come from DRAM at 1300 pJ per 64 bits; the rest stays in SRAM
    d = snn().energy("fp32", level=3, sram_kib=0.01, dram=True).layers.set_index("layer").loc["fc1"]
    assert d.e_weight_pJ == pytest.approx(650.0)
    assert d.memory_mJ == pytest.approx((24 * 650 + 30 * 5) * 1e-9)
    assert any("DRAM" in a for a in snn().energy(level=3, dram=True).assumptions)


def test_memory_access_costs():
    mm = MemoryModel()
    kib = 8 * 1024
    assert list(mm.access_pj([4 * kib, 8 * kib, 20 * kib, 32 * kib, 528 * kib, 4096 * kib], 64)) == pytest.approx(
        [10, 10, 15, 20, 60, 100])
    lem = MemoryModel(sram_model="lemaire")
    assert float(lem.access_pj(8 * kib, 32)) == pytest.approx(1.09e-5 * 65536 + 13.2)
    with pytest.raises(ValueError, match="sram_model"):
        MemoryModel(sram_model="cacti")
    with pytest.raises(ValueError, match="sram_kib"):
        MemoryModel(sram_kib=-3)


def test_level3_needs_the_profile_columns_and_rejects_chips():
    r = report(1, [site("fc", "linear", "binary", dense_ops=4.0, ac=1.0, input_rate=0.25)])
    with pytest.raises(ValueError, match="weight_params"):
        r.energy(level=3)
    with pytest.raises(ValueError, match="level 1 or 2"):
        snn().energy("loihi", level=3)


def test_level3_end_to_end_two_layer_snn():
    import torch
    from torch import nn

    from snnenergy import profile
    from snnenergy.neurons import LIF

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_steps = 2
            self.fc1, self.lif1 = nn.Linear(4, 3, bias=False), LIF()
            self.fc2, self.lif2 = nn.Linear(3, 2), LIF()

        def forward(self, x):
            x = x.unsqueeze(0).repeat(2, 1, 1)
            return self.lif2(self.fc2(self.lif1(self.fc1(x) * 4)))

    torch.manual_seed(0)
    model = Two()
    spikes = {}
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: spikes.__setitem__(k, float(o.sum())))
             for k, m in (("s1", model.lif1), ("s2", model.lif2))]
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    r = profile(model, x)
    for h in hooks:
        h.remove()
    s1, s2 = spikes["s1"] / 3, spikes["s2"] / 3  # per sample
    assert 0 < s1 < 18
    e = r.energy("fp32", level=3)
    fc1, fc2 = e.layers.set_index("layer").loc["fc1"], e.layers.set_index("layer").loc["fc2"]
    assert (fc1.weight_reads, fc1.input_reads, fc1.output_writes, fc1.addressing_acc) == (24, 24, 6, 24)
    assert (fc2.weight_reads, fc2.potential_reads, fc2.potential_writes) == pytest.approx((2 * s1,) * 3)
    assert (fc2.input_reads, fc2.bias_reads, fc2.addressing_acc) == pytest.approx((s1, 4, 2 * s1))
    n = e.neurons.set_index("layer")
    assert list(n.potential_reads) == [6, 4] and list(n.output_writes) == pytest.approx([s1, s2])
    snn = (24 * 4.6 + 54 * W32 + 24 * 0.9                              # fc1: MACs, memory, addressing
           + 2 * s1 * 0.9 + (6 * s1 + 4) * W32 + s1 * W1 + 2 * s1 * 0.9  # fc2: ACs, memory (+ bias), addressing
           + 6 * 5.5 + s1 * 0.9 + 12 * W32 + s1 * W1                     # lif1: updates, resets, memory
           + 4 * 5.5 + s2 * 0.9 + 8 * W32 + s2 * W1)                     # lif2
    assert e.totals["snn_mJ"] == pytest.approx(snn * 1e-9)
    ann = 12 * 4.6 + 27 * W32 + 12 * 0.9 + 6 * 4.6 + (14 + 2) * W32 + 6 * 0.9 + 5 * 0.9
    assert e.totals["ann_mJ"] == pytest.approx(ann * 1e-9)
