"""Profiling leaves the model as it found it, also after an exception; bad input gets clear errors."""
import sys

import pytest
import torch
from torch import nn

from snnenergy import create_model, profile
from snnenergy.neurons import LIF


def _snapshot(model):
    return {
        "params": {k: v.detach().clone() for k, v in model.named_parameters()},
        "buffers": {k: v.detach().clone() for k, v in model.named_buffers()},
        "training": {n: m.training for n, m in model.named_modules()},
    }


def _assert_untouched(model, snap):
    for n, m in model.named_modules():
        assert not m._forward_hooks and not m._forward_pre_hooks, n
        assert not m._backward_hooks, n
        assert m.training == snap["training"][n], n
        if isinstance(m, LIF):
            assert not isinstance(m.v, torch.Tensor) and m.v == m.v_reset, n  # reset state
    for k, v in model.named_parameters():
        assert torch.equal(v, snap["params"][k]), k
    for k, v in model.named_buffers():
        assert torch.equal(v, snap["buffers"][k]), k
    assert torch._C._len_torch_function_stack() == 0
    assert not torch.nn.modules.module._global_forward_hooks
    assert not torch.nn.modules.module._global_forward_pre_hooks


def test_model_untouched_after_profile():
    model = create_model("snn-attention-block")
    model.train()  # profiling runs in eval mode but must restore train mode
    snap = _snapshot(model)
    profile(model, torch.randn(2, 3, 32, 32))
    _assert_untouched(model, snap)
    assert torch.is_grad_enabled()


class Boom(nn.Module):
    def __init__(self):
        super().__init__()
        self.time_steps = 2
        self.conv = nn.Conv2d(3, 4, 3)
        self.lif = LIF()

    def forward(self, x):
        x = x.unsqueeze(0).repeat(2, 1, 1, 1, 1)
        self.lif(self.conv(x.flatten(0, 1)).reshape(2, x.shape[1], 4, 6, 6))
        raise RuntimeError("boom inside forward")


def test_model_untouched_after_exception():
    model = Boom()
    model.train()
    snap = _snapshot(model)
    with pytest.raises(RuntimeError, match="boom"):
        profile(model, torch.randn(2, 3, 8, 8))
    _assert_untouched(model, snap)
    # the model still works normally afterwards and its forward is not intercepted
    with pytest.raises(RuntimeError, match="boom"):
        model(torch.randn(1, 3, 8, 8))


def test_bad_inputs_have_clear_errors():
    model = create_model("snn-cnn-residual")
    with pytest.raises(ValueError, match="NaN"):
        profile(model, torch.full((1, 3, 32, 32), float("nan")))
    with pytest.raises(ValueError, match="Inf"):
        profile(model, torch.full((1, 3, 32, 32), float("inf")))
    with pytest.raises(ValueError, match="no batch"):
        profile(model, [])
    with pytest.raises(TypeError, match="tensor"):
        profile(model, "images/")
    with pytest.raises(TypeError, match="nn.Module"):
        profile(lambda x: x, torch.ones(1))
    with pytest.raises(ValueError, match="time_steps=2 does not match the model's own T=4"):
        profile(model, torch.randn(1, 3, 32, 32), time_steps=2)
    with pytest.raises(ValueError, match="positive"):
        profile(nn.Linear(2, 2), torch.randn(1, 2), time_steps=0)


def test_unknown_model_name_suggests_close_matches():
    with pytest.raises(KeyError, match="snn-cnn-residual"):
        create_model("snn-cnn-resdual")


def test_dataloader_and_pairs_accepted():
    model = create_model("snn-cnn-residual")
    x = torch.randn(4, 3, 32, 32)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(4)), batch_size=2)
    a = profile(model, loader)
    b = profile(model, x)
    assert a.meta["samples"] == 4 and a.meta["batches"] == 2
    assert a.layers.ac.tolist() == b.layers.ac.tolist()


def test_float64_model_profiles():
    model = create_model("snn-attention-block").double()
    r = profile(model, torch.randn(2, 3, 32, 32, dtype=torch.float64))
    assert (r.layers.dense_ops > 0).all()


def test_rates_only_records_neurons_and_no_ops():
    model = create_model("snn-cnn-residual")
    x = torch.randn(2, 3, 32, 32)
    full = profile(model, x)
    rates = profile(model, x, rates_only=True)
    assert rates.layers.empty
    assert rates.neurons.firing_rate.tolist() == full.neurons.firing_rate.tolist()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes need Python 3.11")
def test_wrong_input_shape_for_a_zoo_model_says_what_the_card_expects():
    model = create_model("snn-cnn-residual")
    with pytest.raises(RuntimeError) as info:
        profile(model, torch.randn(2, 1, 32, 32))  # one channel instead of three
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "expects one sample of shape (3, 32, 32)" in notes and "(1, 32, 32)" in notes
