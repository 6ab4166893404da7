"""ANN counterparts: the same graph with spiking neurons replaced by ANN activations and T = 1."""
from __future__ import annotations

import copy
import sys

from torch import nn

from ..neurons.base import SpikingNeuron


_PEER_NEURON_CLASSES = (
    ("spikingjelly.activation_based.neuron", ("BaseNode", "PSN", "MaskedPSN", "SlidingPSN")),
    ("snntorch._neurons.neurons", ("SpikingNeuron",)),
)


def is_spiking_neuron(m: nn.Module) -> bool:
    """Our neurons (LIF and PSN families), SpikingJelly's (``BaseNode`` and the PSN family) and snnTorch's
    (``SpikingNeuron``). Peer packages are only consulted when already imported."""
    if isinstance(m, SpikingNeuron):
        return True
    for mod, names in _PEER_NEURON_CLASSES:
        module = sys.modules.get(mod)
        if module is not None:
            classes = tuple(getattr(module, n) for n in names if hasattr(module, n))
            if classes and isinstance(m, classes):
                return True
    return False


def to_ann(model: nn.Module, activation: type[nn.Module] = nn.ReLU) -> nn.Module:
    """Copy ``model``, replace every spiking neuron by ``activation()`` and set the time steps to 1.

    The model must read its number of time steps from ``model.time_steps`` at forward time (the zoo does).
    A neuron's ANN activation is ``getattr(neuron, "ann_activation", activation)`` so a neuron family can
    declare its own (e.g. a multi-level neuron).
    """
    ann = copy.deepcopy(model)
    _replace_neurons(ann, activation)
    for m in ann.modules():
        if hasattr(m, "time_steps"):
            m.time_steps = 1
    ann.is_ann = True  # type: ignore[attr-defined]
    return ann


def _replace_neurons(module: nn.Module, activation: type[nn.Module]) -> None:
    for name, child in module.named_children():
        if is_spiking_neuron(child):
            act = getattr(child, "ann_activation", activation)
            setattr(module, name, act())
        else:
            _replace_neurons(child, activation)
