"""Parallel spiking neurons (Fang et al., NeurIPS 2023): PSN, masked PSN and sliding PSN.

Semantics, parameter names and shapes follow SpikingJelly 2.0 ``activation_based.neuron.psn`` so that its
checkpoints load (``weight``, ``bias`` and, for the masked PSN, the buffers ``_lambda_``, ``mask0``,
``mask1``). None of these neurons has a membrane that leaks or resets: the hidden state is a learnable
weighted sum of the inputs, ``H = W·X`` over the time axis, and ``S = heaviside(H + bias)`` (``bias`` is
minus the threshold; initialised to -1, i.e. threshold 1). Default surrogate: ATan(alpha=2), as in the paper.

Cost of the charge per neuron and time step (for energy bookkeeping): PSN T multiply-adds; masked PSN T while
λ < 1 and at most k once λ = 1 (the band mask zeroes the rest); sliding PSN at most k.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from .base import SpikingNeuron, check_step_mode
from .surrogate import ATan, Surrogate


def _heaviside_or_surrogate(h: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
    """Spikes ``h >= 0``; through the surrogate only when a gradient is needed (else in place on ``h``)."""
    if h.requires_grad:
        return surrogate(h)
    return h.ge_(0.0)


def _as_dtype(p: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return p if p.dtype == like.dtype else p.to(like.dtype)


def _check_sequence(module: nn.Module, x_seq: torch.Tensor, T: Optional[int]) -> None:
    if x_seq.dim() < 2:
        raise ValueError(f"{type(module).__name__} expects [T, B, ...], got shape {tuple(x_seq.shape)}")
    if T is not None and x_seq.shape[0] != T:
        raise ValueError(
            f"{type(module).__name__} was built for T={T} time steps (its weight is T×T) but got an input with "
            f"T={x_seq.shape[0]} (shape {tuple(x_seq.shape)})"
        )


class PSN(SpikingNeuron):
    """Parallel spiking neuron: ``H = W·X`` with ``W ∈ R^{T×T}``, ``S = heaviside(H + bias)``, ``bias ∈ R^{T×1}``.

    ``W`` and ``bias`` are shared by all neurons of the layer (``T² + T`` parameters); multi-step only, the
    input must have exactly ``T`` steps. No state is kept between calls.
    """

    has_leak = False
    has_reset = False

    def __init__(self, T: int, surrogate: Optional[Surrogate] = None) -> None:
        super().__init__()
        self.T = int(T)
        self.step_mode = "m"
        self.surrogate = surrogate if surrogate is not None else ATan(alpha=2.0)
        self.weight = nn.Parameter(torch.empty(self.T, self.T))
        self.bias = nn.Parameter(torch.empty(self.T, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """SpikingJelly's initialisation: ``W`` as ``nn.Linear`` (Kaiming uniform, a=√5), ``bias = -1``."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.constant_(self.bias, -1.0)

    def reset(self) -> None:
        """Nothing to forget: the PSN keeps no state between calls."""

    def effective_weight(self) -> torch.Tensor:
        """The ``T×T`` matrix applied over time."""
        return self.weight

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_sequence(self, x_seq, self.T)
        h = torch.addmm(
            _as_dtype(self.bias, x_seq), _as_dtype(self.effective_weight(), x_seq), x_seq.flatten(1)
        )
        return _heaviside_or_surrogate(h, self.surrogate).view(x_seq.shape)

    def extra_repr(self) -> str:
        return f"T={self.T}"


class MaskedPSN(PSN):
    """Masked PSN of order ``k``: ``H = (W ⊙ M_k(λ))·X``.

    ``M_k[i][j] = 1`` if ``j ≤ i ≤ j + k - 1`` else 0: step ``t`` sees inputs ``t-k+1 … t``. During training
    the mask is blended in progressively, ``M_k(λ) = λ·M_k + (1 - λ)·J`` (``J`` all ones); for ``λ ≥ 1`` it is
    ``M_k`` exactly. λ is the 0-dim buffer ``_lambda_`` (saved in the state dict, as in SpikingJelly), read and
    set through :attr:`lambda_`. The PSN paper's schedule (``sequential_cifar/train_secf10.py``) sets, at the
    start of every epoch, ``λ = min(8·epoch/(epochs-1), 1)``: see :func:`masked_psn_lambda` and
    :func:`set_masked_psn_lambda`. Evaluate / deploy with ``λ = 1``.

    ``step_mode='s'`` (online inference, one ``[B, ...]`` step per call) needs ``λ ≥ 1`` and keeps a queue of
    the last ``k`` inputs; it is checked once per sequence (one host read of λ at the first step).
    """

    def __init__(
        self,
        k: int,
        T: int,
        lambda_init: float = 0.0,
        surrogate: Optional[Surrogate] = None,
        step_mode: str = "m",
    ) -> None:
        if not 1 <= int(k):
            raise ValueError(f"MaskedPSN order k must be >= 1, got {k}")
        super().__init__(T, surrogate)
        self.k = int(k)
        self.step_mode = check_step_mode(step_mode)
        self.register_buffer("_lambda_", torch.as_tensor(float(lambda_init)))
        ones = torch.ones(self.T, self.T)
        self.register_buffer("mask0", torch.tril(ones) * torch.triu(ones, -(self.k - 1)))
        self.register_buffer("mask1", ones)
        self._queue: list[torch.Tensor] = []
        self._time_step = 0

    @property
    def lambda_(self) -> torch.Tensor:
        """λ of the progressive masking (0-dim tensor buffer)."""
        return self._lambda_

    @lambda_.setter
    def lambda_(self, value: float | torch.Tensor) -> None:
        self._lambda_.fill_(value)

    def reset(self) -> None:
        """Forget the single-step queue and step counter."""
        self._queue = []
        self._time_step = 0

    def effective_weight(self) -> torch.Tensor:
        """``W ⊙ M_k(λ)``; λ is clamped at 1 on the device, so ``λ ≥ 1`` gives ``W ⊙ M_k`` without a host sync."""
        lam = self._lambda_.clamp(max=1.0)
        return (lam * self.mask0 + (1.0 - lam) * self.mask1) * self.weight

    def masked_weight(self) -> torch.Tensor:
        """SpikingJelly's name for :meth:`effective_weight`."""
        return self.effective_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self.single_step(x)
        return super().forward(x)

    def single_step(self, x: torch.Tensor) -> torch.Tensor:
        """One step ``[B, ...]`` of online inference (requires ``λ ≥ 1``; at most ``T`` steps per sequence)."""
        t = self._time_step
        if t == 0 and bool(self._lambda_ < 1.0):
            raise ValueError(f"MaskedPSN can run single-step only with lambda_ >= 1 (the final mask), got {self._lambda_}")
        if t >= self.T:
            raise OverflowError(f"MaskedPSN(T={self.T}) has already run {t} single steps; call reset()")
        self._queue = (self._queue + [x])[-self.k :]
        window = len(self._queue)
        w = _as_dtype(self.effective_weight()[t, t + 1 - window : t + 1], x)
        h = (w.view(window, *([1] * x.dim())) * torch.stack(self._queue)).sum(0) + _as_dtype(self.bias[t], x)
        self._time_step = t + 1
        return _heaviside_or_surrogate(h, self.surrogate)

    def extra_repr(self) -> str:
        return f"k={self.k}, T={self.T}, lambda_={float(self._lambda_):g}, step_mode={self.step_mode!r}"


class SlidingPSN(SpikingNeuron):
    """Sliding PSN of order ``k``: ``H[t] = Σ_{i<k} W_i · X[t-k+1+i]``, ``S[t] = heaviside(H[t] + bias)``.

    ``W ∈ R^k`` and the scalar ``bias`` are shared over time and neurons (``k + 1`` parameters); works for any
    number of steps. ``exp_init=True`` initialises ``W = (…, 1/4, 1/2, 1)`` (the current input weighs 1),
    otherwise Kaiming uniform (a=√5) as SpikingJelly. Multi-step builds the ``T×T`` band (Toeplitz) matrix and
    applies one matrix product; single-step keeps a queue of the last ``k`` inputs.
    """

    has_leak = False
    has_reset = False

    def __init__(
        self, k: int, exp_init: bool = True, surrogate: Optional[Surrogate] = None, step_mode: str = "m"
    ) -> None:
        super().__init__()
        if not 1 <= int(k):
            raise ValueError(f"SlidingPSN order k must be >= 1, got {k}")
        self.k = int(k)
        self.exp_init = bool(exp_init)
        self.step_mode = check_step_mode(step_mode)
        self.surrogate = surrogate if surrogate is not None else ATan(alpha=2.0)
        self.weight = nn.Parameter(torch.empty(self.k))
        self.bias = nn.Parameter(torch.as_tensor(-1.0))
        self.reset_parameters()
        self._queue: list[torch.Tensor] = []

    def reset_parameters(self) -> None:
        """``exp_init``: ``W_i = 2^-(k-1-i)``; else Kaiming uniform (a=√5) over fan-in k. ``bias = -1``."""
        with torch.no_grad():
            if self.exp_init:
                self.weight.copy_(torch.pow(2.0, -torch.arange(self.k - 1, -1, -1, dtype=torch.float64)))
            else:
                w = torch.empty(1, self.k)
                nn.init.kaiming_uniform_(w, a=math.sqrt(5))
                self.weight.copy_(w[0])
            self.bias.fill_(-1.0)

    def reset(self) -> None:
        """Forget the single-step queue."""
        self._queue = []

    def effective_weight(self, T: int) -> torch.Tensor:
        """The ``T×T`` band matrix: row ``t`` holds ``W[k-n:]`` at columns ``t-n+1 … t`` (``n = min(k, t+1)``)."""
        steps = torch.arange(T, device=self.weight.device)
        lag = steps.unsqueeze(1) - steps.unsqueeze(0)  # t - j
        inside = (lag >= 0) & (lag < self.k)
        gathered = self.weight[(self.k - 1 - lag).clamp(0, self.k - 1)]
        return torch.where(inside, gathered, torch.zeros((), dtype=self.weight.dtype, device=self.weight.device))

    def gen_gemm_weight(self, T: int) -> torch.Tensor:
        """SpikingJelly's name for :meth:`effective_weight`."""
        return self.effective_weight(T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self.single_step(x)
        return self.multi_step(x)

    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        """A whole sequence ``[T, B, ...]`` (any T)."""
        _check_sequence(self, x_seq, None)
        weight = _as_dtype(self.effective_weight(x_seq.shape[0]), x_seq)
        h = torch.addmm(_as_dtype(self.bias, x_seq), weight, x_seq.flatten(1))
        return _heaviside_or_surrogate(h, self.surrogate).view(x_seq.shape)

    def single_step(self, x: torch.Tensor) -> torch.Tensor:
        """One step ``[B, ...]``; the last ``k`` inputs are kept until :meth:`reset`."""
        self._queue = (self._queue + [x])[-self.k :]
        window = len(self._queue)
        w = _as_dtype(self.weight[self.k - window :], x)
        h = (w.view(window, *([1] * x.dim())) * torch.stack(self._queue)).sum(0) + _as_dtype(self.bias, x)
        return _heaviside_or_surrogate(h, self.surrogate)

    def extra_repr(self) -> str:
        return f"k={self.k}, exp_init={self.exp_init}, step_mode={self.step_mode!r}"


def masked_psn_lambda(epoch: int, epochs: int, ramp: float = 8.0) -> float:
    """λ of the PSN paper's progressive masking at ``epoch`` (0-based) of ``epochs``: ``min(ramp·epoch/(epochs-1), 1)``.

    With the official ``ramp = 8`` the mask is fully applied after 1/8 of training (``train_secf10.py``).
    """
    if epochs <= 1:
        return 1.0
    return min(ramp * epoch / (epochs - 1), 1.0)


def set_masked_psn_lambda(model: nn.Module, value: float) -> int:
    """Set λ on every masked PSN in ``model`` (ours and SpikingJelly's ``MaskedPSN``); returns how many."""
    count = 0
    for m in model.modules():
        if isinstance(m, MaskedPSN) or (type(m).__name__ == "MaskedPSN" and hasattr(m, "lambda_")):
            m.lambda_ = value
            count += 1
    return count
