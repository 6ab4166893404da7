"""Streaming accumulators: sums only, on the model's device, mergeable across batches and processes.

Time slots: ``0 .. T-1`` are time steps, slot ``T`` collects calls that cannot be given a time step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .kinds import N_KINDS


@dataclass
class SiteStats:
    """One synaptic op site: (module path, op, index of that op within the module's forward)."""

    layer: str
    op: str
    index: int
    time_steps: int
    device: torch.device
    # effective ops by (kind of operand A, kind of operand B, time slot); B = WEIGHT for weight layers
    effective: torch.Tensor = field(init=False)
    # calls by (kind A, kind B): decides the reported kind even when a call had no effective op
    kind_calls: torch.Tensor = field(init=False)
    nnz: torch.Tensor = field(init=False)  # nonzeros of operand A per slot
    a_min: torch.Tensor = field(init=False)
    a_max: torch.Tensor = field(init=False)
    b_min: torch.Tensor = field(init=False)
    b_max: torch.Tensor = field(init=False)
    elements: list[int] = field(init=False)  # elements of operand A per slot (host)
    dense: list[int] = field(init=False)  # nominal MACs per slot (host)
    bias_ops: int = 0
    calls: int = 0
    untimed_calls: int = 0
    weight_shape: tuple[int, ...] | None = None
    producers_a: dict[str, int] = field(default_factory=dict)
    producers_b: dict[str, int] = field(default_factory=dict)
    # per-forward call counter (for models that call a layer once per time step)
    _forward_id: int = -1
    _calls_in_forward: int = 0

    def __post_init__(self) -> None:
        t1 = self.time_steps + 1
        dev = self.device
        self.effective = torch.zeros((N_KINDS, N_KINDS, t1), dtype=torch.int64, device=dev)
        self.kind_calls = torch.zeros((N_KINDS, N_KINDS), dtype=torch.int64, device=dev)
        self.nnz = torch.zeros(t1, dtype=torch.int64, device=dev)
        def full(v: float) -> torch.Tensor:
            return torch.full((), v, dtype=torch.float64, device=dev)  # a fill kernel, no host-to-device copy

        self.a_min, self.a_max, self.b_min, self.b_max = full(float("inf")), full(-float("inf")), full(float("inf")), \
            full(-float("inf"))
        self.elements = [0] * t1
        self.dense = [0] * t1

    def call_slot(self, forward_id: int) -> int:
        """Slot for an untimed call: its index among this site's calls in the current forward."""
        if forward_id != self._forward_id:
            self._forward_id, self._calls_in_forward = forward_id, 0
        k = self._calls_in_forward
        self._calls_in_forward += 1
        return k if k < self.time_steps else self.time_steps


@dataclass
class NeuronStats:
    """One neuron layer: output spikes per slot, and per-neuron spike counts for dead/saturated fractions."""

    layer: str
    type: str
    time_steps: int
    device: torch.device
    has_leak: bool = True
    known: bool = True  # a known neuron class (vs. detected from its outputs)
    spikes: torch.Tensor = field(init=False)
    out_min: torch.Tensor = field(init=False)
    out_max: torch.Tensor = field(init=False)
    per_neuron: torch.Tensor | None = None  # spike count per neuron, summed over steps and samples
    elements: list[int] = field(init=False)
    neuron_steps: int = 0  # step-samples seen per neuron (for "saturated")
    calls: int = 0
    untimed_calls: int = 0
    _forward_id: int = -1
    _calls_in_forward: int = 0

    def __post_init__(self) -> None:
        t1 = self.time_steps + 1
        self.spikes = torch.zeros(t1, dtype=torch.float64, device=self.device)
        self.out_min = torch.full((), float("inf"), dtype=torch.float64, device=self.device)
        self.out_max = torch.full((), -float("inf"), dtype=torch.float64, device=self.device)
        self.dead = torch.zeros((), dtype=torch.float64, device=self.device)
        self.saturated = torch.zeros((), dtype=torch.float64, device=self.device)
        self.elements = [0] * t1

    call_slot = SiteStats.call_slot


@dataclass
class OtherStats:
    """A non-synaptic op site: calls and elements produced (host ints, no device work)."""

    layer: str
    op: str
    calls: int = 0
    elements: int = 0
