"""Leaving a model exactly as it was found: its state saved before a profile and put back afterwards (also after
an exception), one profiling session per model at a time, and the profiler's own tensor work hidden from the
torch-function modes that enclose a profile.

What is saved, per module (every module of ``named_modules()``):

* its class and every entry of its ``__dict__`` (training flags, plain attributes such as neuron membranes
  ``v``, SpikingJelly's ``_memories``, snnTorch's hidden ``mem`` buffer, an instance ``forward``); the
  containers it holds (``_parameters``, ``_buffers``, ``_modules``, hook dicts, ``_memories``, lists, sets)
  keep their identity and get their contents back;
* every tensor that is not a parameter (buffers, states, other tensor attributes) is kept aside untouched and
  replaced, for the profile, by a working copy: resets and forwards then write into the copies (SpikingJelly's
  ``reset`` writes its states in place), so the user's tensors come back bit for bit, autograd history and
  all;
* parameters are not copied (they can be large): the same ``Parameter`` objects stay, their storage is
  remembered (a move to the profiling device swaps it out) and put back. A forward that writes a parameter in
  place is detected by its version counter and reported with a warning, since its old values are gone
  (writes through ``.data`` bump no counter and go unnoticed).

Other Python objects a forward mutates (a custom object held as an attribute) are not deep-copied.
"""
from __future__ import annotations

import contextlib
import threading
import warnings
from typing import Any, Iterator

import torch
from torch import nn
from torch.nn.parameter import UninitializedTensorMixin
from torch.utils._device import DeviceContext


class _Saved:
    """The saved state of one module: its ``__dict__`` entries, its containers (the empty ones, and the others
    with a copy of their contents), the keys of its state tensors (attributes and container entries) and its
    parameters."""

    __slots__ = ("module", "cls", "entries", "empty", "filled", "tensor_keys", "params")

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.cls = type(module)
        entries = self.entries = dict(module.__dict__)
        kinds = _KINDS.get
        self.empty = empty = []
        self.filled = filled = []  # (container, a copy of its contents): refilled in place by ``restore``
        tensor_keys = []  # (container or None for the module's __dict__, key) of each non-parameter tensor
        parameters = module._parameters
        for key, value in entries.items():
            kind = kinds(type(value)) or _kind(type(value))
            if kind is _OTHER or kind is _PARAMETER:  # a parameter attribute: the entry itself, never copied
                continue
            if kind is _TENSOR:
                tensor_keys.append((None, key))
            elif not value:
                empty.append(value)
            else:  # a dict, list or set with contents
                is_dict = kind is _DICT
                filled.append((value, dict(value) if is_dict else list(value)))
                if value is not parameters and not isinstance(value, set):  # a set's members have no key
                    for k, v in (value.items() if is_dict else enumerate(value)):
                        if (kinds(type(v)) or _kind(type(v))) is _TENSOR:
                            tensor_keys.append((value, k))
        self.tensor_keys = tensor_keys
        self.params = [(name, p, type(p), _values_of(p), p._version, p.grad, None if p.grad is None else p.grad.data)
                       for name, p in parameters.items() if p is not None]


_OTHER, _DICT, _SEQUENCE, _TENSOR, _PARAMETER = range(1, 6)  # nonzero: ``_KINDS.get(c) or _kind(c)``
_KINDS: dict[type, int] = {}  # a type's kind, for the per-profile scan of every module's attributes


def _kind(cls: type) -> int:
    """What a value of class ``cls`` is to the state: a container (dict; list or set), a state tensor, a
    parameter (or uninitialised lazy tensor), or anything else (by class: a scan of every attribute of every
    module runs per profile, and ``isinstance(v, nn.Parameter)`` is a Python-level check)."""
    kind = _KINDS.get(cls)
    if kind is None:
        if issubclass(cls, (nn.Parameter, UninitializedTensorMixin)):
            kind = _PARAMETER
        elif issubclass(cls, torch.Tensor):
            kind = _TENSOR
        elif issubclass(cls, dict):
            kind = _DICT
        elif issubclass(cls, (list, set)):
            kind = _SEQUENCE
        else:
            kind = _OTHER
        _KINDS[cls] = kind
    return kind


class ModelState:
    """The state of every module of a model, as found (see the module docstring)."""

    def __init__(self, modules: list[tuple[str, nn.Module]]) -> None:
        self._paths = {id(m): path for path, m in modules}
        self._saved = [_Saved(m) for _, m in modules]

    def use_working_copies(self) -> None:
        """Replace every non-parameter tensor of the modules by a copy, so that the originals stay untouched."""
        memo: dict[int, torch.Tensor] = {}  # a tensor shared by several modules gets one copy
        with torch.no_grad():
            self._copy_tensors(memo)

    def _copy_tensors(self, memo: dict[int, torch.Tensor]) -> None:
        for saved in self._saved:
            d = saved.module.__dict__
            for container, key in saved.tensor_keys:
                target = d if container is None else container
                target[key] = _copy(target[key], memo)

    def restore(self) -> None:
        """Put every module back as it was found: class, attributes, containers, tensors, parameter storage."""
        changed: list[str] = []
        for saved in self._saved:
            m = saved.module
            if type(m) is not saved.cls:
                m.__class__ = saved.cls  # lazy modules turn into their final class on first call
            d = m.__dict__
            for key in d.keys() - saved.entries.keys():
                del d[key]  # attributes the profile added (forward wrappers, lazily created state)
            d.update(saved.entries)
            for container in filter(None, saved.empty):  # found empty, filled since
                container.clear()
            for container, contents in saved.filled:
                _refill(container, contents)
            for name, p, cls, data, version, grad, grad_data in saved.params:
                if type(p) is not cls:
                    p.__class__ = cls  # a lazy module's parameter materialised in place: uninitialised again
                elif p._version != version:
                    changed.append(f"{self._paths[id(m)]}.{name}".lstrip("."))
                _put_back(p, data)  # the storage a move to the profiling device (or the forward) swapped out
                if p.grad is not grad:
                    p.grad = grad
                if grad is not None:
                    grad.data = grad_data
        if changed:
            warnings.warn(
                f"the model's forward changed parameter(s) {', '.join(changed[:5])} in place during profiling; "
                "their previous values could not be restored", RuntimeWarning, stacklevel=2)


def _values_of(p: torch.Tensor) -> tuple | torch.Tensor:
    """Where a parameter's values live, read without a tensor op (``p.data`` would be one per parameter per
    profile): its storage, offset, shape, strides and dtype; ``p.data`` itself for a parameter without a plain
    storage."""
    try:
        return p.untyped_storage(), p.storage_offset(), tuple(p.shape), p.stride(), p.dtype
    except (RuntimeError, NotImplementedError, TypeError, ValueError):  # ValueError: an uninitialised lazy one
        return p.data


def _put_back(p: torch.Tensor, values: tuple | torch.Tensor) -> None:
    """Give ``p`` back the values :func:`_values_of` saw, if they were swapped (``p.data = ...``, a move)."""
    if isinstance(values, torch.Tensor):
        p.data = values
        return
    storage, offset, shape, stride, dtype = values
    try:
        if (p.dtype == dtype and p.untyped_storage().data_ptr() == storage.data_ptr() and p.device == storage.device
                and p.storage_offset() == offset and tuple(p.shape) == shape and p.stride() == stride):
            return
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        pass
    with torch.no_grad():
        p.data = torch.empty(0, dtype=dtype, device=storage.device).set_(storage, offset, shape, stride)


def _copy(t: torch.Tensor, memo: dict[int, torch.Tensor]) -> torch.Tensor:
    out = memo.get(id(t))
    if out is None:
        if t.device.type == "meta":
            out = t  # nothing to protect
        else:
            out = t.clone()  # under no_grad (see use_working_copies): no autograd history, one op
        memo[id(t)] = out
    return out


def _refill(container: Any, contents: list | dict) -> None:
    """Put ``contents`` back into ``container``, the same object."""
    if isinstance(container, list):
        container[:] = contents
    else:  # a dict (also restores the order of an OrderedDict) or a set
        container.clear()
        container.update(contents)


@contextlib.contextmanager
def preserved(modules: list[tuple[str, nn.Module]]) -> Iterator[ModelState]:
    """Save the modules' state, run the body on working copies, and restore everything afterwards."""
    state = ModelState(modules)
    try:
        state.use_working_copies()
        yield state
    finally:
        state.restore()


# ------------------------------------------------------------------ one session per model at a time
_LOCK = threading.Lock()
_CLAIMS: dict[int, tuple[int, int]] = {}  # id(module) -> (thread that profiles it, nesting depth)


@contextlib.contextmanager
def exclusive(modules: list[tuple[str, nn.Module]]) -> Iterator[None]:
    """Claim the modules for a profile in this thread; refuse while another thread profiles any of them.

    Profiles nest in one thread (a forward that profiles a submodule): each restores what it wrapped, in
    order. Two threads cannot share the modules' forward wrappers and states, so the second one is refused.
    """
    me = threading.get_ident()
    ids = list(dict.fromkeys(id(m) for _, m in modules))
    with _LOCK:
        for path, m in modules:
            owner = _CLAIMS.get(id(m))
            if owner is not None and owner[0] != me:
                where = f"its module {path!r}" if path else "it, or a model holding it,"
                raise RuntimeError(
                    f"this {type(modules[0][1]).__name__} is being profiled in another thread ({where} is in use); "
                    "profile one copy per thread (copy.deepcopy(model)) or one profile after the other")
        for i in ids:
            _, depth = _CLAIMS.get(i, (me, 0))
            _CLAIMS[i] = (me, depth + 1)
    try:
        yield
    finally:
        with _LOCK:
            for i in ids:
                _, depth = _CLAIMS[i]
                if depth > 1:
                    _CLAIMS[i] = (me, depth - 1)
                else:
                    del _CLAIMS[i]


# ------------------------------------------------------------------ enclosing torch-function modes
class EnclosingModes:
    """The torch-function modes that enclose a profile in this thread (an outer profile, a user's recorder),
    taken off the stack so that they do not see the profiler's own work; :meth:`visible` puts them back for the
    model's forward, which they should see. Default-device contexts (``with torch.device(...)``) are not
    observers: they stay in force throughout."""

    def __init__(self) -> None:
        stack = []
        while torch._C._len_torch_function_stack():
            stack.append(torch._C._pop_torch_function_stack())
        self.stack = stack[::-1]  # bottom first
        self.kept = [m for m in self.stack if isinstance(m, DeviceContext)]
        _push(self.kept)

    def restore(self) -> None:
        _pop(len(self.kept))
        _push(self.stack)

    @contextlib.contextmanager
    def visible(self) -> Iterator[None]:
        """The enclosing modes back on the stack for the body (the model's forward)."""
        _pop(len(self.kept))
        _push(self.stack)
        try:
            yield
        finally:
            _pop(len(self.stack))
            _push(self.kept)


@contextlib.contextmanager
def hidden_from_enclosing_modes() -> Iterator[EnclosingModes]:
    """Hide the enclosing torch-function modes for the body; put them back, in order, afterwards."""
    modes = EnclosingModes()
    try:
        yield modes
    finally:
        modes.restore()


def _push(modes: list) -> None:
    for m in modes:
        torch._C._push_on_torch_function_stack(m)


def _pop(n: int) -> None:
    for _ in range(min(n, torch._C._len_torch_function_stack())):
        torch._C._pop_torch_function_stack()
