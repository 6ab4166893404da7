"""The interception machinery: a ``TorchFunctionMode`` plus module forward wrappers that attribute every op
to the module path it ran in, summarise its operands and queue its counts on the model's device.

Nothing here synchronises with the device per op. Each synaptic call leaves a few small device tensors in a
queue (its operands' value ranges, its effective and nonzero counts per time step); a neuron call leaves its
spikes per step. :meth:`ProfileSession.finalize` concatenates the queue and copies it to the host once, and
the host turns it into kinds and sums (:mod:`.accumulators`).
"""
from __future__ import annotations

import inspect
import math
import weakref
from collections import Counter
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from . import formulas as fm
from .accumulators import NeuronStats, OtherStats, SiteStats
from .kinds import REAL, WEIGHT, kind_code
from .neurons import neuron_info
from .ops import SYNAPTIC_CONV, category, normalise_name

INPUT = "<input>"
PARAMETER = "<parameter>"
UNKNOWN = "<unknown>"

_FOLD_EVERY = 50_000  # queued tensors before an intermediate host copy (bounds device memory on long runs)
# free ops whose output, when it is a copy, holds the input's values in the input's (logical) order
_SAME_ORDER = frozenset({"reshape", "reshape_as", "flatten", "unflatten", "contiguous", "clone", "view",
                         "view_as", "squeeze", "unsqueeze", "detach"})
_FREE, _OTHER, _SYNAPTIC, _UNSUPPORTED, _DATA = "free", "other", "synaptic", "unsupported", "data"


_MISSING = object()
_NAMES: dict[Callable, tuple[str, str]] = {}  # torch function -> (normalised name, category), for every session


class _Frame:
    __slots__ = ("path", "op_counts", "module")

    def __init__(self, path: str, module: nn.Module | None) -> None:
        self.path = path
        self.op_counts: dict[str, int] = {}
        self.module = module


class ProfileSession(TorchFunctionMode):
    """Collects counts for one model over any number of forward passes (see :func:`snnenergy.profile`).

    Use: :meth:`attach`, then per batch :meth:`begin_forward` and the model's forward (under this mode when
    counting ops), then :meth:`detach` and :meth:`finalize`.
    """

    def __init__(
        self,
        model: nn.Module,
        time_steps: int,
        device: torch.device,
        track_ops: bool = True,
        modules: list[tuple[str, nn.Module]] | None = None,
    ) -> None:
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
        self._modules = modules if modules is not None else list(model.named_modules())
        self._stack: list[_Frame] = [_Frame("", None)]
        self._neuron_depth = 0
        self._suspended = False
        self._prov: dict[int, tuple[weakref.ref, str]] = {}
        self._values: dict[tuple, tuple] = {}  # summaries of tensors already seen this forward (see _info)
        self._param_ids: set[int] = set()
        self._wrapped: list[tuple[nn.Module, Any]] = []
        # the device queue: 0-d and 1-d tensors by dtype group, and what each synaptic / neuron call put there
        self._queue: tuple[list[torch.Tensor], ...] = ([], [], [], [])
        self._sizes: tuple[list[int], list[int]] = ([], [])  # lengths of the queued vectors (groups 2, 3)
        self._site_calls: list[tuple] = []
        self._neuron_calls: list[tuple] = []
        self._zero: torch.Tensor | None = None
        self._scratch = fm.thread_scratch()

    # --------------------------------------------------------- module calls
    # Each module's ``forward`` is wrapped by an instance attribute for the session (removed by ``detach``):
    # the wrapper keeps the module path stack and catches neuron outputs. Unlike forward hooks it leaves
    # modules on PyTorch's fast call path and costs nothing to install.
    def attach(self) -> None:
        """Wrap the modules' forwards (full profile: every module; rates only: the neurons)."""
        if self.track_ops:  # after any move to the profiling device, which replaces buffers
            for _, m in self._modules:
                self._param_ids.update(id(p) for p in m._parameters.values() if p is not None)
                self._param_ids.update(id(b) for b in m._buffers.values() if b is not None)
        for path, module in self._modules:
            info = neuron_info(module)
            if info is None and not self.track_ops:
                continue
            inner = module.forward
            if info is None:
                wrapper = self._module_wrapper(module, path, inner)
            else:
                wrapper = self._neuron_wrapper(path, info, inner)
            prev = module.__dict__.get("forward", _MISSING)
            self._wrapped.append((module, prev))
            module.__dict__["forward"] = wrapper

    def detach(self) -> None:
        """Restore every wrapped module (also after an exception) and drop references to the model."""
        for module, prev in reversed(self._wrapped):
            if prev is _MISSING:
                module.__dict__.pop("forward", None)
            else:
                module.__dict__["forward"] = prev
        self._wrapped.clear()
        self._prov.clear()
        self._values.clear()
        self._scratch.trim(fm.SCRATCH_KEEP_BYTES)
        self._modules = []  # the report must not keep the model alive
        self._param_ids = set()
        self.model = None

    def begin_forward(self, inputs: tuple) -> None:
        """Start a forward pass of the model on ``inputs``."""
        self.forward_id += 1
        self._stack = [_Frame("", None)]
        self._neuron_depth = 0
        self._values.clear()
        if self.track_ops:
            for a in inputs:
                if isinstance(a, torch.Tensor):
                    self._set_prov(a, INPUT)

    def _module_wrapper(self, module: nn.Module, path: str, inner: Callable) -> Callable:
        stack_owner = self

        def forward(*args, **kwargs):
            stack = stack_owner._stack
            if stack[-1].module is module:  # the module's forward calling itself: one frame per call
                return inner(*args, **kwargs)
            stack.append(_Frame(path, module))
            try:
                return inner(*args, **kwargs)
            finally:
                stack.pop()

        return forward

    def _neuron_wrapper(self, path: str, info, inner: Callable) -> Callable:
        session = self
        label = f"{path}:spikes"

        def forward(*args, **kwargs):
            if session._neuron_depth:  # inside another neuron: part of its state update
                return inner(*args, **kwargs)
            session._neuron_depth = 1
            session._suspend_mode()
            try:
                out = inner(*args, **kwargs)
                spikes = out[0] if isinstance(out, (tuple, list)) else out
                if isinstance(spikes, torch.Tensor):
                    session._neuron_output(path, info, spikes)
                    if session.track_ops:
                        session._set_prov(spikes, label)
                return out
            finally:
                session._neuron_depth = 0
                session._resume_mode()

        return forward

    # A neuron's internal ops are its state update, not counted: while one runs, our mode is taken off the
    # torch-function stack so that those ops pay no interception at all.
    def _suspend_mode(self) -> None:
        self._suspended = False
        if torch._C._len_torch_function_stack() == 0:
            return
        top = torch._C._pop_torch_function_stack()
        if top is self:
            self._suspended = True
        else:  # another mode is on top (entered inside the model): leave the stack as it is
            torch._C._push_on_torch_function_stack(top)

    def _resume_mode(self) -> None:
        if self._suspended:
            torch._C._push_on_torch_function_stack(self)
            self._suspended = False

    # ------------------------------------------------------------- provenance
    # Provenance is kept per storage owner (a view's ``_base``), so views need no bookkeeping of their own:
    # a reshape of a neuron's spikes has that neuron as producer because it shares its base.
    def _set_prov(self, t: torch.Tensor, producer: str) -> None:
        base = t._base
        if base is None:
            base = t
        self._prov[id(base)] = (weakref.ref(base), producer)
        if len(self._prov) > 100_000:
            self._prov = {k: v for k, v in self._prov.items() if v[0]() is not None}

    def producer(self, t: torch.Tensor) -> str:
        if isinstance(t, nn.Parameter):
            return PARAMETER
        base = t._base
        if base is None:
            base = t
        if id(base) in self._param_ids:
            return PARAMETER
        entry = self._prov.get(id(base))
        if entry is not None and entry[0]() is base:
            return entry[1]
        return UNKNOWN

    def _is_weight(self, t: torch.Tensor) -> bool:
        return self.producer(t) == PARAMETER

    # ------------------------------------------------------------ the mode
    @staticmethod
    def _op_name(func: Callable) -> tuple[str, str]:
        raw = getattr(func, "__name__", None) or str(func)
        name = normalise_name(raw)
        cat = category(name)
        if cat == _UNSUPPORTED and inspect.isfunction(func) and raw.startswith("__") and raw.endswith("__"):
            cat = _FREE  # Python-level dunders such as __reduce_ex__
        if raw == "__get__" and getattr(getattr(func, "__self__", None), "__name__", None) == "data":
            cat = _DATA  # ``.data``: an alias whose in-place changes bump no version counter
        if len(_NAMES) > 10_000:
            _NAMES.clear()
        cached = _NAMES[func] = (name, cat)
        return cached

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if kwargs is None:
            kwargs = {}
        if self._neuron_depth:
            return func(*args, **kwargs)
        cached = _NAMES.get(func)
        name, cat = cached if cached is not None else self._op_name(func)
        if cat is _DATA:
            self._values.clear()
            cat = _FREE
        if cat is _FREE:
            out = func(*args, **kwargs)
            # views share their base's provenance and summaries; only fresh tensors (copies) need entries
            if isinstance(out, torch.Tensor) and out._base is None:
                src = _first_tensor(args)
                if src is not None and out is not src:
                    self._set_prov(out, self.producer(src))
                    if name in _SAME_ORDER:
                        self._alias(src, out)
            return out
        frame = self._stack[-1]
        index = frame.op_counts.get(name, 0)
        frame.op_counts[name] = index + 1
        if cat is _SYNAPTIC and self.track_ops:
            out = self._counted(name, index, frame.path, func, args, kwargs)
            if out is not NotImplemented:
                return out
            cat = _OTHER
        out = func(*args, **kwargs)
        if cat is _UNSUPPORTED:
            self.unsupported[(frame.path, name)] += 1
            label = f"{frame.path}:{name}" if frame.path else name
        else:
            key = (frame.path, name)
            st = self.others.get(key)
            if st is None:
                st = self.others[key] = OtherStats(frame.path, name)
            st.calls += 1
            if isinstance(out, torch.Tensor):
                st.elements += out.numel()
            label = st.label
        if isinstance(out, torch.Tensor):
            self._set_prov(out, label)
        return out

    # -------------------------------------------------- the device queue
    # Queued tensors are grouped as 0-d float32, 0-d float64, 1-d float32, 1-d float64 (so that the final
    # stack/cat copies each group in one piece); a reference is ``index << 2 | group``. Only float32 and
    # float64 are queued, float32 only where the values are exact in it (every count below 2^24).
    def _scalar(self, t: torch.Tensor) -> int:
        """Queue a 0-d device tensor; returns its reference."""
        return self._enqueue(t, vector=False)

    def _vector(self, t: torch.Tensor) -> int:
        """Queue a 1-d device tensor; returns its reference."""
        return self._enqueue(t, vector=True)

    def _enqueue(self, t: torch.Tensor, vector: bool) -> int:
        group = (2 if vector else 0) + (0 if t.dtype is torch.float32 else 1)
        if group & 1 and t.dtype is not torch.float64:
            t = t.double()
        q = self._queue[group]
        q.append(t)
        if vector:
            self._sizes[group - 2].append(t.shape[0])
        return (len(q) - 1) << 2 | group

    def _counts(self, t: torch.Tensor, n: int) -> int:
        """Queue per-step counts ``[n]`` (n = T) or a single count (n = 1, any shape with one element)."""
        if n > 1:
            return self._vector(t)
        return self._scalar(t if t.dim() == 0 else t.reshape(()))

    def _zero_scalar(self) -> torch.Tensor:
        if self._zero is None:
            self._zero = torch.zeros((), dtype=torch.float64, device=self.device)
        return self._zero

    def _maybe_fold(self) -> None:
        if sum(len(q) for q in self._queue) > _FOLD_EVERY:
            self._fold()

    def _fold(self) -> tuple[list[float], Callable[[int], int]]:
        """Copy the queue to the host in one transfer and add it into the accumulators.

        Returns the copied values and the map from a queue reference to its position among them.
        """
        self._values.clear()  # cached summaries refer to queue positions
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
            return starts[ref & 3][ref >> 2]

        T = self.T
        for site, ra, rb, kb, slot, r_eff, r_nnz, mult in self._site_calls:
            i = at(ra[0]), at(ra[1]), at(ra[2]), at(ra[3])
            ka = kind_code(values[i[0]], values[i[1]], values[i[2]], values[i[3]])
            b_range = None
            if rb is not None:
                j = at(rb[0]), at(rb[1]), at(rb[2]), at(rb[3])
                kb = kind_code(values[j[0]], values[j[1]], values[j[2]], values[j[3]])
                b_range = (values[j[0]], values[j[1]])
            site.add_operand_range((values[i[0]], values[i[1]]), b_range)
            site.kind_calls[ka, kb] += 1
            e, z = at(r_eff), at(r_nnz)
            if slot < 0:
                eff, nnz = site.effective[ka, kb], site.nnz
                for t in range(T):
                    eff[t] += round(values[e + t]) * mult
                    nnz[t] += round(values[z + t])
            else:
                site.effective[ka, kb, slot] += round(values[e]) * mult
                site.nnz[slot] += round(values[z])
        for st, r_min, r_max, r_spikes, slot, offset in self._neuron_calls:
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
        self._queue = ([], [], [], [])
        self._sizes = ([], [])
        self._site_calls, self._neuron_calls = [], []
        return values, at

    # ------------------------------------------ value summaries (cached)
    # A tensor's summaries (queue references of its value range, kind statistics, per-step nonzero counts)
    # are cached for this forward so that q/k/v projections of one input, or a consumer of a neuron's
    # spikes, do not reduce it again. Entries are keyed by memory (storage owner, first address, size,
    # dtype): a value range holds for every dense view of that memory, per-step counts only for views in
    # its (contiguous) order. A copy in the same logical order (a reshape that copies) shares its source's
    # entry, keyed by the source object. An entry is valid while its tensor is alive and unmodified (its
    # version counter; ``.data`` aliases, which bypass it, clear the cache).
    def _info(self, t: torch.Tensor, create: bool) -> tuple[list | None, bool]:
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

    def _alias(self, src: torch.Tensor, out: torch.Tensor) -> None:
        """``out`` is a fresh copy of ``src`` in the same logical order: let them share one entry."""
        if not src.numel() or not out.is_contiguous():
            return
        try:
            src_version, out_version = src._version, out._version
        except RuntimeError:
            return
        if src.is_contiguous():
            info, _ = self._info(src, True)
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

    def _kind_stats(self, x: torch.Tensor) -> tuple[int, int, int, int]:
        """Queue ``x``'s value range and fractional-part range (decides its kind); returns the 4 references."""
        if x.numel() == 0:
            z = self._scalar(self._zero_scalar())
            return (z, z, z, z)
        info, _ = self._info(x, True)
        if info is not None and info[1] is not None:
            return info[1]
        x = _memory_order(x)  # only the set of values matters here
        if x.dtype == torch.bool:
            x = x.view(torch.uint8)
        if info is not None and info[0] is not None:
            r_min, r_max = info[0]
        else:
            mn, mx = x.aminmax()
            r_min, r_max = self._scalar(mn), self._scalar(mx)
        if x.is_floating_point():
            fmn, fmx = torch.frac(x, out=self._scratch.like(x, x.dtype)).aminmax()
            r_fmin, r_fmax = self._scalar(fmn), self._scalar(fmx)
        else:
            r_fmin = r_fmax = self._scalar(self._zero_scalar())
        refs = (r_min, r_max, r_fmin, r_fmax)
        if info is not None:
            info[0], info[1] = (r_min, r_max), refs
        return refs

    def _nnz_steps(self, x: torch.Tensor, n: int) -> int:
        """Queue the nonzeros of ``x`` in ``n`` equal parts along dim 0 (n = T time steps, or 1)."""
        info, ordered = self._info(x, True) if x.numel() else (None, False)
        parts = info[2] if info is not None and (ordered or n == 1) else None
        if parts is not None:
            ref = parts.get(n)
            if ref is not None:
                return ref
        ref = self._counts(fm.count_nonzero_parts(x, n, self._scratch), n)
        if parts is not None:
            parts[n] = ref
        return ref

    # -------------------------------------------------------- synaptic ops
    def _site(self, path: str, name: str, index: int) -> SiteStats:
        key = (path, name, index)
        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = SiteStats(path, name, index, self.T)
        return site

    def _counted(self, name: str, index: int, path: str, func, args, kwargs):
        """Run a synaptic op through its handler. The handlers read the operands before the op runs, so invalid
        operands would fail in our code first: then the op itself runs, to raise the model's own error."""
        ran = []

        def run(*a, **k):
            ran.append(True)
            return func(*a, **k)

        try:
            return self._synaptic(name, index, path, run, args, kwargs)
        except Exception:
            if not ran:
                func(*args, **kwargs)
            raise

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

    # Each handler reads its operands before running the op: they are still in cache then, and an in-place
    # op (``mul_``) is counted on its operands' values, not on its result.
    def _conv(self, name, index, path, func, args, kwargs):
        ndim, transposed = SYNAPTIC_CONV[name]
        p = _bind_conv(args, kwargs, transposed)
        x, w = p["input"], p["weight"]
        if not isinstance(x, torch.Tensor) or not isinstance(w, torch.Tensor):
            return func(*args, **kwargs)
        groups = int(p.get("groups", 1))
        xb = x if x.dim() == ndim + 2 else x.unsqueeze(0)
        site = self._site(path, name, index)
        n, slot = self._layout(site, xb.shape[0], tuple(xb.shape[:2]))
        per_position = fm.conv_position_counts(xb, n, int(math.prod(w.shape[2:])), self._scratch)
        ra = self._kind_stats(xb)
        out = func(*args, **kwargs)
        ob = out if out.dim() == ndim + 2 else out.unsqueeze(0)
        eff, nnz = fm.conv_effective_parts(
            per_position, xb, ob, w, p.get("stride", 1), p.get("padding", 0), p.get("dilation", 1), transposed
        )
        site.weight_shape = tuple(w.shape)
        c_out_per_group = int(w.shape[1]) if transposed else int(w.shape[0]) // groups
        bias_ops = ob.numel() if isinstance(p.get("bias"), torch.Tensor) else 0
        dense = fm.conv_dense(xb.shape, ob.shape, w.shape, groups, transposed)
        self._call(site, xb, ra, None, None, WEIGHT, n, slot, self._counts(eff, n), self._counts(nnz, n),
                   c_out_per_group, dense, bias_ops)
        self._set_prov(out, f"{path}:{name}" if path else name)
        return out

    def _linear(self, index, path, func, args, kwargs):
        x = args[0] if args else kwargs["input"]
        w = args[1] if len(args) > 1 else kwargs["weight"]
        bias = args[2] if len(args) > 2 else kwargs.get("bias")
        xr = x if x.dim() >= 2 else x.unsqueeze(0)
        site = self._site(path, "linear", index)
        n, slot = self._layout(site, xr.shape[0], tuple(xr.shape[:2]))
        nnz = self._nnz_steps(xr, n)
        ra = self._kind_stats(xr)
        out = func(*args, **kwargs)
        out_features = int(w.shape[0]) if w.dim() == 2 else 1
        in_features = int(w.shape[-1])
        dense = x.numel() // max(in_features, 1) * in_features * out_features
        site.weight_shape = tuple(w.shape)
        bias_ops = out.numel() if isinstance(bias, torch.Tensor) else 0
        self._call(site, xr, ra, None, None, WEIGHT, n, slot, nnz, nnz, out_features, dense, bias_ops)
        self._set_prov(out, f"{path}:linear" if path else "linear")
        return out

    def _product(self, name, index, path, func, args, kwargs, a, b):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return func(*args, **kwargs)
        dense = fm.matmul_dense(a.shape, b.shape)
        site = self._site(path, name, index)
        a_weight, b_weight = self._is_weight(a), self._is_weight(b)
        if b_weight or a_weight:
            act, w = (a, b) if b_weight else (b, a)
            fan_out = int(w.shape[-1]) if b_weight else int(w.shape[-2]) if w.dim() >= 2 else 1
            ar = act if act.dim() >= 2 else act.unsqueeze(0)
            # nonzeros of the activation per leading row; each meets fan_out weights
            site.weight_shape = tuple(w.shape)
            n, slot = self._layout(site, ar.shape[0], tuple(ar.shape[:2]))
            nnz = self._nnz_steps(ar, n)
            call = (site, ar, self._kind_stats(ar), None, None, WEIGHT, n, slot, nnz, nnz, fan_out, dense, 0)
        else:
            nz_a, pairs = fm.matmul_pair_counts(a, b, dense, self._scratch)  # [*batch_a, K], [*batch, K]
            rows = pairs.shape[0] if pairs.dim() > 1 else 1
            a2 = a if a.dim() >= 2 else a.unsqueeze(0)
            aligned = a2.shape[0] == rows  # the activation's rows line up with the op's (no broadcast)
            n, slot = self._layout(site, rows, _lead(a, b), force_untimed=not aligned)
            eff = fm.sum_parts(pairs, n, dense)
            if not aligned or n == 1:
                nnz = fm.sum_parts(nz_a, 1, a.numel())
            elif a.dim() >= 3:
                nnz = fm.sum_parts(nz_a, n, a.numel())
            else:  # a 2-d activation split by its rows
                nnz = fm.count_nonzero_parts(a2, n, self._scratch)
            call = (site, a2, self._kind_stats(a2), b, self._kind_stats(b), -1, n, slot, self._counts(eff, n),
                    self._counts(nnz, n), 1, dense, 0)
        out = func(*args, **kwargs)
        self._call(*call)
        self._set_prov(out, f"{path}:{name}" if path else name)
        return out

    def _elementwise(self, index, path, func, args, kwargs, a, b):
        eff_rows = fm.elementwise_effective_rows(a, b)
        big, small = (a, b) if a.numel() >= b.numel() else (b, a)
        nnz_rows = fm.nonzero_rows(big) if big.dim() and big.shape[0] == eff_rows.shape[0] else None
        site = self._site(path, "mul", index)
        call = self._rows_call(site, big, small, -1, eff_rows, nnz_rows, eff_rows.shape[0],
                               tuple(fm.broadcast(tuple(a.shape), tuple(b.shape))[:2]))
        out = func(*args, **kwargs)
        self._call(*call, out.numel(), 0)
        self._set_prov(out, f"{path}:mul" if path else "mul")
        return out

    def _einsum(self, index, path, func, args, kwargs):
        eq = args[0]
        ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
        if not isinstance(eq, str) or len(ops) != 2:
            self.unsupported[(path, f"einsum({len(ops)} operands)")] += 1
            return func(*args, **kwargs)
        a, b = ops
        try:
            dense, eff = fm.einsum_counts(eq, a, b)
        except NotImplementedError:
            self.unsupported[(path, "einsum(...)")] += 1
            return func(*args, **kwargs)
        site = self._site(path, "einsum", index)
        if self._is_weight(b) or self._is_weight(a):
            a1 = (a if self._is_weight(b) else b).reshape(1, -1)
            call = self._rows_call(site, a1, None, WEIGHT, eff, fm.nonzero_rows(a1), 1, (1,))
        else:
            a1 = a.reshape(1, -1)
            call = self._rows_call(site, a1, b, -1, eff, fm.nonzero_rows(a1), 1, (1,))
        out = func(*args, **kwargs)
        self._call(*call, dense, 0)
        self._set_prov(out, f"{path}:einsum" if path else "einsum")
        return out

    def _sdpa(self, index, path, func, args, kwargs):
        q = args[0] if args else kwargs["query"]
        k = args[1] if len(args) > 1 else kwargs["key"]
        v = args[2] if len(args) > 2 else kwargs["value"]
        kt = k.transpose(-2, -1)
        site = self._site(path, "sdpa.qk", index)
        call = self._rows_call(site, q, kt, -1, fm.matmul_effective_rows(q, kt), fm.nonzero_rows(q), q.shape[0],
                               _lead(q, kt))
        self._call(*call, fm.matmul_dense(q.shape, kt.shape), 0)
        # the probabilities are all nonzero (softmax), so every term of P·V with v ≠ 0 is effective
        n_q = q.shape[-2]
        nnz_v = fm.nonzero_rows(v)
        site = self._site(path, "sdpa.av", index)
        probs_shape = tuple(q.shape[:-1]) + (k.shape[-2],)
        call = self._rows_call(site, v, None, REAL, nnz_v * n_q, nnz_v, v.shape[0], _lead(q, kt))
        self._call(*call, fm.matmul_dense(probs_shape, v.shape), 0)
        out = func(*args, **kwargs)
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

    def _layout(self, site: SiteStats, n0: int, lead_shape: tuple[int, ...], force_untimed: bool = False
                ) -> tuple[int, int]:
        """``(parts, slot)``: ``(T, -1)`` when dim 0 splits into time steps, else ``(1, slot of this call)``."""
        if not force_untimed and self._time_layout(n0, lead_shape) != "untimed":
            return self.T, -1
        return 1, site.call_slot(self.forward_id)

    def _call(self, site: SiteStats, a: torch.Tensor, ra: tuple, b: torch.Tensor | None, rb: tuple | None, kb: int,
              n: int, slot: int, r_eff: int, r_nnz: int, mult: int, dense: int, bias_ops: int) -> None:
        """Record one synaptic call: its queued operand summaries (``ra``, ``rb``) and counts (``r_eff``,
        ``r_nnz``), and the host-side numbers (calls, dense ops, elements, producers).

        ``kb`` is the kind of operand B when it is not an activation (``WEIGHT`` or ``REAL``); effective ops
        are the queued raw counts times ``mult`` (e.g. a linear layer's nonzero inputs times its outputs).
        """
        if b is not None:
            p = self.producer(b)
            site.producers_b[p] = site.producers_b.get(p, 0) + 1
        p = self.producer(a)
        site.producers_a[p] = site.producers_a.get(p, 0) + 1
        elements = a.numel()
        site.calls += 1
        site.bias_ops += bias_ops
        if slot < 0:
            T = self.T
            per_dense, per_el = dense // T, elements // T
            for t in range(T):
                site.dense[t] += per_dense
                site.elements[t] += per_el
        else:
            site.untimed_calls += 1
            site.dense[slot] += dense
            site.elements[slot] += elements
        self._site_calls.append((site, ra, rb, kb, slot, r_eff, r_nnz, mult))
        self._maybe_fold()

    def _rows_call(self, site: SiteStats, a: torch.Tensor, b: torch.Tensor | None, kb: int, eff_rows: torch.Tensor,
                   nnz_rows: torch.Tensor | None, n0: int, lead_shape: tuple[int, ...]) -> tuple:
        """The first arguments of :meth:`_call` (all but ``dense`` and ``bias_ops``) for counts given per leading
        row (int64), as the less common ops produce them."""
        n, slot = self._layout(site, n0, lead_shape, force_untimed=nnz_rows is None)
        if nnz_rows is None:  # the activation's rows do not line up with the op's (broadcast): untimed
            nnz_rows = fm.nonzero_rows(a.reshape(1, -1))
        eff = fm.sum_parts(eff_rows.double(), n, 0)
        nnz = fm.sum_parts(nnz_rows.double(), n, 0)
        rb = self._kind_stats(b) if b is not None else None
        return (site, a, self._kind_stats(a), b, rb, kb, n, slot, self._counts(eff, n), self._counts(nnz, n), 1)

    # --------------------------------------------------------------- neurons
    def _neuron_stats(self, path: str, info) -> NeuronStats:
        st = self.neurons.get(path)
        if st is None:
            st = self.neurons[path] = NeuronStats(path, info.type_name, self.T, info.has_leak)
        return st

    def _neuron_output(self, path: str, info, s: torch.Tensor) -> None:
        """Count a neuron layer's output: its value range (queued) and its spikes per step and neuron, summed
        over the batch into a device accumulator that :meth:`finalize` reduces (one op per call here)."""
        st = self._neuron_stats(path, info)
        T, B = self.T, self.batch_size
        st.calls += 1
        if self.track_ops and s.numel():
            values = _memory_order(s)
            mn, mx = (values.view(torch.uint8) if values.dtype == torch.bool else values).aminmax()
            r_min, r_max = self._scalar(mn), self._scalar(mx)
            self._neuron_calls.append((st, r_min, r_max, None, -1, 0))
            summary, _ = self._info(s, True)
            if summary is not None and summary[0] is None:
                summary[0] = (r_min, r_max)  # a consumer of the spikes only needs their fractional parts
        # spikes = Σ output values (a multi-spike neuron's 2 is two spikes); |values| for signed (ternary) neurons
        if info.signed:
            s = s.abs()
        dtype = _sum_dtype(s)
        if s.dim() >= 2 and s.shape[0] == T and s.shape[1] == B or (s.dim() >= 1 and s.shape[0] == T * B and T > 1):
            # one pass: sum over the batch -> [T, neurons]; exact in float32 (each entry is at most
            # B·largest spike value)
            rows = _batch_sum(s.reshape(T, B, -1), dtype)
            n = s.numel() // T
            for t in range(T):
                st.elements[t] += n
            st.neuron_steps += T * B
            key = -1
        else:
            key = st.call_slot(self.forward_id)
            st.untimed_calls += 1
            if s.dim() >= 1 and s.shape[0] == B:
                rows = _batch_sum(s.reshape(1, B, -1), dtype)[0]
                st.neuron_steps += B
            else:
                rows = s.sum(dtype=dtype).reshape(1)
                st.neuron_steps += 1
            st.elements[key] += s.numel()
        acc = st.acc.get(key)
        if acc is None:
            st.acc[key] = rows
        elif acc.shape == rows.shape:
            st.acc[key] = acc.to(torch.float64) + rows  # float64 from the second batch on: sums stay exact
        else:  # the layer's size changed between calls (another input size): keep its spike totals only
            self._queue_spikes(st, key, acc)
            st.varying = True
            st.acc[key] = rows
        self._maybe_fold()

    def _queue_spikes(self, st: NeuronStats, key: int, acc: torch.Tensor) -> None:
        """Queue the spike totals of one accumulator (per step for key -1, else of one call slot)."""
        if key < 0:
            self._neuron_calls.append((st, None, None, self._vector(acc.sum(1, dtype=torch.float64)), -1, 0))
        else:
            self._neuron_calls.append((st, None, None, self._scalar(acc.sum(dtype=torch.float64)), key, 0))

    def finalize(self) -> None:
        """Reduce the neuron accumulators to spikes per step on the device, then move the queue to the host in
        one copy. The spikes per neuron stay on the device for :meth:`neuron_fractions`.

        Layers whose accumulators have the same shape (the blocks of a transformer, say) are reduced together:
        a few ops for all of them."""
        groups: dict[tuple, list[NeuronStats]] = {}
        for st in self.neurons.values():
            if len(st.acc) == 1 and not st.varying and st.neuron_steps:
                (key, acc), = st.acc.items()
                groups.setdefault((key, tuple(acc.shape), acc.dtype, acc.device), []).append(st)
                continue
            per_neuron = None
            for key, acc in st.acc.items():
                self._queue_spikes(st, key, acc)
                part = acc.sum(0) if key < 0 else acc
                if per_neuron is None:
                    per_neuron = part
                elif per_neuron.shape == part.shape:
                    per_neuron = per_neuron.to(torch.float64) + part
                else:
                    st.varying = True
            st.acc = {}
            st.per_neuron = None if st.varying or not st.neuron_steps else per_neuron
        for (key, *_), sts in groups.items():
            accs = [st.acc[key] for st in sts]
            if len(accs) == 1:
                totals = accs[0].sum(-1, dtype=torch.float64).reshape(-1)  # [T] or [1]
            else:  # [layers, T, N] or [layers, N]
                totals = torch.stack(accs).sum(-1, dtype=torch.float64).view(-1)
            r = self._vector(totals)
            step = self.T if key < 0 else 1
            for i, st in enumerate(sts):
                self._neuron_calls.append((st, None, None, r, key, i * step))
                st.per_neuron = st.acc[key]  # [T, N] is summed over steps by neuron_fractions, when needed
                st.acc = {}
        self._fold()

    def neuron_fractions(self) -> None:
        """Set each neuron layer's fractions of neurons that never / always spiked, from the spike counts per
        neuron (and step) that :meth:`finalize` left on the device (one more small copy; done when the neuron
        table is first built). Layers without per-neuron counts get NaN."""
        groups: dict[tuple, list[tuple[NeuronStats, torch.Tensor]]] = {}
        for st in self.neurons.values():
            per_neuron, st.per_neuron = st.per_neuron, None
            if per_neuron is None:
                continue
            key = (tuple(per_neuron.shape), per_neuron.dtype, per_neuron.device, st.neuron_steps)
            groups.setdefault(key, []).append((st, per_neuron))
        refs = []
        for (_, _, _, steps), items in groups.items():
            counts = [pn for _, pn in items]
            stacked = torch.stack(counts) if len(counts) > 1 else counts[0].unsqueeze(0)  # [layers, (T,) N]
            if stacked.dim() == 3:
                stacked = stacked.sum(1)
            refs.append(self._dead_saturated([st for st, _ in items], stacked, steps))
        values, at = self._fold()
        for sts, r_dead, r_saturated, numel in refs:
            for i, st in enumerate(sts):
                st.dead = values[at(r_dead) + i] / numel
                st.saturated = values[at(r_saturated) + i] / numel

    def _dead_saturated(self, sts: list[NeuronStats], per_neuron: torch.Tensor, steps: int) -> tuple:
        """Queue the numbers of neurons that never / always spiked, for layers with spike counts ``per_neuron``
        ``[layers, N]`` (comparisons written into a float buffer: bool reductions are slow on CPU)."""
        n = per_neuron.shape[1]
        flags = fm.thread_scratch().like(per_neuron, torch.float32)  # tables may be built in another thread
        dtype = fm.count_dtype(flags, n)
        r_dead = self._vector(torch.eq(per_neuron, 0, out=flags).sum(1, dtype=dtype))
        r_saturated = self._vector(torch.ge(per_neuron, steps, out=flags).sum(1, dtype=dtype))
        return sts, r_dead, r_saturated, n


def _batch_sum(s: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """``s`` ``[T, B, N]`` summed over B, a fresh tensor (a batch of one is copied, not reduced: a reduction
    over a size-1 dim is slow)."""
    if s.shape[1] == 1:
        return s[:, 0].clone() if dtype is None else s[:, 0].to(dtype)
    return s.sum(1, dtype=dtype)


def _memory_order(x: torch.Tensor) -> torch.Tensor:
    """``x``'s values without copying: itself, or a flat view in memory order when it is a dense permutation
    (reductions over all of a permuted tensor would copy it first)."""
    if x.is_contiguous() or not fm.is_dense(x):
        return x
    return x.as_strided((x.numel(),), (1,))


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
    batch = fm.broadcast(tuple(a.shape[:-2]), tuple(b.shape[:-2])) if a.dim() >= 2 and b.dim() >= 2 else ()
    return tuple(batch[:2])


_CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_CONVT_ARGS = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")


def _bind_conv(args, kwargs, transposed: bool) -> dict[str, Any]:
    names = _CONVT_ARGS if transposed else _CONV_ARGS
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound
