"""Detecting neurons nobody registered: stateful modules that turn non-spike inputs into spikes.

A candidate is a leaf module of a user class (not ``torch.nn``'s, not a known neuron) that stores a new
tensor on itself during its forward (a membrane kept between calls). For candidates only, the kinds of the
input and output are queued with the other per-call summaries; after the host copy a candidate whose every
output was spikes while some input was not is reported, with the call that registers its class.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from .kinds import SPIKE_KINDS, kind_code


class NeuronProbe:
    """What was seen of one candidate module's calls."""

    def __init__(self, path: str, cls: type) -> None:
        self.path = path
        self.cls = cls
        self.calls = 0
        self.spiking_outputs = True
        self.non_spike_input = False

    def add(self, kind_in: int | None, kind_out: int) -> None:
        self.calls += 1
        self.spiking_outputs &= kind_out in SPIKE_KINDS
        if kind_in is not None and kind_in not in SPIKE_KINDS:
            self.non_spike_input = True

    @property
    def probable(self) -> bool:
        return self.calls > 0 and self.spiking_outputs and self.non_spike_input


def is_candidate(module: nn.Module) -> bool:
    """A leaf module of a class defined outside torch."""
    return not module._modules and not type(module).__module__.startswith("torch.")


def tensor_state(module: nn.Module) -> dict[str, int]:
    """Ids of the plain tensor attributes of ``module`` (its state outside parameters and buffers)."""
    return {k: id(v) for k, v in module.__dict__.items() if isinstance(v, torch.Tensor)}


def probe_call(session, probe: NeuronProbe, before: dict[str, int], module: nn.Module, args, out) -> None:
    """After a candidate's call: if it stored new tensor state, queue its input and output kinds."""
    if not isinstance(out, torch.Tensor) or not out.numel() or tensor_state(module) == before:
        return
    x = args[0] if args and isinstance(args[0], torch.Tensor) and args[0].numel() else None
    summaries = session.summaries
    refs_in = summaries.kind_stats(x) if x is not None else None
    session.queue.probes.append((probe, refs_in, summaries.kind_stats(out)))


def add_probes(probes: list[tuple], values: list[float], at) -> None:
    """Fold the queued probe kinds (called with the host copy of the queue)."""
    for probe, refs_in, refs_out in probes:
        probe.add(_kind(refs_in, values, at) if refs_in is not None else None, _kind(refs_out, values, at))


def _kind(refs, values, at) -> int:
    return kind_code(*(values[at(r)] for r in refs))


def warn_probable_neurons(probes: dict[str, NeuronProbe]) -> list[str]:
    """Warn once per class about probable neurons; returns their module paths."""
    found = [p for p in probes.values() if p.probable]
    for cls in dict.fromkeys(p.cls for p in found):
        paths = ", ".join(repr(p.path) for p in found if p.cls is cls)
        warnings.warn(
            f"snnenergy: module {paths} ({cls.__name__}) keeps state and turns non-spike inputs into spikes: it "
            f"looks like a spiking neuron that is not registered, so its state update was counted as ops and its "
            f"spikes are not in the neuron table. Register it and profile again: "
            f"snnenergy.register_neuron({cls.__name__})", UserWarning, stacklevel=3)
    return [p.path for p in found]
