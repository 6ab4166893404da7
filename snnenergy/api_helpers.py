"""Glue used by the CLI: build a model and its inputs from names and paths (kept out of the CLI itself)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def build_model_and_inputs(
    model_name: str | None = None,
    factory: Callable[[], nn.Module] | None = None,
    checkpoint: str | None = None,
    input_spec: str | None = None,
    batch_size: int | None = None,
    time_steps: int | None = None,
    calibrate_bn: bool = False,
) -> tuple[nn.Module, list[torch.Tensor], str, str, int | None]:
    """``(model, batches, label, weights description, T)`` for the CLI's ``profile`` command."""
    from .data import resolve_input
    from .models import create_model, load_checkpoint, model_card, resolve_name

    card = None
    if model_name is not None:
        name = resolve_name(model_name)
        card = model_card(name)
        overrides = {"time_steps": time_steps} if time_steps is not None else {}
        model = create_model(name, **overrides)
        label = name
    else:
        model = factory()
        if not isinstance(model, nn.Module):
            raise TypeError(f"the factory must return an nn.Module, got {type(model).__name__}")
        card = getattr(model, "model_card", None)
        label = type(model).__name__
        if time_steps is not None and hasattr(model, "time_steps"):
            model.time_steps = time_steps
    if checkpoint:
        result = load_checkpoint(model, checkpoint)
        weights = f"checkpoint {checkpoint}"
        if result.skipped_unused:
            weights += f" ({len(result.skipped_unused)} documented unused tensors skipped)"
    else:
        weights = "untrained (random init): firing rates of random weights mean little"
    if card is None and input_spec is None:
        raise ValueError("a --module model without a model_card needs --input (a .pt or .npy tensor file)")
    if card is not None:
        batches = resolve_input(input_spec, card, batch_size, time_steps=time_steps)
    else:
        from .data import as_batches, load_tensor

        batches = list(as_batches(load_tensor(input_spec), batch_size))
    if calibrate_bn:
        from .models import calibrate_batchnorm

        n = calibrate_batchnorm(model, batches)
        weights += f"; BatchNorm statistics of {n} layers calibrated on these inputs"
    T = time_steps
    return model, batches, label, weights, T
