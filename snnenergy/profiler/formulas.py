"""Dense and effective operation counts for synaptic ops (the op → formula table's arithmetic).

Dense counts are the nominal multiply-accumulates as fvcore and the papers count them (taps on padding
included, bias excluded). Effective counts are exactly the terms whose two operands are both nonzero,
computed without a second full-size op: weight layers use the per-position nonzero count of the input
weighted by a valid-fan-out map that depends only on shapes (cached), products of two activations use
Σ_k nnz(A[:, k]) · nnz(B[k, :]).

Every effective count is returned per leading "row" of the operand (dim 0), so the caller can split it by
time step; all of it stays on the device.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import torch
import torch.nn.grad as nn_grad


def nonzero_indicator(x: torch.Tensor) -> torch.Tensor:
    """1.0 where ``x`` is nonzero, else 0.0, as a float tensor.

    ``sign().abs_()`` is several times faster on CPU than ``count_nonzero`` or summing a bool mask (PyTorch's
    bool reductions are not vectorised); sums of the indicator are exact in float32 up to 2^24 per reduction
    and are taken in float64 where they can be larger.
    """
    if x.is_floating_point():
        return torch.sign(x).abs_()
    return (x != 0).to(torch.float32)


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


_DEVICE_FANOUT: dict[tuple, torch.Tensor] = {}


def fanout_map(
    in_spatial, out_spatial, kernel, stride, padding, dilation, transposed: bool, device: torch.device
) -> torch.Tensor:
    """Valid fan-out per input position (number of output positions it reaches), float64 on ``device``."""
    key = (tuple(in_spatial), tuple(out_spatial), tuple(kernel), tuple(stride), tuple(padding), tuple(dilation),
           transposed)
    dkey = key + (str(device),)
    fan = _DEVICE_FANOUT.get(dkey)
    if fan is None:
        fan = _fanout_map_cpu(*key).to(device)
        if len(_DEVICE_FANOUT) > 512:
            _DEVICE_FANOUT.clear()
        _DEVICE_FANOUT[dkey] = fan
    return fan


def conv_effective_rows(
    x: torch.Tensor, out: torch.Tensor, weight: torch.Tensor, stride, padding, dilation, groups: int, transposed: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Effective ops per sample row of a conv call (Σ over nonzero inputs of valid fan-out · C_out/groups),
    and the nonzero inputs per row."""
    n = weight.dim() - 2
    kernel = tuple(weight.shape[2:])
    dilation = _tuple(dilation, n)
    stride = _tuple(stride, n)
    padding = conv_padding(padding, kernel, dilation)
    batched = x.dim() == n + 2
    xb = x if batched else x.unsqueeze(0)
    ob = out if batched else out.unsqueeze(0)
    in_spatial, out_spatial = tuple(xb.shape[2:]), tuple(ob.shape[2:])
    fan = fanout_map(in_spatial, out_spatial, kernel, stride, padding, dilation, transposed, x.device)
    c_out_per_group = int(weight.shape[1]) if transposed else int(weight.shape[0]) // groups
    nnz_per_position = nonzero_indicator(xb).sum(1).flatten(1)  # [N, P], exact: at most C_in per position
    nnz_per_position = nnz_per_position.to(torch.float64)
    per_row = (nnz_per_position @ fan.reshape(-1)) * c_out_per_group
    return per_row.to(torch.int64), nnz_per_position.sum(1).to(torch.int64)


def linear_effective_rows(x: torch.Tensor, out_features: int) -> torch.Tensor:
    """Effective ops per row (dim 0) of ``x @ W.T``: nnz(x) · out_features."""
    return nonzero_rows(x) * out_features


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
    batch = torch.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    return math.prod(batch) * m * k * n


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
