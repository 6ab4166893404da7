"""Dry runs: parameters, shapes and dense ops per layer on the meta device, without data or real memory.

The model runs on PyTorch's meta device (tensors with a shape and no storage). A zoo name is built there
directly; a user's model is copied structurally (every parameter, buffer and tensor attribute replaced by a
meta tensor of the same shape, so nothing is copied or moved: the model itself is not touched). Dense ops
follow the profiler's own formulas (:mod:`.formulas`). Nothing is known about values on meta, so:

* a synaptic op whose activation comes straight from a neuron (through shape-only ops) is spike-driven:
  its effective ops are the assumed input rate times its dense ops, counted as ACs (a product of two spike
  tensors: both rates);
* sums of spikes are integer MACs, dense unless ``rates`` gives the op's input rate (a real run's
  ``report.json`` does): then that fraction of the dense ops;
* any other activation (the encoded input, membrane values) is counted dense, as MACs;
* neuron layers are recognised by class (ours, SpikingJelly's, snnTorch's); their internal state update is
  skipped on meta (an output of the input's shape stands for the spikes).

Rates come from ``assume_rate`` (one rate for every spike tensor) and/or ``rates``: a mapping or a file
(``.json`` ``{layer: rate}``, a ``report.json`` of a real run, or a ``.csv`` with columns ``layer`` and
``rate``) giving the firing rate of a neuron layer or the input rate of a synaptic layer by module path.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from . import formulas as fm
from .ops import SYNAPTIC_CONV, category, normalise_name

_WEIGHT, _INPUT, _SPIKES, _INTEGER, _OTHER = "weight", "input", "spikes", "integer", "other"
# ops whose output is binary when their activation input is (pooling by max, rectifying): spikes stay spikes
_KEEPS_SPIKES = {"max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
                 "max_pool3d_with_indices", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
                 "amax", "amin", "max", "min", "relu", "relu6", "hardtanh", "maximum", "minimum"}
# ops whose output is integral when their inputs are spikes or integers (sums of spikes)
_SUMS = {"add", "sub", "rsub", "sum", "cumsum", "neg", "abs"}
_NORMS = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm"}  # output shaped like input
_PRODUCTS = {"matmul": (0, 1), "mm": (0, 1), "bmm": (0, 1), "rmatmul": (1, 0), "mv": (0, 1), "dot": (0, 1),
             "addmm": (1, 2), "baddbmm": (1, 2), "addbmm": (1, 2), "addmv": (1, 2)}


@dataclass
class DryRun:
    """The result of :func:`dry_run`: tables per synaptic op site (``layers``), per neuron layer (``neurons``)
    and per module (``modules``: own parameters, output shape), all per sample."""

    model: str
    input_shape: tuple[int, ...]
    time_steps: int
    params: int
    layers: pd.DataFrame
    neurons: pd.DataFrame
    modules: pd.DataFrame
    rates: str = "none (dense ops only)"
    seconds: float = 0.0

    def totals(self) -> dict[str, float]:
        """Parameters and per-sample count totals; a count unknown for some layer (ACs without rates) is unknown
        (NaN) in total, not summed as zero."""
        t = {"params": float(self.params)}
        for c in ("dense_ops", "effective_ops", "ac", "integer_mac", "mac", "bias_ops"):
            t[c] = float(self.layers[c].sum(skipna=False)) if not self.layers.empty else 0.0
        return t

    def to_report(self):
        """A :class:`~snnenergy.report.Report` of the assumed counts (for energy tables and rendering)."""
        from ..report.report import Report

        meta = {"model": self.model, "time_steps": self.time_steps, "samples": 1, "batches": 1, "device": "meta",
                "weights": "dry run on the meta device: no data, no values", "rates_only": False,
                "dry_run": True, "assumed_rates": self.rates,
                "counting": "dry run: dense = nominal (fvcore) MACs; effective = assumed rate x dense"}
        return Report(meta, layers=self.layers, neurons=self.neurons,
                      per_step=pd.DataFrame(), other_ops=pd.DataFrame(columns=["layer", "op", "calls", "elements"]),
                      unsupported=pd.DataFrame(columns=["layer", "op", "calls"]))

    def energy(self, preset: str = "fp32", level: int = 1, **kwargs: Any):
        """Energy per sample at the assumed rates (needs ``assume_rate`` or ``rates``)."""
        if self.layers["ac"].isna().any():
            raise ValueError("energy needs firing rates: pass assume_rate=R (e.g. 0.15) or rates=FILE to dry_run")
        return self.to_report().energy(preset=preset, level=level, **kwargs)


# ------------------------------------------------------------------ meta models

def meta_copy(model: nn.Module) -> nn.Module:
    """A structural copy of ``model`` whose parameters, buffers and tensor attributes are meta tensors of the
    same shapes (``model`` is neither moved nor changed, and no tensor data is copied)."""
    memo: dict[int, Any] = {}
    for m in model.modules():
        for name, p in m._parameters.items():
            if p is not None and id(p) not in memo:
                memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
        for name, b in m._buffers.items():
            if b is not None and id(b) not in memo:
                memo[id(b)] = torch.empty_like(b, device="meta")
        for v in m.__dict__.values():
            if isinstance(v, torch.Tensor) and id(v) not in memo:
                memo[id(v)] = torch.empty_like(v, device="meta")
    return copy.deepcopy(model, memo)


def _build(model_or_name: nn.Module | str, input_shape: Sequence[int] | None) -> tuple[nn.Module, str, tuple, Any]:
    if isinstance(model_or_name, str):
        from ..models import create_model, model_card, resolve_name

        name = resolve_name(model_or_name)
        card = model_card(name)
        with torch.device("meta"), _NoInit():
            model = create_model(name)
        shape = tuple(input_shape) if input_shape is not None else tuple(card.input_shape)
        return model, name, shape, card
    if not isinstance(model_or_name, nn.Module):
        raise TypeError(f"dry_run expects an nn.Module or a zoo model name, got {type(model_or_name).__name__}")
    card = getattr(model_or_name, "model_card", None)
    if input_shape is None:
        if card is None:
            raise ValueError("dry_run of a model without a model_card needs input_shape (one sample, e.g. (3, 224, 224))")
        input_shape = card.input_shape
    return meta_copy(model_or_name), getattr(card, "name", type(model_or_name).__name__), tuple(input_shape), card


_SHAPE_CHANGING = {"resize_", "resize_as_", "set_", "squeeze_", "unsqueeze_", "transpose_", "t_", "swapdims_",
                   "swapaxes_", "as_strided_", "unsqueeze_"}


class _NoInit(TorchFunctionMode):
    """While a model is built on meta: in-place ops on meta tensors (the weight initialisers' uniform_,
    normal_, erfinv_, mul_, ...) are skipped; they cannot change a shape and their meta kernels are slow."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if (name.endswith("_") and not name.startswith("_") and name not in _SHAPE_CHANGING and args
                and isinstance(args[0], torch.Tensor) and args[0].is_meta):
            return args[0]
        return func(*args, **(kwargs or {}))


def _time_steps(model: nn.Module) -> int:
    for attr in ("time_steps", "T"):
        v = getattr(model, attr, None)
        if isinstance(v, int) and v > 0:
            return v
    return 1


def _is_neuron(m: nn.Module) -> bool:
    from ..models.ann import is_spiking_neuron

    return is_spiking_neuron(m)


def _shape_only_forward(x, *args, **kwargs):
    """A neuron's forward on meta: spikes shaped like the input (its state update needs values)."""
    return torch.empty_like(x)


# ------------------------------------------------------------------ the counting mode

class _Counter(TorchFunctionMode):
    """Attributes every synaptic op to the module that ran it and computes its dense ops from shapes."""

    def __init__(self, params: set[int], T: int, B: int) -> None:
        super().__init__()
        self.labels: dict[int, tuple[str, torch.Tensor]] = {}
        self.params, self.T, self.B = params, T, B
        self.stack: list[list] = [["", {}]]
        self.sites: dict[tuple, dict[str, Any]] = {}

    def label(self, t: Any) -> str:
        if not isinstance(t, torch.Tensor):
            return _WEIGHT
        if id(t) in self.params:
            return _WEIGHT
        hit = self.labels.get(id(t))
        return hit[0] if hit is not None and hit[1] is t else _OTHER

    def set(self, t: Any, label: str) -> None:
        if isinstance(t, torch.Tensor):
            self.labels[id(t)] = (label, t)
        elif isinstance(t, (tuple, list)):
            for x in t:
                self.set(x, label)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = normalise_name(getattr(func, "__name__", None) or str(func))
        cat = category(name)
        tensors = [a for a in _flat(args) + _flat(list(kwargs.values())) if isinstance(a, torch.Tensor)]
        if name in _NORMS and tensors:
            out = torch.empty_like(tensors[0])  # the meta kernels of the norms are slow and say nothing more
        else:
            out = func(*args, **kwargs)
        if cat == "free" or cat == "unsupported":
            self.set(out, self.label(tensors[0]) if tensors else _WEIGHT)
            return out
        frame = self.stack[-1]
        index = frame[1].get(name, 0)
        frame[1][name] = index + 1
        if cat == "synaptic":
            synaptic = self._synaptic(name, index, frame[0], args, kwargs, out)
            if synaptic:
                self.set(out, self._product_class(name, tensors))
                return out
        self.set(out, self._value_class(name, tensors, args))
        return out

    def _product_class(self, name: str, tensors: list) -> str:
        """A synaptic op's output: spikes for spikes AND spikes, integers for sums of products of spikes and
        integers (no weight involved), real values otherwise."""
        labels = [self.label(t) for t in tensors[:2]]
        if len(labels) < 2 or _WEIGHT in labels:
            return _OTHER
        if name == "mul" and all(lb.startswith(_SPIKES + ":") for lb in labels):
            return labels[0]
        if all(lb == _INTEGER or lb.startswith(_SPIKES + ":") for lb in labels):
            return _INTEGER
        return _OTHER

    def _value_class(self, name: str, tensors: list, args) -> str:
        """What an "other" op's output holds: weights (from weights only), spikes, integers or real values."""
        labels = [self.label(t) for t in tensors]
        if not labels or all(lb == _WEIGHT for lb in labels):
            return _WEIGHT
        acts = [lb for lb in labels if lb != _WEIGHT]
        spikes = [lb for lb in acts if lb.startswith(_SPIKES + ":")]
        scalars_ok = all(isinstance(a, (torch.Tensor, int, bool)) for a in args[:2]) if args else True
        if name in _KEEPS_SPIKES and len(spikes) == len(acts) and len(acts) == len(labels):
            return spikes[0]
        if name in _SUMS and scalars_ok and len(acts) == len(labels) and all(
                lb == _INTEGER or lb.startswith(_SPIKES + ":") for lb in acts):
            return _INTEGER
        return _OTHER

    def _synaptic(self, name: str, index: int, path: str, args, kwargs, out) -> bool:
        a = b = None
        bias_ops = 0
        if name in SYNAPTIC_CONV:
            x, w = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
            nd, transposed = SYNAPTIC_CONV[name]
            groups = int(_arg(args, kwargs, 6 if transposed else 6, "groups", 1) or 1)
            xb = x if x.dim() == nd + 2 else x.unsqueeze(0)
            ob = out if out.dim() == nd + 2 else out.unsqueeze(0)
            dense = fm.conv_dense(xb.shape, ob.shape, w.shape, groups, transposed)
            bias_ops = ob.numel() if isinstance(_arg(args, kwargs, 2, "bias"), torch.Tensor) else 0
            a, b, lead = xb, w, tuple(xb.shape[:2])
        elif name == "linear":
            x, w, bias = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
            if self.label(w) == _WEIGHT:
                out_f, in_f = (int(w.shape[0]) if w.dim() == 2 else 1), int(w.shape[-1])
                dense = x.numel() // max(in_f, 1) * in_f * out_f
                bias_ops = out.numel() if isinstance(bias, torch.Tensor) else 0
            else:
                dense = fm.matmul_dense(x.shape, w.mT.shape if w.dim() >= 2 else w.shape)
                bias_ops = 0 if bias is None else math.prod(fm.broadcast(tuple(x.shape[:-1]), tuple(w.shape[:-1])))
            a, b, lead = x, w, tuple(x.shape[:2])
        elif name in _PRODUCTS:
            i, j = _PRODUCTS[name]
            a, b = args[i], args[j]
            dense = fm.matmul_dense(a.shape, b.shape)
            lead = tuple(a.shape[:2])
        elif name == "mul":
            if len(args) < 2 or not all(isinstance(t, torch.Tensor) and t.dim() > 0 for t in args[:2]):
                return False
            a, b = args[0], args[1]
            if self.label(a) == _WEIGHT or self.label(b) == _WEIGHT:
                return False
            dense, lead = out.numel(), tuple(out.shape[:2])
        elif name in ("einsum", "tensordot"):
            return self._einsum(name, index, path, args, kwargs, out)
        elif name == "scaled_dot_product_attention":
            q, k, v = args[0], args[1], args[2]
            kt_shape = tuple(k.shape[:-2]) + (k.shape[-1], k.shape[-2])
            probs = tuple(q.shape[:-1]) + (k.shape[-2],)
            self._record("sdpa.qk", index, path, q, k, fm.matmul_dense(q.shape, kt_shape), 0, out, tuple(q.shape[:2]))
            self._record("sdpa.av", index, path, None, v, fm.matmul_dense(probs, v.shape), 0, out, tuple(q.shape[:2]))
            return True
        else:
            return False
        if a is None or b is None:
            return False
        if self.label(a) == _WEIGHT and self.label(b) != _WEIGHT:
            a, b = b, a
        self._record(name, index, path, a, b, dense, bias_ops, out, lead)
        return True

    def _einsum(self, name, index, path, args, kwargs, out) -> bool:
        if name == "tensordot":
            a, b = args[0], args[1]
            eq = fm.tensordot_equation(a.dim(), b.dim(), _arg(args, kwargs, 2, "dims", 2))
        else:
            eq = args[0]
            ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
            if len(ops) != 2:
                return False
            a, b = ops
        in_a, in_b, _ = fm.einsum_subscripts(eq, a.dim(), b.dim())
        sizes: dict[str, int] = {}
        for idx, t in ((in_a, a), (in_b, b)):
            for ch, n in zip(idx, t.shape):
                sizes[ch] = max(sizes.get(ch, 1), int(n))
        if self.label(a) == _WEIGHT and self.label(b) != _WEIGHT:
            a, b = b, a
        self._record(name, index, path, a, b, math.prod(sizes.values()), 0, out, tuple(a.shape[:2]))
        return True

    def _record(self, op, index, path, a, b, dense, bias_ops, out, lead) -> None:
        key = (path, op, index)
        st = self.sites.get(key)
        if st is None:
            st = self.sites[key] = {"dense": 0, "bias": 0, "calls": 0, "elements": 0, "out_elements": 0,
                                    "timed": False, "a": self.label(a) if a is not None else _OTHER,
                                    "b": self.label(b), "a_src": [], "b_src": [], "weight_params": 0,
                                    "input_shape": tuple(a.shape) if a is not None else (),
                                    "output_shape": tuple(out.shape) if isinstance(out, torch.Tensor) else ()}
        st["dense"] += int(dense)
        st["bias"] += int(bias_ops)
        st["calls"] += 1
        st["elements"] += a.numel() if a is not None else 0
        st["out_elements"] += out.numel() if isinstance(out, torch.Tensor) else 0
        n0 = lead[0] if lead else 1
        st["timed"] |= self.T > 1 and (n0 % (self.T * self.B) == 0 or (n0 == self.T and len(lead) > 1
                                                                      and lead[1] == self.B))
        for side, t in (("a_src", a), ("b_src", b)):
            src = self.labels.get(id(t)) if t is not None else None
            if src is not None and src[1] is t and src[0].startswith(_SPIKES + ":"):
                if src[0] not in st[side]:
                    st[side].append(src[0])
        if isinstance(b, torch.Tensor) and self.label(b) == _WEIGHT:
            st["weight_params"] = b.numel()


def _flat(xs) -> list:
    out = []
    for x in xs:
        if isinstance(x, (list, tuple)):
            out.extend(_flat(x))
        else:
            out.append(x)
    return out


def _arg(args, kwargs, i: int, key: str, default=None):
    return args[i] if len(args) > i else kwargs.get(key, default)


# ------------------------------------------------------------------ running it

def _attach(model: nn.Module, counter: _Counter) -> tuple[list, dict[str, dict[str, Any]], dict[str, dict]]:
    """Hooks on the meta copy (ours, discarded afterwards): the module stack, neuron outputs, module shapes."""
    handles: list = []
    neurons: dict[str, dict[str, Any]] = {}
    shapes: dict[str, dict[str, Any]] = {}
    for path, m in model.named_modules():
        if _is_neuron(m):
            if _returns_tensor(m):
                m.forward = _shape_only_forward  # an instance attribute, on the copy only
            handles.append(m.register_forward_hook(_neuron_hook(counter, path, neurons, type(m).__name__)))
            continue
        handles.append(m.register_forward_pre_hook(_push(counter, path)))
        handles.append(m.register_forward_hook(_pop(counter, path, shapes, m)))
    return handles, neurons, shapes


def _returns_tensor(m: nn.Module) -> bool:
    """Neurons whose forward returns the spike tensor alone (ours, SpikingJelly's); snnTorch's return tuples
    and keep their real forward."""
    from ..neurons.base import SpikingNeuron

    if isinstance(m, SpikingNeuron):
        return True
    return type(m).__module__.startswith("spikingjelly")


def _push(counter: _Counter, path: str):
    def hook(module, args):
        counter.stack.append([path, {}])
    return hook


def _pop(counter: _Counter, path: str, shapes: dict, module: nn.Module):
    def hook(module, args, out):
        counter.stack.pop()
        if path not in shapes:
            own = sum(p.numel() for p in module.parameters(recurse=False))
            shapes[path] = {"module": path, "type": type(module).__name__, "params": own,
                            "output_shape": tuple(out.shape) if isinstance(out, torch.Tensor) else None}
    return hook


def _neuron_hook(counter: _Counter, path: str, neurons: dict, type_name: str):
    def hook(module, args, out):
        spikes = out[0] if isinstance(out, (tuple, list)) else out
        if not isinstance(spikes, torch.Tensor):
            return
        counter.set(spikes, f"{_SPIKES}:{path}")
        st = neurons.setdefault(path, {"calls": 0, "elements": 0, "timed": False, "type": type_name,
                                       "has_leak": bool(getattr(module, "has_leak", "IF" not in type_name)),
                                       "shape": tuple(spikes.shape)})
        st["calls"] += 1
        st["elements"] += spikes.numel()
        T, B = counter.T, counter.B
        n0 = spikes.shape[0] if spikes.dim() else 1
        st["timed"] |= T > 1 and (n0 % (T * B) == 0 or (n0 == T and spikes.dim() > 1 and spikes.shape[1] == B))
    return hook


def _probe_batch(T: int) -> int:
    """A batch size that cannot be mistaken for T or a time-folded size (2 unless T is 2)."""
    return 3 if T == 2 else 2


def dry_run(
    model_or_name: nn.Module | str,
    input_shape: Sequence[int] | None = None,
    assume_rate: float | None = None,
    rates: str | os.PathLike | Mapping[str, float] | None = None,
) -> DryRun:
    """Parameters, shapes and dense ops per layer of a model on the meta device (no data, no real memory).

    ``model_or_name``: a zoo name (built on meta) or any ``nn.Module`` (copied structurally to meta; the
    model itself is never moved). ``input_shape``: one sample without the batch dim (default: the model
    card's). ``assume_rate``: one firing rate for every spike tensor; ``rates``: per-layer rates (see the
    module docstring). With either, the tables carry AC/MAC counts and :meth:`DryRun.energy` prices them.
    """
    if assume_rate is not None and not (isinstance(assume_rate, (int, float)) and 0 <= assume_rate <= 1):
        raise ValueError(f"assume_rate must be a firing rate in [0, 1], got {assume_rate!r}")
    rate_map = load_rates(rates) if rates is not None else {}
    start = time.perf_counter()
    model, name, shape, _ = _build(model_or_name, input_shape)
    if not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"input_shape must be positive ints (one sample, without the batch dim), got {shape!r}")
    T = _time_steps(model)
    B = _probe_batch(T)
    params = {id(t) for t in model.parameters()} | {id(t) for t in model.buffers()}
    n_params = sum(p.numel() for p in model.parameters())
    counter = _Counter(params, T, B)
    handles, neurons, shapes = _attach(model, counter)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.get_default_dtype())
    x = torch.empty((B,) + shape, device="meta", dtype=dtype)
    counter.set(x, _INPUT)
    try:
        model.eval()
        with torch.no_grad(), counter:
            model(x)
    except Exception as e:
        raise ValueError(f"dry run of {name} on the meta device failed at input shape {shape}: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''} (if the model reads values, e.g. .item() or "
                         "data-dependent control flow, it cannot run without data)") from None
    finally:
        for h in handles:
            h.remove()
    neuron_rates = {p: _rate_for(p, rate_map, assume_rate) for p in neurons}
    layers = _layer_table(counter, B, rate_map, neuron_rates, assume_rate)
    neuron_df = _neuron_table(neurons, B, T, neuron_rates)
    modules = pd.DataFrame(list(shapes.values()), columns=["module", "type", "params", "output_shape"])
    described = ("none (dense ops only)" if assume_rate is None and not rate_map else
                 f"uniform {assume_rate}" if not rate_map else
                 f"from {rates if isinstance(rates, (str, os.PathLike)) else 'a mapping'}"
                 + (f", else {assume_rate}" if assume_rate is not None else ""))
    return DryRun(name, shape, T, n_params, layers, neuron_df, modules, described, time.perf_counter() - start)


def _rate_for(layer: str, rate_map: Mapping[str, float], assume: float | None) -> float:
    if layer in rate_map:
        return float(rate_map[layer])
    return float(assume) if assume is not None else float("nan")


def _layer_table(counter: _Counter, B: int, rate_map, neuron_rates, assume) -> pd.DataFrame:
    rows = []
    missing = []
    for (path, op, index), st in counter.sites.items():
        sides = []
        for side, src in (("a", st["a_src"]), ("b", st["b_src"])):
            if side == "b" and st["b"] == _WEIGHT:
                continue
            if st[side] == _INTEGER:  # sums of spikes: their values are unknown on meta, so dense integer MACs
                # unless a real run's input rate for this op is given (its nonzero fraction)
                sides.append(("integer", float(rate_map[path]) if side == "a" and path in rate_map else 1.0))
                continue
            if src:  # fed by neuron spikes: the op's own input rate if given, else its neuron's
                r = float(rate_map[path]) if side == "a" and path in rate_map else \
                    float(np.mean([neuron_rates[s.split(":", 1)[1]] for s in src]))
                if math.isnan(r):
                    missing.append(path)
                sides.append(("binary", r))
            else:
                sides.append(("real", 1.0))
        spike = any(k == "binary" for k, _ in sides)
        integer = not spike and kind_is_integer_weight(sides, st)
        rate = float(np.prod([r for _, r in sides]))
        dense = st["dense"] / B
        eff = dense * rate
        kind_a = sides[0][0]
        kind_b = "weight" if st["b"] == _WEIGHT else sides[1][0]
        rows.append({
            "layer": path, "op": op, "index": index, "input_kind": kind_a, "other_operand": kind_b,
            "input_min": 0.0 if kind_a == "binary" else float("nan"),
            "input_max": 1.0 if kind_a == "binary" else float("nan"),
            "input_rate": sides[0][1], "dense_ops": dense, "effective_ops": eff,
            "ac": eff if spike else 0.0, "integer_mac": eff if integer else 0.0,
            "mac": 0.0 if spike or integer else dense,
            "bias_ops": st["bias"] / B, "calls": float(st["calls"]),
            "per_step": bool(st["timed"] or (counter.T > 1 and st["calls"] % counter.T == 0)),
            "producer": ";".join(s.split(":", 1)[1] + ":spikes" for s in st["a_src"]) or "<other>",
            "weight_params": st["weight_params"], "input_elements": st["elements"] / B,
            "output_elements": st["out_elements"] / B, "value_weighted_ops": eff,
            "input_shape": st["input_shape"], "output_shape": st["output_shape"],
        })
    if missing and (rate_map or assume is not None):
        raise ValueError(f"no firing rate for the spike inputs of {sorted(set(missing))[:8]}: add them to the rates "
                         "file (by neuron or layer path) or pass assume_rate for the rest")
    return pd.DataFrame(rows)


def kind_is_integer_weight(sides: list, st: dict) -> bool:
    """An integer activation into a weight: the bucket the profiler calls integer MACs."""
    return sides[0][0] == "integer" and st["b"] == _WEIGHT


def _neuron_table(neurons: dict, B: int, T: int, neuron_rates) -> pd.DataFrame:
    rows = []
    for path, st in neurons.items():
        per_step = bool(st["timed"] or (T > 1 and st["calls"] % T == 0))
        steps = T if per_step else 1
        n = st["elements"] / B / steps
        r = neuron_rates[path]
        rows.append({"layer": path, "type": st["type"], "neurons": n, "firing_rate": r, "spikes": r * n * steps,
                     "dead": float("nan"), "saturated": float("nan"), "has_leak": st["has_leak"],
                     "output_min": 0.0, "output_max": 1.0, "per_step": per_step, "calls": float(st["calls"]),
                     "output_shape": st["shape"]})
    return pd.DataFrame(rows)


def load_rates(source: str | os.PathLike | Mapping[str, float]) -> dict[str, float]:
    """``{layer path: rate}`` from a mapping, a ``{layer: rate}`` JSON file, a ``report.json`` (its neuron
    firing rates and layer input rates) or a CSV with ``layer`` and ``rate`` (or ``firing_rate``) columns."""
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"rates file {path!r} does not exist")
        if path.lower().endswith(".csv"):
            df = pd.read_csv(path)
            col = next((c for c in ("rate", "firing_rate", "input_rate") if c in df.columns), None)
            if "layer" not in df.columns or col is None:
                raise ValueError(f"rates CSV {path!r} needs columns 'layer' and 'rate'; it has {list(df.columns)}")
            data = dict(zip(df["layer"].astype(str), df[col]))
        else:
            with open(path, encoding="utf-8") as f:
                try:
                    obj = json.load(f)
                except json.JSONDecodeError as e:
                    raise ValueError(f"rates file {path!r} is not JSON ({e.msg}); expected {{layer: rate}}, a "
                                     "report.json or a .csv") from None
            data = _rates_from_report(obj) if isinstance(obj, dict) and obj.get("format") == "snnenergy-report" \
                else obj
    if not isinstance(data, dict):
        raise ValueError(f"rates must map layer paths to rates; got a {type(data).__name__}")
    out = {}
    for k, v in data.items():
        try:
            r = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"rate of {k!r} is {v!r}; expected a number in [0, 1]") from None
        if not 0 <= r <= 1:
            raise ValueError(f"rate of {k!r} is {r}; expected a firing rate in [0, 1]")
        out[str(k)] = r
    return out


def _rates_from_report(obj: dict) -> dict[str, float]:
    from ..report.report import Report

    rep = Report.from_dict(obj)
    out = {str(l): float(r) for l, r in zip(rep.neurons.get("layer", []), rep.neurons.get("firing_rate", []))}
    lay = rep.layers
    if not lay.empty:
        spikes = lay["input_kind"].astype(str).isin(("binary", "ternary", "integer"))  # integer: sums of spikes
        out.update({str(l): float(r) for l, r in zip(lay["layer"][spikes], lay["input_rate"][spikes])})
    return {k: v for k, v in out.items() if v == v}
