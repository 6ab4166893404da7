"""Dense and effective operation counts for synaptic ops (the op → formula table's arithmetic).

Dense counts are the nominal multiply-accumulates as fvcore and the papers count them (taps on padding
included, bias excluded). Effective counts are exactly the terms whose two operands are both nonzero,
computed without a second full-size op: weight layers use the per-position nonzero count of the input
weighted by a valid-fan-out map that depends only on shapes (cached), products of two activations use
Σ_k nnz(A[:, k]) · nnz(B[k, :]).

Counts are returned per time step (equal parts of the operand's dim 0) or per leading row, so that the caller
can attribute them to steps; all of it stays on the device, and sums are taken in float32 only where every
partial sum is an integer below 2^24 (exact), else in float64.
"""
from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import Sequence

import torch
import torch.nn.grad as nn_grad


class Scratch:
    """Reusable work buffers, one per (dtype, device), for full-size intermediates that are reduced at once
    (a nonzero indicator, fractional parts): no allocation per call. A view is valid until the next
    :meth:`like` of the same dtype, so each must be reduced before the next is requested."""

    def __init__(self) -> None:
        self._buffers: dict[tuple, torch.Tensor] = {}
        self._views: dict[tuple, torch.Tensor] = {}

    def like(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """A tensor with ``x``'s shape, of ``dtype`` on ``x``'s device (contents undefined), laid out like ``x``
        when ``x`` is a dense permutation (so that an element-wise op on ``x`` writes it in memory order)."""
        strides = x.stride() if not x.is_contiguous() and is_dense(x) else None
        key = (x.shape, strides, dtype, x.device)
        view = self._views.get(key)
        if view is None:
            n = x.numel()
            bkey = (dtype, x.device)
            buf = self._buffers.get(bkey)
            if buf is None or buf.numel() < n:
                buf = self._buffers[bkey] = torch.empty(n, dtype=dtype, device=x.device)
                self._views = {k: v for k, v in self._views.items() if k[2:] != bkey}
            if len(self._views) > 256:
                self._views.clear()
            view = buf.as_strided(x.shape, strides) if strides is not None else buf[:n].view(x.shape)
            self._views[key] = view
        return view

    def trim(self, keep_bytes: int) -> None:
        """Free the buffers larger than ``keep_bytes`` (and their views)."""
        big = [k for k, b in self._buffers.items() if b.numel() * b.element_size() > keep_bytes]
        for k in big:
            del self._buffers[k]
        if big:
            self._views = {k: v for k, v in self._views.items() if k[2:] not in big}


_THREAD = threading.local()
SCRATCH_KEEP_BYTES = 32 << 20  # scratch a thread keeps between profiles; larger buffers go with their session


def thread_scratch() -> Scratch:
    """This thread's :class:`Scratch` (kept between profiles, so that a repeated profile allocates nothing)."""
    scratch = getattr(_THREAD, "scratch", None)
    if scratch is None:
        scratch = _THREAD.scratch = Scratch()
    return scratch


def is_dense(t: torch.Tensor) -> bool:
    """Whether ``t``'s elements fill a block of memory without gaps or overlaps (in any dim order)."""
    expected = 1
    for stride, size in sorted(zip(t.stride(), t.shape)):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def nonzero_indicator(x: torch.Tensor, scratch: Scratch | None = None) -> torch.Tensor:
    """1.0 where ``x`` is nonzero, else 0.0, as a float32 tensor (in ``scratch`` when given).

    A comparison written straight into a float tensor is one vectorised pass; a bool mask is not (PyTorch's
    bool stores and reductions are several times slower on CPU). Sums of the indicator are exact in float32
    up to 2^24 per reduction and are taken in float64 where they can be larger.
    """
    out = scratch.like(x, torch.float32) if scratch is not None else torch.empty(x.shape, device=x.device,
                                                                                   dtype=torch.float32)
    return torch.ne(x, 0, out=out)


def _tuple(v, n: int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(i) for i in v)
    return v * n if len(v) == 1 else v


def conv_padding(padding, kernel: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """Numeric padding for ``padding`` given as int/tuple or as ``'valid'``/``'same'``."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * n
        if padding == "same":
            # PyTorch pads (total // 2) on the left; the extra tap (odd total) goes right. The valid fan-out map
            # only needs the left pad, the output size equals the input size.
            return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        raise ValueError(f"unknown conv padding {padding!r}")
    return _tuple(padding, n)


def conv_dense(
    in_shape: Sequence[int], out_shape: Sequence[int], weight_shape: Sequence[int], groups: int, transposed: bool
) -> int:
    """Nominal MACs of one conv call: k·C_in/groups·C_out·spatial_out (transposed: ·spatial_in), bias excluded."""
    kernel = math.prod(weight_shape[2:])
    if transposed:
        # weight [C_in, C_out/groups, k...]: every input element meets k·C_out/groups weights
        return int(in_shape[0]) * math.prod(in_shape[1:]) * kernel * int(weight_shape[1])
    # weight [C_out, C_in/groups, k...]
    return int(out_shape[0]) * math.prod(out_shape[1:]) * kernel * int(weight_shape[1])


@lru_cache(maxsize=512)
def _fanout_map_cpu(
    in_spatial: tuple[int, ...],
    out_spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...],
    transposed: bool,
) -> torch.Tensor:
    n = len(kernel)
    ones_k = torch.ones((1, 1) + kernel, dtype=torch.float64)
    if transposed:
        # the adjoint of a transposed conv is a plain conv over the output grid
        conv = (torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d)[n - 1]
        fan = conv(torch.ones((1, 1) + out_spatial, dtype=torch.float64), ones_k, None, stride, padding, dilation)
        # output_padding may leave the last input rows reaching nothing; crop/pad to the input grid
        fan = fan[(0, 0) + tuple(slice(0, s) for s in in_spatial)]
    else:
        grad_input = (nn_grad.conv1d_input, nn_grad.conv2d_input, nn_grad.conv3d_input)[n - 1]
        fan = grad_input(
            (1, 1) + in_spatial, ones_k, torch.ones((1, 1) + out_spatial, dtype=torch.float64), stride, padding, dilation
        )[0, 0]
    return fan.round().to(torch.float64)  # integral fan-out counts, float64 for an exact matrix-vector product


F32_EXACT = 1 << 24  # float32 holds every integer up to 2^24 exactly


def count_dtype(ind: torch.Tensor, bound: int) -> torch.dtype | None:
    """``dtype`` for summing an indicator (or counts) whose sums stay at most ``bound``: float32 while that is
    exact, else float64; ``None`` where the tensor's own dtype already is the right one."""
    if ind.dtype == torch.float64:
        return None
    if bound < F32_EXACT:
        return None if ind.dtype == torch.float32 else torch.float32
    return torch.float64


def sum_parts(t: torch.Tensor, n: int, bound: int) -> torch.Tensor:
    """Sums of ``t`` over ``n`` equal parts of dim 0 (``[n]``), or its total (0-d) when ``n == 1``; exact while
    every sum is at most ``bound``."""
    dtype = count_dtype(t, bound)
    if n == 1 or t.dim() == 0:
        return t.sum(dtype=dtype)
    parts = t.unflatten(0, (n, -1))
    return parts.sum(tuple(range(1, parts.dim())), dtype=dtype)


def count_nonzero_parts(x: torch.Tensor, n: int, scratch: Scratch | None = None) -> torch.Tensor:
    """Nonzeros of ``x`` in ``n`` equal parts of dim 0 (``[n]``), or in all of it (0-d) when ``n == 1``."""
    ind = nonzero_indicator(x, scratch)
    if n > 1 and (x.dim() == 0 or x.shape[0] % n):
        ind = ind.reshape(n, -1)
    return sum_parts(ind, n, x.numel())


_FANOUT_FLAT: dict[tuple, torch.Tensor] = {}


def _fanout_flat(in_spatial, out_spatial, kernel, stride, padding, dilation, transposed: bool, dtype, device
                 ) -> torch.Tensor:
    """The valid fan-out of each input position, flattened, as ``dtype`` on ``device`` (cached)."""
    key = (in_spatial, out_spatial, kernel, stride, padding, dilation, transposed, dtype, device)
    fan = _FANOUT_FLAT.get(key)
    if fan is None:
        fan = _fanout_map_cpu(in_spatial, out_spatial, kernel, stride, padding, dilation, transposed).reshape(-1)
        fan = fan.to(dtype=dtype, device=device)
        if len(_FANOUT_FLAT) > 512:
            _FANOUT_FLAT.clear()
        _FANOUT_FLAT[key] = fan
    return fan


def conv_position_counts(x: torch.Tensor, n: int, kernel_size: int, scratch: Scratch | None = None) -> torch.Tensor:
    """Nonzeros of a batched conv input per spatial position, summed over the samples and channels of each of
    ``n`` equal parts of the batch dim: ``[n, positions]``, in a dtype that keeps the later Σ count · fan-out
    (at most ``kernel_size`` per nonzero) exact."""
    part = x.numel() // n
    per_position = part // max(math.prod(x.shape[2:]), 1)  # the largest count at one position of a part
    ind = nonzero_indicator(x, scratch)
    counts = ind.unflatten(0, (n, -1)).sum((1, 2), dtype=count_dtype(ind, per_position)).reshape(n, -1)
    if count_dtype(counts, part * max(kernel_size, 1)) is not None:  # Σ count · fan-out may pass 2^24
        counts = counts.double()
    return counts


def conv_effective_parts(
    counts: torch.Tensor, x: torch.Tensor, out: torch.Tensor, weight: torch.Tensor, stride, padding, dilation,
    transposed: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Effective ops (before the factor C_out/groups) and nonzero inputs of a batched conv call, per part of
    :func:`conv_position_counts` (``[n]``; 0-d when there is one part): Σ over nonzero inputs of their valid
    fan-out, the counts per position times the fan-out map."""
    nd = weight.dim() - 2
    kernel = tuple(weight.shape[2:])
    dilation = _tuple(dilation, nd)
    stride = _tuple(stride, nd)
    padding = conv_padding(padding, kernel, dilation)
    fan = _fanout_flat(tuple(x.shape[2:]), tuple(out.shape[2:]), kernel, stride, padding, dilation, transposed,
                       counts.dtype, x.device)
    if counts.shape[0] == 1:
        counts = counts[0]
    return counts @ fan, counts.sum(-1)


def matmul_pair_counts(a: torch.Tensor, b: torch.Tensor, dense: int, scratch: Scratch | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """For ``a @ b`` (two activations): nonzeros of ``a`` per column ``[..., K]`` and the effective terms per
    broadcast batch element and k, ``nnz(a[..., :, k]) · nnz(b[..., k, :])`` (``[*batch, K]``).

    Sums of the second over any part of the batch are at most ``dense`` (exact in float32 below 2^24).
    """
    a1 = a if a.dim() > 1 else a.unsqueeze(0)
    b1 = b if b.dim() > 1 else b.unsqueeze(-1)
    m, n = int(a1.shape[-2]), int(b1.shape[-1])
    ind_a = nonzero_indicator(a1, scratch)
    nz_a = ind_a.sum(-2, dtype=count_dtype(ind_a, m))
    ind_b = nonzero_indicator(b1, scratch)  # may reuse ind_a's buffer: ind_a is reduced already
    nz_b = ind_b.sum(-1, dtype=count_dtype(ind_b, n))
    if nz_a.dtype != nz_b.dtype or m * n >= F32_EXACT:
        return nz_a, nz_a.double() * nz_b.double()
    return nz_a, nz_a * nz_b


def nonzero_rows(x: torch.Tensor) -> torch.Tensor:
    """Number of nonzero values per leading row of ``x`` (int64; a 0/1-d tensor is one row)."""
    rows = x.reshape(x.shape[0] if x.dim() > 1 else 1, -1)
    return nonzero_indicator(rows).sum(1, dtype=torch.float64).to(torch.int64)


def matmul_effective_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Effective terms of ``a @ b`` (two activations) per leading row of the broadcast batch.

    Σ_k nnz(a[..., :, k]) · nnz(b[..., k, :]), reduced over every dim but the first batch dim.
    """
    if a.dim() == 1:
        a = a.unsqueeze(0)
    if b.dim() == 1:
        b = b.unsqueeze(-1)
    nz_a = nonzero_indicator(a).sum(-2)  # [..., K], exact (at most M)
    nz_b = nonzero_indicator(b).sum(-1)  # [..., K], exact (at most N)
    per_batch = (nz_a.to(torch.float64) * nz_b.to(torch.float64)).sum(-1).to(torch.int64)  # broadcast batch dims
    if per_batch.dim() == 0:
        return per_batch.reshape(1)
    return per_batch.reshape(per_batch.shape[0], -1).sum(1)


def matmul_dense(a_shape: Sequence[int], b_shape: Sequence[int]) -> int:
    """Nominal MACs of ``a @ b`` with broadcasting (M·K·N per batch element)."""
    a_shape, b_shape = list(a_shape), list(b_shape)
    if len(a_shape) == 1:
        a_shape = [1] + a_shape
    if len(b_shape) == 1:
        b_shape = b_shape + [1]
    m, k = a_shape[-2:]
    n = b_shape[-1]
    batch = broadcast(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    return math.prod(batch) * m * k * n


def broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of two shapes (``torch.broadcast_shapes`` for two, without its overhead)."""
    if a == b:
        return a
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"shapes {a} and {b} cannot be broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)


def elementwise_effective_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Positions where both factors of a broadcast element-wise product are nonzero, per leading row."""
    both = nonzero_indicator(a) * nonzero_indicator(b)
    return nonzero_rows(both)


def einsum_counts(equation: str, a: torch.Tensor, b: torch.Tensor) -> tuple[int, torch.Tensor]:
    """Dense (product of all index sizes) and effective terms of a two-operand einsum (one row)."""
    lhs = equation.replace(" ", "").split("->")[0]
    in_a, in_b = lhs.split(",")
    if "." in in_a or "." in in_b:
        raise NotImplementedError("einsum with '...' is not counted")
    sizes: dict[str, int] = {}
    for idx, t in ((in_a, a), (in_b, b)):
        for ch, s in zip(idx, t.shape):
            sizes[ch] = max(sizes.get(ch, 1), int(s))
    dense = math.prod(sizes.values())
    eff = torch.einsum(f"{in_a},{in_b}->", (a != 0).to(torch.float64), (b != 0).to(torch.float64))
    return dense, eff.round().to(torch.int64).reshape(1)
