"""The profiler on SpikingJelly and snnTorch models (interop extra)."""
import pytest
import torch
from torch import nn

from snnenergy import profile




@pytest.mark.interop
def test_spikingjelly_multistep_cnn_counts_and_rates():
    pytest.importorskip("spikingjelly.activation_based")
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(0)
    T, B = 4, 3
    net = nn.Sequential(
        layer.Conv2d(2, 8, 3, padding=1, bias=False, step_mode="m"),
        layer.BatchNorm2d(8, step_mode="m"),
        neuron.LIFNode(step_mode="m"),
        layer.Conv2d(8, 8, 3, padding=1, bias=False, step_mode="m"),
        neuron.LIFNode(step_mode="m"),
        layer.Flatten(step_mode="m"),
        layer.Linear(8 * 6 * 6, 4, step_mode="m"),
    )
    x = torch.randn(T, B, 2, 6, 6) * 3
    outs = {}
    hooks = [net[i].register_forward_hook(lambda m, i_, o, i=i: outs.setdefault(i, o.clone())) for i in (2, 4)]
    net.eval()
    with torch.no_grad():
        net(x)
    functional.reset_net(net)
    for h in hooks:
        h.remove()
    r = profile(net, x, time_steps=T, batch_dim=1)
    assert set(r.neurons.layer) == {"2", "4"}
    for i, o in outs.items():
        row = r.neurons[r.neurons.layer == str(i)].iloc[0]
        assert row.firing_rate == float(o.double().mean())
        assert row.rate_t0 == float(o[0].double().mean())
        assert row.type == "LIFNode"
    conv2 = r.layers[r.layers.layer == "3"].iloc[0]
    assert conv2.input_kind == "binary" and conv2.producer == "2:spikes"
    # hand count: ACs = Σ spikes × valid fan-out × C_out, with fan-out from an all-ones 3x3 pad-1 conv
    s = outs[2]
    fan = torch.nn.functional.conv_transpose2d(torch.ones(1, 1, 6, 6), torch.ones(1, 1, 3, 3), padding=1)[0, 0]
    expected = float((s.double().sum(2) * fan.double()).sum() * 8) / B
    assert conv2.ac == expected
    assert r.layers[r.layers.layer == "0"].iloc[0].input_kind == "real"
    assert r.per_step.groupby("layer").size().loc["3"] == T  # per-step rows for the conv on [T·B, ...]
    assert not net[2]._forward_hooks and isinstance(net[2].v, float)  # left as found: reset, no hooks


@pytest.mark.interop
def test_snntorch_time_loop_attributes_steps_by_call_order():
    snn = pytest.importorskip("snntorch")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_steps = 3
            self.fc1 = nn.Linear(5, 6)
            self.lif1 = snn.Leaky(beta=0.8, init_hidden=True)
            self.fc2 = nn.Linear(6, 2)

        def forward(self, x):
            self.lif1.reset_mem()
            out = 0
            for _ in range(self.time_steps):
                out = out + self.fc2(self.lif1(self.fc1(x)))
            return out

    torch.manual_seed(0)
    net = Net()
    x = torch.rand(4, 5) * 3
    r = profile(net, x)
    n = r.neurons.iloc[0]
    assert n.layer == "lif1" and n.type == "Leaky" and bool(n.per_step)
    fc2 = r.layers[r.layers.layer == "fc2"].iloc[0]
    assert fc2.input_kind == "binary" and bool(fc2.per_step) and fc2.calls == 3
    steps = r.per_step[r.per_step.layer == "fc2"].sort_values("step")
    assert len(steps) == 3 and steps.ac.sum() == pytest.approx(fc2.ac)
    assert r.layers[r.layers.layer == "fc1"].iloc[0].input_kind == "real"


@pytest.mark.interop
def test_acs_equal_spikingjelly_synop_counter_on_binary_layers():
    """SpikingJelly's SynOpCounter counts exact spike-driven ops for layers with binary inputs; ours must agree."""
    pytest.importorskip("spikingjelly.activation_based")
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based import op_counter as oc

    torch.manual_seed(1)
    T, B = 2, 2
    net = nn.Sequential(
        layer.Conv2d(3, 6, 3, padding=1, bias=False, step_mode="m"),
        neuron.IFNode(step_mode="m"),
        layer.Conv2d(6, 6, 3, stride=2, padding=1, bias=False, step_mode="m"),
        neuron.IFNode(step_mode="m"),
        layer.Flatten(step_mode="m"),
        layer.Linear(6 * 4 * 4, 5, bias=False, step_mode="m"),
    ).eval()
    x = (torch.rand(T, B, 3, 8, 8) < 0.4).float()  # binary input: every layer is spike-driven
    counter = oc.SynOpCounter()
    with oc.DispatchCounterMode([counter]), torch.no_grad():
        net(x)
    functional.reset_net(net)
    theirs = float(counter.get_total()) / B
    r = profile(net, x, time_steps=T, batch_dim=1)
    assert (r.layers.input_kind == "binary").all()
    assert r.layers.ac.sum() == theirs


def test_registered_user_neuron_class():
    from snnenergy import register_neuron
    from snnenergy.profiler import unregister_neuron

    class Heaviside(nn.Module):  # a user's stateless spike function
        def forward(self, x):
            return (x >= 0.5).float()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(4, 8), Heaviside(), nn.Linear(8, 2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    x = torch.randn(3, 4)
    assert profile(Net(), x, time_steps=1).neurons.empty
    register_neuron(Heaviside, has_leak=False)
    try:
        r = profile(Net(), x, time_steps=1)
        assert r.neurons.layer.tolist() == ["act"] and not r.neurons.has_leak.iloc[0]
        assert r.layers.set_index("layer").loc["fc2", "producer"] == "act:spikes"
    finally:
        unregister_neuron(Heaviside)
    with pytest.raises(TypeError, match="nn.Module subclass"):
        register_neuron(int)


@pytest.mark.interop
def test_spikingjelly_psn_family_is_a_neuron_for_profiler_and_ann():
    pytest.importorskip("spikingjelly.activation_based")
    from spikingjelly.activation_based import neuron

    from snnenergy.models import to_ann
    from snnenergy.profiler.neurons import neuron_info

    net = nn.Sequential(neuron.PSN(T=4), neuron.SlidingPSN(k=2, step_mode="m"), neuron.LIFNode())
    assert [neuron_info(m).type_name for m in net] == ["PSN", "SlidingPSN", "LIFNode"]
    assert all(isinstance(m, nn.ReLU) for m in to_ann(net))
