"""PSN-paper networks and the PSN-family neuron choice in SEW-ResNet."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from snnenergy.models import create_model, list_models, load_checkpoint, model_card
from snnenergy.models.psn_nets import convert_psn_repo_state_dict
from snnenergy.neurons import PSN, MaskedPSN, SlidingPSN
from snnenergy.neurons.base import SpikingNeuron

from zoo_testing import n_params

# Derived from the official layer lists (PSN repository cifar10/train_cf10.py: CIFAR-10 net ≈70.11M, PSN layers 7 x 20 = 140).
DERIVED_PARAMS = {
    "psn-cifar10": 70_113_174,
    "psn-scifar10": 520_810,
    "psn-scifar100": 543_940,
    "masked-psn-scifar10": 520_810,
    "masked-psn-scifar100": 543_940,
    "sliding-psn-scifar10": 513_649,
    "sliding-psn-scifar100": 536_779,
    "psn-cifar10dvs": 9_271_522,
}


def _neuron_params(model: nn.Module) -> int:
    return sum(p.numel() for m in model.modules() if isinstance(m, SpikingNeuron) for p in m.parameters())


def test_registered_names() -> None:
    assert set(DERIVED_PARAMS) <= set(list_models())


@pytest.mark.parametrize("name", sorted(DERIVED_PARAMS))
def test_parameter_counts(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name)
    assert n_params(model) == DERIVED_PARAMS[name] == model_card(name).official_params


def test_psn_layers_of_the_cifar10_net() -> None:
    with torch.device("meta"):
        model = create_model("psn-cifar10")
    psns = [m for m in model.modules() if isinstance(m, PSN)]
    assert len(psns) == 7 and all(m.T == 4 for m in psns)
    assert _neuron_params(model) == 7 * (4 * 4 + 4) == 140


@pytest.mark.parametrize("name,cls,k", [
    ("psn-scifar10", PSN, None), ("masked-psn-scifar100", MaskedPSN, 32), ("sliding-psn-scifar10", SlidingPSN, 32),
    ("psn-cifar10dvs", SlidingPSN, 2),
])
def test_neuron_kind_and_order(name: str, cls: type, k: int | None) -> None:
    model = create_model(name)
    neurons = [m for m in model.modules() if isinstance(m, SpikingNeuron)]
    assert neurons and all(type(m) is cls for m in neurons)
    if k is not None:
        assert all(m.k == k for m in neurons)
    if cls is MaskedPSN:
        assert all(float(m.lambda_) == 1.0 for m in neurons)  # the final mask (deployment)


@pytest.mark.parametrize("name", sorted(DERIVED_PARAMS))
def test_shape_flow_and_ann_counterpart(name: str) -> None:
    card = model_card(name)
    shape = (1, *card.input_shape)
    x = (torch.rand(shape, generator=torch.Generator().manual_seed(0)) > 0.8).float() \
        if card.input_kind == "events" else torch.randn(shape, generator=torch.Generator().manual_seed(0))
    model = create_model(name).eval()
    ann = create_model(name, ann=True).eval()
    assert not any(isinstance(m, SpikingNeuron) for m in ann.modules())
    with torch.no_grad():
        y, y_ann = model(x), ann(x)
    assert y.shape == y_ann.shape == (1, card.num_classes)
    assert torch.isfinite(y).all() and torch.isfinite(y_ann).all()


@pytest.mark.parametrize("name", ["psn-scifar10", "masked-psn-scifar10", "sliding-psn-scifar10"])
def test_float64(name: str) -> None:
    model = create_model(name).double().eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 32, 32, dtype=torch.float64))
    assert y.dtype == torch.float64


def test_sequential_cifar_reads_columns_as_time_steps() -> None:
    model = create_model("psn-scifar10").eval()
    seen = {}
    model.conv[0].register_forward_pre_hook(lambda m, a: seen.__setitem__("conv", a[0].shape))
    model.conv[2].register_forward_pre_hook(lambda m, a: seen.__setitem__("psn", a[0].shape))
    x = torch.zeros(2, 3, 32, 32)
    x[1, :, :, 5] = 1.0  # one column of sample 1
    with torch.no_grad():
        model(x)
    assert seen["conv"] == (32 * 2, 3, 32) and seen["psn"] == (32, 2, 128, 32)


def test_psn_needs_its_time_steps() -> None:
    model = create_model("psn-scifar10").eval()
    with pytest.raises(ValueError, match="T=32"):
        model(torch.randn(1, 3, 32, 16))


@pytest.mark.parametrize("neuron,per_layer", [("psn", 4 * 4 + 4), ("masked_psn", 4 * 4 + 4), ("sliding_psn", 2 + 1),
                                              ("plif", 1)])
def test_sew_resnet_psn_family_neurons(neuron: str, per_layer: int) -> None:
    base = 11_689_512
    model = create_model("sew-resnet18", neuron=neuron).eval()
    neurons = [m for m in model.modules() if isinstance(m, SpikingNeuron)]
    assert len(neurons) == 1 + 16 + 3  # stem, two per block, three spiking downsamples
    assert n_params(model) == base + 20 * per_layer
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)
    ann = create_model("sew-resnet18", neuron=neuron, ann=True).eval()
    with torch.no_grad():
        assert ann(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def _to_repo_names(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Inverse of the converter, as the repository's IFNode5 / masked PSN / sliding PSN store them."""
    out = {}
    kinds = {n: type(m) for n, m in model.named_modules()}
    for key, value in state.items():
        owner, _, leaf = key.rpartition(".")
        kind = kinds.get(owner)
        if kind in (PSN, MaskedPSN) and leaf in ("weight", "bias", "mask0", "mask1"):
            out[f"{owner}.fc.{leaf}"] = value.squeeze(1) if leaf == "bias" else value
        elif kind is MaskedPSN and leaf == "_lambda_":
            continue
        elif kind is SlidingPSN and leaf == "bias":
            out[f"{owner}.threshold"] = value
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("name", ["psn-scifar10", "masked-psn-scifar10", "sliding-psn-scifar10"])
def test_repository_checkpoint_converts_and_loads(name: str) -> None:
    source = create_model(name)
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
    repo_state = _to_repo_names(source.state_dict(), source)
    assert any(k.endswith((".fc.weight", ".threshold")) for k in repo_state)
    target = create_model(name)
    load_checkpoint(target, convert_psn_repo_state_dict(repo_state))
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
