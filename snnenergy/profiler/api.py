"""Running a profile: the model's ordinary forward passes under the interceptor, on working copies of its state.

The profiler returns counts (a finished :class:`ProfileSession`); turning them into tables is the report's job
(:func:`snnenergy.profile` composes the two).
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import nn

from ..neurons.reset import neuron_resetters
from . import inputs as inp
from .mode_stack import hidden
from .neuron_recording import neuron_fractions
from .session import ProfileSession
from .state import EnclosingModes, exclusive, hidden_from_enclosing_modes, preserved

_DRY_RUN_HINT = "for shapes and dense ops without values use a dry run, snnenergy.dry_run(model, input_shape)"


@dataclass
class ProfileRun:
    """A finished profile: the session holding the counts (``finalize()`` is the consumer's first call),
    the number of batches and of samples seen."""

    session: ProfileSession
    batches: int
    samples: int
    rates_only: bool


def model_time_steps(model: nn.Module) -> int | None:
    """The model's own T (``model.time_steps`` or ``model.T``), if it declares one."""
    for attr in ("time_steps", "T"):
        v = getattr(model, attr, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def _model_device(modules: list[tuple[str, nn.Module]]) -> torch.device:
    """The device of the model's first parameter (else buffer), as ``model.parameters()`` would give it."""
    for store in ("_parameters", "_buffers"):
        for _, m in modules:
            for t in getattr(m, store).values():
                if t is not None:
                    return t.device
    return torch.device("cpu")


def _on_meta(modules: list[tuple[str, nn.Module]]) -> str | None:
    for path, m in modules:
        for store in ("_parameters", "_buffers"):
            for name, t in getattr(m, store).items():
                if t is not None and t.device.type == "meta":
                    return f"{path}.{name}".lstrip(".")
    return None


def resolve_device(device: Any, default: torch.device) -> torch.device:
    """The device to profile on; refuse, in one line, devices that are unknown, absent or can't give the model
    back (``meta`` holds shapes without values)."""
    if device is None:
        return default
    if isinstance(device, bool) or not isinstance(device, (str, torch.device, int)):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0' (or a torch.device), got {device!r}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; expected a torch device such as 'cpu', 'cuda' or "
                         "'cuda:0'") from None
    if dev.type == "meta":
        raise ValueError("device='meta' would leave the model's weights without values, and they could not be moved "
                         f"back; profile on 'cpu' or 'cuda', or {_DRY_RUN_HINT}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(dev)!r} needs CUDA, which is not available here (torch.cuda.is_available() "
                             "is False); use 'cpu'")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"device={str(dev)!r} but this machine has {n} CUDA device(s): use 'cuda:0' to "
                             f"'cuda:{n - 1}'")
        return dev
    if dev.type != "cpu":
        try:
            torch.empty(1, device=dev)
        except Exception as e:  # each backend says "not available" its own way
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"device {str(dev)!r} is not usable here ({first[:120]}); use 'cpu'") from None
    return dev


def check_options(time_steps: Any, batch_size: Any, batch_dim: Any, model: nn.Module) -> int:
    """Check the options of a profile in one line each; return T."""
    if time_steps is not None:
        inp.check_int_option("time_steps", time_steps, 1, "4")
    if batch_size is not None:
        inp.check_int_option("batch_size", batch_size, 1, "32")
    if isinstance(batch_dim, int) and not isinstance(batch_dim, bool) and batch_dim < 0:
        raise ValueError(f"batch_dim={batch_dim} is negative; give the index of the batch dimension counted from 0 "
                         "(0 for [B, ...] inputs, 1 for [T, B, ...])")
    inp.check_int_option("batch_dim", batch_dim, 0, "1")
    declared = model_time_steps(model)
    if time_steps is not None and declared is not None and declared != time_steps:
        raise ValueError(
            f"time_steps={time_steps} does not match the model's own T={declared}; "
            f"create the model with time_steps={time_steps} instead (e.g. create_model(name, time_steps={time_steps}))"
        )
    return time_steps if time_steps is not None else (declared or 1)


@contextlib.contextmanager
def _progress(enabled: bool | str, total: int | None) -> Iterator[Any]:
    """A tqdm bar on stderr counting samples (its rate is samples/s), labelled ``enabled`` when that is a
    string; ``None`` when disabled."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    desc = enabled if isinstance(enabled, str) else "profiling"
    bar = tqdm(total=total, unit="sample", desc=desc, file=sys.stderr, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


def run_profile(
    model: nn.Module,
    inputs: Any,
    time_steps: int | None = None,
    batch_size: int | None = None,
    batch_dim: int = 0,
    device: str | torch.device | None = None,
    rates_only: bool = False,
    progress: bool | str = False,
    amp: bool = False,
) -> ProfileRun:
    """Run ``model`` on ``inputs`` under the interceptor and return the counts (see :func:`snnenergy.profile`
    for the arguments and the input rules).

    The model's state (parameters' storage, buffers, neuron states, flags, attributes) is saved first and
    restored afterwards, also after an exception; the forward works on copies of its tensors. A second
    profile of the same model from another thread while this one runs is refused.
    """
    with hidden_from_enclosing_modes() as enclosing:
        return _run_profile(model, inputs, time_steps, batch_size, batch_dim, device, rates_only, progress,
                            enclosing, amp)


def _run_profile(model, inputs, time_steps, batch_size, batch_dim, device, rates_only, progress,
                 enclosing: EnclosingModes, amp: bool = False) -> ProfileRun:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    T = check_options(time_steps, batch_size, batch_dim, model)
    arity = inp.forward_arity(model)
    modules = list(model.named_modules())  # one traversal serves the state, the wrappers and the resets
    meta = _on_meta(modules)
    if meta is not None:
        raise ValueError(f"the model's tensors are on the meta device (shapes without values, e.g. {meta!r}); "
                         f"load real weights first, or {_DRY_RUN_HINT}")
    orig_device = _model_device(modules)
    dev = resolve_device(device, orig_device)
    with exclusive(modules), preserved(modules):
        if dev != orig_device:
            model.to(dev)  # moves the working copies; the originals come back with the state
        session = ProfileSession(model, T, dev, track_ops=not rates_only, modules=modules, batch_dim=batch_dim)
        n_batches = _run_batches(session, model, modules, inputs, arity, batch_dim, batch_size, rates_only,
                                 progress, enclosing, autocast(dev, amp))
    if n_batches == 0:
        raise ValueError("inputs yielded no batch: pass a non-empty tensor, list of tensors or DataLoader")
    return ProfileRun(session, n_batches, session.samples, rates_only)


def combined_neuron_fractions(session: ProfileSession, reduce: Callable[[list[tuple]], list[tuple]]) -> None:
    """Set the dead / saturated fractions of a session finalised with ``keep_neuron_counts`` again, from its
    per-neuron spike counts combined by ``reduce`` with other processes' (see
    :func:`.neuron_recording.neuron_fractions`); call it before the neuron table is built."""
    with hidden():
        neuron_fractions(session, reduce)


def autocast(device: torch.device, amp: bool):
    """The forward's mixed-precision context: ``torch.autocast`` (float16 on CUDA, bfloat16 elsewhere) when
    ``amp``, else nothing. Operands are classified on the values the ops receive, so counts stay exact."""
    if not amp:
        return contextlib.nullcontext
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def _run_batches(session: ProfileSession, model: nn.Module, modules, inputs, arity: int, batch_dim: int,
                 batch_size: int | None, rates_only: bool, progress: bool, enclosing: EnclosingModes,
                 mixed_precision=contextlib.nullcontext) -> int:
    """One eval-mode, no-grad forward per batch, neurons reset before each; return the number of batches.

    Only the forward itself runs where enclosing torch-function modes see it: loading, checking and moving
    a batch, resets and bookkeeping are the profiler's work."""
    resetters = neuron_resetters(m for _, m in modules)
    dev = session.device
    n_batches = 0
    if any(m.training for _, m in modules):  # eval() walks every module; most models come in eval mode
        model.eval()
    with _progress(progress, inp.known_samples(inputs, arity, batch_dim) if progress else None) as bar:
        try:
            session.attach()
            mode = session if not rates_only else contextlib.nullcontext()
            with torch.no_grad():
                for batch in inp.iter_batches(inputs, arity, batch_dim, batch_size):
                    batch = tuple(t.to(dev) for t in batch)
                    session.batch_size = int(batch[0].shape[batch_dim])
                    for reset in resetters:
                        reset()
                    session.begin_forward(batch)
                    try:
                        with enclosing.visible(), session.active(), mode, mixed_precision():
                            model(*batch)
                    except Exception as e:
                        inp.explain_forward_error(e, model, batch, batch_dim)
                        raise
                    session.end_forward()
                    session.samples += session.batch_size
                    n_batches += 1
                    if bar is not None:
                        bar.update(session.batch_size)
        finally:
            session.detach()
    return n_batches
