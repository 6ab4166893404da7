"""Sessions that record only their own forward, composites seen through whatever their override check's
spelling, tables built out of sight of enclosing modes, the batch-outer warning at B = T, and the
``full_rate_ops`` column. Every expected figure is computed independently of the profiler (by hand, with a
forward hook on a plain run, or by brute force over an all-ones input with ``F.unfold``)."""
from __future__ import annotations

import math
import threading
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
import bruteforce as bf
from profiler_testing import NameRecorder

import snnenergy
from snnenergy import profile
from snnenergy.neurons import LIF

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def _spikes(shape, p=0.5, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


# ------------------------------------------------------------------ item 1: batch_dim reaches the session
def test_session_gets_the_batch_dim(monkeypatch):
    from snnenergy.profiler import api as papi

    seen = []
    original = papi.ProfileSession.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self.batch_dim)

    monkeypatch.setattr(papi.ProfileSession, "__init__", spy)
    profile(nn.Sequential(nn.Linear(3, 2), LIF()), torch.ones(2, 5, 3), time_steps=2, batch_dim=1)
    assert seen == [1]


def test_no_batch_outer_warning_on_time_outer_code_with_b_equal_t():
    # the zoo's residual CNN repeats its [B, C, H, W] input over T = 4 steps, time outer: with B = 4 its
    # [T·B] rows have the shape a batch-outer fold of a [B, T, ...] tensor would have, but nothing is folded
    model = snnenergy.create_model("snn-cnn-residual")
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profile(model, torch.randn(4, 3, 32, 32), batch_dim=0)
    assert [str(w.message) for w in caught if "batch-outer" in str(w.message)] == []


class BatchOuter(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4, bias=False)
        self.lif = LIF()

    def forward(self, x):  # x [B, T, C], folded batch-outer
        B, T, _ = x.shape
        return self.lif(self.fc(x.flatten(0, 1)).reshape(B, T, 4).transpose(0, 1))


def test_batch_outer_fold_of_the_input_still_warns_at_b_equal_t():
    x = _spikes((4, 4, 3), seed=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profile(BatchOuter(), x, time_steps=4, batch_dim=0)
    assert any("fc:linear" in str(w.message) and "batch-outer" in str(w.message) for w in caught)


# ------------------------------------------------------------------ item 2: only the active session records
class Gate(nn.Module):
    """In the profiling thread, lets another thread run the whole model before going on."""

    def __init__(self):
        super().__init__()
        self.profiling_thread = None
        self.reached = threading.Event()
        self.done = threading.Event()

    def forward(self, x):
        if threading.get_ident() == self.profiling_thread:
            self.reached.set()
            assert self.done.wait(30)
        return x


def _gated_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), LIF(), Gate(), nn.Linear(8, 5), LIF())


def test_another_thread_running_the_model_does_not_change_the_profile():
    x = _spikes((3, 2, 6), seed=1)  # [T, B, C]
    other = torch.ones(3, 7, 6)  # a plain run elsewhere, another batch size and inputs
    model = _gated_model()
    # independent figures: spikes per neuron layer seen by hooks on a plain run of the same model
    fired = {}
    hooks = [model[i].register_forward_hook(lambda m, a, out, i=i: fired.__setitem__(i, float(out.sum())))
             for i in (1, 4)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    for i in (1, 4):
        model[i].reset()

    def plain_run():
        assert model[2].reached.wait(30)
        with torch.no_grad():
            model(other)
        model[2].done.set()

    model[2].profiling_thread = threading.get_ident()
    runner = threading.Thread(target=plain_run)
    runner.start()
    r = profile(model, x, time_steps=3, batch_dim=1)
    runner.join(30)
    neurons = r.neurons.set_index("layer")
    assert neurons.loc["1", "spikes"] == fired[1] / 2 and neurons.loc["4", "spikes"] == fired[4] / 2
    assert list(neurons.calls) == [1.0, 1.0]
    layers = r.layers.set_index("layer")
    # dense MACs per sample: 3 steps x 6 x 8 and 3 x 8 x 5, from this profile's own batch only
    assert layers.loc["0", "dense_ops"] == 3 * 6 * 8 and layers.loc["3", "dense_ops"] == 3 * 8 * 5
    assert list(layers.calls) == [1.0, 1.0]
    assert all("forward" not in m.__dict__ for m in model.modules())


class ProfilesItsChild(nn.Module):
    """A forward that profiles its submodule (one more pass of it) before running it."""

    def __init__(self, keep):
        super().__init__()
        self.child = nn.Sequential(nn.Linear(4, 6), LIF())
        self.keep = keep  # a callable: the outer profile restores the model's attributes and containers

    def forward(self, x):
        self.keep(profile(self.child, x, time_steps=2, batch_dim=1))
        return self.child(x)


def test_outer_profile_records_the_inner_profiles_neuron_calls_like_its_synaptic_ops():
    """A profile nested in the forward is work the outer forward did: the outer report has the child's layer
    and its neuron twice (the nested pass and the forward's own), the nested report once."""
    torch.manual_seed(0)
    inner = []
    model = ProfilesItsChild(inner.append)
    x = _spikes((2, 3, 4), seed=2)
    seen = []
    hook = model.child[1].register_forward_hook(lambda m, a, out: seen.append(float(out.sum())))
    with torch.no_grad():
        model.child(x)
    hook.remove()
    model.child[1].reset()
    r = profile(model, x, time_steps=2, batch_dim=1)
    row = r.neurons.set_index("layer").loc["child.1"]
    assert row.calls == 2.0  # the nested profile's pass and the forward's own, each from a reset state
    assert row.spikes == 2 * seen[0] / 3
    assert r.layers.set_index("layer").loc["child.0", "calls"] == 2.0
    assert inner[0].neurons.iloc[0].calls == 1.0 and inner[0].neurons.iloc[0].spikes == seen[0] / 3


# ------------------------------------------------------------------ item 3: lazy modules initialise in a forward
def test_lazy_linear_is_profiled_and_left_uninitialised():
    model = nn.Sequential(nn.LazyLinear(3))
    r = profile(model, torch.ones(2, 4))
    row = r.layers.iloc[0]
    # 4 inputs x 3 outputs, every input nonzero; the initialisation (kaiming_uniform_) costs nothing
    assert (row.op, row.dense_ops, row.effective_ops, row.bias_ops) == ("linear", 12, 12, 3)
    assert r.unsupported.empty
    assert isinstance(model[0], nn.LazyLinear) and model[0].has_uninitialized_params()


def _scaled(x, w):
    """A composite that hands itself to modes, its check spelled as nn.init spells it."""
    if torch.overrides.has_torch_function_variadic(x, w):
        return torch.overrides.handle_torch_function(_scaled, (x, w), x, w)
    return F.linear(x, w) * 2


def test_composite_whose_override_check_is_spelled_as_a_module_attribute_is_seen_through():
    # its body runs under the mode: the linear inside is counted once, 3 rows x 4 x 5
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(5, 4))

        def forward(self, x):
            return _scaled(x, self.w)

    r = profile(M(), torch.ones(3, 4))
    assert list(r.layers.op) == ["linear"] and r.layers.iloc[0].dense_ops == 20


# ------------------------------------------------------------------ item 4: tables out of sight of enclosing modes
@pytest.mark.parametrize("rates_only", [False, True])
def test_building_tables_runs_no_op_an_enclosing_mode_sees(rates_only):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), LIF(), nn.Linear(6, 2), LIF())
    r = profile(model, torch.randn(3, 2, 4), time_steps=3, batch_dim=1, rates_only=rates_only)
    with NameRecorder() as rec:
        r.neurons, r.layers, r.per_step, r.other_ops, r.unsupported, r.provenance
    assert rec.names == []
    assert len(r.neurons) == 2 and r.neurons.dead.notna().all()


# ------------------------------------------------------------------ item 5: full_rate_ops
def _unfold_terms(shape, weight, stride, padding, dilation, groups) -> int:
    """Terms of conv2d on an all-ones input: the valid (non-padding) taps of every receptive field, from
    F.unfold of ones padded with zeros, times the output channels of a group."""
    ones = torch.ones(shape, dtype=torch.float64)
    k = tuple(weight.shape[2:])
    cols = F.unfold(ones, k, dilation=dilation, padding=padding, stride=stride)  # [B, C_in·k, L]
    return int(cols.sum()) * (weight.shape[0] // groups)


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 1, 1, 1), (2, 2, 1, 2), ((2, 1), (1, 3), (1, 2), 1), (1, 0, 2, 2)])
def test_full_rate_ops_of_conv2d_equal_an_all_ones_unfold_count(stride, padding, dilation, groups):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, (3, 2), stride=stride, padding=padding, dilation=dilation, groups=groups)
    x = _spikes((2, 4, 7, 9), p=0.3, seed=4)
    r = profile(nn.Sequential(conv), x)
    expected = _unfold_terms(x.shape, conv.weight, stride, padding, dilation, groups) / 2
    row = r.layers.iloc[0]
    assert row.full_rate_ops == expected
    assert row.effective_ops < expected < row.dense_ops or padding == 0


def test_full_rate_ops_of_same_padding_and_transposed_convs():
    torch.manual_seed(0)
    same = nn.Conv1d(2, 3, 4, padding="same", dilation=2, bias=False)
    up = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, bias=False)
    x1 = _spikes((2, 2, 9), seed=5)
    r = profile(nn.Sequential(same), x1)
    ones = torch.ones(x1.shape)
    # all-ones brute force: with every input nonzero the effective count is the full-rate count
    assert r.layers.iloc[0].full_rate_ops == bf.conv_counts(ones, same.weight, 1, "same", 2).effective / 2
    x2 = _spikes((2, 3, 5, 4), seed=6)
    r = profile(nn.Sequential(up), x2)
    expected = bf.conv_transpose_counts(torch.ones(x2.shape), up.weight, 2, 1).effective / 2
    assert r.layers.iloc[0].full_rate_ops == expected < r.layers.iloc[0].dense_ops


def test_full_rate_ops_of_products_equal_dense_and_masked_attention_excludes_masked_pairs():
    torch.manual_seed(0)
    lin = nn.Linear(5, 3)
    r = profile(nn.Sequential(lin), _spikes((4, 2, 5), seed=7))
    assert r.layers.iloc[0].full_rate_ops == r.layers.iloc[0].dense_ops == 2 * 5 * 3

    class Attn(nn.Module):
        def forward(self, x):  # x [B, 4 tokens, 6]
            return F.scaled_dot_product_attention(x, x, x, is_causal=True) * x

    r = profile(Attn(), _spikes((2, 4, 6), seed=8))
    rows = r.layers.set_index("op")
    # Q·Kᵀ: every score, 4·4·6; P·V: the 1+2+3+4 = 10 causal pairs times 6 values; the mask product: 24
    assert rows.loc["sdpa.qk", "full_rate_ops"] == 96
    assert rows.loc["sdpa.av", "full_rate_ops"] == 60 < rows.loc["sdpa.av", "dense_ops"]
    assert rows.loc["mul", "full_rate_ops"] == 24


def test_full_rate_ops_sum_over_steps_and_calls():
    # a [T, B] conv input: T = 3 steps of 1 sample, 3x3 padded conv on a 4x4 map, 2 -> 2 channels:
    # (2+3+3+2)² = 100 valid taps per channel pair, x 2 x 2 channels x 3 steps
    conv = nn.Conv2d(2, 2, 3, padding=1, bias=False)

    class Steps(nn.Module):
        def forward(self, x):
            return conv(x.flatten(0, 1))

    r = profile(Steps(), _spikes((3, 1, 2, 4, 4), seed=9), time_steps=3, batch_dim=1)
    assert r.layers.iloc[0].full_rate_ops == 3 * 400 == math.prod((3, 2, 2, 100))
