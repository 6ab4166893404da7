"""Recognising neuron layers: our neurons, SpikingJelly's, snnTorch's, and user-registered classes."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class NeuronInfo:
    type_name: str
    has_leak: bool
    known: bool = True


_REGISTERED: dict[type, bool] = {}


def register_neuron(cls: type, has_leak: bool = True) -> None:
    """Declare ``cls`` a spiking-neuron class: its outputs are counted as spikes, its internals as neuron updates."""
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"register_neuron expects an nn.Module subclass, got {cls!r}")
    _REGISTERED[cls] = bool(has_leak)


def unregister_neuron(cls: type) -> None:
    _REGISTERED.pop(cls, None)


_NO_LEAK_NAMES = ("IFNode", "IF", "MultiStepIFNode", "IAF")


def neuron_info(m: nn.Module) -> NeuronInfo | None:
    """:class:`NeuronInfo` if ``m`` is a spiking neuron layer, else ``None``."""
    from ..models.ann import is_spiking_neuron

    cls = type(m)
    for reg, leak in _REGISTERED.items():
        if isinstance(m, reg):
            return NeuronInfo(cls.__name__, leak)
    if is_spiking_neuron(m):
        leak = getattr(m, "has_leak", None)
        if leak is None:
            leak = cls.__name__ not in _NO_LEAK_NAMES
        return NeuronInfo(cls.__name__, bool(leak))
    sj = sys.modules.get("spikingjelly.activation_based.neuron")
    if sj is not None:
        psn_types = tuple(getattr(sj, n) for n in ("PSN", "MaskedPSN", "SlidingPSN") if hasattr(sj, n))
        if psn_types and isinstance(m, psn_types):
            return NeuronInfo(cls.__name__, True)
    return None
