"""Recognising neuron layers: our neurons, SpikingJelly's, snnTorch's, and user-registered classes."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class NeuronInfo:
    type_name: str
    has_leak: bool
    signed: bool = False  # emits -1 spikes too (ternary neurons): spikes are counted as |values|


_REGISTERED: dict[type, tuple[bool, bool]] = {}
# class -> False (not a neuron), its NeuronInfo (when every instance gets the same one), or True (a neuron
# whose flags are read per instance); a class's answer cannot change until the registry does
_CLASS_IS_NEURON: dict[type, "bool | NeuronInfo"] = {}


def register_neuron(cls: type, has_leak: bool = True, signed: bool = False) -> None:
    """Declare ``cls`` a spiking-neuron class: its outputs are counted as spikes, its internals as neuron updates.

    ``has_leak``: the membrane leaks (a multiplication per update at energy level 2); ``signed``: it emits
    negative spikes too (counted by magnitude).
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"register_neuron expects an nn.Module subclass, got {cls!r}")
    _REGISTERED[cls] = (bool(has_leak), bool(signed))
    _CLASS_IS_NEURON.clear()


def unregister_neuron(cls: type) -> None:
    _REGISTERED.pop(cls, None)
    _CLASS_IS_NEURON.clear()


_NO_LEAK_NAMES = ("IFNode", "IF", "MultiStepIFNode", "IAF", "TernaryIFNode")
_SIGNED_NAMES = ("TernaryIFNode",)


def neuron_info(m: nn.Module) -> NeuronInfo | None:
    """:class:`NeuronInfo` if ``m`` is a spiking neuron layer, else ``None``."""
    cls = type(m)
    known = _CLASS_IS_NEURON.get(cls)
    if known is False:
        return None
    if isinstance(known, NeuronInfo) and "has_leak" not in m.__dict__ and "signed_spikes" not in m.__dict__:
        return known
    info = _neuron_info(m)
    if known is None:
        # the class's answer, reusable for its instances unless an instance overrides the flags or the class
        # computes them (a property)
        plain = all(isinstance(inspect.getattr_static(cls, a, None), (bool, type(None)))
                    for a in ("has_leak", "signed_spikes"))
        _CLASS_IS_NEURON[cls] = info if info is not None and plain and not (
            "has_leak" in m.__dict__ or "signed_spikes" in m.__dict__) else info is not None
    return info


def _neuron_info(m: nn.Module) -> NeuronInfo | None:
    from ..models.ann import is_spiking_neuron

    cls = type(m)
    for reg, (leak, signed) in _REGISTERED.items():
        if isinstance(m, reg):
            return NeuronInfo(cls.__name__, leak, signed=signed)
    if is_spiking_neuron(m):
        leak = getattr(m, "has_leak", None)
        if leak is None:
            leak = cls.__name__ not in _NO_LEAK_NAMES
        signed = bool(getattr(m, "signed_spikes", cls.__name__ in _SIGNED_NAMES))
        return NeuronInfo(cls.__name__, bool(leak), signed=signed)
    return None
