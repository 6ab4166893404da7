"""The device queue: per-call counts stay on the model's device until one host copy adds them up.

Each synaptic call leaves a few small device tensors here (its operands' value ranges, its effective and
nonzero counts per time step); a neuron call leaves its output range and spikes per step. :meth:`fold`
concatenates the queue, copies it to the host once and adds it into the host accumulators
(:mod:`.accumulators`). Nothing here synchronises with the device per call.

Queued tensors are grouped as 0-d float32, 0-d float64, 1-d float32, 1-d float64 (so that the final
stack/cat copies each group in one piece); a reference is ``index << 2 | group``, plus ``offset << 32`` for a
reference into a queued vector past its first value (:func:`sub_ref`: several counts reduced in one op and
queued as one vector). Only float32 and float64 are queued, float32 only where the values are exact in it
(every count below 2^24).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .kinds import INTEGER, kind_code
from .neuron_detection import add_probes

_INDEX_BITS = (1 << 32) - 1


def sub_ref(ref: int, offset: int) -> int:
    """The reference of the value ``offset`` places after the first of queued vector ``ref``."""
    return ref + (offset << 32)


FOLD_EVERY = 50_000  # queued tensors before a host copy within a forward (bounds memory on very long forwards)
FOLD_AFTER_FORWARD = 4_096  # queued tensors before a host copy at the end of a forward (flat memory over batches)


def _value_weighted_at(r_vw, ka: int, lo: float, hi: float, at) -> int | None:
    """Where a call's value-weighted count is: ``None`` where it equals the effective count (spikes, whose
    nonzeros are ±1; real inputs, which have no n-spike view), the queue position of Σ|x| · fan-out for an
    integer input whose sums were exact, -1 (unknown: NaN) where they could have rounded."""
    if r_vw is None or ka != INTEGER:
        return None
    ref, part, limit = r_vw
    if part * max(-lo, hi) >= limit:
        return -1
    return at(ref)


class DeviceQueue:
    """Small device tensors of per-call counts, and the records that say what each one is."""

    def __init__(self, time_steps: int, device: torch.device) -> None:
        self.T = time_steps
        self.device = device
        self.fold_every = FOLD_EVERY
        self.fold_after_forward = FOLD_AFTER_FORWARD
        self._queue: tuple[list[torch.Tensor], ...] = ([], [], [], [])
        self._sizes: tuple[list[int], list[int]] = ([], [])  # lengths of the queued vectors (groups 2, 3)
        # [site, a-kind refs, b-kind refs, kind b, slot, eff ref, nnz ref, mult, value-weighted ref or None, parts,
        #  full-rate ref or None (a count only the device knows, added to the site's full_rate_ops)]
        self.site_calls: list[tuple] = []
        # (neuron stats, min ref, max ref, spikes ref, slot, offset)
        self.neuron_calls: list[tuple] = []
        self.probes: list[tuple] = []  # (neuron probe, input kind refs, output kind refs)
        self.on_fold: list[Callable[[], None]] = []  # called before a fold (caches holding queue references)
        self._zero: torch.Tensor | None = None
        self._size = 0  # tensors queued (kept as a count: checked after every call)

    def __len__(self) -> int:
        return self._size

    def scalar(self, t: torch.Tensor) -> int:
        """Queue a 0-d device tensor; returns its reference."""
        return self._enqueue(t, vector=False)

    def vector(self, t: torch.Tensor) -> int:
        """Queue a 1-d device tensor; returns its reference."""
        return self._enqueue(t, vector=True)

    def _enqueue(self, t: torch.Tensor, vector: bool) -> int:
        group = (2 if vector else 0) + (0 if t.dtype is torch.float32 else 1)
        if group & 1 and t.dtype is not torch.float64:
            t = t.double()
        q = self._queue[group]
        q.append(t)
        self._size += 1
        if vector:
            self._sizes[group - 2].append(t.shape[0])
        return (len(q) - 1) << 2 | group

    def counts(self, t: torch.Tensor, n: int) -> int:
        """Queue per-step counts ``[n]`` (n = T) or a single count (n = 1, any shape with one element)."""
        if n > 1:
            return self.vector(t)
        return self.scalar(t if t.dim() == 0 else t.reshape(()))

    def zero(self) -> torch.Tensor:
        """A 0-d float64 zero on the device (one per session)."""
        if self._zero is None:
            self._zero = torch.zeros((), dtype=torch.float64, device=self.device)
        return self._zero

    def maybe_fold(self) -> None:
        if self._size > self.fold_every:
            self.fold()

    def fold(self) -> tuple[list[float], Callable[[int], int]]:
        """Copy the queue to the host in one transfer and add it into the accumulators.

        Returns the copied values and the map from a queue reference to its position among them.
        """
        for callback in self.on_fold:
            callback()
        values, at = self._copy()
        self._add_site_calls(values, at)
        self._add_neuron_calls(values, at)
        add_probes(self.probes, values, at)
        self._queue = ([], [], [], [])
        self._sizes = ([], [])
        self._size = 0
        self.site_calls, self.neuron_calls, self.probes = [], [], []
        return values, at

    def _copy(self) -> tuple[list[float], Callable[[int], int]]:
        parts, starts, pos = [], [], 0
        for group, q in enumerate(self._queue):  # one piece per group: a cat of mixed dtypes copies slowly
            if group < 2:
                starts.append([pos + i for i in range(len(q))])
                if q:
                    parts.append(torch.stack(q))
                pos += len(q)
            else:
                first = []
                for size in self._sizes[group - 2]:
                    first.append(pos)
                    pos += size
                starts.append(first)
                if q:
                    parts.append(torch.cat(q) if len(q) > 1 else q[0])
        values = (torch.cat(parts) if len(parts) > 1 else parts[0]).cpu().tolist() if parts else []

        def at(ref: int) -> int:  # the position of a queued tensor's first value in ``values``
            return starts[ref & 3][(ref & _INDEX_BITS) >> 2] + (ref >> 32)

        return values, at

    def _add_site_calls(self, values: list[float], at: Callable[[int], int]) -> None:
        T = self.T
        kinds: dict[tuple, tuple[int, float, float]] = {}  # operands shared by several calls: read once

        def kind_and_range(refs: tuple) -> tuple[int, float, float]:
            found = kinds.get(refs)
            if found is None:
                lo, hi, *fractional = [values[at(r)] for r in refs]
                found = kinds[refs] = (kind_code(lo, hi, *fractional), lo, hi)
            return found

        for site, ra, rb, kb, slot, r_eff, r_nnz, mult, r_vw, n, r_full in self.site_calls:
            if r_full is not None:
                site.full_rate_ops += round(values[at(r_full)])
            ka, lo, hi = kind_and_range(ra)
            b_range = None
            if rb is not None:
                kb, b_lo, b_hi = kind_and_range(rb)
                b_range = (b_lo, b_hi)
            site.add_operand_range((lo, hi), b_range)
            site.kind_calls[ka, kb] += 1
            e, z = at(r_eff), at(r_nnz)
            v = _value_weighted_at(r_vw, ka, lo, hi, at)
            if slot < 0:
                eff, nnz = site.effective[ka, kb], site.nnz
                vw = 0.0
                for t in range(T):
                    ops = round(values[e + t]) * mult
                    eff[t] += ops
                    nnz[t] += round(values[z + t])
                    vw += ops if v is None else round(values[v + t]) * mult if v >= 0 else math.nan
            else:  # one slot; a call queued in n parts adds all of them there
                ops = sum(round(values[e + t]) for t in range(n)) * mult
                site.effective[ka, kb, slot] += ops
                site.nnz[slot] += sum(round(values[z + t]) for t in range(n))
                vw = ops if v is None else sum(round(values[v + t]) for t in range(n)) * mult if v >= 0 else math.nan
            site.value_weighted += vw

    def _add_neuron_calls(self, values: list[float], at: Callable[[int], int]) -> None:
        T = self.T
        for st, r_min, r_max, r_spikes, slot, offset in self.neuron_calls:
            if r_min is not None:
                st.add_output_range(values[at(r_min)], values[at(r_max)])
            if r_spikes is None:
                continue
            s = at(r_spikes) + offset
            if slot < 0:
                for t in range(T):
                    st.spikes[t] += values[s + t]
            else:
                st.spikes[slot] += values[s]
