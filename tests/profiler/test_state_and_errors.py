"""Profiling leaves the model as it found it, also after an exception; bad input gets clear errors."""
import sys

import pytest
import torch
from torch import nn

from snnenergy import create_model, profile
from snnenergy.neurons import LIF
from test_safety import AC, DENSE, X, assert_untouched, snapshot  # hand figures, a deep check of the state


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
    snap, deep = _snapshot(model), snapshot(model)
    profile(model, torch.randn(2, 3, 32, 32))
    _assert_untouched(model, snap)
    assert_untouched(model, deep)
    assert torch.is_grad_enabled()


def test_a_submodule_left_in_training_mode_is_profiled_in_eval_mode():
    """The root in eval mode, its BatchNorm in training mode: the profile runs it with the running statistics
    (the spikes equal an eval-mode forward's, not a batch-statistics one's) and gives the flag back."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm1d(16), LIF(v_threshold=0.5))
    model[0].running_mean.fill_(2.0)  # eval and batch statistics now give very different spikes
    model.eval()
    model[0].train()
    x = torch.randn(6, 16)
    model.eval()
    with torch.no_grad():
        expected = model(x).sum().item()  # eval mode, one step
    model[1].reset()
    model[0].train()
    with torch.no_grad():
        batch_stats = nn.functional.batch_norm(x, None, None, model[0].weight, model[0].bias, True)
    assert (batch_stats >= 0.5).sum().item() != expected  # the two modes differ on this input
    report = profile(model, x)
    assert report.neurons.spikes.sum() * 6 == expected
    assert model[0].training and not model.training


class _SwapsWeightData(nn.Module):
    """A forward that replaces its weight's values behind autograd's back (``.data``), after using them."""

    def __init__(self, swap):
        super().__init__()
        self.time_steps = 1
        self.lin = nn.Linear(4, 3)
        self.swap = swap

    def forward(self, x):
        out = self.lin(x)
        self.lin.weight.data = self.swap(self.lin.weight.data)
        return out


@pytest.mark.parametrize("swap", [lambda w: torch.zeros_like(w), lambda w: w.double() * 0, lambda w: w.t()[:2]],
                         ids=["values", "dtype", "view"])
def test_a_parameters_swapped_data_comes_back(swap):
    """The parameter object, its storage (same address), dtype, shape and values are the ones found."""
    model = _SwapsWeightData(swap)
    w = model.lin.weight
    before, ptr, stride = w.detach().clone(), w.data_ptr(), w.stride()
    profile(model, torch.randn(2, 4))
    assert model.lin.weight is w and w.data_ptr() == ptr and w.dtype == torch.float32 and w.stride() == stride
    assert torch.equal(w.detach(), before)


def test_a_parameter_held_as_a_plain_attribute_is_left_alone():
    """A Parameter in the module's ``__dict__`` (not in ``_parameters``) is an attribute like any other: the same
    object, with the same values, after the profile."""
    model = nn.Sequential(nn.Linear(4, 4), LIF())
    extra = model.__dict__["extra"] = nn.Parameter(torch.ones(3))
    profile(model, torch.randn(2, 4))
    assert model.__dict__["extra"] is extra and torch.equal(extra.detach(), torch.ones(3))


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
    snap, deep = _snapshot(model), snapshot(model)
    with pytest.raises(RuntimeError, match="boom"):
        profile(model, torch.randn(2, 3, 8, 8))
    _assert_untouched(model, snap)
    assert_untouched(model, deep)
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


# ------------------------------------------------------------------ one-line errors for bad options and inputs


def _one_line_error(exc_type, match, fn):
    with pytest.raises(exc_type, match=match) as info:
        fn()
    assert "\n" not in str(info.value), str(info.value)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"batch_dim": -1}, ValueError, "batch_dim=-1 is negative"),
    ({"batch_dim": 2}, ValueError, r"batch_dim=2 is out of range .* \(2, 4\): give 0 to 1"),
    ({"batch_dim": True}, TypeError, "batch_dim must be an int"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive int, got 0"),
    ({"batch_size": -3}, ValueError, "batch_size must be a positive int"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an int, got 2.5"),
    ({"batch_size": True}, TypeError, "batch_size must be an int, got True"),
    ({"time_steps": True}, TypeError, "time_steps must be an int, got True"),
    ({"time_steps": 2.0}, TypeError, "time_steps must be an int"),
])
def test_bad_options_one_line(kwargs, exc, match):
    model = nn.Linear(4, 3)
    snap = snapshot(model)
    _one_line_error(exc, match, lambda: profile(model, X, **kwargs))
    assert_untouched(model, snap)


def test_empty_batch_is_a_clear_error():
    model = nn.Linear(4, 3)
    _one_line_error(ValueError, r"empty \(0 samples along batch_dim=0\)", lambda: profile(model, torch.empty(0, 4)))
    _one_line_error(ValueError, "batch 1 of shape \\(3, 0, 4\\) is empty",
                    lambda: profile(model, [torch.ones(3, 1, 4), torch.ones(3, 0, 4)], batch_dim=1))


def test_dict_inputs_refused_with_the_keys():
    model = nn.Linear(4, 3)
    _one_line_error(TypeError, r"inputs is a dict \(keys \['image', 'label'\]\)",
                    lambda: profile(model, {"image": X, "label": torch.zeros(2)}))
    _one_line_error(TypeError, r"batch 0 is a dict \(keys \['image'\]\)", lambda: profile(model, [{"image": X}]))


def test_x_y_pair_is_one_batch_and_a_list_of_tensors_is_batches():
    model = nn.Linear(4, 3)
    x3 = X.unsqueeze(1)  # [B, 1, 4]: the same counts
    for x, labels in ((X, torch.tensor([3, 1])), (x3, torch.zeros(2, 10)), (X, torch.zeros(2, 1, dtype=torch.bool)),
                      (x3, torch.zeros(2, 1, 4, dtype=torch.long))):
        for pair in ((x, labels), [x, labels]):
            r = profile(model, pair)
            assert (r.meta["batches"], r.meta["samples"]) == (1, 2), (x.shape, labels.shape)
            assert r.layers.ac.tolist() == [AC] and r.layers.dense_ops.tolist() == [DENSE]
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    r = profile(model, [X, torch.ones(2, 1, 4)])  # float, as many dims or more: two batches
    model._forward_pre_hooks.clear()
    assert seen == [(2, 4), (2, 1, 4)] and (r.meta["batches"], r.meta["samples"]) == (2, 4)
    r = profile(model, [X, X.flip(0)])  # same shapes: two batches
    assert (r.meta["batches"], r.meta["samples"]) == (2, 4) and r.layers.ac.tolist() == [AC]
    r = profile(model, [(X, torch.tensor([0, 1])), (X, torch.tensor([1, 0]))])  # (x, y) batches of a loader
    assert (r.meta["batches"], r.meta["samples"]) == (2, 4) and r.layers.ac.tolist() == [AC]


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(2, 5)

    def forward(self, x, s, scale=1.0):
        return self.a(x).sum(-1) + self.b(s).sum(-1) * scale


def test_model_taking_several_tensors_gets_them_all():
    model = TwoInputs()
    s = torch.tensor([[0.0, 1], [0, 0]])  # 1 nonzero over 2 samples: 0.5 x 5 ACs per sample
    expected = [AC, 0.5 * 5]
    for inputs in ((X, s), [X, s], (X, s, torch.tensor([1, 0])), [(X, s)], [(X, s, "label")]):
        r = profile(model, inputs)
        assert (r.meta["batches"], r.meta["samples"]) == (1, 2), inputs
        assert r.layers.sort_values("layer").ac.tolist() == expected
    r = profile(model, (torch.cat([X, X]), torch.cat([s, s])), batch_size=2)
    assert (r.meta["batches"], r.meta["samples"]) == (2, 4) and r.layers.sort_values("layer").ac.tolist() == expected
    _one_line_error(TypeError, "takes 2 tensors", lambda: profile(model, X))
    _one_line_error(TypeError, "batch 0 holds 1 value", lambda: profile(model, [(X,)]))
    _one_line_error(TypeError, "element 1 of batch 0 is a str", lambda: profile(model, [(X, "s")]))
    _one_line_error(ValueError, "cannot be split by batch_size=1",
                    lambda: profile(model, (X, torch.ones(3, 2)), batch_size=1))


def test_required_keyword_argument_is_refused():
    class KeywordOnly(nn.Module):
        def forward(self, x, *, mask):
            return x * mask

    _one_line_error(TypeError, "requires keyword argument\\(s\\) mask", lambda: profile(KeywordOnly(), X))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes need Python 3.11")
def test_error_inside_any_forward_keeps_it_and_notes_the_batch():
    model = nn.Sequential(nn.Linear(5, 3))  # expects 5 features, gets 4
    snap = snapshot(model)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied") as info:
        profile(model, X)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "raised by Sequential.forward on a batch of shape (2, 4) float32 on cpu" in notes, notes
    assert "2 samples of shape (4,)" in notes
    assert_untouched(model, snap)


def test_batch_size_splits_the_batch_dimension_not_time():
    torch.manual_seed(0)
    seen = []

    class Records(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            seen.append(tuple(x.shape))
            return self.fc(x)

    model = Records()
    x = (torch.rand(3, 4, 4) > 0.5).float()  # [T=3, B=4, 4]
    r = profile(model, x, time_steps=3, batch_dim=1, batch_size=2)
    assert seen == [(3, 2, 4), (3, 2, 4)]
    assert (r.meta["batches"], r.meta["samples"]) == (2, 4)
    assert r.layers.ac.tolist() == [x.sum().item() / 4 * 3]  # nonzeros per sample (all steps) x 3 outputs
    assert r.layers.dense_ops.tolist() == [3 * 4 * 3]


def test_two_input_submodule_profiled_inside_a_profile_gets_both_tensors():
    inner_reports = []

    class Holds(nn.Module):
        def __init__(self):
            super().__init__()
            self.two = TwoInputs()

        def forward(self, x):
            s = torch.tensor([[0.0, 1], [0, 0]])
            inner_reports.append(profile(self.two, (x, s)))  # self.two.forward is wrapped by the outer profile
            return self.two(x, s)

    profile(Holds(), X)
    assert inner_reports[0].layers.sort_values("layer").ac.tolist() == [AC, 0.5 * 5]
