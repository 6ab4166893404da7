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
import string
import threading
from typing import Sequence

import numpy as np
import torch


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
            buf = self._buffer(n, dtype, x.device)
            view = buf.as_strided(x.shape, strides) if strides is not None else buf[:n].view(x.shape)
            self._views[key] = view
        return view

    def pair(self, x: torch.Tensor, parts: int, positions: int | None = None, rows: int = 2
             ) -> tuple[torch.Tensor, ...]:
        """``rows`` (two by default) buffers shaped like contiguous ``x`` side by side in one block, and the block
        viewed so that one reduction over its dim 1 sums each buffer's ``parts`` equal parts:
        ``[rows·parts, numel/parts]``, or with ``positions`` ``[rows·parts, numel/(parts·positions), positions]``
        (sums per trailing position). Float64 for a float64 ``x``, else float32."""
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        key = (("pair", x.shape, parts, positions, rows), None, dtype, x.device)
        views = self._views.get(key)
        if views is None:
            n = x.numel()
            block = self._buffer(rows * n, dtype, x.device)[:rows * n]
            shape = (rows * parts, -1) if positions is None else (rows * parts, -1, positions)
            views = (*(block[i * n:(i + 1) * n].view(x.shape) for i in range(rows)), block.view(shape))
            self._views[key] = views
        return views

    def _buffer(self, n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The buffer of ``dtype`` on ``device``, at least ``n`` elements (a new, larger one drops the views of
        the old)."""
        bkey = (dtype, device)
        buf = self._buffers.get(bkey)
        if buf is None or buf.numel() < n:
            buf = self._buffers[bkey] = torch.empty(n, dtype=dtype, device=device)
            self._views = {k: v for k, v in self._views.items() if k[2:] != bkey}
        if len(self._views) > 256:
            self._views.clear()
        return buf

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
            # PyTorch pads total // 2 before the input and the rest (one more for an odd total) after it; the
            # fan-out map only needs the padding before, the output size is the input size
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


def _fanout_1d(n_in: int, n_out: int, k: int, s: int, p: int, d: int, transposed: bool) -> np.ndarray:
    """Valid fan-out of each input position along one dim: the (output position, tap) pairs that read it
    (``p``: the padding before the first input, whatever is padded after it)."""
    taps = np.arange(k, dtype=np.int64) * d
    if transposed:  # input i, tap j lands on output i·s - p + j·d
        o = np.arange(n_in, dtype=np.int64)[:, None] * s - p + taps[None, :]
        return ((o >= 0) & (o < n_out)).sum(1)
    i = (np.arange(n_out, dtype=np.int64)[:, None] * s - p + taps[None, :]).ravel()
    i = i[(i >= 0) & (i < n_in)]
    return np.bincount(i, minlength=n_in)[:n_in]


def fanout_map(in_spatial, out_spatial, kernel, stride, padding, dilation, transposed: bool) -> np.ndarray:
    """The valid fan-out of every input position of a conv (``[*in_spatial]``): the outer product of the
    per-dim fan-outs, since a tap is valid exactly when it is valid along every dim."""
    fan = np.ones((), dtype=np.int64)
    for dims in zip(in_spatial, out_spatial, kernel, stride, padding, dilation):
        fan = np.multiply.outer(fan, _fanout_1d(*dims, transposed))
    return fan


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
    if t.dim() > 1 and t.shape[0] == n:  # dim 0 is the parts already ([T, B, ...]): no view to make
        return t.sum(tuple(range(1, t.dim())), dtype=dtype)
    parts = t.unflatten(0, (n, -1))
    return parts.sum(tuple(range(1, parts.dim())), dtype=dtype)


def count_nonzero_parts(x: torch.Tensor, n: int, scratch: Scratch | None = None) -> torch.Tensor:
    """Nonzeros of ``x`` in ``n`` equal parts of dim 0 (``[n]``), or in all of it (0-d) when ``n == 1``."""
    ind = nonzero_indicator(x, scratch)
    if n > 1 and (x.dim() == 0 or x.shape[0] % n):
        ind = ind.reshape(n, -1)
    return sum_parts(ind, n, x.numel())


class _FanoutCache:
    """Flattened fan-out maps on their devices, bounded by bytes (oldest entries go first)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._maps: dict[tuple, torch.Tensor] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, make) -> torch.Tensor:
        fan = self._maps.get(key)
        if fan is None:
            fan = make()
            with self._lock:
                if key not in self._maps:
                    self._maps[key] = fan
                    self.bytes += fan.numel() * fan.element_size()
                    self._shrink(self.max_bytes)
        return fan

    def _shrink(self, limit: int) -> None:
        while self.bytes > limit and self._maps:
            old = self._maps.pop(next(iter(self._maps)))
            self.bytes -= old.numel() * old.element_size()

    def trim(self, keep_bytes: int) -> None:
        """Drop entries (oldest first) until at most ``keep_bytes`` remain."""
        with self._lock:
            self._shrink(keep_bytes)


FANOUT_MAX_BYTES = 64 << 20  # while profiling
FANOUT_KEEP_BYTES = 4 << 20  # kept between profiles
FANOUTS = _FanoutCache(FANOUT_MAX_BYTES)


def _fanout_flat(in_spatial, out_spatial, kernel, stride, padding, dilation, transposed: bool, dtype, device,
                 with_ones: bool = False) -> torch.Tensor:
    """The valid fan-out of each input position, flattened (above a row of ones ``with_ones``), as ``dtype``
    on ``device`` (cached)."""
    key = (in_spatial, out_spatial, kernel, stride, padding, dilation, transposed, dtype, device, with_ones)

    def make() -> torch.Tensor:
        flat = fanout_map(in_spatial, out_spatial, kernel, stride, padding, dilation, transposed).reshape(-1)
        fan = torch.from_numpy(np.stack((flat, np.ones_like(flat))) if with_ones else flat)
        if device.type == "cuda":  # from pinned memory, without blocking: no host sync inside the forward
            return fan.pin_memory().to(device, non_blocking=True).to(dtype)
        return fan.to(dtype=dtype, device=device)

    return FANOUTS.get(key, make)


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


def sum_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a sum of ``x``'s values is taken in: float64 for float64, else float32 (exact while the
    sum stays below :data:`F32_EXACT`, which the caller checks against the value range)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _magnitudes(x: torch.Tensor, scratch: Scratch | None) -> torch.Tensor:
    """|x| (in ``scratch`` when given; a bool tensor is its own magnitude)."""
    if x.dtype == torch.bool or not (x.is_floating_point() or x.is_signed()):
        return x
    out = scratch.like(x, x.dtype) if scratch is not None else torch.empty_like(x)
    return torch.abs(x, out=out)


def abs_sum_parts(x: torch.Tensor, n: int, scratch: Scratch | None = None) -> torch.Tensor:
    """Σ|x| over ``n`` equal parts of dim 0 (``[n]``), or over all of it (0-d) when ``n == 1``."""
    mags = _magnitudes(x, scratch)
    if n == 1 or x.dim() == 0:
        return mags.sum(dtype=sum_dtype(x))
    return mags.reshape(n, -1).sum(1, dtype=sum_dtype(x))


def nonzeros_and_magnitudes(x: torch.Tensor, n: int, scratch: Scratch, positions: int | None = None,
                            fractions: bool = False) -> torch.Tensor:
    """Nonzeros and Σ|x| of contiguous float ``x`` in ``n`` equal parts of dim 0 from one reduction: ``[2n]``
    (nonzeros per part, then Σ|x| per part), or with ``positions`` ``[2n, positions]`` per trailing position (a
    batched conv input's spatial positions). Exact while a part's count is below 2^24.

    ``fractions``: also Σ frac(|x|) per part (``[3n]`` or ``[3n, positions]``). These are sums of values in
    [0, 1), so each is 0 exactly when every value of its part is integral (NaN when one is NaN or infinite):
    the integrality test of the operand's kind, with no pass of its own."""
    *rows, block = scratch.pair(x, n, positions, rows=3 if fractions else 2)
    torch.ne(x, 0, out=rows[0])
    torch.abs(x, out=rows[1])
    if fractions:
        torch.frac(rows[1], out=rows[2])
    return block.sum(1)


def conv_position_abs_sums(x: torch.Tensor, n: int, scratch: Scratch | None = None) -> torch.Tensor:
    """Σ|x| of a batched conv input per spatial position over the samples and channels of each of ``n`` equal
    parts of the batch dim (``[n, positions]``)."""
    return _magnitudes(x, scratch).unflatten(0, (n, -1)).sum((1, 2), dtype=sum_dtype(x)).reshape(n, -1)


def conv_fanout(x: torch.Tensor, out: torch.Tensor, weight: torch.Tensor, stride, padding, dilation,
                transposed: bool, dtype: torch.dtype, with_ones: bool = False) -> torch.Tensor:
    """The valid fan-out of each input position of a batched conv call, flattened (cached); ``with_ones``:
    ``[2, positions]``, the fan-out and a row of ones (one product then gives Σ · fan-out and Σ of counts)."""
    nd = weight.dim() - 2
    kernel = tuple(weight.shape[2:])
    dilation = _tuple(dilation, nd)
    stride = _tuple(stride, nd)
    padding = conv_padding(padding, kernel, dilation)
    return _fanout_flat(tuple(x.shape[2:]), tuple(out.shape[2:]), kernel, stride, padding, dilation, transposed,
                        dtype, x.device, with_ones)


_FAN_TOTALS: dict[tuple, int] = {}


def conv_fanout_total(x: torch.Tensor, out: torch.Tensor, weight: torch.Tensor, stride, padding, dilation,
                      transposed: bool) -> int:
    """Σ over the input positions of a batched conv call of their valid fan-out (padding taps excluded), on
    the host: the product of the per-dim sums, since the map is their outer product (cached)."""
    nd = weight.dim() - 2
    kernel = tuple(weight.shape[2:])
    dil = _tuple(dilation, nd)
    key = (tuple(x.shape[2:]), tuple(out.shape[2:]), kernel, _tuple(stride, nd), conv_padding(padding, kernel, dil),
           dil, transposed)
    total = _FAN_TOTALS.get(key)
    if total is None:
        total = 1
        for dims in zip(*key[:6]):
            total *= int(_fanout_1d(*dims, transposed).sum())
        if len(_FAN_TOTALS) > 4096:
            _FAN_TOTALS.clear()
        _FAN_TOTALS[key] = total
    return total


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


def attention_value_rows(v: torch.Tensor, n_queries: int, allowed: torch.Tensor | None
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Effective terms of P·V per leading row of ``v`` ``[..., S, Ev]``: Σ over keys s of (the queries whose
    probability for s can be nonzero) · nnz(v[..., s, :]); and ``v``'s nonzeros per row (``None`` when a mask
    batch broadcasts past ``v``'s rows)."""
    vv = v if v.dim() >= 2 else v.unsqueeze(0)
    nz_v = nonzero_indicator(vv).sum(-1, dtype=torch.float64)  # [..., S]
    if allowed is None:
        per_key = nz_v * n_queries
    else:
        per_key = allowed.to(torch.float64).sum(-2) * nz_v  # broadcast [..., S]
    if per_key.dim() >= 2 and per_key.shape[0] == vv.shape[0] and vv.dim() >= 3:
        eff = per_key.reshape(per_key.shape[0], -1).sum(1)
        return eff.round().to(torch.int64), nonzero_rows(vv)
    return per_key.sum().round().to(torch.int64).reshape(1), None


def attention_value_full(v: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """P·V's terms had every value of ``v`` been nonzero: Σ over keys of the queries allowed to attend to
    them, times the value width, over the broadcast batch (0-d float64, on the device)."""
    vv = v if v.dim() >= 2 else v.unsqueeze(0)
    per_key = allowed.to(torch.float64).sum(-2)  # [..., S]
    rows = torch.ones(vv.shape[:-1], dtype=torch.float64, device=v.device)
    return (per_key * rows).sum() * int(vv.shape[-1])


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


def einsum_subscripts(equation: str, a_dim: int, b_dim: int) -> tuple[str, str, str]:
    """The subscripts of a two-operand einsum with any ``...`` spelled out as letters (broadcast from the
    right) and the output made explicit: ``(in_a, in_b, out)``."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != 2:
        raise ValueError(f"einsum {equation!r} does not have two operands")
    spare = iter(c for c in string.ascii_letters if c not in eq)
    ell_dims = max(d - (len(sub) - 3) if "..." in sub else 0 for sub, d in zip(subs, (a_dim, b_dim)))
    ell = "".join(next(spare) for _ in range(ell_dims))
    full = []
    for sub, d in zip(subs, (a_dim, b_dim)):
        if "..." in sub:
            n = d - (len(sub) - 3)
            sub = sub.replace("...", ell[ell_dims - n:])
        full.append(sub)
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit output: the ellipsis, then the letters that appear once, in order
        joined = "".join(full)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell))
    return full[0], full[1], out


def einsum_counts(equation: str, a: torch.Tensor, b: torch.Tensor, b_weight: bool = False
                  ) -> tuple[int, torch.Tensor, bool]:
    """Dense ops (the product of every index size) and effective terms of a two-operand einsum, per index
    of ``a``'s first subscript when the output keeps it (a batch or time index), else in one row; and whether
    the rows are ``a``'s. A weight ``b`` is dense (every weight meets every nonzero activation)."""
    in_a, in_b, out = einsum_subscripts(equation, a.dim(), b.dim())
    sizes: dict[str, int] = {}
    for idx, t in ((in_a, a), (in_b, b)):
        for ch, n in zip(idx, t.shape):
            sizes[ch] = max(sizes.get(ch, 1), int(n))
    dense = math.prod(sizes.values())
    ind_a = (a != 0).to(torch.float64)
    ind_b = torch.ones(b.shape, dtype=torch.float64, device=b.device) if b_weight else (b != 0).to(torch.float64)
    lead = in_a[:1] if in_a and in_a[0] in out and a.shape[0] == sizes[in_a[0]] else ""
    eff = torch.einsum(f"{in_a},{in_b}->{lead}", ind_a, ind_b)
    return dense, eff.round().to(torch.int64).reshape(-1), bool(lead)


def tensordot_equation(a_dim: int, b_dim: int, dims) -> str:
    """The einsum equation of ``torch.tensordot(a, b, dims)``."""
    if isinstance(dims, int):
        da, db = list(range(a_dim - dims, a_dim)), list(range(dims))
    elif isinstance(dims, torch.Tensor):
        da, db = [int(i) for i in dims[0]], [int(i) for i in dims[1]]
    else:
        da, db = [int(i) for i in dims[0]], [int(i) for i in dims[1]]
    da, db = [d % a_dim for d in da], [d % b_dim for d in db]
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(a_dim)]
    sb = [next(letters) for _ in range(b_dim)]
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in da] + [c for j, c in enumerate(sb) if j not in db]
    return f"{''.join(sa)},{''.join(sb)}->{''.join(out)}"
