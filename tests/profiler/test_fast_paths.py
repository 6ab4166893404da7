"""The profiler's shortcuts stay exact: cached operand summaries, forward wrappers, batched device queue."""
import math
import warnings

import pytest
import torch
from torch import nn

import bruteforce as bf
from profiler_testing import Fn

from snnenergy import create_model, profile
from snnenergy.neurons import LIF
from snnenergy.profiler import device_queue




def _lin(d_in, d_out=2):
    lin = nn.Linear(d_in, d_out, bias=False)
    nn.init.constant_(lin.weight, 1.0)
    return lin


def _ac(report, layer):
    return report.layers.set_index("layer").loc[layer, "ac"]


def test_in_place_change_between_two_consumers_is_seen():
    # fc1 and fc2 read the same tensor; it is zeroed in place in between (a cached summary must not be reused)
    def fn(self, x):
        y = self.fc1(x)
        x.mul_(0)
        return y + self.fc2(x)

    x = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    r = profile(Fn(fn, fc1=_lin(4), fc2=_lin(4)), x.clone(), time_steps=1)
    assert _ac(r, "fc1") == 3 * 2 and _ac(r, "fc2") == 0


def test_change_through_a_view_and_through_data_is_seen():
    def via_view(self, x):
        y = self.fc1(x)
        x.view(-1)[0] = 0.0
        return y + self.fc2(x)

    def via_data(self, x):  # ``.data`` aliases bump no version counter
        y = self.fc1(x)
        x.data.zero_()
        return y + self.fc2(x)

    x = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    r = profile(Fn(via_view, fc1=_lin(4), fc2=_lin(4)), x.clone(), time_steps=1)
    assert _ac(r, "fc1") == 6 and _ac(r, "fc2") == 4
    r = profile(Fn(via_data, fc1=_lin(4), fc2=_lin(4)), x.clone(), time_steps=1)
    assert _ac(r, "fc1") == 6 and _ac(r, "fc2") == 0


def test_copies_of_a_permuted_tensor_share_summaries_only_while_it_is_unchanged():
    # q/k/v style: three reshapes (copies) of one non-contiguous tensor; the source changes before the third
    def fn(self, x):
        t = x.transpose(0, 1)  # non-contiguous: reshape copies
        a = self.fa(t.reshape(-1, 2))
        b = self.fb(t.reshape(-1, 2))
        x.mul_(2)  # integer values now: the third copy is an integer operand
        c = self.fc(t.reshape(-1, 2))
        return a.sum() + b.sum() + c.sum()

    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    r = profile(Fn(fn, fa=_lin(2), fb=_lin(2), fc=_lin(2)), x.clone(), time_steps=1)
    layers = r.layers.set_index("layer")  # counts are per sample: 3 samples
    assert layers.loc["fa", "ac"] * 3 == layers.loc["fb", "ac"] * 3 == 4 * 2
    assert layers.loc["fa", "input_kind"] == layers.loc["fb", "input_kind"] == "binary"
    assert layers.loc["fc", "input_kind"] == "integer" and layers.loc["fc", "integer_mac"] * 3 == 4 * 2


def test_in_place_synaptic_op_counts_its_operands_before_the_op():
    # x ∘ y written into x: the operands are real (0.5), the result would look integer
    def fn(self, x):
        y = torch.where(x != 0, 2.0, 0.0)
        return x.mul_(y)

    r = profile(Fn(fn), torch.tensor([[0.5, 0.0, 1.5]]), time_steps=1)
    row = r.layers.iloc[0]
    assert row.op == "mul" and row.input_kind == "real" and row.mac == 2


def test_permuted_operands_count_like_contiguous_ones():
    torch.manual_seed(0)
    a = (torch.rand(2, 3, 4, 5) < 0.4).float()
    b = (torch.rand(2, 3, 4, 5) < 0.4).float()

    def permuted(self, x):
        return x.permute(0, 2, 1, 3) @ b.clone().permute(0, 2, 3, 1)

    def contiguous(self, x):
        return x.permute(0, 2, 1, 3).contiguous() @ b.clone().permute(0, 2, 3, 1).contiguous()

    r1 = profile(Fn(permuted), a.clone(), time_steps=1)
    r2 = profile(Fn(contiguous), a.clone(), time_steps=1)
    expected = int(((a.permute(0, 2, 1, 3) != 0).float() @ (b.permute(0, 2, 3, 1) != 0).float()).sum())
    assert r1.layers.ac.tolist() == r2.layers.ac.tolist() == [expected / 2]


class Recursive(nn.Module):
    """A module whose forward calls itself per time step: one frame per ``__call__``, as forward hooks see it."""

    def __init__(self):
        super().__init__()
        self.fc = _lin(3)

    def forward(self, x):
        if x.dim() == 3:
            return torch.stack([self.forward(xt) for xt in x])
        return x * 1.0 + 0.0


def test_wrappers_are_removed_and_instance_forwards_restored():
    model = create_model("snn-attention-block")
    own = model.head.forward  # an instance-level forward set by the user must come back unchanged
    model.head.forward = own
    profile(model, torch.randn(1, 3, 32, 32))
    assert model.head.__dict__["forward"] is own
    assert all("forward" not in m.__dict__ for n, m in model.named_modules() if n != "head")

    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.lif = LIF()

        def forward(self, x):
            self.lif(x)
            raise RuntimeError("boom")

    boom = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        profile(boom, torch.randn(2, 1, 3), time_steps=2, batch_dim=1)
    assert all("forward" not in m.__dict__ for m in boom.modules())
    assert torch._C._len_torch_function_stack() == 0


def test_a_module_calling_its_own_forward_gets_one_frame():
    r = profile(Recursive(), torch.ones(3, 2, 4), time_steps=1)
    assert set(r.other_ops.layer) == {""}  # the root ran every op, in one frame
    assert r.other_ops.set_index("op").loc["mul", "calls"] == 3


def test_periodic_host_copies_give_the_same_report(monkeypatch):
    torch.manual_seed(0)
    model = create_model("snn-cnn-residual")
    x = torch.randn(4, 3, 32, 32)
    whole = profile(model, x, batch_size=2)
    monkeypatch.setattr(device_queue, "FOLD_EVERY", 3)
    folded = profile(model, x, batch_size=2)
    for table in ("layers", "per_step", "neurons"):
        a, b = getattr(whole, table), getattr(folded, table)
        assert a.columns.tolist() == b.columns.tolist()
        assert a.fillna(-1).values.tolist() == b.fillna(-1).values.tolist(), table


def test_a_layer_that_changes_size_keeps_exact_spike_totals():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_steps = 2
            self.lif = LIF(v_threshold=0.5)

        def forward(self, x):
            return self.lif(x.unsqueeze(0).repeat(2, 1, 1))

    torch.manual_seed(0)
    a, b = torch.rand(3, 4) * 2, torch.rand(3, 6) * 2
    r = profile(Net(), [a, b])
    row = r.neurons.iloc[0]
    outs = []
    for x in (a, b):
        lif = LIF(v_threshold=0.5)
        with torch.no_grad():
            outs.append(lif(x.unsqueeze(0).repeat(2, 1, 1)))
    spikes = sum(float(o.sum()) for o in outs)
    assert row.spikes == spikes / 6 and row.firing_rate == spikes / sum(o.numel() for o in outs)
    assert math.isnan(row.dead) and math.isnan(row.saturated)  # no per-neuron counts across sizes


def test_batch_of_one_and_profiler_work_not_reported():
    torch.manual_seed(0)
    model = create_model("snn-attention-block")
    x = torch.randn(1, 3, 32, 32)
    r = profile(model, x)
    assert r.unsupported.empty
    assert not set(r.other_ops.op) & {"aminmax", "frac", "ne", "eq", "ge", "stack", "cat"}
    outs = {}
    hook = model.attn.q.lif.register_forward_hook(lambda m, i, o: outs.setdefault("q", o.clone()))
    with torch.no_grad():
        model.eval()(x)
    hook.remove()
    row = r.neurons.set_index("layer").loc["attn.q.lif"]
    assert row.firing_rate == float(outs["q"].double().mean())
    per_neuron = outs["q"].sum((0, 1))
    assert row.dead == float((per_neuron == 0).double().mean())


def test_instance_level_neuron_flags_are_read_per_instance():
    a, b = LIF(), LIF()
    b.has_leak = False  # an instance override next to a cached class answer
    model = nn.Sequential(a, b)
    r = profile(model, torch.rand(2, 1, 3) * 3, time_steps=2, batch_dim=1)
    assert r.neurons.set_index("layer").has_leak.to_dict() == {"0": True, "1": False}


def test_invalid_operands_raise_the_models_own_error():
    # the handlers read operands before the op runs; a shape error must still be PyTorch's own
    m = Fn(lambda self, x: x @ torch.ones(3, 2))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        profile(m, torch.ones(2, 4), time_steps=1)
    assert torch._C._len_torch_function_stack() == 0


class _StaticInputLoop(nn.Module):
    """A time loop that feeds the same real-valued image to conv1 at every step (snnTorch style), and the same
    image to conv2, a second conv of the same geometry; with ``edit``, the image is changed in place after the
    second step (its counts must change with it)."""

    def __init__(self, edit: bool) -> None:
        super().__init__()
        self.time_steps, self.edit = 3, edit
        self.conv1, self.conv2 = nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(2, 3, 3, padding=1)
        self.lif = LIF(step_mode="s")

    def forward(self, x):
        out = 0
        for t in range(self.time_steps):
            if self.edit and t == 2:
                x[:, :, :2] = 0.0
            out = out + self.lif(self.conv1(x) + self.conv2(x))
        return out


@pytest.mark.parametrize("edit", [False, True], ids=["static", "edited-in-place"])
def test_convs_of_one_input_share_their_counts_exactly(edit):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 2, 5, 5, generator=g) * (torch.rand(2, 2, 5, 5, generator=g) > 0.4)
    model = _StaticInputLoop(edit)
    r = profile(model, x.clone(), time_steps=3)
    per_step = []
    xs = x.clone()
    for t in range(3):
        if edit and t == 2:
            xs[:, :, :2] = 0.0
        per_step.append(bf.conv_counts(xs, model.conv1.weight, 1, 1).as_row(2))
    layers = r.layers.set_index("layer")
    for name in ("conv1", "conv2"):
        assert layers.loc[name, "mac"] == sum(c["mac"] for c in per_step)
        assert layers.loc[name, "dense_ops"] == sum(c["dense_ops"] for c in per_step)
        steps = r.per_step[r.per_step["layer"] == name].sort_values("step")
        assert steps["mac"].tolist() == [c["mac"] for c in per_step]
    if edit:  # the in-place change is seen: step 2 has fewer effective ops than step 0
        assert per_step[2]["mac"] < per_step[0]["mac"]


_KIND_VALUES = {  # values of a linear layer's input, one list per time step
    "binary": [[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
    "ternary": [[0.0, -1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
    "integer": [[0.0, 2.0, 1.0, 0.0], [3.0, 0.0, 2.0 ** 30, -7.0]],
    "real (one step)": [[0.0, 1.0, 1.0, 0.0], [1.0, 0.5, 0.0, 0.0]],
    "real (tiny fraction)": [[0.0, 1.0, 1.0, 0.0], [1.0 + 2.0 ** -20, 0.0, 0.0, 0.0]],
    "real (negative)": [[0.0, -1.5, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
    "real (NaN)": [[0.0, 1.0, float("nan"), 0.0], [1.0, 0.0, 0.0, 0.0]],
    "real (inf)": [[0.0, 1.0, float("inf"), 0.0], [1.0, 0.0, 0.0, 0.0]],
}


class _Edit(nn.Module):
    """Puts given values into the (finite) input before a weight layer: a linear layer on ``[T, B, D]`` or
    ``[B, D]``, or a conv on ``[T·B, 1, D]`` (time folded into the batch) or ``[B, 1, D]``."""

    def __init__(self, values: torch.Tensor, conv: bool) -> None:
        super().__init__()
        self.values = values
        self.layer = nn.Conv1d(1, 3, 3, padding=1, bias=False) if conv else nn.Linear(4, 3, bias=False)
        self.conv = conv

    def forward(self, x):
        v = x * 0 + self.values
        if self.conv:
            v = v.flatten(0, 1).unsqueeze(1) if v.dim() == 3 else v.unsqueeze(1)
        return self.layer(v)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", list(_KIND_VALUES))
@pytest.mark.parametrize("timed", [True, False], ids=["timed", "untimed"])
@pytest.mark.parametrize("conv", [False, True], ids=["linear", "conv"])
def test_kinds_from_the_counts_reduction_match_a_direct_classifier(case, timed, dtype, conv):
    steps = torch.tensor(_KIND_VALUES[case], dtype=dtype)  # [T=2, D]
    values = steps[:, None, :].expand(2, 3, 4).contiguous() if timed else steps.reshape(2, 4)
    expected = bf.kind(values)
    assert expected == case.split(" ")[0]
    model = _Edit(values, conv).to(dtype)
    x = torch.zeros(values.shape, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = profile(model, x, time_steps=2 if timed else 1, batch_dim=1 if timed else 0)
    row = r.layers.set_index("layer").loc["layer"]
    assert row["input_kind"] == expected
    if timed and conv:  # the counts that come from the same product as the fractional parts
        per_step = r.per_step[r.per_step["layer"] == "layer"].sort_values("step")
        expected_steps = [bf.conv_counts(values[t].unsqueeze(1), model.layer.weight, 1, 1).as_row(3) for t in (0, 1)]
        assert per_step["effective_ops"].tolist() == [c["effective_ops"] for c in expected_steps]
        assert row["input_rate"] == float((values != 0).sum()) / values.numel()
