"""Cases an outside check found (a brute force written without the profiler): a key-padding attention mask
that broadcasts over the queries, grouped-query attention, an activation as a linear's weight with a bias, a
product of two weights (spectral norm's W·u), and a synaptic op inside torch.func.vmap."""
import torch
import torch.nn.functional as F
from torch import nn

import snnenergy
from bruteforce import matmul_pairs, nz


class SDPA(nn.Module):
    def __init__(self, mask: torch.Tensor | None = None, gqa: bool = False) -> None:
        super().__init__()
        self.gqa = gqa
        self.register_buffer("mask", mask)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        if self.gqa:  # 4 query heads, 2 key/value heads
            return F.scaled_dot_product_attention(q, q[:, :2], q[:, 2:] + 1, enable_gqa=True)
        return F.scaled_dot_product_attention(q, q + 1, q + 2, attn_mask=self.mask)


def _sites(model, x):
    return snnenergy.profile(model, x).layers.set_index("op")


def test_a_key_padding_mask_counts_every_query():
    x = torch.rand(1, 1, 5, 4) + 0.1  # every value nonzero: P·V terms = queries x kept keys x width
    keep = torch.tensor([True, True, True, False, False])
    for mask in (keep.view(1, 1, 1, 5), keep.view(1, 5), keep.view(1, 1, 1, 5).expand(1, 1, 5, 5).clone()):
        av = _sites(SDPA(mask), x).loc["sdpa.av"]
        assert av.effective_ops == 5 * 3 * 4 and av.full_rate_ops == 5 * 3 * 4


def test_multihead_attention_with_a_key_padding_mask_counts_every_query():
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(8, 2, batch_first=True)

    class MHA(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = attn

        def forward(self, x):
            pad = torch.tensor([[False, False, False, True, True]] * x.shape[0])
            return self.attn(x, x, x, key_padding_mask=pad, need_weights=False)[0]

    x = torch.rand(2, 5, 8) + 0.1
    av = _sites(MHA(), x).loc["sdpa.av"]
    # per sample: 2 heads x 5 queries x 3 kept keys x head width 4, every projected value nonzero (a.s.)
    assert av.full_rate_ops == 2 * 5 * 3 * 4 and av.effective_ops == av.full_rate_ops


def test_grouped_query_attention_counts_each_key_head_for_its_query_heads():
    q = (torch.rand(2, 4, 3, 2, generator=torch.Generator().manual_seed(1)) < 0.6).float()
    sites = _sites(SDPA(gqa=True), q)
    k = q[:, :2].repeat_interleave(2, dim=1)  # what enable_gqa means: head h reads key head h // 2
    _, pairs = matmul_pairs(nz(q), nz(k.transpose(-2, -1)))
    assert sites.loc["sdpa.qk", "effective_ops"] == pairs / 2  # per sample
    assert sites.loc["sdpa.qk", "dense_ops"] == 4 * 3 * 2 * 3


def test_an_activation_as_the_weight_of_a_biased_linear():
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.b = nn.Parameter(torch.zeros(4))

        def forward(self, x):
            w = torch.relu(x.sum(0, keepdim=True)).expand(4, 6)  # computed from the input: an activation
            return F.linear(x, w, self.b)

    x = (torch.rand(2, 6, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    w = torch.relu(x.sum(0, keepdim=True)).expand(4, 6)
    site = _sites(M(), x).loc["linear"]
    _, pairs = matmul_pairs(nz(x), nz(w.T))
    assert site.effective_ops == pairs / 2 and site.bias_ops == 4  # 2 samples x 4 outputs, per sample
    assert site.other_operand != "weight"


def test_a_product_of_two_weights_is_a_weight_not_a_synaptic_site():
    class SpectralLinear(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.W = nn.Parameter(torch.randn(4, 6))
            self.register_buffer("u", torch.randn(6))

        def forward(self, x):
            return F.linear(x, self.W / torch.mv(self.W, self.u).norm())

    for B in (1, 2, 4):
        x = (torch.rand(B, 6, generator=torch.Generator().manual_seed(B)) < 0.5).float()
        layers = snnenergy.profile(SpectralLinear(), x).layers
        assert list(layers.op) == ["linear"]  # no mv row, whatever B
        row = layers.iloc[0]
        assert row.other_operand == "weight" and row.weight_params == 24 and row.mac == 0
        assert row.ac == nz(x).sum().item() * 4 / B


def test_an_op_inside_vmap_is_listed_as_not_counted():
    class V(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(6, 3)

        def forward(self, x):
            return torch.vmap(self.fc, in_dims=1, out_dims=1)(x)

    x = (torch.rand(2, 4, 6) < 0.5).float()
    model = V()
    before = model(x)
    r = snnenergy.profile(model, x)  # raised inside the profiler's own reductions before
    assert r.layers.empty
    assert r.unsupported.op.str.contains("inside a torch.func transform").any()
    assert torch.equal(model(x), before)
