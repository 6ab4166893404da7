"""Resetting the state of every neuron in a model (ours, SpikingJelly's and snnTorch's)."""
from __future__ import annotations

import sys
from typing import Callable, Iterable

from torch import nn

from .base import SpikingNeuron


def reset_net(model: nn.Module) -> int:
    """Reset every stateful neuron in ``model`` and return how many modules were reset.

    * our neurons (:class:`SpikingNeuron`): ``reset()``;
    * SpikingJelly ``MemoryModule``s (neurons, masked/sliding PSN, stateful layers; any version that keeps
      its state in ``_memories``): ``reset()``, as ``spikingjelly...functional.reset_net`` does;
    * snnTorch neurons (``Leaky``, ``Synaptic``, ...): ``reset_mem()``, which zeroes the hidden state (needed
      with ``init_hidden=True``; harmless otherwise).

    Other modules are left alone (a generic ``reset()`` is not assumed to be about neuron state).
    """
    resetters = neuron_resetters(model.modules())
    for reset in resetters:
        reset()
    return len(resetters)


def neuron_resetters(modules: Iterable[nn.Module]) -> list[Callable[[], None]]:
    """The reset calls :func:`reset_net` makes for these modules, in order (to reset the same model often)."""
    out: list[Callable[[], None]] = []
    for m in modules:
        if isinstance(m, SpikingNeuron) or _is_spikingjelly_memory(m):
            out.append(m.reset)
        elif _is_snntorch_neuron(m):
            out.append(m.reset_mem)
    return out


def _is_spikingjelly_memory(m: nn.Module) -> bool:
    base = sys.modules.get("spikingjelly.activation_based.base")
    if base is not None and isinstance(m, base.MemoryModule):
        return True
    # older SpikingJelly (clock_driven) and copies of its MemoryModule keep their states in ``_memories``
    return isinstance(m.__dict__.get("_memories"), dict) and callable(getattr(type(m), "reset", None))


def _is_snntorch_neuron(m: nn.Module) -> bool:
    neurons = sys.modules.get("snntorch._neurons.neurons")
    if neurons is not None and isinstance(m, neurons.SpikingNeuron):
        return callable(getattr(m, "reset_mem", None))
    # snnTorch assigns a tensor to ``self.reset`` in forward, so only ``reset_mem`` identifies it
    return type(m).__module__.startswith("snntorch") and callable(getattr(m, "reset_mem", None))
