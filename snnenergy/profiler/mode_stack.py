"""The torch-function mode stack around the profiler: its own tensor work is hidden from enclosing modes
(another profile, a user's recording mode), and composite functions are seen through.

While the session's mode handles an op, torch has taken that mode off the stack, but modes entered before
it (below it) would still see every reduction the profiler runs. The handler therefore takes those modes
off too while it works, and puts them back only around the model's own op, so an enclosing mode sees the
model's forward and nothing else.
"""
from __future__ import annotations

import inspect
import types
from typing import Callable

import torch

_len = torch._C._len_torch_function_stack
_pop = torch._C._pop_torch_function_stack
_push = torch._C._push_on_torch_function_stack


def take_modes() -> list:
    """Pop every torch-function mode; returns them bottom first (for :func:`restore_modes`)."""
    modes = [_pop() for _ in range(_len())]
    modes.reverse()
    return modes


def restore_modes(modes: list) -> None:
    for m in modes:
        _push(m)


def pop_modes(n: int) -> None:
    for _ in range(n):
        _pop()


class hidden:
    """``with hidden():`` runs the profiler's own tensor work where no torch-function mode sees it (a
    class, not a generator: it is entered on every neuron call, and costs nothing when no mode is on)."""

    __slots__ = ("modes",)

    def __enter__(self) -> None:
        self.modes = take_modes() if _len() else None

    def __exit__(self, *exc) -> None:
        if self.modes:
            restore_modes(self.modes)


_COMPOSITES: dict[Callable, Callable | None] = {}
_DISPATCH_CHECKS = ("has_torch_function", "has_torch_function_unary", "has_torch_function_variadic")
_MISSING = object()


def _no_override(*_args) -> bool:
    return False


class _ChecksOff:
    """A module as a composite's body sees it: every attribute as is, but the override checks answer False
    (and submodules that hold them are seen the same way), so the check is off however it is spelled:
    ``has_torch_function(...)``, ``torch.overrides.has_torch_function_variadic(...)``,
    ``overrides.has_torch_function(...)`` or ``torch._C._has_torch_function(...)``."""

    def __init__(self, module: types.ModuleType, replaced: dict) -> None:
        self._module = module
        self._replaced = replaced

    def __getattr__(self, name: str):
        value = self._replaced.get(name, _MISSING)
        return getattr(self._module, name) if value is _MISSING else value


_OFF = dict.fromkeys(_DISPATCH_CHECKS, _no_override)
_OVERRIDES_OFF = _ChecksOff(torch.overrides, _OFF)
_C_OFF = _ChecksOff(torch._C, {"_" + name: _no_override for name in _DISPATCH_CHECKS})
_TORCH_OFF = _ChecksOff(torch, {"overrides": _OVERRIDES_OFF, "_C": _C_OFF})
_MODULES_OFF = {id(torch): _TORCH_OFF, id(torch.overrides): _OVERRIDES_OFF, id(torch._C): _C_OFF}


def _scope_with_checks_off(scope: dict) -> dict:
    """``scope`` (a function's globals) with its override checks, and the modules that hold them, replaced."""
    out = dict(scope)
    for key, value in scope.items():
        if isinstance(value, types.ModuleType) and id(value) in _MODULES_OFF:
            out[key] = _MODULES_OFF[id(value)]
    out.update(_OFF)
    return out


def composite_body(func: Callable) -> Callable | None:
    """For a Python function that hands itself to torch-function modes as a whole (``handle_torch_function``
    at its top, as ``F.multi_head_attention_forward``), a copy whose override check is off: run under the
    mode, its body's torch ops reach the mode one by one. ``None`` for anything else."""
    body = _COMPOSITES.get(func, _MISSING)
    if body is not _MISSING:
        return body
    body = None
    code = getattr(func, "__code__", None)
    if inspect.isfunction(func) and code is not None and "handle_torch_function" in code.co_names:
        scope = _scope_with_checks_off(func.__globals__)
        body = types.FunctionType(code, scope, func.__name__, func.__defaults__, func.__closure__)
        body.__kwdefaults__ = func.__kwdefaults__
    if len(_COMPOSITES) > 1000:
        _COMPOSITES.clear()
    _COMPOSITES[func] = body
    return body
