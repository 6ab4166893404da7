"""Operand summaries and their per-forward cache.

A summary is a few queued device scalars: an operand's value range and figures of its fractional parts (its
kind, see :mod:`.kinds`) and its nonzeros per time step. They are cached for the forward so that the q/k/v projections
of one input, or every consumer of a neuron's spikes, do not reduce it again.

Entries are keyed by memory (storage owner, first address, size, dtype): a value range holds for every
dense view of that memory, per-step counts only for views in its (contiguous) order. A copy in the same
logical order (a reshape that copies) shares its source's entry, keyed by the source object. An entry is
valid while its tensor is alive and unmodified: the key's version counter changes with every in-place
write through torch (NumPy writes through ``.numpy()`` bump nothing, so ``numpy``/``.data`` aliasing clears
the cache).
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Callable

import torch

from . import formulas as fm
from .device_queue import DeviceQueue, sub_ref

_PAIRED_DTYPES = (torch.float32, torch.float64)  # inputs whose nonzeros and Σ|x| are reduced together


def memory_order(x: torch.Tensor) -> torch.Tensor:
    """``x``'s values without copying: itself, or a flat view in memory order when it is a dense permutation
    (reductions over all of a permuted tensor would copy it first)."""
    if x.is_contiguous() or not fm.is_dense(x):
        return x
    return x.as_strided((x.numel(),), (1,))


class OperandSummaries:
    """Queue (and cache) the kind statistics and nonzero counts of operands."""

    def __init__(self, queue: DeviceQueue, scratch: fm.Scratch) -> None:
        self.queue = queue
        self.scratch = scratch
        self._values: dict[tuple, tuple] = {}
        queue.on_fold.append(self.clear)  # cached summaries refer to queue positions

    def clear(self) -> None:
        self._values.clear()

    def info(self, t: torch.Tensor, create: bool) -> tuple[list | None, bool]:
        """``(summaries, ordered)`` for ``t``: ``[range refs, kind refs, {parts: count ref}]`` (``None`` if
        ``t`` cannot be cached); per-step counts apply only when ``ordered``."""
        try:
            version = t._version
        except RuntimeError:  # an inference tensor: no version counter
            return None, False
        if t.is_contiguous():
            ordered = True
        elif fm.is_dense(t):
            ordered = False
        else:
            return None, False
        base = t._base
        if base is None:
            base = t
        key = (id(base), t.data_ptr(), t.numel(), t.dtype)
        e = self._values.get(key)
        if e is not None and e[0]() is base and e[1] == version:
            return e[2], ordered
        if not create:
            return None, ordered
        info = [None, None, {}]
        self._values[key] = (weakref.ref(base), version, info)
        return info, ordered

    def alias(self, src: torch.Tensor, out: torch.Tensor) -> None:
        """``out`` is a fresh copy of ``src`` in the same logical order: let them share one entry."""
        if not src.numel() or not out.is_contiguous():
            return
        try:
            src_version, out_version = src._version, out._version
        except RuntimeError:
            return
        if src.is_contiguous():
            info, _ = self.info(src, True)
            if info is None:
                return
        else:  # keyed by the source object itself: its logical order is what the copy has
            key = ("object", id(src), src.dtype)
            e = self._values.get(key)
            if e is not None and e[0]() is src and e[1] == src_version:
                info = e[2]
            else:
                info = [None, None, {}]
                self._values[key] = (weakref.ref(src), src_version, info)
        self._values[(id(out), out.data_ptr(), out.numel(), out.dtype)] = (weakref.ref(out), out_version, info)

    def kind_stats(self, x: torch.Tensor, info: list | None = None) -> tuple[int, ...]:
        """Queue ``x``'s value range and fractional-part range (decides its kind); returns their references
        (min, max, then the fractional-part figures: see :mod:`.kinds`).
        ``info``: ``x``'s cache entry, when the caller has looked it up."""
        q = self.queue
        if x.numel() == 0:
            z = q.scalar(q.zero())
            return (z, z, z, z)
        if info is None:
            info, _ = self.info(x, True)
        if info is not None and info[1] is not None:
            return info[1]
        x = memory_order(x)  # only the set of values matters here
        if x.dtype == torch.bool:
            x = x.view(torch.uint8)
        r_min, r_max = self._value_range(x, info)
        if x.is_floating_point():
            fmn, fmx = torch.frac(x, out=self.scratch.like(x, x.dtype)).aminmax()
            r_fmin, r_fmax = q.scalar(fmn), q.scalar(fmx)
        else:
            r_fmin = r_fmax = q.scalar(q.zero())
        refs = (r_min, r_max, r_fmin, r_fmax)
        if info is not None:
            info[1] = refs
        return refs

    def kind_from_fractions(self, x: torch.Tensor, fractional: tuple[int, ...]) -> tuple[int, ...]:
        """``x``'s kind references: the cached ones, else its value range and ``fractional``, queued sums of the
        fractional parts of |x| (all zero iff every value is integral), or, without them, :meth:`kind_stats`."""
        info, _ = self.info(x, True) if x.numel() else (None, False)
        if info is not None and info[1] is not None:
            return info[1]
        if not fractional:
            return self.kind_stats(x, info)
        refs = (*self._value_range(memory_order(x), info), *fractional)
        if info is not None:
            info[1] = refs
        return refs

    def value_range(self, x: torch.Tensor) -> tuple[int, int]:
        """Queue ``x``'s min and max (cached with its summaries); returns their references."""
        if x.numel() == 0:
            z = self.queue.scalar(self.queue.zero())
            return z, z
        info, _ = self.info(x, True)
        x = memory_order(x)
        return self._value_range(x.view(torch.uint8) if x.dtype == torch.bool else x, info)

    def _value_range(self, x: torch.Tensor, info: list | None) -> tuple[int, int]:
        """Queue ``x``'s min and max (``x`` in memory order, bool viewed as uint8), or read them from its cache
        entry ``info`` (a neuron's output has them already); returns their references."""
        if info is not None and info[0] is not None:
            return info[0]
        mn, mx = x.aminmax()
        refs = self.queue.scalar(mn), self.queue.scalar(mx)
        if info is not None:
            info[0] = refs
        return refs

    def pairable(self, x: torch.Tensor, n: int) -> bool:
        """Whether ``x``'s nonzeros and Σ|x| in ``n`` parts can come from one reduction (a contiguous float
        tensor whose parts' counts stay exact in float32)."""
        numel = x.numel()
        return (x.dtype in _PAIRED_DTYPES and numel > 0 and x.is_contiguous() and numel % n == 0
                and numel // n < fm.F32_EXACT)

    def weight_input(self, x: torch.Tensor, n: int) -> tuple[int, tuple | None, tuple]:
        """``(nonzeros ref, value-weighted record or None, kind refs)`` of a weight layer's activation ``x``,
        counted in ``n`` equal parts of dim 0 (as :meth:`nnz_steps`, :meth:`abs_sum_steps` and
        :meth:`kind_stats`). An input not proven to be spikes needs Σ|x| as well: for a float input it comes
        with the nonzeros from one reduction of a block holding the nonzero indicator and |x|, queued as one
        vector."""
        if self.proven_spikes(x):
            return self.nnz_steps(x, n), None, self.kind_stats(x)
        info, ordered = self.info(x, True) if x.numel() else (None, False)
        parts = info[2] if info is not None and (ordered or n == 1) else None
        if parts is not None:  # another consumer of the same tensor has reduced it (q, k, v of one input)
            r_nnz, r_abs = parts.get(n), parts.get(-n)
            if r_nnz is not None and r_abs is not None:
                return r_nnz, value_weighted_ref(r_abs, x, n), self.kind_stats(x, info)
        if parts is None or n in parts or -n in parts or not self.pairable(x, n):
            return self.nnz_steps(x, n), self.abs_sum_steps(x, n), self.kind_stats(x, info)
        # [nonzeros, Σ|x|] per part, and Σ frac(|x|) per part unless another consumer has queued x's kind: its
        # integrality test then comes with the counts
        fractions = info[1] is None
        r_nnz = self.queue.vector(fm.nonzeros_and_magnitudes(x, n, self.scratch, fractions=fractions))
        kind = self.kind_from_fractions(x, tuple(sub_ref(r_nnz, 2 * n + t) for t in range(n)) if fractions else ())
        r_abs = sub_ref(r_nnz, n)
        parts[n], parts[-n] = r_nnz, r_abs
        return r_nnz, value_weighted_ref(r_abs, x, n), kind

    def nnz_steps(self, x: torch.Tensor, n: int) -> int:
        """Queue the nonzeros of ``x`` in ``n`` equal parts along dim 0 (n = T time steps, or 1)."""
        info, ordered = self.info(x, True) if x.numel() else (None, False)
        parts = info[2] if info is not None and (ordered or n == 1) else None
        if parts is not None:
            ref = parts.get(n)
            if ref is not None:
                return ref
        ref = self.queue.counts(fm.count_nonzero_parts(x, n, self.scratch), n)
        if parts is not None:
            parts[n] = ref
        return ref

    def conv_positions(self, x: torch.Tensor, n: int, kernel_size: int, magnitudes: bool
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A batched conv input's nonzeros (and, with ``magnitudes``, Σ|x|) per spatial position over each of
        ``n`` parts of the batch (:func:`.formulas.conv_position_counts`), cached like the other summaries: a
        time loop that feeds the same input to a conv at every step reduces it once."""
        info, ordered = self.info(x, True) if x.numel() else (None, False)
        parts = info[2] if info is not None and ordered else None
        key = ("conv", n, kernel_size, x.shape)  # per position: the layout matters, not just the memory
        counts = parts.get(key) if parts is not None else None
        if counts is None:
            counts = fm.conv_position_counts(x, n, kernel_size, self.scratch)
            if parts is not None:
                parts[key] = counts
        if not magnitudes:
            return counts, None
        key = ("conv_abs", n, x.shape)
        sums = parts.get(key) if parts is not None else None
        if sums is None:
            sums = fm.conv_position_abs_sums(x, n, self.scratch)
            if parts is not None:
                parts[key] = sums
        return counts, sums

    def conv_position_pairs(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """``[2n, positions]``: a batched conv input's nonzeros (rows ``0..n-1``) and Σ|x| (rows ``n..2n-1``) per
        spatial position over each of ``n`` parts of the batch, from one reduction (``x`` :meth:`pairable`),
        and ``[3n, positions]`` with Σ frac(|x|) (rows ``2n..3n-1``) when ``x``'s kind is not queued yet (see
        :meth:`kind_from_fractions`); cached like the other summaries."""
        info, ordered = self.info(x, True)
        parts = info[2] if info is not None and ordered else None
        key = ("conv_pairs", n, x.shape)
        sums = parts.get(key) if parts is not None else None
        if sums is None:
            sums = fm.nonzeros_and_magnitudes(x, n, self.scratch, max(math.prod(x.shape[2:]), 1),
                                              fractions=info is None or info[1] is None)
            if parts is not None:
                parts[key] = sums
        return sums

    def derived(self, x: torch.Tensor, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()``, a result that depends on ``x``'s values (in their order) and on what ``key`` names
        only, cached with ``x``'s summaries: while ``x`` is alive and unmodified, until the queue folds."""
        info, ordered = self.info(x, True) if x.numel() else (None, False)
        parts = info[2] if info is not None and ordered else None
        if parts is None:
            return compute()
        found = parts.get(key)
        if found is None:
            found = parts[key] = compute()
        return found

    def proven_spikes(self, x: torch.Tensor) -> bool:
        """Whether ``x`` is known, without looking at its values, to hold only 0 and 1 (so that Σ|x| equals
        its nonzero count)."""
        return x.dtype == torch.bool

    def abs_sum_steps(self, x: torch.Tensor, n: int) -> tuple[int, int, int]:
        """Queue Σ|x| over ``n`` equal parts along dim 0 (cached like :meth:`nnz_steps`, under key ``-n``);
        returns ``(reference, elements per part, exactness limit)`` (see :func:`value_weighted_ref`)."""
        info, ordered = self.info(x, True) if x.numel() else (None, False)
        parts = info[2] if info is not None and (ordered or n == 1) else None
        ref = parts.get(-n) if parts is not None else None
        if ref is None:
            ref = self.queue.counts(fm.abs_sum_parts(x, n, self.scratch), n)
            if parts is not None:
                parts[-n] = ref
        return value_weighted_ref(ref, x, n)


def value_weighted_ref(ref: int, x: torch.Tensor, n: int) -> tuple[int, int, int]:
    """The record of a queued sum of magnitudes: its reference, the elements of ``x`` per part and the
    largest sum its dtype holds exactly. The fold uses it for integer inputs whose sums could not pass that
    limit (elements × largest magnitude); others get NaN."""
    limit = 1 << 53 if fm.sum_dtype(x) == torch.float64 else fm.F32_EXACT
    return ref, x.numel() // max(n, 1), limit
