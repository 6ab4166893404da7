"""``snnenergy.profile``: run the ordinary forward pass under the interceptor and build a :class:`Report`."""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterable

import torch
from torch import nn

from ..neurons.reset import neuron_resetters
from .session import ProfileSession


def _model_time_steps(model: nn.Module) -> int | None:
    for attr in ("time_steps", "T"):
        v = getattr(model, attr, None)
        if isinstance(v, int) and v > 0:
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


def _iter_batches(inputs: Any, batch_size: int | None) -> Iterable[torch.Tensor]:
    if isinstance(inputs, torch.Tensor):
        if batch_size is None or batch_size >= inputs.shape[0]:
            yield inputs
        else:
            yield from inputs.split(batch_size)
        return
    if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise TypeError(
            f"inputs must be a tensor, an iterable of tensors or a DataLoader; got {type(inputs).__name__}"
        )
    for item in inputs:
        if isinstance(item, (tuple, list)) and item and isinstance(item[0], torch.Tensor):
            item = item[0]  # (x, y) pairs from a DataLoader
        if not isinstance(item, torch.Tensor):
            raise TypeError(f"every batch must be a tensor (or an (x, y) pair); got {type(item).__name__}")
        yield item


def _explain_input_mismatch(error: Exception, model: nn.Module, x: torch.Tensor, batch_dim: int) -> None:
    """When a zoo model fails on an input unlike its card's, say what the card expects (the error itself is kept)."""
    card = getattr(model, "model_card", None)
    expected = tuple(getattr(card, "input_shape", ()) or ())
    got = tuple(x.shape[:batch_dim]) + tuple(x.shape[batch_dim + 1:])
    if expected and got != expected and hasattr(error, "add_note"):
        error.add_note(
            f"snnenergy: {card.name} expects one sample of shape {expected} (batched as [B, {', '.join(map(str, expected))}]),"
            f" got {got} per sample in a batch of shape {tuple(x.shape)}"
        )
    elif not x.is_floating_point() and hasattr(error, "add_note"):
        error.add_note(f"snnenergy: the input has dtype {x.dtype}; models expect floating-point inputs, e.g. x.float()")


def _check_batch(x: torch.Tensor) -> None:
    if x.dim() == 0:
        raise ValueError("input batch is a scalar; expected a batch tensor such as [B, C, H, W]")
    if x.is_floating_point() and x.numel():
        lo, hi = x.aminmax()  # both NaN when any value is NaN
        lo, hi = lo.item(), hi.item()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = "NaN" if math.isnan(lo) or math.isnan(hi) else "Inf"
            raise ValueError(f"input batch of shape {tuple(x.shape)} contains {bad} values; inputs must be finite")


@contextlib.contextmanager
def _preserved_state(model: nn.Module, modules: list[tuple[str, nn.Module]], resetters: list):
    """Put ``model`` in eval mode; restore every module's training flag and reset the neurons afterwards, also
    after an exception."""
    flags = [(m, m.training) for _, m in modules]
    try:
        if any(f for _, f in flags):
            model.eval()
        yield
    finally:
        for m, f in flags:
            if m.training != f:
                m.training = f
        for reset in resetters:
            reset()


def profile(
    model: nn.Module,
    inputs: Any,
    time_steps: int | None = None,
    batch_size: int | None = None,
    batch_dim: int = 0,
    device: str | torch.device | None = None,
    rates_only: bool = False,
    model_name: str | None = None,
    weights: str | None = None,
    progress: bool = False,
):
    """Profile ``model`` on ``inputs`` and return a :class:`snnenergy.report.Report`.

    Args:
        model: any ``nn.Module`` (zoo, SpikingJelly, snnTorch or plain PyTorch).
        inputs: a tensor (one batch, or split by ``batch_size``), an iterable of tensors, or a DataLoader
            yielding tensors or ``(x, y)`` pairs.
        time_steps: T; defaults to ``model.time_steps`` (or ``model.T``), else 1.
        batch_dim: which input dim is the batch (``1`` for SpikingJelly-style ``[T, B, ...]`` inputs).
        device: run on this device (model and inputs are moved there; the model is moved back afterwards).
        rates_only: record neuron firing rates only (no op counting).
        model_name, weights: labels stored in the report (weights: e.g. ``"untrained"`` or a checkpoint path).

    Each batch is one forward pass in eval mode under ``torch.no_grad()``, with the neurons reset before it.
    Counts are per sample. The model is left as it was found: the forward wrappers the profiler installs
    removed, training flags restored, neurons reset, on its original device. Everything is computed and
    copied to the host by the time this returns; the report's pandas tables are built on first access.
    """
    from ..report.report import build_report

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    T = time_steps if time_steps is not None else (_model_time_steps(model) or 1)
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"time_steps must be a positive int, got {T!r}")
    declared = _model_time_steps(model)
    if time_steps is not None and declared is not None and declared != time_steps:
        raise ValueError(
            f"time_steps={time_steps} does not match the model's own T={declared}; "
            f"create the model with time_steps={time_steps} instead (e.g. create_model(name, time_steps={time_steps}))"
        )
    modules = list(model.named_modules())  # one traversal serves the state, the wrappers and the resets
    orig_device = _model_device(modules)
    dev = torch.device(device) if device is not None else orig_device
    session = ProfileSession(model, T, dev, track_ops=not rates_only, modules=modules)
    resetters = neuron_resetters(m for _, m in modules)
    n_batches = 0
    moved = dev != orig_device
    try:
        if moved:
            model.to(dev)
        with _preserved_state(model, modules, resetters):
            try:
                session.attach()
                # the mode only around the forward: loading and checking a batch is not the model's work
                mode = session if not rates_only else contextlib.nullcontext()
                with torch.no_grad():
                    for x in _iter_batches(inputs, batch_size):
                        _check_batch(x)
                        x = x.to(dev)
                        session.batch_size = int(x.shape[batch_dim])
                        for reset in resetters:
                            reset()
                        session.begin_forward((x,))
                        with mode:
                            try:
                                model(x)
                            except Exception as e:
                                _explain_input_mismatch(e, model, x, batch_dim)
                                raise
                        session.samples += session.batch_size
                        n_batches += 1
            finally:
                session.detach()
    finally:
        if moved:
            model.to(orig_device)
    if n_batches == 0:
        raise ValueError("inputs yielded no batch: pass a non-empty tensor, list of tensors or DataLoader")
    name = model_name or getattr(getattr(model, "model_card", None), "name", None) or type(model).__name__
    return build_report(session, model_name=name, weights=weights, batches=n_batches, rates_only=rates_only)
