"""Interception: a ``TorchFunctionMode`` plus module forward wrappers that attribute every op to the module
path it ran in and route it to its recorder.

The pieces it composes, one module each: :mod:`.provenance` (who produced each activation),
:mod:`.summaries` (operand kinds and nonzero counts, cached per forward), :mod:`.device_queue` (per-call
counts kept on the device until one host copy), :mod:`.synaptic` (the synaptic op handlers),
:mod:`.neuron_recording` (spikes per step and neuron) and :mod:`.time_layout` (which step a call belongs to).
Nothing here synchronises with the device per op.
"""
from __future__ import annotations

import inspect
import threading
from collections import Counter
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from . import formulas as fm
from . import synaptic
from .accumulators import NeuronStats, OtherStats, SiteStats
from .device_queue import DeviceQueue
from .mode_stack import composite_body, hidden, pop_modes, restore_modes, take_modes
from .neuron_detection import NeuronProbe, is_candidate, probe_call, tensor_state, warn_probable_neurons
from .neuron_recording import finalize_neurons, record_neuron_output, set_fractions
from .neurons import neuron_info
from .ops import category, normalise_name
from .provenance import CONSTANT, INPUT, PARAMETER, UNKNOWN, Provenance, tensors_in
from .summaries import OperandSummaries
from .time_layout import check_time_steps, resolve_slots, warn_batch_major_steps, warn_time_layout

__all__ = ["ProfileSession", "INPUT", "PARAMETER", "UNKNOWN"]

# free ops whose output, when it is a copy, holds the input's values in the input's (logical) order
_SAME_ORDER = frozenset({"reshape", "reshape_as", "flatten", "unflatten", "contiguous", "clone", "view",
                         "view_as", "squeeze", "unsqueeze", "detach"})
_FREE, _OTHER, _SYNAPTIC, _UNSUPPORTED, _DATA = "free", "other", "synaptic", "unsupported", "data"

_MISSING = object()
_get_ident = threading.get_ident
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
    counting ops), then :meth:`detach` and :meth:`finalize`. Results: ``sites``, ``neurons``, ``others``,
    ``unsupported`` and ``provenance_edges()``.
    """

    def __init__(
        self,
        model: nn.Module,
        time_steps: int,
        device: torch.device,
        track_ops: bool = True,
        modules: list[tuple[str, nn.Module]] | None = None,
        batch_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.batch_dim = batch_dim  # the inputs' batch dim, when the caller says (checks of time layouts)
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
        self.scratch = fm.thread_scratch()
        self.queue = DeviceQueue(self.T, device)
        self.summaries = OperandSummaries(self.queue, self.scratch)
        self.prov = Provenance()
        self._modules = modules if modules is not None else list(model.named_modules())
        self._stack: list[_Frame] = [_Frame("", None)]
        self._inputs: tuple = ()  # the current batch's tensors (dim ``batch_dim`` is their batch)
        self._thread: int | None = None  # the thread that profiles (set by attach): others pass through
        self._neuron_depth = 0
        self._active = False  # the model's forward runs (set by ``active()``; nested profiles inside included)
        self._suspended = False
        self._wrapped: list[tuple[nn.Module, Any]] = []
        self.probes: dict[str, NeuronProbe] = {}  # user modules that may be unregistered neurons
        self.probable_neurons: list[str] = []
        self._outer: list = []  # enclosing modes taken off the stack while an op is handled
        self.pending: list[tuple] = []  # synaptic call records whose time slot is not set yet
        self.neuron_leads: set[tuple] = set()  # (dim 0, dim 1) of neuron outputs, for the T checks
        self.queue.on_fold.insert(0, lambda: resolve_slots(self, self.pending))

    # --------------------------------------------------------- module calls
    # Each module's ``forward`` is wrapped by an instance attribute for the session (removed by ``detach``):
    # the wrapper keeps the module path stack and catches neuron outputs. Unlike forward hooks it leaves
    # modules on PyTorch's fast call path and costs nothing to install.
    def attach(self) -> None:
        """Wrap the modules' forwards (full profile: every module; rates only: the neurons)."""
        self._thread = _get_ident()
        if self.track_ops:  # after any move to the profiling device, which replaces buffers
            for _, m in self._modules:
                self.prov.add_weights(m)
        for path, module in self._modules:
            info = neuron_info(module)
            if info is None and not self.track_ops:
                continue
            inner = module.forward
            if info is None and self.track_ops and is_candidate(module):
                probe = self.probes[path] = NeuronProbe(path, type(module))
                wrapper = self._probed_wrapper(module, path, inner, probe)
            elif info is None:
                wrapper = self._module_wrapper(module, path, inner)
            else:
                wrapper = self._neuron_wrapper(path, info, inner, getattr(module, "step_mode", None) == "s")
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
        self._thread = None
        for st in self.sites.values():
            st.bound = None  # fan-out maps bound to a site go with the profile, not with its report
        self.prov.clear_tensors()
        self.summaries.clear()
        self.scratch.trim(fm.SCRATCH_KEEP_BYTES)
        fm.FANOUTS.trim(fm.FANOUT_KEEP_BYTES)
        self._inputs = ()
        self._modules = []  # the report must not keep the model alive
        self.model = None

    def begin_forward(self, inputs: tuple) -> None:
        """Start a forward pass of the model on ``inputs``."""
        self.end_forward()  # the previous forward's slots, in case its caller did not end it
        self.forward_id += 1
        self._stack = [_Frame("", None)]
        self._neuron_depth = 0
        self.summaries.clear()
        self._inputs = tuple(a for a in inputs if isinstance(a, torch.Tensor))
        if self.track_ops:
            for a in inputs:
                if isinstance(a, torch.Tensor):
                    self.prov.set(a, INPUT)

    def end_forward(self) -> None:
        """End a forward pass: set its calls' time slots, and fold the device queue into the host accumulators
        once it holds more than :data:`.device_queue.FOLD_AFTER_FORWARD` tensors (at most one host copy per
        batch), so that memory does not grow with the number of batches."""
        if self.pending:
            resolve_slots(self, self.pending)
        if len(self.queue) > self.queue.fold_after_forward:
            with hidden():
                self.queue.fold()

    def is_input(self, t: torch.Tensor) -> bool:
        """Whether ``t`` is one of the current batch's tensors (not a tensor computed from one)."""
        return any(t is a for a in self._inputs)

    def active(self) -> "_Active":
        """``with session.active():`` the model's forward, whose neuron calls this session records.
        Wrappers act only in the thread that profiles (another thread running the model passes through). A
        profile nested in this one's forward (a forward that profiles its submodule) is work this forward
        did: its synaptic ops reach this session's mode like any op of the forward, and its neuron calls are
        recorded by this session too (as well as by the nested one)."""
        return _Active(self)

    def finalize(self, keep_neuron_counts: bool = False) -> None:
        """Reduce the neuron accumulators on the device (spikes per step, dead and saturated neurons), then
        move the queue to the host in one copy. ``keep_neuron_counts``: keep the spikes per neuron on the
        device, for :func:`.neuron_recording.neuron_fractions` to combine with other processes' counts."""
        resolve_slots(self, self.pending)
        warn_time_layout(self)
        check_time_steps(self)
        with hidden():
            fractions = finalize_neurons(self, keep_neuron_counts)
            values, at = self.queue.fold()
        set_fractions(fractions, values, at)
        self.probable_neurons = warn_probable_neurons(self.probes)

    def provenance_edges(self) -> list[tuple[str, str, str, str, str]]:
        """``(node, layer, op, category, input)`` per distinct producer → consumer edge seen."""
        return self.prov.edge_rows()

    def _module_wrapper(self, module: nn.Module, path: str, inner: Callable) -> Callable:
        stack_owner = self
        # a layer with its own weights run by a neuron (a recurrent nn.Linear) is synaptic, not state update
        weighted = any(p is not None for p in module._parameters.values())

        def forward(*args, **kwargs):
            if stack_owner._thread != _get_ident():  # another thread running the model
                return inner(*args, **kwargs)
            if stack_owner._neuron_depth:
                if weighted:
                    return stack_owner._weights_inside_neuron(module, path, inner, args, kwargs)
                return inner(*args, **kwargs)
            stack = stack_owner._stack
            if stack[-1].module is module:  # the module's forward calling itself: one frame per call
                return inner(*args, **kwargs)
            stack.append(_Frame(path, module))
            try:
                return inner(*args, **kwargs)
            finally:
                stack.pop()

        return forward

    def _probed_wrapper(self, module: nn.Module, path: str, inner: Callable, probe: NeuronProbe) -> Callable:
        """The module wrapper, plus a probe of whether the module behaves as a neuron."""
        counted = self._module_wrapper(module, path, inner)
        session = self

        def forward(*args, **kwargs):
            if session._neuron_depth or not session._active:
                return counted(*args, **kwargs)
            before = tensor_state(module)
            out = counted(*args, **kwargs)
            with hidden():
                probe_call(session, probe, before, module, args, out)
            return out

        return forward

    def _neuron_wrapper(self, path: str, info, inner: Callable, single_step: bool) -> Callable:
        session = self
        label = f"{path}:spikes"

        def forward(*args, **kwargs):
            # inside another neuron (part of its state update), another thread running the model, or a call
            # outside the profiled forward (our mode is entered with the forward, so nothing to pass through)
            if session._neuron_depth or session._thread != _get_ident() or not session._active:
                return inner(*args, **kwargs)
            session._neuron_depth = 1
            session._suspend_mode()
            try:
                out = inner(*args, **kwargs)
                spikes = out[0] if isinstance(out, (tuple, list)) else out
                if isinstance(spikes, torch.Tensor):
                    with hidden():
                        record_neuron_output(session, path, info, spikes, single_step)
                        if session.track_ops:
                            if args and isinstance(args[0], torch.Tensor):
                                warn_batch_major_steps(session, path, args[0])
                            session.prov.node(label, path, "spikes", "neuron", tensors_in(args[:1], kwargs))
                            session.prov.set(spikes, label)
                return out
            finally:
                session._neuron_depth = 0
                session._resume_mode()

        return forward

    def _weights_inside_neuron(self, module: nn.Module, path: str, inner: Callable, args, kwargs):
        """Count a weight layer that a neuron calls: the mode back on, the neuron's depth off, while it runs."""
        depth, suspended = self._neuron_depth, self._suspended
        self._neuron_depth = 0
        if suspended:
            torch._C._push_on_torch_function_stack(self)
            self._suspended = False
        self._stack.append(_Frame(path, module))
        try:
            return inner(*args, **kwargs)
        finally:
            self._stack.pop()
            if suspended:
                torch._C._pop_torch_function_stack()
                self._suspended = True
            self._neuron_depth = depth

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

    # kept for callers that read producers through the session
    def producer(self, t: torch.Tensor) -> str:
        return self.prov.producer(t)

    # ------------------------------------------------------------ the mode
    @staticmethod
    def _op_name(func: Callable) -> tuple[str, str]:
        raw = getattr(func, "__name__", None) or str(func)
        name = normalise_name(raw)
        cat = category(name)
        if cat == _UNSUPPORTED and inspect.isfunction(func) and raw.startswith("__") and raw.endswith("__"):
            cat = _FREE  # Python-level dunders such as __reduce_ex__
        if raw in ("__get__", "__set__") and getattr(getattr(func, "__self__", None), "__name__", None) == "data":
            cat = _DATA  # ``.data``: an alias whose in-place changes bump no version counter (or a swap of it)
        if raw in ("numpy", "__array__"):
            cat = _DATA  # a NumPy view: writes through it bump no version counter either
        if len(_NAMES) > 10_000:
            _NAMES.clear()
        cached = _NAMES[func] = (name, cat)
        return cached

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if kwargs is None:
            kwargs = {}
        if self._neuron_depth:
            return func(*args, **kwargs)
        if torch._C._len_torch_function_stack():  # enclosing modes: they must not see the profiler's work
            outer, self._outer = self._outer, take_modes()
            try:
                return self._handle(func, args, kwargs)
            finally:
                restore_modes(self._outer)
                self._outer = outer
        return self._handle(func, args, kwargs)

    def run_op(self, func, args, kwargs):
        """Run the model's own op, with any enclosing modes back on the stack."""
        outer = self._outer
        if not outer:
            return func(*args, **kwargs)
        restore_modes(outer)
        try:
            return func(*args, **kwargs)
        finally:
            pop_modes(len(outer))

    def _handle(self, func, args, kwargs):
        cached = _NAMES.get(func)
        name, cat = cached if cached is not None else self._op_name(func)
        if cat is _DATA:
            self.summaries.clear()
            cat = _FREE
        if cat is _FREE:
            out = self.run_op(func, args, kwargs)
            # views share their base's provenance and summaries; only fresh tensors (copies) need entries
            if isinstance(out, torch.Tensor) and out._base is None:
                src = _first_tensor(args)
                if src is None:
                    if self.track_ops:
                        self.prov.set(out, CONSTANT)
                elif out is not src:
                    self.prov.set(out, self.prov.producer(src))
                    if name in _SAME_ORDER:
                        self.summaries.alias(src, out)
            return out
        frame = self._stack[-1]
        index = frame.op_counts.get(name, 0)
        frame.op_counts[name] = index + 1
        if cat is _SYNAPTIC and self.track_ops:
            out = synaptic.counted(self, name, index, frame.path, func, args, kwargs)
            if out is not NotImplemented:
                return out
            cat = _OTHER
        if cat is _UNSUPPORTED:
            body = composite_body(func)
            if body is not None:  # a Python function over torch ops (multi_head_attention_forward): see inside
                return self._see_through(body, args, kwargs)
        out = self.run_op(func, args, kwargs)
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
        if self.track_ops:
            if self.prov.node(label, frame.path, name, "other", tensors_in(args, kwargs)):
                label = PARAMETER  # computed from weights only: a (re-parameterised) weight
            if isinstance(out, torch.Tensor):
                self.prov.set(out, label)
        return out


    def _see_through(self, body: Callable, args, kwargs):
        """Run a composite function's body with this mode active, so that its torch ops are counted."""
        outer = self._outer
        restore_modes(outer)
        torch._C._push_on_torch_function_stack(self)
        try:
            return body(*args, **kwargs)
        finally:
            pop_modes(1 + len(outer))


class _Active:
    """Marks a session's forward as running for a ``with`` body (its wrappers record neuron calls)."""

    __slots__ = ("session", "previous")

    def __init__(self, session: ProfileSession) -> None:
        self.session = session

    def __enter__(self) -> None:
        self.previous = self.session._active
        self.session._active = True

    def __exit__(self, *exc) -> None:
        self.session._active = self.previous


def _first_tensor(args) -> torch.Tensor | None:
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor):
            return a[0]
    return None
