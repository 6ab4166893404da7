"""BatchNorm calibration for untrained models: make random networks fire at non-trivial rates."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..neurons.reset import reset_net


def calibrate_batchnorm(model: nn.Module, inputs: Any, passes: int = 1) -> int:
    """Set every BatchNorm's running statistics to the statistics of ``model`` on ``inputs``; returns the count.

    Untrained weights with fresh BatchNorm buffers (mean 0, variance 1) leave most spiking neurons silent, so a
    profile of an untrained zoo model shows almost no spikes. This runs ``passes`` forward passes with only the
    BatchNorm layers in training mode (cumulative averages, no gradients; every other module in eval mode) so
    each BatchNorm normalises what it actually sees. It changes the BatchNorm buffers and nothing else, and
    does not make the weights meaningful: firing rates of an untrained model remain illustrative only.
    ``inputs`` is a tensor or an iterable of tensors (one forward pass each per pass). In training mode a
    BatchNorm normalises with the statistics of the batch it sees, so a second pass over the same inputs
    sees the same values again: one pass (the default) gives the final statistics. For the same reason,
    statistics from several batches depend on how the samples were batched: pass one batch for statistics
    that do not (``snnenergy profile`` calibrates on one batch of its first 32 samples).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    batches = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
    if not batches:
        raise ValueError("calibrate_batchnorm needs at least one input batch")
    flags = {m: m.training for m in model.modules()}
    momenta = {m: m.momentum for m in bns}
    try:
        model.eval()
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average over all calibration batches
            m.train()
        with torch.no_grad():
            for _ in range(passes):
                for x in batches:
                    reset_net(model)
                    model(x)
    finally:
        for m, f in flags.items():
            m.training = f
        for m, mom in momenta.items():
            m.momentum = mom
        reset_net(model)
    return len(bns)
