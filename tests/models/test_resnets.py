"""SEW-ResNet and MS-ResNet: parameter counts, official key lists, shapes, dtypes, ANN counterpart, structure."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from snnenergy.models import create_model, load_checkpoint, model_card
from snnenergy.models.ms_resnet import MSNeuron, TDBatchNorm
from snnenergy.models.sew_resnet import SEWBasicBlock, SEWResNet, make_neuron, sew_connect
from snnenergy.neurons.base import SpikingNeuron

from zoo_testing import STATE_DICT_DIR, is_binary, is_integral, n_params, random_state_dict, record_inputs

# Official totals (sum of model.parameters(), measured by instantiating the official SEW-/MS-ResNet code).
REFERENCE_PARAMS = {
    "sew-resnet18": 11_689_512,
    "sew-resnet34": 21_797_672,
    "sew-resnet50": 25_557_032,
    "sew-resnet101": 44_549_160,
    "sew-resnet152": 60_192_808,
    "ms-resnet18": 11_693_736,
    "ms-resnet34": 21_801_896,
    "ms-resnet104": 77_350_504,
}

@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_parameter_counts_match_official(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name)
    assert n_params(model) == REFERENCE_PARAMS[name]
    assert model_card(name).official_params == REFERENCE_PARAMS[name]


@pytest.mark.parametrize("name", ["sew-resnet18", "sew-resnet34", "ms-resnet18", "ms-resnet34"])
def test_official_key_list_loads(name: str) -> None:
    model = create_model(name)
    state = random_state_dict(STATE_DICT_DIR / f"{name}-imagenet.json")
    result = load_checkpoint(model, state)
    assert set(result.loaded) == set(state) and result.skipped_unused == []
    key = "layer2.0.downsample.0.0.weight" if name.startswith("sew") else "conv2_x.0.shortcut.0.weight"
    assert torch.equal(model.state_dict()[key], state[key])


@pytest.mark.parametrize("name,override", [
    ("sew-resnet18", {}),
    ("sew-resnet50", {"time_steps": 1}),
    ("ms-resnet18", {"time_steps": 2}),
    pytest.param("ms-resnet104", {"time_steps": 1}, marks=pytest.mark.slow),
])
def test_shape_flow_at_real_input_size(name: str, override: dict) -> None:
    model = create_model(name, **override).eval()
    with torch.no_grad():
        y = model(torch.randn(1, *model_card(name).input_shape))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["sew-resnet18", "ms-resnet18"])
def test_float64_end_to_end(name: str) -> None:
    model = create_model(name, time_steps=2, num_classes=10).double().eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 64, 64, dtype=torch.float64))
    assert y.dtype == torch.float64 and y.shape == (1, 10)


@pytest.mark.parametrize("name", ["sew-resnet18", "sew-resnet50", "ms-resnet18"])
def test_ann_counterpart_forward(name: str) -> None:
    ann = create_model(name, ann=True).eval()
    assert ann.time_steps == 1 and not any(isinstance(m, SpikingNeuron) for m in ann.modules())
    with torch.no_grad():
        y = ann(torch.randn(1, 3, 96, 96))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


# ------------------------------------------------------------------------------------------------ SEW-ResNet
def test_sew_connect_functions_hand_case() -> None:
    out = torch.tensor([0.0, 1.0, 0.0, 1.0])
    identity = torch.tensor([0.0, 0.0, 1.0, 1.0])
    assert sew_connect(out, identity, "ADD").tolist() == [0.0, 1.0, 1.0, 2.0]
    assert sew_connect(out, identity, "AND").tolist() == [0.0, 0.0, 0.0, 1.0]
    assert sew_connect(out, identity, "IAND").tolist() == [0.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="connect_f"):
        sew_connect(out, identity, "OR")


@pytest.mark.parametrize("connect_f", ["ADD", "AND", "IAND"])
@pytest.mark.parametrize("branch_fires", [True, False])
def test_sew_block_applies_its_connect_function(connect_f: str, branch_fires: bool) -> None:
    """Force the residual branch's last neuron to fire always / never and check g(out, identity)."""
    block = SEWBasicBlock(4, 4, 1, None, connect_f, lambda: make_neuron("if", 2)).eval()
    bn = block.conv2[1]
    nn.init.zeros_(bn.weight)
    nn.init.constant_(bn.bias, 5.0 if branch_fires else -5.0)
    x = (torch.rand(2, 1, 4, 5, 5, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    with torch.no_grad():
        y = block(x)
    s = torch.full_like(x, 1.0 if branch_fires else 0.0)
    expected = {"ADD": s + x, "AND": s * x, "IAND": x * (1 - s)}[connect_f]
    assert torch.equal(y, expected)


def _excited_sew(connect_f: str) -> SEWResNet:
    torch.manual_seed(0)
    model = create_model("sew-resnet18", connect_f=connect_f, time_steps=2, num_classes=10)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.bias, 1.0)
    return model.train()


@pytest.mark.parametrize("connect_f", ["ADD", "AND", "IAND"])
def test_sew_block_outputs_integer_only_with_add(connect_f: str) -> None:
    model = _excited_sew(connect_f)
    seen, handles = record_inputs(
        model, lambda n, m: isinstance(m, nn.Conv2d) and n != "conv1" and n.endswith(("conv1.0", "downsample.0.0")))
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    for h in handles:
        h.remove()
    later = {n: x for n, x in seen.items() if not n.startswith("layer1.0.")}
    assert len(later) == 7 + 3  # conv1 of blocks 2..8, three downsample convs
    assert all(is_integral(x) and x.min() >= 0 for x in later.values())
    if connect_f == "ADD":
        assert all(x.max() >= 2 for x in later.values()), {n: x.max().item() for n, x in later.items()}
    else:
        assert all(is_binary(x) for x in later.values())


def test_sew_stem_runs_once_and_downsample_is_spiking() -> None:
    model = create_model("sew-resnet18")
    calls = []
    model.conv1.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape))
    assert isinstance(model.layer2[0].downsample[1], SpikingNeuron)
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, 64, 64))
    assert calls == [torch.Size([1, 3, 64, 64])]  # on the image, before the repeat over T


def test_sew_neuron_override() -> None:
    model = create_model("sew-resnet18", neuron="lif", time_steps=2, num_classes=10).eval()
    assert type(model.sn1).__name__ == "LIF" and type(model.layer1[0].sn2).__name__ == "LIF"
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)
    with pytest.raises(ValueError, match="neuron must be one of"):
        create_model("sew-resnet18", neuron="relu")


# ------------------------------------------------------------------------------------------------ MS-ResNet
def test_ms_neuron_hand_case() -> None:
    """u[t] = 0.25 u[t-1] (1 - s[t-1]) + x[t]; spike iff u > 0.5 (strict); fresh state every call."""
    neuron = MSNeuron()
    x = torch.tensor([0.3, 0.3, 0.6, 0.5, 0.5, 0.5]).reshape(6, 1)
    # u: 0.3, 0.375, 0.69375 (fire), 0.5 (reset; not > 0.5), 0.625 (fire), 0.5
    expected = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 0.0]).reshape(6, 1)
    assert torch.equal(neuron(x), expected)
    assert torch.equal(neuron(x), expected)  # no state carried between calls, as mem_update


def test_tdbn_normalises_over_batch_and_time() -> None:
    bn = TDBatchNorm(3).train()
    assert bn.bn.weight.detach().eq(0.5).all()
    x = torch.randn(4, 2, 3, 5, 5) * 3 + 1
    y = bn(x)
    assert y.shape == x.shape
    per_channel = y.transpose(0, 2).reshape(3, -1)
    torch.testing.assert_close(per_channel.mean(1), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(per_channel.std(1, unbiased=False), torch.full((3,), 0.5), atol=1e-3, rtol=0)


def test_ms_downsample_shortcut_sees_membrane_values() -> None:
    """Every branch conv sees binary spikes; the downsample shortcut 1x1 convs see the real-valued stream."""
    torch.manual_seed(0)
    model = create_model("ms-resnet18", time_steps=2, num_classes=10).train()
    for m in model.modules():
        if isinstance(m, TDBatchNorm):  # undo the zero init of the last BN so the stream is not trivial
            nn.init.ones_(m.bn.weight)
    seen, handles = record_inputs(model, lambda n, m: isinstance(m, nn.Conv2d) and n != "conv1.0")
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    for h in handles:
        h.remove()
    shortcuts = {n: x for n, x in seen.items() if ".shortcut." in n}
    branch = {n: x for n, x in seen.items() if ".residual_function." in n}
    assert sorted(shortcuts) == [f"conv{i}_x.0.shortcut.0" for i in range(2, 6)]
    assert len(branch) == 16
    assert all(not is_integral(x) for x in shortcuts.values())
    assert all(is_binary(x) for x in branch.values())


def test_ms_resnet104_structure() -> None:
    with torch.device("meta"):
        model = create_model("ms-resnet104")
    assert [len(getattr(model, f"conv{i}_x")) for i in range(2, 6)] == [3, 8, 32, 8]
    assert isinstance(model.conv2_x[0].shortcut[0], nn.AvgPool2d)
    assert all(c.bias is not None for c in model.conv1[:3])
    assert isinstance(model.dropout, nn.Dropout) and model.dropout.p == 0.2
