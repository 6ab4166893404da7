"""The interception machinery: a ``TorchFunctionMode`` plus module hooks that attribute every op to the
module path it ran in, classify its operands and accumulate counts on the model's device.

Nothing here synchronises with the device per op: counts, kinds and value ranges are device tensors that
are read once, when the report is built.
"""
from __future__ import annotations

import inspect
import weakref
from collections import Counter
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from . import formulas as fm
from .accumulators import NeuronStats, OtherStats, SiteStats
from .kinds import N_KINDS, WEIGHT, operand_stats
from .neurons import neuron_info
from .ops import SYNAPTIC_CONV, category, normalise_name

INPUT = "<input>"
PARAMETER = "<parameter>"
UNKNOWN = "<unknown>"


class _Frame:
    __slots__ = ("path", "op_counts", "is_neuron")

    def __init__(self, path: str, is_neuron: bool) -> None:
        self.path = path
        self.op_counts: dict[str, int] = {}
        self.is_neuron = is_neuron


class ProfileSession(TorchFunctionMode):
    """Collects counts for one model over any number of forward passes (see :func:`snnenergy.profile`)."""

    def __init__(self, model: nn.Module, time_steps: int, device: torch.device, track_ops: bool = True) -> None:
        super().__init__()
        self.model = model
        self.T = int(time_steps)
        self.device = device
        self.track_ops = track_ops
        self.batch_size = 0
        self.samples = 0
        self.forward_id = 0
        self.sites: dict[tuple[str, str, int], SiteStats] = {}
        self.neurons: dict[str, NeuronStats] = {}
        self.others: dict[tuple[str, str], OtherStats] = {}
        self.unsupported: Counter[tuple[str, str]] = Counter()
        self._stack: list[_Frame] = [_Frame("", False)]
        self._neuron_depth = 0
        self._busy = False  # the profiler's own tensor work in hooks must not be intercepted
        self._prov: dict[int, tuple[weakref.ref, str]] = {}
        self._param_ids = {id(p) for p in model.parameters()} | {id(b) for b in model.buffers()}
        self._names: dict[Callable, tuple[str, str]] = {}
        self._handles: list[Any] = []
        self._module_info: dict[nn.Module, tuple[str, Any]] = {}
        self._arange = torch.arange(self.T, device=device)

    # ------------------------------------------------------------------ hooks
    def attach(self) -> None:
        """Register the module hooks (removed again by :meth:`detach`)."""
        for path, module in self.model.named_modules():
            info = neuron_info(module)
            if not self.track_ops and info is None and module is not self.model:
                continue  # rates only: just the neurons (and the root, which starts each forward)
            self._module_info[module] = (path, info)
            self._handles.append(module.register_forward_pre_hook(self._pre_hook))
            self._handles.append(module.register_forward_hook(self._post_hook, always_call=True))

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._prov.clear()
        self._module_info.clear()  # the report must not keep the model alive
        self._param_ids = set()
        self.model = None

    def _pre_hook(self, module: nn.Module, args: tuple) -> None:
        path, info = self._module_info[module]
        if module is self.model:
            self.forward_id += 1
            self._stack = [_Frame("", False)]
            self._neuron_depth = 0
            for a in args:
                if isinstance(a, torch.Tensor):
                    self._set_prov(a, INPUT)
        is_neuron = info is not None
        self._stack.append(_Frame(path, is_neuron))
        if is_neuron:
            self._neuron_depth += 1

    def _post_hook(self, module: nn.Module, args: tuple, output: Any) -> None:
        frame = self._stack.pop() if len(self._stack) > 1 else self._stack[0]
        if frame.is_neuron:
            self._neuron_depth -= 1
            if self._neuron_depth == 0:
                spikes = output[0] if isinstance(output, (tuple, list)) else output
                if isinstance(spikes, torch.Tensor):
                    path, info = self._module_info[module]
                    self._busy = True
                    try:
                        self._neuron_output(path, info, spikes)
                    finally:
                        self._busy = False
                    self._set_prov(spikes, f"{path}:spikes")

    # ------------------------------------------------------------- provenance
    def _set_prov(self, t: torch.Tensor, producer: str) -> None:
        self._prov[id(t)] = (weakref.ref(t), producer)
        if len(self._prov) > 100_000:
            self._prov = {k: v for k, v in self._prov.items() if v[0]() is not None}

    def producer(self, t: torch.Tensor) -> str:
        if id(t) in self._param_ids or isinstance(t, nn.Parameter):
            return PARAMETER
        entry = self._prov.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        return UNKNOWN

    def _is_weight(self, t: torch.Tensor) -> bool:
        return self.producer(t) == PARAMETER

    # ------------------------------------------------------------ the mode
    def _op_name(self, func: Callable) -> tuple[str, str]:
        cached = self._names.get(func)
        if cached is None:
            raw = getattr(func, "__name__", None) or str(func)
            name = normalise_name(raw)
            cat = category(name)
            if cat == "unsupported" and inspect.isfunction(func) and raw.startswith("__") and raw.endswith("__"):
                cat = "free"  # Python-level dunders such as __reduce_ex__
            cached = (name, cat)
            self._names[func] = cached
        return cached

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self._neuron_depth or self._busy:
            return func(*args, **kwargs)
        name, cat = self._op_name(func)
        if cat == "free":
            out = func(*args, **kwargs)
            if isinstance(out, torch.Tensor):
                src = _first_tensor(args)
                if src is not None and out is not src:
                    self._set_prov(out, self.producer(src))
            elif isinstance(out, (tuple, list)) and name in ("split", "chunk", "unbind", "split_with_sizes", "tensor_split"):
                src = _first_tensor(args)
                if src is not None:
                    p = self.producer(src)
                    for o in out:
                        if isinstance(o, torch.Tensor):
                            self._set_prov(o, p)
            return out
        frame = self._stack[-1]
        index = frame.op_counts.get(name, 0)
        frame.op_counts[name] = index + 1
        if cat == "synaptic" and self.track_ops:
            out = self._synaptic(name, index, frame.path, func, args, kwargs)
            if out is not NotImplemented:
                return out
            cat = "other"
        out = func(*args, **kwargs)
        if cat == "unsupported":
            self.unsupported[(frame.path, name)] += 1
        elif self.track_ops:
            key = (frame.path, name)
            st = self.others.get(key)
            if st is None:
                st = self.others[key] = OtherStats(frame.path, name)
            st.calls += 1
            if isinstance(out, torch.Tensor):
                st.elements += out.numel()
        if isinstance(out, torch.Tensor):
            self._set_prov(out, f"{frame.path}:{name}" if frame.path else name)
        return out

    # -------------------------------------------------------- synaptic ops
    def _site(self, path: str, name: str, index: int) -> SiteStats:
        key = (path, name, index)
        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = SiteStats(path, name, index, self.T, self.device)
        return site

    def _synaptic(self, name: str, index: int, path: str, func, args, kwargs):
        if name in SYNAPTIC_CONV:
            return self._conv(name, index, path, func, args, kwargs)
        if name == "linear":
            return self._linear(index, path, func, args, kwargs)
        if name in ("matmul", "mm", "bmm", "rmatmul"):
            a, b = args[0], args[1]
            if name == "rmatmul":
                a, b = b, a
            return self._product(name if name != "rmatmul" else "matmul", index, path, func, args, kwargs, a, b)
        if name in ("addmm", "baddbmm"):
            a = kwargs.get("mat1", kwargs.get("batch1")) if len(args) < 3 else args[1]
            b = kwargs.get("mat2", kwargs.get("batch2")) if len(args) < 3 else args[2]
            return self._product(name, index, path, func, args, kwargs, a, b)
        if name == "mul":
            if len(args) < 2:
                return NotImplemented
            a, b = args[0], args[1]
            if not (_is_activation_tensor(a) and _is_activation_tensor(b)):
                return NotImplemented
            if self._is_weight(a) or self._is_weight(b):
                return NotImplemented  # a learned per-element scale: an "other" op
            return self._elementwise(index, path, func, args, kwargs, a, b)
        if name == "einsum":
            return self._einsum(index, path, func, args, kwargs)
        if name == "scaled_dot_product_attention":
            return self._sdpa(index, path, func, args, kwargs)
        return NotImplemented

    def _conv(self, name, index, path, func, args, kwargs):
        ndim, transposed = SYNAPTIC_CONV[name]
        p = _bind_conv(args, kwargs, transposed)
        x, w = p["input"], p["weight"]
        out = func(*args, **kwargs)
        if not isinstance(x, torch.Tensor) or not isinstance(out, torch.Tensor):
            return out
        groups = int(p.get("groups", 1))
        xb = x if x.dim() == ndim + 2 else x.unsqueeze(0)
        ob = out if out.dim() == ndim + 2 else out.unsqueeze(0)
        dense = fm.conv_dense(xb.shape, ob.shape, w.shape, groups, transposed)
        eff_rows, nnz_rows = fm.conv_effective_rows(
            xb, ob, w, p.get("stride", 1), p.get("padding", 0), p.get("dilation", 1), groups, transposed
        )
        bias = p.get("bias")
        bias_ops = ob.numel() if isinstance(bias, torch.Tensor) else 0
        site = self._site(path, name, index)
        site.weight_shape = tuple(w.shape)
        self._record(site, xb, None, eff_rows, nnz_rows, dense, bias_ops, xb.shape[0])
        self._set_prov(out, f"{path}:{name}" if path else name)
        return out

    def _linear(self, index, path, func, args, kwargs):
        x = args[0] if args else kwargs["input"]
        w = args[1] if len(args) > 1 else kwargs["weight"]
        bias = args[2] if len(args) > 2 else kwargs.get("bias")
        out = func(*args, **kwargs)
        out_features = int(w.shape[0]) if w.dim() == 2 else 1
        in_features = int(w.shape[-1])
        rows = x.numel() // max(in_features, 1)
        dense = rows * in_features * out_features
        xr = x if x.dim() >= 2 else x.unsqueeze(0)
        nnz_rows = fm.nonzero_rows(xr)
        site = self._site(path, "linear", index)
        site.weight_shape = tuple(w.shape)
        bias_ops = out.numel() if isinstance(bias, torch.Tensor) else 0
        self._record(site, xr, None, nnz_rows * out_features, nnz_rows, dense, bias_ops, xr.shape[0])
        self._set_prov(out, f"{path}:linear" if path else "linear")
        return out

    def _product(self, name, index, path, func, args, kwargs, a, b):
        out = func(*args, **kwargs)
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return out
        dense = fm.matmul_dense(a.shape, b.shape)
        site = self._site(path, name, index)
        a_weight, b_weight = self._is_weight(a), self._is_weight(b)
        if b_weight or a_weight:
            act, w = (a, b) if b_weight else (b, a)
            fan_out = int(w.shape[-1]) if b_weight else int(w.shape[-2]) if w.dim() >= 2 else 1
            ar = act if act.dim() >= 2 else act.unsqueeze(0)
            # nonzeros of the activation per leading row; each meets fan_out weights
            nnz_rows = fm.nonzero_rows(ar)
            site.weight_shape = tuple(w.shape)
            self._record(site, ar, None, nnz_rows * fan_out, nnz_rows, dense, 0, ar.shape[0])
        else:
            eff_rows = fm.matmul_effective_rows(a, b)
            a2 = a if a.dim() >= 2 else a.unsqueeze(0)
            nnz_rows = fm.nonzero_rows(a2) if a2.shape[0] == eff_rows.shape[0] else None
            self._record(site, a2, b, eff_rows, nnz_rows, dense, 0, eff_rows.shape[0], lead_shape=_lead(a, b))
        self._set_prov(out, f"{path}:{name}" if path else name)
        return out

    def _elementwise(self, index, path, func, args, kwargs, a, b):
        out = func(*args, **kwargs)
        eff_rows = fm.elementwise_effective_rows(a, b)
        dense = out.numel()
        big, small = (a, b) if a.numel() >= b.numel() else (b, a)
        nnz_rows = fm.nonzero_rows(big) if big.dim() and big.shape[0] == eff_rows.shape[0] else None
        site = self._site(path, "mul", index)
        self._record(site, big, small, eff_rows, nnz_rows, dense, 0, eff_rows.shape[0],
                     lead_shape=tuple(out.shape[:2]))
        self._set_prov(out, f"{path}:mul" if path else "mul")
        return out

    def _einsum(self, index, path, func, args, kwargs):
        out = func(*args, **kwargs)
        eq = args[0]
        ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
        if not isinstance(eq, str) or len(ops) != 2:
            self.unsupported[(path, f"einsum({len(ops)} operands)")] += 1
            return out
        a, b = ops
        try:
            dense, eff = fm.einsum_counts(eq, a, b)
        except NotImplementedError:
            self.unsupported[(path, "einsum(...)")] += 1
            return out
        site = self._site(path, "einsum", index)
        if self._is_weight(b) or self._is_weight(a):
            act = a if self._is_weight(b) else b
            self._record(site, act.reshape(1, -1), None, eff, fm.nonzero_rows(act.reshape(1, -1)), dense, 0, 1)
        else:
            self._record(site, a.reshape(1, -1), b, eff, fm.nonzero_rows(a.reshape(1, -1)), dense, 0, 1)
        self._set_prov(out, f"{path}:einsum" if path else "einsum")
        return out

    def _sdpa(self, index, path, func, args, kwargs):
        q = args[0] if args else kwargs["query"]
        k = args[1] if len(args) > 1 else kwargs["key"]
        v = args[2] if len(args) > 2 else kwargs["value"]
        out = func(*args, **kwargs)
        kt = k.transpose(-2, -1)
        site = self._site(path, "sdpa.qk", index)
        self._record(site, q, kt, fm.matmul_effective_rows(q, kt), fm.nonzero_rows(q),
                     fm.matmul_dense(q.shape, kt.shape), 0, q.shape[0], lead_shape=_lead(q, kt))
        # the probabilities are all nonzero (softmax), so every term of P·V with v ≠ 0 is effective
        n_q = q.shape[-2]
        eff = fm.nonzero_rows(v) * n_q
        site = self._site(path, "sdpa.av", index)
        probs_shape = tuple(q.shape[:-1]) + (k.shape[-2],)
        self._record(site, v, None, eff, fm.nonzero_rows(v),
                     fm.matmul_dense(probs_shape, v.shape), 0, v.shape[0], b_kind_real=True, lead_shape=_lead(q, kt))
        st = self.others.setdefault((path, "softmax"), OtherStats(path, "softmax"))
        st.calls += 1
        st.elements += int(torch.Size(probs_shape).numel())
        self._set_prov(out, f"{path}:scaled_dot_product_attention")
        return out

    # --------------------------------------------------------- accumulation
    def _time_layout(self, n0: int, lead_shape: tuple[int, ...] | None) -> str:
        T, B = self.T, self.batch_size
        if n0 % (T * B) == 0:
            # [T·B, ...] or [T·B·N, ...]: time is the outermost factor of the leading dim
            return "folded"
        if n0 == T and lead_shape is not None and len(lead_shape) > 1 and lead_shape[1] == B:
            return "steps"
        return "untimed"

    def _record(
        self,
        site: SiteStats,
        a: torch.Tensor,
        b: torch.Tensor | None,
        eff_rows: torch.Tensor,
        nnz_rows: torch.Tensor | None,
        dense: int,
        bias_ops: int,
        n0: int,
        lead_shape: tuple[int, ...] | None = None,
        b_kind_real: bool = False,
    ) -> None:
        T = self.T
        if lead_shape is None:
            lead_shape = tuple(a.shape[:2])
        layout = self._time_layout(n0, lead_shape)
        ka, amin, amax = operand_stats(a)
        if b is None:
            kb = torch.full((), 3 if b_kind_real else WEIGHT, dtype=torch.int64, device=a.device)
        else:
            kb, bmin, bmax = operand_stats(b)
            site.b_min = torch.minimum(site.b_min, bmin)
            site.b_max = torch.maximum(site.b_max, bmax)
            site.producers_b[self.producer(b)] = site.producers_b.get(self.producer(b), 0) + 1
        site.a_min = torch.minimum(site.a_min, amin)
        site.a_max = torch.maximum(site.a_max, amax)
        p = self.producer(a)
        site.producers_a[p] = site.producers_a.get(p, 0) + 1
        site.kind_calls.view(-1).index_add_(0, (ka * N_KINDS + kb).reshape(1), _ONE_CACHE.get(a.device))
        elements = a.numel()
        site.calls += 1
        site.bias_ops += bias_ops
        flat_eff = site.effective.view(-1)
        if nnz_rows is None:  # the activation's rows do not line up with the op's (broadcast): untimed nnz
            nnz_rows = fm.nonzero_rows(a.reshape(1, -1))
            if layout != "untimed":
                layout = "untimed"
        if layout != "untimed":
            steps_eff = eff_rows.reshape(T, -1).sum(1)
            steps_nnz = nnz_rows.reshape(T, -1).sum(1)
            slots = self._arange
            idx = (ka * N_KINDS + kb) * (T + 1) + slots
            flat_eff.index_add_(0, idx, steps_eff)
            site.nnz[:T] += steps_nnz
            per_dense, per_el = dense // T, elements // T
            for t in range(T):
                site.dense[t] += per_dense
                site.elements[t] += per_el
        else:
            slot = site.call_slot(self.forward_id)
            site.untimed_calls += 1
            idx = (ka * N_KINDS + kb) * (T + 1) + slot
            flat_eff.index_add_(0, idx.reshape(1), eff_rows.sum().reshape(1))
            site.nnz[slot] += nnz_rows.sum()
            site.dense[slot] += dense
            site.elements[slot] += elements

    # --------------------------------------------------------------- neurons
    def finalize(self) -> None:
        """Reduce on the device what the report needs, then move every accumulator to the host in one copy."""
        for st in self.neurons.values():
            if st.per_neuron is not None and st.neuron_steps:
                st.dead = (st.per_neuron == 0).double().mean()
                st.saturated = (st.per_neuron >= st.neuron_steps).double().mean()
            st.per_neuron = None
        tensors: list[tuple[object, str]] = []
        for site in self.sites.values():
            tensors += [(site, n) for n in ("effective", "kind_calls", "nnz", "a_min", "a_max", "b_min", "b_max")]
        for st in self.neurons.values():
            tensors += [(st, n) for n in ("spikes", "out_min", "out_max", "dead", "saturated")]
        if not tensors:
            return
        values = [getattr(obj, name) for obj, name in tensors]
        flat = torch.cat([v.reshape(-1).to(torch.float64) for v in values]).cpu().numpy()
        offset = 0
        for (obj, name), v in zip(tensors, values):
            n = v.numel()
            arr = flat[offset:offset + n].reshape(tuple(v.shape))
            if v.dtype == torch.int64:
                arr = arr.round().astype(np.int64)
            setattr(obj, name, arr)
            offset += n

    def _neuron_stats(self, path: str, info) -> NeuronStats:
        st = self.neurons.get(path)
        if st is None:
            st = self.neurons[path] = NeuronStats(path, info.type_name, self.T, self.device, info.has_leak, info.known)
        return st

    def _neuron_output(self, path: str, info, s: torch.Tensor) -> None:
        st = self._neuron_stats(path, info)
        T, B = self.T, self.batch_size
        st.calls += 1
        s = s.detach()
        if self.track_ops:
            mn, mx = s.aminmax()
            st.out_min = torch.minimum(st.out_min, mn.double())
            st.out_max = torch.maximum(st.out_max, mx.double())
        # spikes = Σ output values (a multi-spike neuron's 2 is two spikes); |values| for signed (ternary) neurons
        if info.signed:
            s = s.abs()
        if s.dim() >= 2 and s.shape[0] == T and s.shape[1] == B or (s.dim() >= 1 and s.shape[0] == T * B and T > 1):
            # one pass: sum over the batch, then the small [T, neurons] table gives both views
            # exact in float32: each entry is at most B·(largest spike value)
            by_step_neuron = s.reshape(T, B, -1).sum(1, dtype=_sum_dtype(s))
            st.spikes[:T] += by_step_neuron.sum(1, dtype=torch.float64)
            per_neuron = by_step_neuron.sum(0)
            n = s.numel() // T
            for t in range(T):
                st.elements[t] += n
            st.neuron_steps += T * B
        else:
            slot = st.call_slot(self.forward_id)
            st.untimed_calls += 1
            if s.dim() >= 1 and s.shape[0] == B:
                per_neuron = s.reshape(B, -1).sum(0, dtype=_sum_dtype(s))
                st.neuron_steps += B
            else:
                per_neuron = s.sum().reshape(1)
                st.neuron_steps += 1
            st.spikes[slot] += per_neuron.sum(dtype=torch.float64)
            st.elements[slot] += s.numel()
        per_neuron = per_neuron.to(torch.float64)
        if st.per_neuron is None:
            st.per_neuron = per_neuron.clone()
        elif st.per_neuron.shape == per_neuron.shape:
            st.per_neuron += per_neuron
        else:  # the layer's shape changed between calls (another input size): keep totals only
            st.per_neuron = st.per_neuron.sum().reshape(1) + per_neuron.sum().reshape(1)


class _OneCache:
    def __init__(self) -> None:
        self._ones: dict[torch.device, torch.Tensor] = {}

    def get(self, device: torch.device) -> torch.Tensor:
        t = self._ones.get(device)
        if t is None:
            t = self._ones[device] = torch.ones(1, dtype=torch.int64, device=device)
        return t


_ONE_CACHE = _OneCache()


def _sum_dtype(t: torch.Tensor) -> torch.dtype | None:
    """Accumulate half-precision spikes in float32 (bf16/fp16 sums stop being exact past 256/2048)."""
    return torch.float32 if t.dtype in (torch.float16, torch.bfloat16) or not t.is_floating_point() else None


def _first_tensor(args) -> torch.Tensor | None:
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor):
            return a[0]
    return None


def _is_activation_tensor(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.dim() > 0 and t.numel() > 1


def _lead(a: torch.Tensor, b: torch.Tensor) -> tuple[int, ...]:
    batch = torch.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])) if a.dim() >= 2 and b.dim() >= 2 else ()
    return tuple(batch[:2])


_CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_CONVT_ARGS = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")


def _bind_conv(args, kwargs, transposed: bool) -> dict[str, Any]:
    names = _CONVT_ARGS if transposed else _CONV_ARGS
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound
