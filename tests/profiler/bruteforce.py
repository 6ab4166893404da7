"""An independent brute-force counter of synaptic operations, for testing the profiler.

It does not import ``snnenergy`` and shares none of its arithmetic: every count is taken from first
principles on the actual operands of one call.

* Dense ops are the nominal multiply-accumulates from the shapes (conv: output elements × taps × C_in/groups,
  transposed conv: input elements × taps × C_out/groups, products: broadcast batch × M·K·N, element-wise
  products: broadcast elements, einsum: the product of every index size).
* Effective ops are the terms whose two operands are both nonzero: for convolutions the nonzero indicator of
  the input, explicitly padded and unfolded into its receptive fields (``F.unfold`` in 2-d, ``Tensor.unfold``
  along each dim otherwise), so that taps on padding never count; transposed convolutions by explicit scatter
  counting (each input position times the taps that land inside the output); products by the explicit
  (…, i, k, j) pair tensor of the two nonzero indicators after broadcasting. A weight (a parameter or buffer)
  is taken as dense: every weight meets every nonzero activation it multiplies.
* Kinds follow the documented rules: ``binary`` every value in {0, 1}, ``ternary`` in {-1, 0, 1} with a -1,
  ``integer`` integral otherwise, ``real`` anything else. Weight layers put a spike input's terms in ACs, an
  integer input's in integer MACs, a real input's in MACs; a product of two activations is ACs when either
  side is a spike tensor, else MACs.
"""
from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F

SPIKE_KINDS = ("binary", "ternary")
BUCKETS = ("ac", "integer_mac", "mac")


def kind(t: torch.Tensor) -> str:
    """The operand kind of ``t`` from its values."""
    if t.numel() == 0:
        return "binary"
    v = t.detach().to(torch.float64)
    if not bool(torch.isfinite(v).all()) or bool((v != torch.round(v)).any()):
        return "real"
    lo, hi = float(v.min()), float(v.max())
    if lo >= 0 and hi <= 1:
        return "binary"
    if lo >= -1 and hi <= 1:
        return "ternary"
    return "integer"


def weight_bucket(kind_a: str) -> str:
    """Bucket of the terms of an activation of ``kind_a`` times a weight."""
    return "ac" if kind_a in SPIKE_KINDS else "integer_mac" if kind_a == "integer" else "mac"


def pair_bucket(kind_a: str, kind_b: str) -> str:
    """Bucket of the terms of a product of two activations."""
    return "ac" if kind_a in SPIKE_KINDS or kind_b in SPIKE_KINDS else "mac"


@dataclass
class Count:
    """Counts of one or more calls (whole batch, not per sample)."""

    dense: int = 0
    effective: int = 0
    buckets: dict = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    bucket: str = ""  # the bucket of a single call's terms (its operands' kinds decide it)
    # weight layers: Σ over nonzero inputs of |x| × valid fan-out (None for a product of two activations)
    value_weighted: float | None = 0.0

    def __add__(self, other: "Count") -> "Count":
        vw = None if self.value_weighted is None or other.value_weighted is None else \
            self.value_weighted + other.value_weighted
        return Count(self.dense + other.dense, self.effective + other.effective,
                     {k: self.buckets[k] + other.buckets[k] for k in BUCKETS}, value_weighted=vw)

    def as_row(self, samples: int) -> dict:
        """Per-sample figures under the report's column names."""
        row = {"dense_ops": self.dense / samples, "effective_ops": self.effective / samples}
        row.update({k: v / samples for k, v in self.buckets.items()})
        return row

    def value_weighted_row(self, samples: int) -> float | None:
        """Per-sample value-weighted ops (weight layers only)."""
        return None if self.value_weighted is None else self.value_weighted / samples


def counted(dense: int, effective: int, bucket: str, value_weighted: float | None = None) -> Count:
    """The counts of one call whose effective terms all fall in ``bucket``."""
    c = Count(int(dense), int(effective), bucket=bucket, value_weighted=value_weighted)
    c.buckets[bucket] = int(effective)
    return c


def nz(t: torch.Tensor) -> torch.Tensor:
    """The nonzero indicator of ``t`` in float64 (bool included)."""
    return (t != 0).to(torch.float64)


def magnitude(t: torch.Tensor) -> torch.Tensor:
    """``|t|`` in float64 (bool included)."""
    return t.detach().to(torch.float64).abs()


# ----------------------------------------------------------------------------- convolutions
def _ntuple(v, n: int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(i) for i in v)
    return v * n if len(v) == 1 else v


def conv_pads(padding, kernel: Sequence[int], dilation: Sequence[int]) -> list[tuple[int, int]]:
    """(left, right) zero padding per spatial dim. ``'same'`` pads d·(k-1) in total, the smaller half on the
    left (the extra tap of an odd total goes right), as PyTorch documents it."""
    n = len(kernel)
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out.append((total // 2, total - total // 2))
        return out
    return [(p, p) for p in _ntuple(padding, n)]


def unfold_nd(ind: torch.Tensor, kernel, stride, dilation, pads) -> torch.Tensor:
    """Receptive fields of ``ind`` ``[B, C, *S]``: ``[B, C, *out, *kernel]`` (padding applied explicitly)."""
    nd = len(kernel)
    flat_pad = []
    for left, right in reversed(pads):
        flat_pad += [left, right]
    t = F.pad(ind, flat_pad)
    for i in range(nd):
        span = dilation[i] * (kernel[i] - 1) + 1
        t = t.unfold(2 + i, span, stride[i])[..., :: dilation[i]]  # the window dims go last, in order
    return t


def conv_counts(x: torch.Tensor, weight: torch.Tensor, stride=1, padding=0, dilation=1, groups: int = 1,
                weight_is_activation: bool = False) -> Count:
    """A direct convolution call ``conv(x, weight)`` (``x`` batched ``[B, C, *S]`` or unbatched)."""
    nd = weight.dim() - 2
    if x.dim() == nd + 1:
        x = x.unsqueeze(0)
    kernel = tuple(weight.shape[2:])
    stride, dilation = _ntuple(stride, nd), _ntuple(dilation, nd)
    pads = conv_pads(padding, kernel, dilation)
    ind = nz(x)
    c_out, cin_g = int(weight.shape[0]), int(weight.shape[1])
    cout_g = c_out // groups
    if nd == 2 and not weight_is_activation:
        padded = F.pad(ind, [pads[1][0], pads[1][1], pads[0][0], pads[0][1]])
        cols = F.unfold(padded, kernel, dilation=dilation, stride=stride)  # [B, C·k, L]
        out_spatial = [(padded.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(2)]
        windows = cols.sum()
    else:
        fields = unfold_nd(ind, kernel, stride, dilation, pads)  # [B, C, *out, *k]
        out_spatial = list(fields.shape[2:2 + nd])
        windows = fields.sum()
    b = int(x.shape[0])
    dense = b * c_out * math.prod(out_spatial) * cin_g * math.prod(kernel)
    kx = kind(x)
    if not weight_is_activation:
        weighted = float(unfold_nd(magnitude(x), kernel, stride, dilation, pads).sum()) * cout_g
        return counted(dense, int(windows) * cout_g, weight_bucket(kx), weighted)
    # an activation as the filter: the (input tap, filter tap) pairs, both nonzero, per group
    fields = unfold_nd(ind, kernel, stride, dilation, pads)
    fields = fields.reshape(b, groups, cin_g, math.prod(out_spatial), math.prod(kernel))
    w = nz(weight).reshape(groups, cout_g, cin_g, math.prod(kernel))
    pairs = (fields.unsqueeze(2) * w[None, :, :, :, None, :]).sum()
    return counted(dense, int(pairs), pair_bucket(kx, kind(weight)))


def conv_transpose_counts(x: torch.Tensor, weight: torch.Tensor, stride=1, padding=0, output_padding=0,
                          groups: int = 1, dilation=1) -> Count:
    """A transposed convolution call (weight ``[C_in, C_out/groups, *k]``), by explicit scatter counting: the
    input at position i and tap j writes output i·s - p + j·d, a term only when that lands in the output."""
    nd = weight.dim() - 2
    if x.dim() == nd + 1:
        x = x.unsqueeze(0)
    kernel = tuple(weight.shape[2:])
    stride, padding = _ntuple(stride, nd), _ntuple(padding, nd)
    dilation, output_padding = _ntuple(dilation, nd), _ntuple(output_padding, nd)
    in_spatial = tuple(x.shape[2:])
    fans = []
    for i in range(nd):
        out = (in_spatial[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + output_padding[i] + 1
        fan = torch.zeros(in_spatial[i], dtype=torch.float64)
        for pos in range(in_spatial[i]):
            fan[pos] = sum(1 for j in range(kernel[i]) if 0 <= pos * stride[i] - padding[i] + j * dilation[i] < out)
        fans.append(fan)
    fan_map = fans[0]
    for f in fans[1:]:
        fan_map = fan_map.unsqueeze(-1) * f  # separable: the valid taps of each dim multiply
    cout_g = int(weight.shape[1])
    per_position = nz(x).sum((0, 1))
    effective = int((per_position * fan_map).sum()) * cout_g
    weighted = float((magnitude(x).sum((0, 1)) * fan_map).sum()) * cout_g
    dense = x.numel() * math.prod(kernel) * cout_g
    return counted(dense, effective, weight_bucket(kind(x)), weighted)


# ----------------------------------------------------------------------------- products
def _as_matrices(a_ind: torch.Tensor, b_ind: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a_ind.dim() == 1:
        a_ind = a_ind.unsqueeze(0)
    if b_ind.dim() == 1:
        b_ind = b_ind.unsqueeze(-1)
    return a_ind, b_ind


def matmul_pairs(a_ind: torch.Tensor, b_ind: torch.Tensor, exact: bool = True) -> tuple[int, int | float]:
    """(dense, pairs) of ``a @ b`` with ``torch.matmul``'s broadcasting, from the explicit (…, i, k, j) tensor
    (a sum of values instead of pairs when not ``exact``)."""
    a_ind, b_ind = _as_matrices(a_ind, b_ind)
    triples = a_ind.unsqueeze(-1) * b_ind.unsqueeze(-3)  # [..., M, K, N], broadcast over the batch dims
    return triples.numel(), int(triples.sum()) if exact else float(triples.sum())


def product_counts(a: torch.Tensor, b: torch.Tensor, a_weight: bool = False, b_weight: bool = False) -> Count:
    """``a @ b``; a side that is a weight is taken as dense (all nonzero)."""
    ia = torch.ones(a.shape, dtype=torch.float64) if a_weight else nz(a)
    ib = torch.ones(b.shape, dtype=torch.float64) if b_weight else nz(b)
    dense, pairs = matmul_pairs(ia, ib)
    if a_weight or b_weight:
        act = b if a_weight else a
        ones = torch.ones((b if b_weight else a).shape, dtype=torch.float64)
        _, weighted = matmul_pairs(*((magnitude(a), ones) if b_weight else (ones, magnitude(b))), exact=False)
        return counted(dense, pairs, weight_bucket(kind(act)), weighted)
    return counted(dense, pairs, pair_bucket(kind(a), kind(b)))


def linear_counts(x: torch.Tensor, out_features: int) -> Count:
    """``F.linear(x, W)`` with a weight ``W`` ``[out, in]``."""
    in_features = int(x.shape[-1])
    dense = x.numel() // max(in_features, 1) * in_features * out_features
    weighted = float(magnitude(x).sum()) * out_features
    return counted(dense, int(nz(x).sum()) * out_features, weight_bucket(kind(x)), weighted)


def elementwise_counts(a: torch.Tensor, b: torch.Tensor) -> Count:
    """``a * b`` of two activations, broadcast."""
    both = nz(a) * nz(b)
    return counted(both.numel(), int(both.sum()), pair_bucket(kind(a), kind(b)))


def einsum_counts(equation: str, a: torch.Tensor, b: torch.Tensor, a_weight: bool = False,
                  b_weight: bool = False) -> Count:
    """A two-operand einsum: both operands laid out over the full index space, their indicators multiplied."""
    lhs = equation.replace(" ", "").split("->")[0]
    subs = lhs.split(",")
    spare = iter(c for c in string.ascii_uppercase if c not in equation)
    ell_dims = max(t.dim() - (len(s) - 3) if "..." in s else 0 for s, t in zip(subs, (a, b)))
    ell = "".join(next(spare) for _ in range(ell_dims))
    full = []
    for s, t in zip(subs, (a, b)):
        if "..." in s:
            n = t.dim() - (len(s) - 3)
            s = s.replace("...", ell[ell_dims - n:])  # ellipsis dims broadcast from the right
        full.append(s)
    letters = sorted(set("".join(full)))
    sizes = {c: 1 for c in letters}
    inds = []
    for s, t, w in zip(full, (a, b), (a_weight, b_weight)):
        for c, n in zip(s, t.shape):
            sizes[c] = max(sizes[c], int(n))
        ind = torch.ones(t.shape, dtype=torch.float64) if w else nz(t)
        inds.append((s, ind))
    spread = []
    for s, ind in inds:
        order = [s.index(c) for c in letters if c in s]
        view = ind.permute(order).reshape([ind.shape[s.index(c)] if c in s else 1 for c in letters])
        spread.append(view)
    space = spread[0] * spread[1]
    dense = math.prod(sizes.values())
    effective = int(space.expand([sizes[c] for c in letters]).sum())
    if a_weight or b_weight:
        return counted(dense, effective, weight_bucket(kind(b if a_weight else a)))
    return counted(dense, effective, pair_bucket(kind(a), kind(b)))
