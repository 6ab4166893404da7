"""Paper conventions on a small model, each against a figure computed by hand from the model's own tensors
(captured with forward hooks, counted with F.unfold and explicit products: independent of the profiler)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnenergy import profile
from snnenergy.energy.conventions import CONVENTIONS, apply_convention, convention_table, sites_from_report
from snnenergy.neurons import IF, LIF

T, B = 2, 3


class Tiny(nn.Module):
    """Encoder conv on the image, a LIF, a spiking 3x3 conv with bias, K V^T and (K V^T) Q products of
    spike tensors, a real-valued linear head on the time/token mean."""

    def __init__(self):
        super().__init__()
        self.time_steps = T
        self.enc = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.lif1 = LIF()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=True)
        self.q_lif, self.k_lif, self.v_lif = LIF(), LIF(), LIF(v_threshold=0.5)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        b = x.shape[0]
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        s = self.lif1(self.enc(x.flatten(0, 1)).reshape(T, b, 4, 4, 4) * 3)
        y = self.conv(s.flatten(0, 1)).reshape(T, b, 4, 16)
        q, k, v = self.q_lif(6 * y + 0.8), self.k_lif(0.8 - 6 * y), self.v_lif(3 * y + 0.6)
        kv = k @ v.transpose(-2, -1)  # [T, b, 4, 4]: integer counts of coincidences
        out = kv @ q  # [T, b, 4, 16]
        return self.head(out.mean((0, 3)))


@pytest.fixture(scope="module")
def run():
    torch.manual_seed(3)
    model = Tiny().double()
    x = torch.randn(B, 1, 4, 4, dtype=torch.float64)
    seen = {}
    hooks = [getattr(model, n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, (i[0], o)))
             for n in ("enc", "lif1", "conv", "q_lif", "k_lif", "v_lif", "head")]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    from snnenergy.neurons import reset_net
    reset_net(model)
    report = profile(model, x)
    return model, x, seen, report


def _hand(seen):
    """Every quantity the conventions need, per sample, from the captured tensors."""
    img = seen["enc"][0]  # [T*B, 1, 4, 4]
    s = seen["lif1"][1]  # [T, B, 4, 4, 4]
    q, k, v = (seen[n][1] for n in ("q_lif", "k_lif", "v_lif"))
    head_in = seen["head"][0]
    ones = torch.ones_like(img)
    # valid (padding-exact) taps per output channel: unfold of the nonzero indicator
    enc_valid = F.unfold((img != 0).double(), 3, padding=1).sum().item() * 4 / B
    conv_eff = F.unfold((s.flatten(0, 1) != 0).double(), 3, padding=1).sum().item() * 4 / B
    conv_valid = F.unfold(torch.ones_like(s.flatten(0, 1)), 3, padding=1).sum().item() * 4 / B
    kv = k @ v.transpose(-2, -1)
    h = {
        "enc_dense": T * 4 * 9 * 16, "enc_valid": enc_valid,
        "enc_all_valid": F.unfold(ones, 3, padding=1).sum().item() * 4 / B,
        "conv_dense": T * 4 * 4 * 9 * 16, "conv_bias": T * 4 * 16, "conv_eff": conv_eff, "conv_valid": conv_valid,
        "r_s": s.mean().item(), "r_q": q.mean().item(), "r_k": k.mean().item(), "r_v": v.mean().item(),
        "prod_dense": T * 4 * 16 * 4,  # each product: 4 x 16 x 4 per step
        # K V^T of binaries: the coincidences; (K V^T) Q: nonzero kv[i, c] times nonzero q[c, n]
        "kv_eff": kv.sum().item() / B,
        "kvq_eff": sum(((kv[t, b] != 0).double() @ (q[t, b] != 0).double()).sum().item()
                       for t in range(T) for b in range(B)) / B,
        "head_dense": 4 * 3, "head_bias": 3, "head_eff": (head_in != 0).sum().item() * 3 / B,
        "head_nz": (head_in != 0).double().mean().item(),
    }
    for r in ("r_s", "r_q", "r_k", "r_v"):
        assert 0.02 < h[r] < 0.98, f"{r} = {h[r]}: the test needs partly firing neurons"
    assert (kv > 1).any(), "the test needs an integer operand"
    return h


def _mj(mac, ac):
    return (4.6 * mac + 0.9 * ac) * 1e-9


def test_snnenergy_is_the_exact_count_and_report_energy(run):
    _, _, seen, report = run
    h = _hand(seen)
    res = apply_convention(report, "snnenergy")
    mac = h["enc_valid"] + h["head_eff"]
    ac = h["conv_eff"] + h["kv_eff"] + h["kvq_eff"]
    assert res.mJ == pytest.approx(_mj(mac, ac), rel=1e-12)
    assert res.mJ == pytest.approx(report.energy().totals["snn_mJ"], rel=1e-12)


def test_spikingformer_script_rules(run):
    _, _, seen, report = run
    h = _hand(seen)
    res = apply_convention(report, "spikingformer")
    mac = h["enc_dense"] + h["head_dense"] + h["head_bias"]  # non-{0,1} inputs: dense + bias as MACs
    ac = ((h["conv_dense"] + h["conv_bias"]) * h["r_s"]  # (dense + bias) x mean input
          + h["prod_dense"] * min(h["r_k"], h["r_v"])  # K V^T gated by the sparser of K, V
          + h["prod_dense"] * h["r_q"])  # (K V^T) Q gated by Q
    assert res.mJ == pytest.approx(_mj(mac, ac), rel=1e-12)
    assert res.totals["mac_ops"] == pytest.approx(mac) and res.totals["ac_ops"] == pytest.approx(ac)
    assert any("own head count" in a for a in res.assumptions)  # a model outside the zoo: no hand-set heads


@pytest.mark.parametrize("name,enc_times", [("spikformer", T), ("sdt", 1), ("qkformer", 1)])
def test_rate_formulas(run, name, enc_times):
    _, _, seen, report = run
    h = _hand(seen)
    res = apply_convention(report, name)
    per_step_enc = h["enc_dense"] / T
    mac = per_step_enc * enc_times
    ac = (h["conv_dense"] * h["r_s"] + h["prod_dense"] * min(h["r_k"], h["r_v"]) + h["prod_dense"] * h["r_q"]
          + h["head_dense"] * h["head_nz"])  # the head's real input: fr = its nonzero fraction
    assert res.mJ == pytest.approx(_mj(mac, ac), rel=1e-12)


def test_neurobench_effective_weight_layers_only(run):
    _, _, seen, report = run
    h = _hand(seen)
    res = apply_convention(report, "neurobench")
    mac = h["enc_valid"] + h["head_eff"]  # real inputs: nonzero inputs x valid fan-out as MACs
    ac = h["conv_eff"]  # the products are invisible to NeuroBench
    assert res.mJ == pytest.approx(_mj(mac, ac), rel=1e-12)
    prod = res.terms[res.terms["op"] == "matmul"]
    assert len(prod) == 2 and (prod["mJ"] == 0).all()


def test_integer_rules_and_options(run):
    _, _, seen, report = run
    with pytest.raises(TypeError, match="no option"):
        apply_convention(report, "sdt", ssa_heads=3)
    with pytest.raises(ValueError, match="unknown energy convention 'excel'"):
        apply_convention(report, "excel")
    with pytest.raises(ValueError, match="integer must be one of"):
        apply_convention(report, "spikformer", integer="float")
    with pytest.raises(ValueError, match="integer_as"):
        apply_convention(report, "snnenergy", integer_as="spikes")


def test_integer_input_into_a_weight_layer():
    """A sum of two spike tensors (values 0..2) into a linear layer: each convention's integer rule."""

    class Sew(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_steps = 1
            self.a, self.b = IF(v_threshold=0.5), IF(v_threshold=0.2)  # no leak: spike iff x >= threshold
            self.fc = nn.Linear(8, 2, bias=False)

        def forward(self, x):
            return self.fc(self.a(x.unsqueeze(0)) + self.b(x.unsqueeze(0)))

    x = torch.tensor([[0.1, 0.3, 0.7, 0.9, 0.0, 0.6, 0.25, 1.0]], dtype=torch.float64)
    z = (x >= 0.5).double() + (x >= 0.2).double()  # the integer input, by hand: [0,1,2,2,0,2,1,2]
    report = profile(Sew().double(), x)
    nnz, total, dense = (z != 0).sum().item(), z.sum().item(), 8 * 2
    assert apply_convention(report, "spikingformer").totals["mac_ops"] == dense  # non-binary -> dense MACs
    assert apply_convention(report, "snnenergy").totals["mac_ops"] == nnz * 2  # MAC per nonzero term
    assert apply_convention(report, "snnenergy", integer_as="ac").totals["ac_ops"] == nnz * 2
    nb = apply_convention(report, "neurobench")
    assert nb.totals["mac_ops"] == nnz * 2 and nb.totals["ac_ops"] == 0
    assert apply_convention(report, "spikformer", integer="nonzero").totals["ac_ops"] == pytest.approx(dense * nnz / 8)
    if "value_weighted_ops" in report.layers.columns:  # an n-valued input counts as n spikes
        assert apply_convention(report, "sdt").totals["ac_ops"] == pytest.approx(dense * total / 8)
    assert apply_convention(report, "sdt", integer="mac").totals["mac_ops"] == dense


def test_table_shows_every_convention_and_each_prints_its_assumptions(run):
    _, _, _, report = run
    table = convention_table(report)
    assert list(table["convention"]) == list(CONVENTIONS)
    for name in CONVENTIONS:
        res = apply_convention(report, name)
        assert table.set_index("convention").loc[name, "mJ"] == pytest.approx(res.mJ)
        text = str(res)
        assert text.startswith(f"{name}: ") and len(res.assumptions) >= 3
        assert all(a in text for a in res.assumptions)
    assert table.set_index("convention").loc["snnenergy", "vs_snnenergy"] == 1.0


def test_site_table_from_report(run):
    _, _, seen, report = run
    s = sites_from_report(report).frame.set_index(["layer", "op", "index"])
    assert bool(s.loc[("enc", "conv2d", 0), "first"]) and not bool(s.loc[("conv", "conv2d", 0), "first"])
    prod = s.xs("matmul", level="op")
    # operand B's rate comes from the neuron that made it: V for K V^T, Q for (K V^T) Q
    assert prod.loc[("", 0), "rate_b"] == pytest.approx(seen["v_lif"][1].mean().item())
    assert prod.loc[("", 1), "rate_b"] == pytest.approx(seen["q_lif"][1].mean().item())
    kv = seen["k_lif"][1] @ seen["v_lif"][1].transpose(-2, -1)
    assert prod.loc[("", 1), "kind_a"] == "integer"
    assert prod.loc[("", 1), "rate_a"] == pytest.approx((kv != 0).double().mean().item())
    assert np.isfinite(s["dense"]).all()


def test_published_sop_total_reproduces_spikingformer_8_384():
    """Spikingformer-8-384: 4.69 mJ = 0.9 pJ x 3.88 G SOPs + 4.6 pJ x (first conv 260,112,384 + head 385,000 MACs),
    the script's MAC layers of the model's structure (reference values from the paper and the log formula)."""
    from snnenergy.energy.conventions.published import published_table

    row = published_table(["spikingformer-8-384"]).set_index("quantity").loc["energy_mJ"]
    assert row.published_mJ == 4.69 and row.status == "reproduced"
    assert row.replayed_mJ == pytest.approx((0.9 * 3.88e9 + 4.6 * (260_112_384 + 385_000)) * 1e-9, rel=1e-12)


def test_neurobench_dense_is_padding_exact_on_a_live_profile():
    """NeuroBench's Dense on a profile excludes padding taps: a 3x3 conv, padding 1, on a 4x4 map has
    (2+3+3+2)² = 100 in-bounds (output, tap) pairs per channel pair: 100 x 2 x 3 = 600 (nominal: 864)."""
    import snnenergy
    from torch import nn

    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
    r = snnenergy.profile(conv, (torch.rand(1, 2, 4, 4) > 0.5).float())
    assert r.layers["dense_ops"].iloc[0] == 864
    assert r.energy(convention="neurobench").totals["dense_ops"] == 600
