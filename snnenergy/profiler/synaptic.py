"""Synaptic op handlers: each reads its operands before the op runs (they are still in cache then, and an
in-place op is counted on its operands' values, not on its result), queues their summaries and counts, runs
the op and labels its output.

A handler returns the op's output, or ``NotImplemented`` when the call is not synaptic after all (a scale by
a learned per-element weight): the caller then counts it as an "other" op.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from . import formulas as fm
from .accumulators import OtherStats, SiteStats
from .kinds import REAL, WEIGHT
from .ops import SYNAPTIC_CONV
from .device_queue import sub_ref
from .summaries import value_weighted_ref
from .provenance import tensors_in
from .time_layout import call_layout


def site(s, path: str, name: str, index: int) -> SiteStats:
    key = (path, name, index)
    st = s.sites.get(key)
    if st is None:
        st = s.sites[key] = SiteStats(path, name, index, s.T)
    return st


def counted(s, name: str, index: int, path: str, func, args, kwargs):
    """Run a synaptic op through its handler. The handlers read the operands before the op runs, so invalid
    operands would fail in our code first: then the op itself runs, to raise the model's own error."""
    # the first operand decides the common case (an activation); the others are looked at only when it is not
    first = args[0] if args and isinstance(args[0], torch.Tensor) else None
    if first is None or _is_transformed(first) or s.prov.is_weight(first):
        operands = tuple(tensors_in(args, kwargs))
        if any(map(_is_transformed, operands)):  # inside torch.func.vmap / grad: tensors we cannot read
            s.unsupported[(path, f"{name} inside a torch.func transform (vmap, grad)")] += 1
            return s.run_op(func, args, kwargs)
        if operands and all(map(s.prov.is_weight, operands)):
            return NotImplemented  # computed from weights only (spectral norm's W·u): a weight, not synaptic
    ran = []

    def run(*a, **k):
        ran.append(True)
        return s.run_op(func, a, k)

    try:
        return _dispatch(s, name, index, path, run, args, kwargs)
    except Exception:
        if not ran:
            s.run_op(func, args, kwargs)
        raise


_is_transformed = torch._C._functorch.is_functorch_wrapped_tensor


_PRODUCTS = {"matmul": "matmul", "mm": "mm", "bmm": "bmm", "rmatmul": "matmul", "linalg_matmul": "matmul",
             "mv": "mv", "dot": "dot"}
_BIASED_PRODUCTS = {"addmm": ("mat1", "mat2"), "baddbmm": ("batch1", "batch2"), "addbmm": ("batch1", "batch2"),
                    "addmv": ("mat", "vec")}
_CONV_FUNCTIONS = {"conv1d": F.conv1d, "conv2d": F.conv2d, "conv3d": F.conv3d, "conv_transpose1d": F.conv_transpose1d,
                   "conv_transpose2d": F.conv_transpose2d, "conv_transpose3d": F.conv_transpose3d}


def _dispatch(s, name: str, index: int, path: str, func, args, kwargs):
    if name in SYNAPTIC_CONV:
        return _conv(s, name, index, path, func, args, kwargs)
    if name == "linear":
        return _linear(s, index, path, func, args, kwargs)
    if name in _PRODUCTS:
        a, b = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "other")
        if name == "rmatmul":
            a, b = b, a
        return _product(s, _PRODUCTS[name], index, path, func, args, kwargs, a, b)
    if name in _BIASED_PRODUCTS:
        ka, kb = _BIASED_PRODUCTS[name]
        a, b = _arg(args, kwargs, 1, ka), _arg(args, kwargs, 2, kb)
        return _product(s, name, index, path, func, args, kwargs, a, b)
    if name == "mul":
        if len(args) < 2:
            return NotImplemented
        a, b = args[0], args[1]
        if not (_is_activation_tensor(a) and _is_activation_tensor(b)):
            return NotImplemented
        if s.prov.is_weight(a) or s.prov.is_weight(b):
            return NotImplemented  # a learned (or constant) per-element scale: an "other" op
        return _elementwise(s, index, path, func, args, kwargs, a, b)
    if name == "einsum":
        eq = args[0] if args else kwargs.get("equation")
        ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
        return _einsum(s, "einsum", index, path, func, args, kwargs, eq, ops)
    if name == "tensordot":
        a, b = _arg(args, kwargs, 0, "a"), _arg(args, kwargs, 1, "b")
        dims = _arg(args, kwargs, 2, "dims", 2)
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return func(*args, **kwargs)
        eq = fm.tensordot_equation(a.dim(), b.dim(), dims)
        return _einsum(s, "tensordot", index, path, func, args, kwargs, eq, [a, b])
    if name == "scaled_dot_product_attention":
        return _sdpa(s, index, path, func, args, kwargs)
    return NotImplemented


def _arg(args, kwargs, i: int, key: str, default=None):
    return args[i] if len(args) > i else kwargs.get(key, default)


def _label(path: str, name: str) -> str:
    return f"{path}:{name}" if path else name


def _output(s, out, path: str, name: str, operands, features: tuple[int, int] | None = None) -> None:
    """Label a synaptic op's output as a provenance node fed by its activation operands (with the
    ``(in, out)`` features of a weighted op)."""
    label = _label(path, name)
    s.prov.node(label, path, name, "synaptic", operands)
    if features is not None:
        s.prov.set_features(label, *features)
    if isinstance(out, torch.Tensor):
        s.prov.set(out, label)


def _conv(s, name, index, path, func, args, kwargs):
    ndim, transposed = SYNAPTIC_CONV[name]
    p = _bind_conv(args, kwargs, transposed)
    x, w = p["input"], p["weight"]
    if not isinstance(x, torch.Tensor) or not isinstance(w, torch.Tensor):
        return func(*args, **kwargs)
    if not s.prov.is_weight(w):  # a filter computed from the input: a product of two activations
        return _conv_of_activations(s, name, index, path, func, args, kwargs, p)
    groups = int(p.get("groups", 1))
    xb = x if x.dim() == ndim + 2 else x.unsqueeze(0)
    st = site(s, path, name, index)
    n, k = call_layout(s, st, xb.shape[0], tuple(xb.shape[:2]), x=xb)
    magnitudes = not s.summaries.proven_spikes(xb)
    paired = magnitudes and s.summaries.pairable(xb, n)
    if paired:  # nonzeros and Σ|x| (and Σ frac(|x|), for the kind) per position from one reduction
        per_position, abs_position = s.summaries.conv_position_pairs(xb, n), None
        s.summaries.value_range(xb)  # the kind's other half (its range), like every summary before the op
    else:
        per_position, abs_position = s.summaries.conv_positions(xb, n, int(math.prod(w.shape[2:])), magnitudes)
        ra = s.summaries.kind_stats(xb)
    out = func(*args, **kwargs)
    ob = out if out.dim() == ndim + 2 else out.unsqueeze(0)
    geometry = (p.get("stride", 1), p.get("padding", 0), p.get("dilation", 1), transposed)
    key = (xb.shape, ob.shape, w.shape, geometry, groups, per_position.dtype, xb.device)
    bound = st.bound
    if bound is None or bound[0] != key:  # the call's shape-only figures, bound once per geometry
        bound = st.bound = _bind_conv_geometry(key, xb, ob, w, geometry, groups)
    _, fan, c_out_per_group, dense, full, fan64, fan_rows = bound
    if paired and fan_rows is None:  # [fan-out; ones]: Σ · fan-out and Σ of each row of counts in one product
        fan_rows = bound[6] = fm.conv_fanout(xb, ob, w, *geometry, torch.float64, with_ones=True)
    elif magnitudes and not paired and fan64 is None:  # Σ |x| · fan-out, exact for the integer inputs it is used for
        fan64 = bound[5] = fan if fan.dtype == torch.float64 else fm.conv_fanout(xb, ob, w, *geometry, torch.float64)
    # the counts depend on the input's values and the geometry only: a conv of the same input and geometry
    # (a time loop feeding a static image to the first conv at every step) reuses them
    r_eff, r_nnz, r_vw, fractional = s.summaries.derived(
        xb, ("conv counts", key, n, paired),
        lambda: _queue_conv_counts(s.queue, xb, n, per_position, abs_position, fan, fan64, fan_rows))
    if paired:
        ra = s.summaries.kind_from_fractions(xb, fractional)
    st.weight_shape = tuple(w.shape)
    bias_ops = ob.numel() if isinstance(p.get("bias"), torch.Tensor) else 0
    record_call(s, st, xb, ra, None, None, WEIGHT, n, k, r_eff, r_nnz,
                c_out_per_group, dense, bias_ops, out_elements=ob.numel(), r_vw=r_vw, full_rate=full)
    _output(s, out, path, name, (xb,), (int(xb.shape[1]), int(ob.shape[1])))
    return out


def _queue_conv_counts(q, xb: torch.Tensor, n: int, per_position: torch.Tensor, abs_position: torch.Tensor | None,
                       fan: torch.Tensor, fan64: torch.Tensor | None, fan_rows: torch.Tensor | None) -> tuple:
    """Queue a conv call's effective ops and nonzeros per part (and Σ|x| · fan-out for an input that is not
    proven spikes) from its input's counts per position; returns ``(effective ref, nonzeros ref,
    value-weighted record or None, fractional-part refs)``, the last ``()`` unless ``per_position`` holds
    Σ frac(|x|) rows (:meth:`.summaries.OperandSummaries.conv_position_pairs`)."""
    if fan_rows is not None:  # paired rows [nonzeros; Σ|x|(; Σ frac)] x [fan-out; ones] in one product:
        rows = per_position.shape[0]  # [[effective, Σ|x|·fan-out, -] per part; [nonzeros, Σ|x|, Σ frac] per part]
        r = q.vector((fan_rows @ per_position.double().t()).view(-1))
        fractional = tuple(sub_ref(r, rows + 2 * n + t) for t in range(n)) if rows == 3 * n else ()
        return r, sub_ref(r, rows), value_weighted_ref(sub_ref(r, n), xb, n), fractional
    counts = per_position if n > 1 else per_position[0]
    r_eff, r_nnz, r_vw = q.counts(counts @ fan, n), q.counts(counts.sum(-1), n), None
    if abs_position is not None:
        vw = abs_position.double() @ fan64
        r_vw = value_weighted_ref(q.counts(vw if n > 1 else vw[0], n), xb, n)
    return r_eff, r_nnz, r_vw, ()


def _bind_conv_geometry(key: tuple, xb, ob, w, geometry: tuple, groups: int) -> tuple:
    """``[key, fan-out map in the counts' dtype, C_out per group, dense MACs, full-rate ops, float64 fan-out
    map and [fan-out; ones] rows, each None until needed]`` of a conv call: they depend on shapes and geometry
    only, so a site computes them once, not per call."""
    transposed = geometry[3]
    fan = fm.conv_fanout(xb, ob, w, *geometry, key[5])
    c_out_per_group = int(w.shape[1]) if transposed else int(w.shape[0]) // groups
    dense = fm.conv_dense(xb.shape, ob.shape, w.shape, groups, transposed)
    full = xb.shape[0] * xb.shape[1] * fm.conv_fanout_total(xb, ob, w, *geometry) * c_out_per_group
    return [key, fan, c_out_per_group, dense, full, None, None]


def _conv_of_activations(s, name, index, path, func, args, kwargs, p):
    """A convolution whose filter is an activation: the effective terms are the (output, tap) pairs whose
    input and filter values are both nonzero, the convolution of the two nonzero indicators, summed."""
    ndim, transposed = SYNAPTIC_CONV[name]
    x, w = p["input"], p["weight"]
    xb = x if x.dim() == ndim + 2 else x.unsqueeze(0)
    st = site(s, path, name, index)
    n, k = call_layout(s, st, xb.shape[0], tuple(xb.shape[:2]))
    geometry = {k: v for k, v in p.items() if k not in ("input", "weight", "bias")}
    ind_x, ind_w = (xb != 0).to(torch.float64), (w != 0).to(torch.float64)
    pairs = _CONV_FUNCTIONS[name](ind_x, ind_w, None, **geometry)  # [N, C_out, ...]: exact integers
    eff = fm.sum_parts(pairs, n, 0)
    nnz = fm.count_nonzero_parts(xb, n, s.scratch)
    ra, rb = s.summaries.kind_stats(xb), s.summaries.kind_stats(w)
    out = func(*args, **kwargs)
    ob = out if out.dim() == ndim + 2 else out.unsqueeze(0)
    groups = int(p.get("groups", 1))
    dense = fm.conv_dense(xb.shape, ob.shape, w.shape, groups, transposed)
    bias_ops = ob.numel() if isinstance(p.get("bias"), torch.Tensor) else 0
    c_out_per_group = int(w.shape[1]) if transposed else int(w.shape[0]) // groups
    fan = fm.conv_fanout_total(xb, ob, w, p.get("stride", 1), p.get("padding", 0), p.get("dilation", 1), transposed)
    q = s.queue
    record_call(s, st, xb, ra, w, rb, -1, n, k, q.counts(eff, n), q.counts(nnz, n), 1, dense, bias_ops,
                out_elements=ob.numel(), full_rate=xb.shape[0] * xb.shape[1] * fan * c_out_per_group)
    _output(s, out, path, name, (xb, w))
    return out


def _linear(s, index, path, func, args, kwargs):
    x = _arg(args, kwargs, 0, "input")
    w = _arg(args, kwargs, 1, "weight")
    bias = _arg(args, kwargs, 2, "bias")
    if not s.prov.is_weight(w):  # F.linear(q, k): x @ wᵀ with an activation (or a weight as the input)
        # the output is x's leading dims times w's rows (one row for a 1-d w): one bias add per output element
        bias_ops = 0 if bias is None else math.prod(x.shape[:-1]) * (int(w.shape[0]) if w.dim() == 2 else 1)
        return _product(s, "linear", index, path, func, args, kwargs, x, w.mT if w.dim() >= 2 else w, bias_ops)
    xr = x if x.dim() >= 2 else x.unsqueeze(0)
    st = site(s, path, "linear", index)
    n, k = call_layout(s, st, xr.shape[0], tuple(xr.shape[:2]), x=xr)
    nnz, r_vw, ra = s.summaries.weight_input(xr, n)
    out = func(*args, **kwargs)
    out_features = int(w.shape[0]) if w.dim() == 2 else 1
    in_features = int(w.shape[-1])
    dense = x.numel() // max(in_features, 1) * in_features * out_features
    st.weight_shape = tuple(w.shape)
    bias_ops = out.numel() if isinstance(bias, torch.Tensor) else 0
    record_call(s, st, xr, ra, None, None, WEIGHT, n, k, nnz, nnz, out_features, dense, bias_ops,
                out_elements=out.numel(), r_vw=r_vw)
    _output(s, out, path, "linear", (xr,), (in_features, out_features))
    return out


def _weight_fan_out(act: torch.Tensor, w: torch.Tensor, act_left: bool) -> int:
    """Weights each activation value of ``act @ w`` (``act_left``) or ``w @ act`` meets: the weight's free
    dim, times the copies of the activation a weight batch broadcasts it to."""
    if act_left:
        fan = int(w.shape[-1]) if w.dim() >= 2 else 1
    else:
        fan = int(w.shape[-2]) if w.dim() >= 2 else 1
    act_batch = tuple(act.shape[:-2]) if act.dim() >= 2 else ()
    w_batch = tuple(w.shape[:-2]) if w.dim() >= 2 else ()
    copies = math.prod(act_batch)
    if copies:
        fan *= math.prod(fm.broadcast(act_batch, w_batch)) // copies
    return fan


def _product(s, name, index, path, func, args, kwargs, a, b, bias_ops: int = 0):
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return func(*args, **kwargs)
    dense = fm.matmul_dense(a.shape, b.shape)
    st = site(s, path, name, index)
    a_weight, b_weight = s.prov.is_weight(a), s.prov.is_weight(b)
    q = s.queue
    if b_weight or a_weight:
        act, w = (a, b) if b_weight else (b, a)
        fan_out = _weight_fan_out(act, w, act_left=b_weight)
        ar = act if act.dim() >= 2 else act.unsqueeze(0)
        # nonzeros of the activation per leading row; each meets fan_out weights. Its dim 0 is a batch (or
        # row) dim unless it is the right operand of a 2-d product (then dim 0 is contracted)
        st.weight_shape = tuple(w.shape)
        n, k = call_layout(s, st, ar.shape[0], tuple(ar.shape[:2]), force_untimed=not b_weight and act.dim() < 3,
                           x=ar)
        nnz, r_vw, ra = s.summaries.weight_input(ar, n)
        call = (st, ar, ra, None, None, WEIGHT, n, k, nnz, nnz, fan_out, dense, bias_ops)
        operands = (ar,)
        features = _product_features(w, act_left=b_weight)
    else:
        nz_a, pairs = fm.matmul_pair_counts(a, b, dense, s.scratch)  # [*batch_a, K], [*batch, K]
        rows = pairs.shape[0] if pairs.dim() > 1 else 1
        a2 = a if a.dim() >= 2 else a.unsqueeze(0)
        aligned = a2.shape[0] == rows  # the activation's rows line up with the op's (no broadcast)
        n, k = call_layout(s, st, rows, _lead(a, b), force_untimed=not aligned)
        eff = fm.sum_parts(pairs, n, dense)
        if not aligned or n == 1:
            nnz = fm.sum_parts(nz_a, 1, a.numel())
        elif a.dim() >= 3:
            nnz = fm.sum_parts(nz_a, n, a.numel())
        else:  # a 2-d activation split by its rows
            nnz = fm.count_nonzero_parts(a2, n, s.scratch)
        call = (st, a2, s.summaries.kind_stats(a2), b, s.summaries.kind_stats(b), -1, n, k, q.counts(eff, n),
                q.counts(nnz, n), 1, dense, bias_ops)
        r_vw, operands, features = None, (a, b), None
    out = func(*args, **kwargs)
    record_call(s, *call, out_elements=out.numel(), r_vw=r_vw)
    _output(s, out, path, name, operands, features)
    return out


def _product_features(w: torch.Tensor, act_left: bool) -> tuple[int, int]:
    """``(in, out)`` features of ``act @ w`` (``act_left``) or ``w @ act``: the contracted and the free size."""
    if w.dim() < 2:
        return int(w.shape[0]), 1
    return (int(w.shape[-2]), int(w.shape[-1])) if act_left else (int(w.shape[-1]), int(w.shape[-2]))


def _elementwise(s, index, path, func, args, kwargs, a, b):
    eff_rows = fm.elementwise_effective_rows(a, b)
    big, small = (a, b) if a.numel() >= b.numel() else (b, a)
    nnz_rows = fm.nonzero_rows(big) if big.dim() and big.shape[0] == eff_rows.shape[0] else None
    st = site(s, path, "mul", index)
    call = rows_call(s, st, big, small, -1, eff_rows, nnz_rows, eff_rows.shape[0],
                     tuple(fm.broadcast(tuple(a.shape), tuple(b.shape))[:2]))
    out = func(*args, **kwargs)
    record_call(s, *call, out.numel(), 0, out_elements=out.numel())
    _output(s, out, path, "mul", (a, b))
    return out


def _einsum(s, name, index, path, func, args, kwargs, eq, ops):
    if not isinstance(eq, str) or len(ops) != 2 or not all(isinstance(t, torch.Tensor) for t in ops):
        s.unsupported[(path, f"{name}({len(ops)} operands)")] += 1
        return func(*args, **kwargs)
    a, b = ops
    weight = s.prov.is_weight(b) or s.prov.is_weight(a)
    if s.prov.is_weight(a) and not s.prov.is_weight(b):  # the activation goes first
        in_a, in_b, out_sub = fm.einsum_subscripts(eq, a.dim(), b.dim())
        eq, a, b = f"{in_b},{in_a}->{out_sub}", b, a
    dense, eff_rows, by_rows = fm.einsum_counts(eq, a, b, b_weight=weight)
    st = site(s, path, name, index)
    if weight:
        st.weight_shape = tuple(b.shape)
    nnz_rows = fm.nonzero_rows(a) if by_rows else None
    n0, lead = (a.shape[0], tuple(a.shape[:2])) if by_rows else (1, (1,))
    call = rows_call(s, st, a, None if weight else b, WEIGHT if weight else -1, eff_rows, nnz_rows, n0, lead)
    out = func(*args, **kwargs)
    record_call(s, *call, dense, 0, out_elements=out.numel())
    _output(s, out, path, name, (a,) if weight else (a, b))
    return out


def _sdpa(s, index, path, func, args, kwargs):
    """Q·Kᵀ counts every score (the scores are all computed, masked ones included); P·V counts only the
    probabilities the mask leaves (masked ones are exactly zero), times the nonzero values they meet."""
    q, k, v = _arg(args, kwargs, 0, "query"), _arg(args, kwargs, 1, "key"), _arg(args, kwargs, 2, "value")
    mask = _arg(args, kwargs, 3, "attn_mask")
    causal = bool(_arg(args, kwargs, 5, "is_causal", False))
    if kwargs.get("enable_gqa") and q.dim() >= 3 and k.dim() >= 3 and k.shape[-3] != q.shape[-3]:
        # grouped-query attention: each key/value head serves q.shape[-3] / k.shape[-3] query heads
        groups = q.shape[-3] // max(k.shape[-3], 1)
        k, v = k.repeat_interleave(groups, dim=-3), v.repeat_interleave(groups, dim=-3)
    kt = k.transpose(-2, -1)
    st = site(s, path, "sdpa.qk", index)
    call = rows_call(s, st, q, kt, -1, fm.matmul_effective_rows(q, kt), fm.nonzero_rows(q), q.shape[0],
                     _lead(q, kt))
    probs_shape = tuple(q.shape[:-1]) + (k.shape[-2],)
    record_call(s, *call, fm.matmul_dense(q.shape, kt.shape), 0, out_elements=math.prod(probs_shape))
    allowed = _allowed(mask, causal, q, k)
    eff_rows, nnz_rows = fm.attention_value_rows(v, q.shape[-2], allowed)
    st = site(s, path, "sdpa.av", index)
    call = rows_call(s, st, v, None, REAL, eff_rows, nnz_rows, v.shape[0], _lead(q, kt))
    r_full = None if allowed is None else s.queue.scalar(fm.attention_value_full(v, allowed))
    out = func(*args, **kwargs)
    record_call(s, *call, fm.matmul_dense(probs_shape, v.shape), 0, out_elements=out.numel(), r_full=r_full)
    other = s.others.setdefault((path, "softmax"), OtherStats(path, "softmax"))
    other.calls += 1
    other.elements += math.prod(probs_shape)
    _output(s, out, path, "scaled_dot_product_attention", (q, k, v))
    return out


def _allowed(mask, causal: bool, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
    """Where the attention probabilities can be nonzero (``[..., L, S]`` bool, a mask that broadcasts over the
    queries or keys expanded to them), or ``None`` for everywhere."""
    L, S = q.shape[-2], k.shape[-2]
    allowed = None
    if causal:
        allowed = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
    if isinstance(mask, torch.Tensor):
        m = mask if mask.dtype == torch.bool else mask > float("-inf")
        allowed = m if allowed is None else allowed & m
    if allowed is not None:  # a view: a [..., 1, S] key-padding mask holds for every one of the L queries
        allowed = allowed.expand(*allowed.shape[:-2], L, S) if allowed.dim() >= 2 else allowed.expand(L, S)
    return allowed


def record_call(s, st: SiteStats, a: torch.Tensor, ra: tuple, b: torch.Tensor | None, rb: tuple | None, kb: int,
                n: int, index: int, r_eff: int, r_nnz: int, mult: int, dense: int, bias_ops: int,
                out_elements: int = 0, r_vw: int | None = None, full_rate: int | None = None,
                r_full: int | None = None) -> None:
    """Record one synaptic call: its queued operand summaries (``ra``, ``rb``) and counts (``r_eff``,
    ``r_nnz``), and the host-side numbers (calls, dense ops, elements, producers). ``n`` is the number of
    parts the counts were queued in (T or 1), ``index`` the call's index in the forward.

    ``kb`` is the kind of operand B when it is not an activation (``WEIGHT`` or ``REAL``); effective ops
    are the queued raw counts times ``mult`` (e.g. a linear layer's nonzero inputs times its outputs).
    ``r_vw``: the record of the queued Σ|x| · fan-out (before ``mult``, see
    :func:`.summaries.value_weighted_ref`) where it can differ from the effective count (inputs not proven to
    be spikes), else ``None``. ``full_rate``: the effective count had every activation element been nonzero
    (valid taps only; default ``dense``), or ``r_full``, the queue reference of that count when only the
    device knows it (a masked attention).
    """
    prov = s.prov
    if b is not None:
        p = prov.producer(b)
        st.producers_b[p] = st.producers_b.get(p, 0) + 1
    p = prov.producer(a)
    st.producers_a[p] = st.producers_a.get(p, 0) + 1
    st.calls += 1
    st.bias_ops += bias_ops
    st.output_elements += out_elements
    if r_full is None:
        st.full_rate_ops += dense if full_rate is None else full_rate
    record = [st, ra, rb, kb, -1, r_eff, r_nnz, mult, r_vw, n, r_full]  # the slot (-1 here) is set by resolve_slots
    s.queue.site_calls.append(record)
    s.pending.append((record, n, index, s.forward_id, dense, a.numel()))
    s.queue.maybe_fold()


def rows_call(s, st: SiteStats, a: torch.Tensor, b: torch.Tensor | None, kb: int, eff_rows: torch.Tensor,
              nnz_rows: torch.Tensor | None, n0: int, lead_shape: tuple[int, ...]) -> tuple:
    """The first arguments of :func:`record_call` (all but ``dense`` and ``bias_ops``) for counts given per
    leading row (int64), as the less common ops produce them."""
    n, k = call_layout(s, st, n0, lead_shape, force_untimed=nnz_rows is None)
    if nnz_rows is None:  # the activation's rows do not line up with the op's (broadcast): untimed
        nnz_rows = fm.nonzero_rows(a.reshape(1, -1))
    eff = fm.sum_parts(eff_rows.double(), n, 0)
    nnz = fm.sum_parts(nnz_rows.double(), n, 0)
    summaries, q = s.summaries, s.queue
    rb = summaries.kind_stats(b) if b is not None else None
    return (st, a, summaries.kind_stats(a), b, rb, kb, n, k, q.counts(eff, n), q.counts(nnz, n), 1)


def _is_activation_tensor(t: Any) -> bool:
    """A tensor with a dim (a 0-d tensor is a scale); its size must not matter: a ``[B, 1]`` gate is one
    element at B = 1 and is as synaptic there as at any other batch size."""
    return isinstance(t, torch.Tensor) and t.dim() > 0


def _lead(a: torch.Tensor, b: torch.Tensor) -> tuple[int, ...]:
    batch = fm.broadcast(tuple(a.shape[:-2]), tuple(b.shape[:-2])) if a.dim() >= 2 and b.dim() >= 2 else ()
    return tuple(batch[:2])


_CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_CONVT_ARGS = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")


def _bind_conv(args, kwargs, transposed: bool) -> dict[str, Any]:
    names = _CONVT_ARGS if transposed else _CONV_ARGS
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound
