"""Properties of the counts (hypothesis), checked against independent computations."""
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snnenergy import profile
from snnenergy.neurons import LIF


def _boundary_exact(c_in, c_out, k, stride, padding, dilation, groups, h, w):
    """Taps that fall on real (not padded) inputs, counted by unfolding an all-ones image (independent of
    the profiler's fan-out maps)."""
    ones = torch.ones(1, c_in // groups, h, w)
    cols = F.unfold(ones, k, dilation=dilation, padding=padding, stride=stride)
    return int(cols.sum().item()) * c_out


conv_params = st.tuples(
    st.sampled_from([1, 2, 4]),  # groups
    st.integers(1, 3),  # c_in per group
    st.integers(1, 3),  # c_out per group
    st.sampled_from([1, 2, 3]),  # kernel
    st.sampled_from([1, 2]),  # stride
    st.integers(0, 2),  # padding
    st.sampled_from([1, 2]),  # dilation
    st.integers(4, 7),  # h
    st.integers(4, 7),  # w
)


@settings(max_examples=25, deadline=None)
@given(conv_params)
def test_all_ones_spikes_give_boundary_exact_acs_and_zeros_give_none(p):
    groups, cin_g, cout_g, k, stride, padding, dilation, h, w = p
    if (h + 2 * padding - dilation * (k - 1) - 1) < 0 or (w + 2 * padding - dilation * (k - 1) - 1) < 0:
        return
    c_in, c_out = cin_g * groups, cout_g * groups
    conv = nn.Conv2d(c_in, c_out, k, stride, padding, dilation, groups, bias=False)
    r1 = profile(conv, torch.ones(1, c_in, h, w), time_steps=1)
    row = r1.layers.iloc[0]
    assert row.ac == _boundary_exact(c_in, c_out, k, stride, padding, dilation, groups, h, w)
    out = conv(torch.zeros(1, c_in, h, w))
    assert row.dense_ops == out.shape[2] * out.shape[3] * c_out * cin_g * k * k
    r0 = profile(conv, torch.zeros(1, c_in, h, w), time_steps=1)
    assert r0.layers.iloc[0].ac == 0 and r0.layers.iloc[0].effective_ops == 0


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_linear_effective_equals_brute_force(rows, d, p, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(rows, d, generator=g) < p).float()
    lin = nn.Linear(d, 3)
    r = profile(lin, x.unsqueeze(0), time_steps=1)
    brute = int((x != 0).sum()) * 3
    assert r.layers.iloc[0].ac == brute


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.floats(0.1, 0.9), st.integers(0, 10_000))
def test_spike_product_effective_equals_pair_count(m, k, n, p, seed):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(2, m, k, generator=g) < p).float()
    b = (torch.rand(2, k, n, generator=g) < p).float()

    class M(nn.Module):
        def forward(self, x):
            return x @ b.clone()

    r = profile(M(), a.unsqueeze(0), time_steps=1)
    pairs = int(((a != 0).unsqueeze(-1) & (b != 0).unsqueeze(1)).sum())  # all (i, k, j) with both nonzero
    assert r.layers.iloc[0].ac == pairs
    assert pairs == int((a @ b).sum())  # binary x binary: the output's sum


class SmallSNN(nn.Module):
    def __init__(self, T=3):
        super().__init__()
        self.time_steps = T
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.lif1 = LIF()
        self.conv2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.lif2 = LIF()
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        T, B = x.shape[:2]
        s = self.lif1(self.conv1(x.flatten(0, 1)).reshape(T, B, 4, 8, 8) * 2)
        s = self.lif2(self.conv2(s.flatten(0, 1)).reshape(T, B, 4, 4, 4) * 2)
        return self.fc(s.flatten(2)).mean(0)


_COUNTS = ["dense_ops", "effective_ops", "ac", "integer_mac", "mac"]


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 1000), st.sampled_from([1, 2, 3, 6]))
def test_per_sample_counts_independent_of_batch_size(seed, batch_size):
    torch.manual_seed(seed)
    model = SmallSNN()
    x = torch.randn(6, 2, 8, 8)
    whole = profile(model, x)
    split = profile(model, x, batch_size=batch_size)
    for c in _COUNTS:
        assert whole.layers[c].tolist() == split.layers[c].tolist()
    assert whole.neurons.firing_rate.tolist() == split.neurons.firing_rate.tolist()
    assert split.meta["samples"] == 6


def test_profiling_the_same_batch_twice_equals_once():
    torch.manual_seed(0)
    model = SmallSNN()
    x = torch.randn(4, 2, 8, 8)
    once = profile(model, x)
    twice = profile(model, [x, x])
    for c in _COUNTS:
        assert once.layers[c].tolist() == twice.layers[c].tolist()
    assert once.neurons.firing_rate.tolist() == twice.neurons.firing_rate.tolist()
    assert once.neurons.dead.tolist() == twice.neurons.dead.tolist()
    rates = [c for c in once.neurons.columns if c.startswith("rate_t")]
    assert once.neurons[rates].values.tolist() == twice.neurons[rates].values.tolist()


def test_firing_rates_match_an_independent_hook():
    torch.manual_seed(1)
    model = SmallSNN()
    x = torch.randn(4, 2, 8, 8)
    outs = {}
    hooks = [getattr(model, n).register_forward_hook(lambda m, i, o, n=n: outs.setdefault(n, o.clone()))
             for n in ("lif1", "lif2")]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    from snnenergy.neurons import reset_net

    reset_net(model)
    r = profile(model, x)
    for n, o in outs.items():
        row = r.neurons[r.neurons.layer == n].iloc[0]
        assert row.firing_rate == float(o.double().mean())  # exact count / elements
        for t in range(3):
            assert row[f"rate_t{t}"] == float(o[t].double().mean())
        per_neuron = o.sum((0, 1))
        assert row.dead == float((per_neuron == 0).float().mean())
        assert row.saturated == float((per_neuron == o.shape[0] * o.shape[1]).float().mean())
    # the profiler's input rate of fc equals the spike rate of lif2
    fc = r.layers[r.layers.layer == "fc"].iloc[0]
    assert fc.input_rate == float(outs["lif2"].double().mean())
