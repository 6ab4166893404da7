"""The top-level API: :func:`profile` composes the profiler (counts) and the report (tables, energy)."""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from .profiler.api import combined_neuron_fractions, run_profile
from .profiler.state import hidden_from_enclosing_modes
from .report.report import Report, build_report

__all__ = ["profile"]


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
    progress: bool | str = False,
    amp: bool = False,
    neuron_counts_reduce: Callable[[list[tuple]], list[tuple]] | None = None,
) -> Report:
    """Profile ``model`` on ``inputs`` and return a :class:`snnenergy.report.Report`.

    Args:
        model: any ``nn.Module`` (zoo, SpikingJelly, snnTorch or plain PyTorch).
        inputs: a tensor (one batch, or split by ``batch_size``), an iterable of batches, or a DataLoader.
            A batch is a tensor or a tuple ``(inputs..., labels...)``: the forward gets as many leading tensors
            as it requires positional arguments (at least one); the rest is ignored. A tuple/list passed as
            ``inputs`` is one batch when the forward takes several tensors, or when it is ``(x, y)`` with ``y``
            label-like: ``len(y)`` equals ``x``'s batch size and ``y`` has fewer dims than ``x`` (class indices,
            one-hot rows of image batches, masks) or integer/bool values where ``x`` is floating; otherwise each
            element is a batch. Dicts are refused.
        time_steps: T (a positive int); defaults to ``model.time_steps`` (or ``model.T``), else 1.
        batch_size: at most this many samples per forward pass (larger batches are split along ``batch_dim``).
        batch_dim: which input dim is the batch (``1`` for SpikingJelly-style ``[T, B, ...]`` inputs).
        device: run on this device ('cpu', 'cuda', 'cuda:1'; the model is moved there and given back as it was).
            ``'meta'`` is refused: weights moved there have no values and could not come back.
        rates_only: record neuron firing rates only (no op counting).
        model_name, weights: labels stored in the report (weights: e.g. ``"untrained"`` or a checkpoint path).
        progress: show a progress bar on stderr (samples and samples/s); a string is the bar's label.
        amp: run the forward under ``torch.autocast`` (float16 on CUDA, bfloat16 on CPU), as a mixed-precision
            deployment would; operands are classified on the values the ops receive.
        neuron_counts_reduce: combines the per-neuron spike counts with other processes' before the dead /
            saturated fractions are computed (:mod:`snnenergy.distributed` passes one that sums them over
            ranks; see :func:`snnenergy.profiler.neuron_recording.neuron_fractions` for its contract).

    Each batch is one forward pass in eval mode under ``torch.no_grad()``, with the neurons reset before it.
    Counts are per sample. The model is left exactly as it was found, also after an exception: its
    parameters, buffers, neuron states (membranes, SpikingJelly memories, snnTorch hidden states), training
    flags and attributes are saved before and restored after (the forward works on copies of its tensors), the
    profiler's forward wrappers removed, on its original device. Profiling the same model from two threads at
    once is refused (profile one copy per thread). An error raised by the model's forward is re-raised with a
    note on the batch it got. Everything is computed and copied to the host by the time this returns; the
    report's pandas tables are built on first access.
    """
    run = run_profile(model, inputs, time_steps=time_steps, batch_size=batch_size, batch_dim=batch_dim,
                      device=device, rates_only=rates_only, progress=progress, amp=amp)
    name = model_name or getattr(getattr(model, "model_card", None), "name", None) or type(model).__name__
    with hidden_from_enclosing_modes():  # finalising reduces on the device: not the work of an enclosing profile
        report = build_report(run.session, model_name=name, weights=weights, batches=run.batches,
                              rates_only=rates_only, keep_neuron_counts=neuron_counts_reduce is not None)
        if neuron_counts_reduce is not None:
            combined_neuron_fractions(run.session, neuron_counts_reduce)
    if amp:
        report.meta["amp"] = True
    return report
