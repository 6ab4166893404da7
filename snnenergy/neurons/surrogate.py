"""Surrogate gradients for the Heaviside spike function.

Forward: ``heaviside(x) = 1 if x >= 0 else 0`` (fire at H >= threshold).
Backward: the derivative of a smooth stand-in, as in SpikingJelly's surrogates of the same name.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class _SigmoidSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        sg = torch.sigmoid(ctx.alpha * x)
        return grad_output * (1.0 - sg) * sg * ctx.alpha, None


class _ATanSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        return grad_output * (a / 2) / (1 + (math.pi / 2 * a * x).square()), None


class Surrogate(nn.Module):
    """Base class: ``forward(x)`` returns binary spikes ``x >= 0`` with a surrogate gradient."""

    alpha: float

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Sigmoid(Surrogate):
    """Sigmoid surrogate: gradient ``alpha * s * (1 - s)`` with ``s = sigmoid(alpha * x)``."""

    def __init__(self, alpha: float = 4.0) -> None:
        super().__init__(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SigmoidSpike.apply(x, self.alpha)


class ATan(Surrogate):
    """Arc-tangent surrogate: gradient ``alpha / 2 / (1 + (pi/2 * alpha * x)^2)``."""

    def __init__(self, alpha: float = 2.0) -> None:
        super().__init__(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ATanSpike.apply(x, self.alpha)
