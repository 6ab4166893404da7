"""Our neurons against SpikingJelly 2.0 (torch backend, multi-step) and snnTorch: identical spikes, matching
surrogate gradients, loadable state dicts, and ``reset_net`` on a mixed model."""
from __future__ import annotations

import itertools

import pytest
import torch

from snnenergy.neurons import (
    IF,
    LIF,
    PSN,
    ATan,
    MaskedPSN,
    ParametricLIF,
    Sigmoid,
    SlidingPSN,
    reset_net,
    set_masked_psn_lambda,
)

pytestmark = pytest.mark.interop

sj_neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
sj_surrogate = pytest.importorskip("spikingjelly.activation_based.surrogate")

T, SHAPE = 8, (3, 5, 4)  # [T, B, C, N]
EXACT = dict(rtol=1e-12, atol=1e-12)


def _inputs(seed: int, T: int = T, scale: float = 1.5, offset: float = 0.4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((T, *SHAPE), generator=g, dtype=torch.float64) * scale + offset


def _surrogates(name: str):
    """(ours, SpikingJelly's) surrogate pair with the same alpha."""
    if name == "sigmoid":
        return Sigmoid(4.0), sj_surrogate.Sigmoid(alpha=4.0)
    return ATan(2.0), sj_surrogate.ATan(alpha=2.0)


def _run_both(ours, theirs, x: torch.Tensor, grad: bool):
    """Forward both on clones of ``x``; with ``grad``, backprop the same random readout of spikes and final v."""
    xs = [x.clone().requires_grad_(grad) for _ in range(2)]
    outs = [ours(xs[0]), theirs(xs[1])]
    grads = None
    if grad:
        g = torch.Generator().manual_seed(99)
        w_spk = torch.randn(outs[0].shape, generator=g, dtype=x.dtype)
        w_v = torch.randn(outs[0].shape[1:], generator=g, dtype=x.dtype)
        for m, xi, out in zip((ours, theirs), xs, outs):
            v = getattr(m, "v", None)
            loss = (out * w_spk).sum() + ((v * w_v).sum() if isinstance(v, torch.Tensor) else 0.0)
            loss.backward()
        grads = [xi.grad for xi in xs]
    return outs, grads


def _assert_firing(spikes: torch.Tensor) -> None:
    rate = spikes.mean().item()
    assert 0.02 < rate < 0.98, f"test input does not exercise firing (rate {rate})"


# ----------------------------------------------------------------------------------------------- LIF / IF
LIF_SETTINGS = list(
    itertools.product(
        [True, False],  # decay_input
        [0.0, None, -0.3],  # v_reset (None: soft reset)
        [False, True],  # detach_reset
        [1.0, 0.5],  # v_threshold
        [2.0, 3.0],  # tau
    )
)


@pytest.mark.parametrize("decay_input,v_reset,detach_reset,v_threshold,tau", LIF_SETTINGS)
def test_lif_forward_identical_to_spikingjelly(decay_input, v_reset, detach_reset, v_threshold, tau):
    kw = dict(tau=tau, decay_input=decay_input, v_threshold=v_threshold, v_reset=v_reset, detach_reset=detach_reset)
    ours = LIF(**kw)
    theirs = sj_neuron.LIFNode(**kw, step_mode="m")
    for seed in (0, 1):  # two calls without reset: the state carries over
        x = _inputs(seed)
        with torch.no_grad():
            (s_ours, s_theirs), _ = _run_both(ours, theirs, x, grad=False)
        _assert_firing(s_ours)
        assert torch.equal(s_ours, s_theirs)
        assert torch.equal(ours.v, theirs.v)
    ours.reset(), theirs.reset()
    (s_ours, s_theirs), _ = _run_both(ours, theirs, _inputs(2), grad=False)
    assert torch.equal(s_ours, s_theirs)


@pytest.mark.parametrize("surrogate", ["sigmoid", "atan"])
@pytest.mark.parametrize("decay_input,v_reset,detach_reset,v_threshold,tau", LIF_SETTINGS[::3])
def test_lif_gradients_match_spikingjelly(surrogate, decay_input, v_reset, detach_reset, v_threshold, tau):
    kw = dict(tau=tau, decay_input=decay_input, v_threshold=v_threshold, v_reset=v_reset, detach_reset=detach_reset)
    s_ours, s_theirs = _surrogates(surrogate)
    ours = LIF(**kw, surrogate=s_ours)
    theirs = sj_neuron.LIFNode(**kw, surrogate_function=s_theirs, step_mode="m")
    (o, t), (g_ours, g_theirs) = _run_both(ours, theirs, _inputs(3), grad=True)
    assert torch.equal(o, t)
    assert g_ours.abs().sum() > 0
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "v_reset,detach_reset,v_threshold", list(itertools.product([0.0, None, 0.2], [False, True], [1.0, 0.7]))
)
def test_if_forward_and_gradients_match_spikingjelly(v_reset, detach_reset, v_threshold):
    kw = dict(v_threshold=v_threshold, v_reset=v_reset, detach_reset=detach_reset)
    ours, theirs = IF(**kw), sj_neuron.IFNode(**kw, step_mode="m")
    x = _inputs(4, scale=0.8, offset=0.1)
    with torch.no_grad():
        (o, t), _ = _run_both(ours, theirs, x, grad=False)
    _assert_firing(o)
    assert torch.equal(o, t) and torch.equal(ours.v, theirs.v)
    for surrogate in ("sigmoid", "atan"):
        s_ours, s_theirs = _surrogates(surrogate)
        ours = IF(**kw, surrogate=s_ours)
        theirs = sj_neuron.IFNode(**kw, surrogate_function=s_theirs, step_mode="m")
        (o, t), (g_ours, g_theirs) = _run_both(ours, theirs, x, grad=True)
        assert torch.equal(o, t)
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "init_tau,decay_input,v_reset,detach_reset",
    list(itertools.product([2.0, 3.5], [True, False], [0.0, None], [False, True])),
)
def test_parametric_lif_matches_spikingjelly(init_tau, decay_input, v_reset, detach_reset):
    kw = dict(init_tau=init_tau, decay_input=decay_input, v_reset=v_reset, detach_reset=detach_reset)
    ours = ParametricLIF(**kw).double()
    theirs = sj_neuron.ParametricLIFNode(**kw, step_mode="m").double()
    ours.load_state_dict(theirs.state_dict())  # same parameter name and shape: ``w``, 0-dim
    assert torch.equal(ours.w, theirs.w)
    x = _inputs(5)
    with torch.no_grad():
        (o, t), _ = _run_both(ours, theirs, x, grad=False)
    _assert_firing(o)
    assert torch.equal(o, t) and torch.equal(ours.v, theirs.v)
    ours.reset(), theirs.reset()
    with torch.no_grad():  # a trained (non-initial) w as well
        for m in (ours, theirs):
            m.w.fill_(0.37)
    ours.reset(), theirs.reset()
    (o, t), (g_ours, g_theirs) = _run_both(ours, theirs, x, grad=True)
    assert torch.equal(o, t)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-9, atol=1e-12)
    assert ours.w.grad is not None and ours.w.grad != 0
    torch.testing.assert_close(ours.w.grad, theirs.w.grad, rtol=1e-9, atol=1e-12)


def test_parametric_lif_float32_matches_spikingjelly():
    """float32 SJ goes through its own CPU kernel; the spikes still agree."""
    ours, theirs = ParametricLIF(), sj_neuron.ParametricLIFNode(step_mode="m")
    x = _inputs(6).float()
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    lif_ours, lif_theirs = LIF(), sj_neuron.LIFNode(step_mode="m")
    with torch.no_grad():
        assert torch.equal(lif_ours(x), lif_theirs(x))


# ------------------------------------------------------------------------------------------- PSN family
def _copy_into(ours, theirs) -> None:
    """Give SpikingJelly's neuron trained-like thresholds (so the random inputs fire), load its state dict
    strictly into ours (same names and shapes), then go float64."""
    with torch.no_grad():
        g = torch.Generator().manual_seed(11)
        theirs.bias.copy_(torch.rand(theirs.bias.shape, generator=g) * 0.5 - 0.45)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours.double(), theirs.double()


def _check_psn_grads(ours, theirs, x: torch.Tensor) -> None:
    (o, t), (g_ours, g_theirs) = _run_both(ours, theirs, x, grad=True)
    assert torch.equal(o, t)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-9, atol=1e-12)
    for name in ("weight", "bias"):
        p_ours, p_theirs = getattr(ours, name), getattr(theirs, name)
        assert p_ours.grad is not None and p_ours.grad.abs().sum() > 0, name
        torch.testing.assert_close(p_ours.grad, p_theirs.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("surrogate", ["atan", "sigmoid"])
@pytest.mark.parametrize("T_", [1, 4, 8])
def test_psn_matches_spikingjelly(T_, surrogate):
    s_ours, s_theirs = _surrogates(surrogate)
    torch.manual_seed(T_)
    theirs = sj_neuron.PSN(T=T_, surrogate_function=s_theirs)
    torch.manual_seed(T_)
    ours = PSN(T_, surrogate=s_ours)
    assert torch.equal(ours.weight, theirs.weight)  # same initialisation, same RNG draws
    _copy_into(ours, theirs)
    x = _inputs(7, T=T_, scale=1.0, offset=0.5)
    with torch.no_grad():
        (o, t), _ = _run_both(ours, theirs, x, grad=False)
    _assert_firing(o)
    assert torch.equal(o, t)
    _check_psn_grads(ours, theirs, x)


@pytest.mark.parametrize("lam", [0.0, 0.35, 1.0, 1.5])
@pytest.mark.parametrize("k,T_", [(1, 4), (2, 8), (3, 8), (8, 8)])
def test_masked_psn_matches_spikingjelly(k, T_, lam):
    torch.manual_seed(k)
    theirs = sj_neuron.MaskedPSN(k=k, T=T_, lambda_init=lam, step_mode="m")
    torch.manual_seed(k)
    ours = MaskedPSN(k, T_, lambda_init=lam)
    assert torch.equal(ours.weight, theirs.weight)
    assert torch.equal(ours.mask0, theirs.mask0)
    _copy_into(ours, theirs)  # weight, bias, _lambda_, mask0, mask1
    torch.testing.assert_close(ours.masked_weight(), theirs.masked_weight(), **EXACT)
    x = _inputs(8, T=T_, scale=1.0, offset=0.5)
    with torch.no_grad():
        (o, t), _ = _run_both(ours, theirs, x, grad=False)
    _assert_firing(o)
    assert torch.equal(o, t)
    _check_psn_grads(ours, theirs, x)


def test_masked_psn_lambda_setter_and_single_step_match_spikingjelly():
    k, T_ = 3, 6
    theirs = sj_neuron.MaskedPSN(k=k, T=T_, step_mode="s")
    ours = MaskedPSN(k, T_, step_mode="s")
    _copy_into(ours, theirs)
    model = torch.nn.ModuleList([ours, theirs])
    assert set_masked_psn_lambda(model, 1.0) == 2
    assert float(ours.lambda_) == 1.0 and float(theirs.lambda_) == 1.0
    x = _inputs(9, T=T_, scale=1.0, offset=0.5)
    with torch.no_grad():
        s_ours = torch.stack([ours(x[t]) for t in range(T_)])
        s_theirs = torch.stack([theirs(x[t]) for t in range(T_)])
    _assert_firing(s_ours)
    assert torch.equal(s_ours, s_theirs)


@pytest.mark.parametrize("exp_init", [True, False])
@pytest.mark.parametrize("k,T_", [(1, 4), (2, 8), (3, 8), (5, 3), (8, 8)])
def test_sliding_psn_matches_spikingjelly(k, T_, exp_init):
    torch.manual_seed(k)
    theirs = sj_neuron.SlidingPSN(k=k, exp_init=exp_init, step_mode="m")
    torch.manual_seed(k)
    ours = SlidingPSN(k, exp_init=exp_init)
    assert torch.equal(ours.weight, theirs.weight)
    _copy_into(ours, theirs)
    torch.testing.assert_close(ours.gen_gemm_weight(T_), theirs.gen_gemm_weight(T_), **EXACT)
    x = _inputs(10, T=T_, scale=1.0, offset=0.5)
    with torch.no_grad():
        (o, t), _ = _run_both(ours, theirs, x, grad=False)
    _assert_firing(o)
    assert torch.equal(o, t)
    _check_psn_grads(ours, theirs, x)
    # single-step (queue of the last k inputs) against SpikingJelly's single-step
    ours.step_mode, theirs.step_mode = "s", "s"
    ours.reset(), theirs.reset()
    with torch.no_grad():
        s_ours = torch.stack([ours(x[t]) for t in range(T_)])
        s_theirs = torch.stack([theirs(x[t]) for t in range(T_)])
    assert torch.equal(s_ours, s_theirs)
    assert torch.equal(s_ours, o)


# -------------------------------------------------------------------------------------------- reset_net
def test_reset_net_on_mixed_model():
    snntorch = pytest.importorskip("snntorch")

    class Mixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ours = LIF()
            self.sliding = SlidingPSN(2, step_mode="s")
            self.sj = sj_neuron.LIFNode(step_mode="m")
            self.sj_masked = sj_neuron.MaskedPSN(k=2, T=4, lambda_init=1.0, step_mode="s")
            self.snn = snntorch.Leaky(beta=0.5, init_hidden=True)

        def forward(self, x: torch.Tensor) -> None:
            self.ours(x), self.sj(x)
            for t in range(x.shape[0]):
                self.sliding(x[t]), self.sj_masked(x[t])
                self.snn(x[t])

    model = Mixed()
    x = torch.rand(4, 2, 3) + 0.2
    with torch.no_grad():
        model(x)
    assert isinstance(model.ours.v, torch.Tensor) and model.ours.v.abs().sum() > 0
    assert model.sj.v.abs().sum() > 0
    assert model.snn.mem.abs().sum() > 0
    assert len(model.sliding._queue) == 2 and model.sj_masked.time_step == 4

    assert reset_net(model) == 5
    assert model.ours.v == 0.0
    assert model.sliding._queue == []
    assert model.sj.v == 0.0
    assert model.sj_masked.time_step == 0 and model.sj_masked.queue == []
    assert torch.count_nonzero(model.snn.mem) == 0
    with torch.no_grad():
        model(x)  # runs again from the initial state (the masked PSN would overflow otherwise)
