"""Our neurons on their own: hand-worked cases, dtype/device, step modes, state, PSN semantics, reset_net."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from snnenergy.neurons import (
    IF,
    LIF,
    PSN,
    ATan,
    BaseNeuron,
    MaskedPSN,
    ParametricLIF,
    Sigmoid,
    SlidingPSN,
    SpikingNeuron,
    masked_psn_lambda,
    reset_net,
    set_masked_psn_lambda,
)


def _seq(*values: float, dtype=torch.float64) -> torch.Tensor:
    """A one-neuron sequence ``[T, 1]``."""
    return torch.tensor(values, dtype=dtype).unsqueeze(1)


def _both_paths(neuron: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run the in-place (no gradient) and the autograd path from the initial state; check they agree."""
    neuron.reset()
    with torch.no_grad():
        fast = neuron(x)
    state = getattr(neuron, "v", None)
    neuron.reset()
    slow = neuron(x.clone().requires_grad_())
    assert slow.requires_grad and torch.equal(fast, slow.detach())
    if isinstance(state, torch.Tensor):
        assert torch.equal(state, neuron.v.detach())
    return fast


def _rand(T: int = 6, shape=(2, 3, 4), seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn((T, *shape), generator=g, dtype=torch.float64) * 1.2 + 0.5).to(dtype)


def _all_neurons(T: int = 6) -> list[nn.Module]:
    psn_bias = lambda m: (nn.init.constant_(m.bias, -0.2), m)[1]  # noqa: E731  (so random inputs fire)
    return [
        LIF(),
        LIF(tau=3.0, decay_input=False, v_reset=None, detach_reset=True),
        IF(v_threshold=0.7),
        ParametricLIF(init_tau=2.5, v_reset=-0.2),
        psn_bias(PSN(T)),
        psn_bias(MaskedPSN(2, T, lambda_init=0.4)),
        psn_bias(SlidingPSN(3)),
    ]


# ------------------------------------------------------------------------------------ worked by hand
@pytest.mark.parametrize(
    "kwargs,x,spikes,v_end",
    [
        # tau=2, decay_input: H = V + (X - V)/2; hard reset to 0
        (dict(), (1.5, 1.5, 0.4), (0, 1, 0), 0.2),  # H: 0.75, 1.125 -> fire, 0.2
        # soft reset: V = H - 1 after a spike
        (dict(v_reset=None), (1.5, 1.5, 0.4), (0, 1, 0), 0.2625),  # H: 0.75, 1.125 -> 0.125, 0.2625
        # decay_input=False: H = V - V/2 + X
        (dict(decay_input=False), (1.5, 1.5, 0.4), (1, 1, 0), 0.4),
        # H exactly at the threshold fires (H >= v_threshold)
        (dict(), (2.0, 0.0, 0.0), (1, 0, 0), 0.0),
        # v_reset = -0.5 (start and reset there): H = V + (X - (V + 0.5))/2 -> 0.25, 0.625, 1.0625 -> fire
        (dict(v_reset=-0.5), (1.5, 1.5, 2.0), (0, 0, 1), -0.5),
        # threshold 0.5, tau 4: H = V + (X - V)/4 -> 0.25, 0.4375, 0.578125 -> fire
        (dict(tau=4.0, v_threshold=0.5), (1.0, 1.0, 1.0), (0, 0, 1), 0.0),
    ],
)
def test_lif_three_steps_by_hand(kwargs, x, spikes, v_end):
    neuron = LIF(**kwargs)
    out = _both_paths(neuron, _seq(*x))
    assert out.squeeze(1).tolist() == list(spikes)
    assert neuron.v.item() == pytest.approx(v_end, abs=1e-15)


@pytest.mark.parametrize(
    "kwargs,spikes,v_end",
    [
        (dict(), (0, 1, 0), 0.6),  # H: 0.6, 1.2 -> fire, reset 0, 0.6
        (dict(v_reset=None), (0, 1, 0), 0.8),  # 0.6, 1.2 -> 0.2, 0.8
        (dict(v_threshold=0.6), (1, 1, 1), 0.0),  # 0.6 >= 0.6 every step
    ],
)
def test_if_three_steps_by_hand(kwargs, spikes, v_end):
    neuron = IF(**kwargs)
    out = _both_paths(neuron, _seq(0.6, 0.6, 0.6))
    assert out.squeeze(1).tolist() == list(spikes)
    assert neuron.v.item() == pytest.approx(v_end, abs=1e-15)


def test_sliding_psn_by_hand():
    # k=2, exp_init: W = (1/2, 1), threshold 1 (bias -1): H = x[t-1]/2 + x[t]
    neuron = SlidingPSN(2)
    assert neuron.weight.tolist() == [0.5, 1.0] and neuron.bias.item() == -1.0
    out = _both_paths(neuron, _seq(1.0, 0.5, 0.2, dtype=torch.float32))  # H: 1.0 (at threshold), 1.0, 0.45
    assert out.squeeze(1).tolist() == [1.0, 1.0, 0.0]


def test_psn_and_masked_psn_by_hand():
    x = _seq(0.2, 0.9, 0.5)
    psn = PSN(3)
    with torch.no_grad():
        psn.weight.copy_(torch.ones(3, 3))  # H[t] = sum of all inputs = 1.6 -> every step fires
    assert _both_paths(psn.double(), x).squeeze(1).tolist() == [1.0, 1.0, 1.0]
    masked = MaskedPSN(1, 3, lambda_init=1.0).double()
    with torch.no_grad():
        masked.weight.copy_(torch.ones(3, 3))  # order 1, full mask: H[t] = x[t]
    assert masked.masked_weight().tolist() == torch.eye(3).tolist()
    masked.bias.data.fill_(-0.5)  # threshold 0.5: the last input sits exactly on it
    assert _both_paths(masked, x).squeeze(1).tolist() == [0.0, 1.0, 1.0]


# ---------------------------------------------------------------------- PLIF, surrogates, parameters
def test_parametric_lif_parameter_and_equivalence_to_lif():
    plif = ParametricLIF(init_tau=2.0)
    assert plif.w.shape == () and plif.w.item() == 0.0 and plif.tau.item() == 2.0
    assert [n for n, _ in plif.named_parameters()] == ["w"]
    assert ParametricLIF(init_tau=4.0).tau.item() == pytest.approx(4.0)
    x = _rand()
    with torch.no_grad():  # sigmoid(0) = 1/2 exactly, so PLIF(2) is LIF(2) to the bit
        assert torch.equal(plif(x), LIF(tau=2.0)(x))


def test_plif_learns_tau():
    plif = ParametricLIF()
    x = _rand().requires_grad_()
    plif(x).sum().backward()
    assert plif.w.grad is not None and plif.w.grad.item() != 0.0 and x.grad.abs().sum() > 0


@pytest.mark.parametrize("surrogate,expected_slope_at_0", [(Sigmoid(4.0), 1.0), (ATan(2.0), 1.0), (ATan(3.0), 1.5)])
def test_surrogate_forward_and_gradient(surrogate, expected_slope_at_0):
    x = torch.tensor([-0.5, 0.0, 0.5], dtype=torch.float64, requires_grad=True)
    y = surrogate(x)
    assert y.tolist() == [0.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad[1].item() == pytest.approx(expected_slope_at_0)
    a = surrogate.alpha
    if isinstance(surrogate, Sigmoid):
        s = torch.sigmoid(torch.tensor(a * 0.5, dtype=torch.float64))
        expected = (a * s * (1 - s)).item()
    else:
        expected = a / 2 / (1 + (math.pi / 2 * a * 0.5) ** 2)
    assert x.grad[0].item() == pytest.approx(expected) and x.grad[2].item() == pytest.approx(expected)


def test_psn_parameter_shapes_and_names():
    assert {n: tuple(p.shape) for n, p in PSN(4).named_parameters()} == {"weight": (4, 4), "bias": (4, 1)}
    masked = MaskedPSN(2, 5)
    assert {n: tuple(t.shape) for n, t in masked.state_dict().items()} == {
        "weight": (5, 5), "bias": (5, 1), "_lambda_": (), "mask0": (5, 5), "mask1": (5, 5)
    }
    assert sum(p.numel() for p in masked.parameters()) == 5 * 5 + 5
    sliding = SlidingPSN(3, exp_init=False)
    assert {n: tuple(p.shape) for n, p in sliding.named_parameters()} == {"weight": (3,), "bias": ()}
    assert PSN(4).bias.unique().tolist() == [-1.0]


# ---------------------------------------------------------------------------- masked PSN and its λ
def test_masked_psn_mask_and_lambda_blend():
    m = MaskedPSN(2, 4, lambda_init=0.0)
    band = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=torch.float32)
    assert torch.equal(m.mask0, band)
    assert torch.equal(m.masked_weight(), m.weight)  # λ = 0: no mask yet
    m.lambda_ = 0.25
    assert m.lambda_.item() == 0.25
    torch.testing.assert_close(m.masked_weight(), m.weight * (0.25 * band + 0.75))
    for lam in (1.0, 3.0):  # λ >= 1: the band mask exactly
        m.lambda_ = lam
        assert torch.equal(m.masked_weight(), m.weight * band)


def test_masked_psn_is_causal_within_its_window_once_lambda_is_one():
    T_, k = 6, 2
    m = MaskedPSN(k, T_, lambda_init=1.0).double()
    nn.init.constant_(m.bias, -0.1)
    x = _rand(T_)
    y = x.clone()
    y[4:] += 5.0  # change only steps 4 and 5
    y[0] -= 5.0  # and step 0, outside the window of steps >= 2
    with torch.no_grad():
        sx, sy = m(x), m(y)
    assert torch.equal(sx[2:4], sy[2:4])
    assert not torch.equal(sx, sy)


def test_masked_psn_lambda_schedule_of_the_paper():
    epochs = 256
    assert masked_psn_lambda(0, epochs) == 0.0
    assert masked_psn_lambda(16, epochs) == pytest.approx(8 * 16 / 255)
    assert masked_psn_lambda(31, epochs) < 1.0 and masked_psn_lambda(32, epochs) == 1.0
    assert masked_psn_lambda(255, epochs) == 1.0
    model = nn.Sequential(MaskedPSN(2, 4), nn.Linear(3, 3), nn.Sequential(MaskedPSN(3, 4)))
    assert set_masked_psn_lambda(model, masked_psn_lambda(16, epochs)) == 2
    assert model[0].lambda_.item() == pytest.approx(8 * 16 / 255)
    assert model[2][0].lambda_.item() == pytest.approx(8 * 16 / 255)
    assert "0._lambda_" in model.state_dict()  # λ is saved with the checkpoint, as in SpikingJelly


def test_masked_psn_single_step_rules():
    m = MaskedPSN(2, 3, step_mode="s")
    with pytest.raises(ValueError, match="lambda_"):
        m(torch.zeros(2))
    m.lambda_ = 1.0
    for _ in range(3):
        m(torch.zeros(2))
    with pytest.raises(OverflowError):
        m(torch.zeros(2))
    m.reset()
    m(torch.zeros(2))


# ----------------------------------------------------------------------- step modes, state, dtypes
def _as_single_step(neuron: nn.Module) -> nn.Module:
    single = copy.deepcopy(neuron)
    single.step_mode = "s"
    if isinstance(single, MaskedPSN):
        single.lambda_ = 1.0
    return single


@pytest.mark.parametrize("index", [0, 1, 2, 3, 5, 6])  # PSN itself is multi-step only
def test_single_step_equals_multi_step(index):
    multi = _all_neurons()[index].double()
    if isinstance(multi, MaskedPSN):
        multi.lambda_ = 1.0
    single = _as_single_step(multi)
    x = _rand()
    with torch.no_grad():
        expected = multi(x)
        got = torch.stack([single(x[t]) for t in range(x.shape[0])])
    assert 0 < expected.mean() < 1
    assert torch.equal(got, expected)
    if isinstance(multi, BaseNeuron):
        assert torch.equal(single.v, multi.v)


@pytest.mark.parametrize("index", range(7))
def test_reset_restores_the_initial_state(index):
    neuron = _all_neurons()[index].double()
    x1, x2 = _rand(seed=1), _rand(seed=2)
    with torch.no_grad():
        first = neuron(x1)
        neuron(x2)
        neuron.reset()
        if isinstance(neuron, BaseNeuron):
            assert neuron.v == neuron._v_init()
        again = neuron(x1)
    assert torch.equal(first, again)


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_state_carries_over_between_calls_until_reset(index):
    neuron = _all_neurons()[index].double()
    x = _rand(T=8)
    with torch.no_grad():
        whole = neuron(x)
        neuron.reset()
        parts = torch.cat([neuron(x[:3]), neuron(x[3:])])
        neuron.reset()
        fresh_second_half = neuron(x[3:])
    assert torch.equal(whole, parts)
    assert not torch.equal(whole[3:], fresh_second_half)


def test_membrane_starts_from_rest_when_the_input_shape_changes():
    neuron = LIF(v_reset=-0.2)
    with torch.no_grad():
        neuron(torch.ones(2, 4, 3))
        a = neuron(torch.full((2, 5, 3), 0.7))
        neuron.reset()
        b = neuron(torch.full((2, 5, 3), 0.7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("index", range(7))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_end_to_end(index, dtype):
    neuron = _all_neurons()[index].to(dtype)
    x = _rand(dtype=dtype).requires_grad_()
    out = neuron(x)
    assert out.dtype == dtype and out.shape == x.shape
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    if isinstance(neuron, BaseNeuron):
        assert neuron.v.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype
    for p in neuron.parameters():
        assert p.grad is not None and p.grad.dtype == dtype


def test_state_follows_the_input_dtype():
    neuron = LIF()
    with torch.no_grad():
        neuron(_rand(dtype=torch.float32))
        out = neuron(_rand(dtype=torch.float64))  # no reset: the float32 membrane is carried over as float64
    assert out.dtype == torch.float64 and neuron.v.dtype == torch.float64


@pytest.mark.parametrize("index", range(7))
def test_in_place_and_autograd_paths_agree_to_the_bit(index):
    """Without a gradient the neurons use a lean in-place loop; it must give the autograd path's values."""
    neuron = _all_neurons()[index].double()
    x = _rand(T=6, seed=3)
    with torch.no_grad():
        fast = neuron(x)
    v_fast = getattr(neuron, "v", None)
    neuron.reset()
    slow = neuron(x.clone().requires_grad_())
    assert slow.requires_grad
    assert torch.equal(fast, slow.detach())
    if isinstance(neuron, BaseNeuron):
        assert torch.equal(v_fast, neuron.v.detach())


def test_detach_reset_changes_only_the_gradient():
    x = _rand(seed=4)
    outs, grads = [], []
    for detach in (False, True):
        xi = x.clone().requires_grad_()
        out = LIF(detach_reset=detach)(xi)
        out.sum().backward()
        outs.append(out.detach())
        grads.append(xi.grad)
    assert torch.equal(outs[0], outs[1])
    assert not torch.allclose(grads[0], grads[1])


def test_input_is_never_modified():
    for neuron in _all_neurons():
        x = _rand()
        before = x.clone()
        with torch.no_grad():
            neuron(x)
        assert torch.equal(x, before), type(neuron).__name__


# --------------------------------------------------------------------------------- errors and repr
def test_invalid_arguments_raise():
    with pytest.raises(ValueError):
        LIF(tau=1.0)
    with pytest.raises(ValueError):
        ParametricLIF(init_tau=0.5)
    with pytest.raises(ValueError):
        IF(step_mode="x")
    with pytest.raises(ValueError, match="T=4"):
        PSN(4)(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="expects"):
        LIF()(torch.zeros(3))
    with pytest.raises(ValueError):
        SlidingPSN(0)


def test_extra_repr_names_the_settings():
    assert "tau=3.0" in repr(LIF(tau=3.0)) and "v_reset=None" in repr(LIF(v_reset=None))
    assert "tau=2" in repr(ParametricLIF())
    assert "T=4" in repr(PSN(4))
    assert "k=2" in repr(MaskedPSN(2, 4)) and "lambda_=0.5" in repr(MaskedPSN(2, 4, lambda_init=0.5))
    assert "k=3" in repr(SlidingPSN(3))


# --------------------------------------------------------------------- base class, flags, reset_net
def test_every_neuron_is_a_spiking_neuron_with_flags():
    for neuron in _all_neurons():
        assert isinstance(neuron, SpikingNeuron)
    assert LIF.has_leak and ParametricLIF.has_leak and not IF.has_leak
    for cls in (PSN, MaskedPSN, SlidingPSN):
        assert not cls.has_leak and not cls.has_reset
    assert issubclass(BaseNeuron, SpikingNeuron)


@pytest.mark.parametrize(
    "factory",
    [
        LIF,
        IF,
        ParametricLIF,
        lambda: PSN(4),
        lambda: MaskedPSN(2, 4),
        lambda: SlidingPSN(2),
    ],
)
def test_is_spiking_neuron_recognises_every_neuron(factory):
    from snnenergy.models.ann import is_spiking_neuron

    assert is_spiking_neuron(factory())


def test_reset_net_resets_every_one_of_our_neurons():
    model = nn.Sequential(LIF(), nn.Linear(4, 4), nn.Sequential(IF(), ParametricLIF()), SlidingPSN(2, step_mode="s"))
    with torch.no_grad():
        model[0](torch.ones(2, 1, 4))
        model[2](torch.ones(2, 1, 4))
        model[3](torch.ones(1, 4))
    assert reset_net(model) == 4
    assert model[0].v == 0.0 and model[2][0].v == 0.0 and model[2][1].v == 0.0
    assert model[3]._queue == []


def test_deepcopy_and_state_dict_round_trip():
    for neuron in _all_neurons():
        clone = copy.deepcopy(neuron)
        clone.load_state_dict(neuron.state_dict())
        x = _rand(dtype=torch.float32)
        with torch.no_grad():
            assert torch.equal(clone(x), neuron(x))


# ---------------------------------------------------------------------------------------------- CUDA
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
@pytest.mark.parametrize("index", range(7))
def test_cuda_matches_cpu_without_host_syncs(index):
    neuron = _all_neurons()[index].double()
    x = _rand(T=6)
    with torch.no_grad():
        expected = neuron(x)
    neuron.reset()
    neuron.cuda()
    xc = x.cuda()
    with torch.no_grad():
        neuron(xc)  # warm-up (allocator, lazy init)
    neuron.reset()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.no_grad():
            got = neuron(xc)
        neuron.reset()
        xg = xc.clone().requires_grad_()
        out = neuron(xg)
        out.sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.equal(got.cpu(), expected)
    assert torch.equal(out.detach().cpu(), expected)
