"""Host-side accumulators: sums only, mergeable across batches.

The per-call numbers are computed on the model's device and queued there (see ``ProfileSession``); they
reach these accumulators in one host copy when the session is finalised, or at the end of a forward once a
few thousand are queued (so memory does not grow with the number of batches).

Time slots: ``0 .. T-1`` are time steps, slot ``T`` collects calls that cannot be given a time step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .kinds import N_KINDS


def _lower(cur: float, v: float) -> float:
    """``min`` that propagates NaN, as ``torch.minimum`` does."""
    return v if (v < cur or v != v) and cur == cur else cur


def _upper(cur: float, v: float) -> float:
    return v if (v > cur or v != v) and cur == cur else cur


@dataclass
class SiteStats:
    """One synaptic op site: (module path, op, index of that op within the module's forward)."""

    layer: str
    op: str
    index: int
    time_steps: int
    # effective ops by (kind of operand A, kind of operand B, time slot); B = WEIGHT for weight layers
    effective: np.ndarray = field(init=False)
    # calls by (kind A, kind B): decides the reported kind even when a call had no effective op
    kind_calls: np.ndarray = field(init=False)
    nnz: np.ndarray = field(init=False)  # nonzeros of operand A per slot
    a_min: float = math.inf
    a_max: float = -math.inf
    b_min: float = math.inf
    b_max: float = -math.inf
    elements: list[int] = field(init=False)  # elements of operand A per slot
    dense: list[int] = field(init=False)  # nominal MACs per slot
    bias_ops: int = 0
    value_weighted: float = 0.0  # Σ over nonzero inputs of |x| · valid fan-out (= effective for spikes)
    full_rate_ops: int = 0  # the effective count had every activation element been nonzero (padding excluded)
    bound: list | None = field(default=None, repr=False)  # shape-only figures of the last call's geometry
    output_elements: int = 0
    calls: int = 0
    untimed_calls: int = 0
    call_ordered: bool = False  # some calls were given their step by call order (a single-step loop)
    weight_shape: tuple[int, ...] | None = None
    producers_a: dict[str, int] = field(default_factory=dict)
    producers_b: dict[str, int] = field(default_factory=dict)
    # calls per forward pass, by forward id (decides call-order steps once the forward is over); only the
    # current forward's entry is kept (the session resolves the slots of a forward before the next begins)
    forward_calls: dict[int, int] = field(default_factory=dict)
    max_forward_calls: int = 0  # the most calls in one finished forward (see :meth:`most_calls_in_a_forward`)
    _forward_id: int = -1
    _calls_in_forward: int = 0

    def __post_init__(self) -> None:
        t1 = self.time_steps + 1
        self.effective = np.zeros((N_KINDS, N_KINDS, t1), dtype=np.int64)
        self.kind_calls = np.zeros((N_KINDS, N_KINDS), dtype=np.int64)
        self.nnz = np.zeros(t1, dtype=np.int64)
        self.elements = [0] * t1
        self.dense = [0] * t1

    def call_index(self, forward_id: int) -> int:
        """This call's index among the site's calls in the current forward (counted per forward)."""
        if forward_id != self._forward_id:  # constant memory over batches: drop the finished forward's entry
            if self._calls_in_forward > self.max_forward_calls:
                self.max_forward_calls = self._calls_in_forward
            self.forward_calls.clear()
            self._forward_id, self._calls_in_forward = forward_id, 0
        k = self._calls_in_forward
        self._calls_in_forward += 1
        self.forward_calls[forward_id] = k + 1
        return k

    def most_calls_in_a_forward(self) -> int:
        """The most calls this site made in one forward pass so far."""
        return max(self.max_forward_calls, self._calls_in_forward)

    def call_slot(self, forward_id: int) -> int:
        """Slot for an untimed call: its index among this site's calls in the current forward."""
        k = self.call_index(forward_id)
        return k if k < self.time_steps else self.time_steps

    def add_operand_range(self, a: tuple[float, float], b: tuple[float, float] | None) -> None:
        self.a_min, self.a_max = _lower(self.a_min, a[0]), _upper(self.a_max, a[1])
        if b is not None:
            self.b_min, self.b_max = _lower(self.b_min, b[0]), _upper(self.b_max, b[1])


@dataclass
class NeuronStats:
    """One neuron layer: output spikes per slot, and per-neuron spike counts for dead/saturated fractions."""

    layer: str
    type: str
    time_steps: int
    has_leak: bool = True
    spikes: np.ndarray = field(init=False)
    out_min: float = math.inf
    out_max: float = -math.inf
    dead: float = math.nan  # fractions of neurons that never / always spiked (ProfileSession.neuron_fractions)
    saturated: float = math.nan
    # device accumulators of spikes per neuron, summed over samples and batches: key -1 holds ``[T, ...]``
    # (calls with a time-step dim), key k ``[N]`` (the k-th call of a forward, for single-step models)
    acc: dict[int, torch.Tensor] = field(default_factory=dict)
    varying: bool = False  # the layer's size changed between calls: no per-neuron counts (dead/saturated NaN)
    per_neuron: torch.Tensor | None = None  # after finalize: spikes per neuron ([N] or [T, N]), for dead/saturated
    elements: list[int] = field(init=False)
    neuron_steps: int = 0  # step-samples seen per neuron (for "saturated")
    calls: int = 0
    untimed_calls: int = 0
    _forward_id: int = -1
    _calls_in_forward: int = 0

    def __post_init__(self) -> None:
        t1 = self.time_steps + 1
        self.spikes = np.zeros(t1, dtype=np.float64)
        self.elements = [0] * t1

    forward_calls: dict[int, int] = field(default_factory=dict)
    max_forward_calls: int = 0

    call_index = SiteStats.call_index
    call_slot = SiteStats.call_slot

    def add_output_range(self, lo: float, hi: float) -> None:
        self.out_min, self.out_max = _lower(self.out_min, lo), _upper(self.out_max, hi)


@dataclass
class OtherStats:
    """A non-synaptic op site: calls and elements produced (host ints, no device work)."""

    layer: str
    op: str
    calls: int = 0
    elements: int = 0
    label: str = ""  # provenance label of its outputs ("layer:op")

    def __post_init__(self) -> None:
        self.label = f"{self.layer}:{self.op}" if self.layer else self.op
