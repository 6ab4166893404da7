"""Multi-step integrate-and-fire neurons on ``[T, B, ...]`` tensors: IF, LIF and parametric LIF.

The dynamics follow SpikingJelly's ``activation_based`` neurons (the code the zoo's papers used):

    charge:  H[t] = f(V[t-1], X[t])
    fire:    S[t] = heaviside(H[t] - v_threshold)           (spike when H >= threshold)
    reset:   hard  V[t] = S·v_reset + (1 - S)·H              (v_reset is a float)
             soft  V[t] = H - S·v_threshold                  (v_reset is None)

with ``S`` detached in the reset when ``detach_reset`` is set. The membrane ``v`` is kept between calls
until :meth:`BaseNeuron.reset` (or :func:`snnenergy.neurons.reset_net`) is called; it starts at ``v_reset``
(0 for a soft reset), takes the dtype and device of the input, and starts again from rest when the input
shape changes.

Two equivalent code paths: with autograd (the same operations as SpikingJelly's torch backend, so the
surrogate gradients match) and, when no gradient is needed, a lean in-place loop that writes the spikes
straight into the output and reuses two membrane buffers. Both give bit-identical spikes and membranes.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from .base import SpikingNeuron, check_step_mode
from .surrogate import Sigmoid, Surrogate


class BaseNeuron(SpikingNeuron):
    """Common state handling and the fire/reset steps of the membrane-potential neurons.

    ``step_mode='m'`` (default) takes ``[T, B, ...]`` and loops over T inside; ``step_mode='s'`` takes one
    time step ``[B, ...]`` per call and keeps the membrane between calls. Subclasses define :meth:`charge`
    (autograd-safe, returns a new tensor) and may define :meth:`charge_into` for the in-place fast path.
    """

    #: whether the membrane leaks (used by energy level 2: a leak costs one multiplication)
    has_leak: bool = True

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        detach_reset: bool = False,
        surrogate: Optional[Surrogate] = None,
        step_mode: str = "m",
    ) -> None:
        super().__init__()
        self.step_mode = check_step_mode(step_mode)
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.detach_reset = bool(detach_reset)
        self.surrogate = surrogate if surrogate is not None else Sigmoid(alpha=4.0)
        self.v: torch.Tensor | float = self._v_init()

    # ----------------------------------------------------------------- state
    def _v_init(self) -> float:
        return 0.0 if self.v_reset is None else self.v_reset

    @property
    def v_rest(self) -> float:
        """The potential the leak pulls towards: ``v_reset``, or 0 for a soft reset."""
        return 0.0 if self.v_reset is None else self.v_reset

    def reset(self) -> None:
        """Forget the membrane potential (start of a new sample sequence)."""
        self.v = self._v_init()

    def _initial_v(self, like: torch.Tensor) -> torch.Tensor:
        v = self.v
        if isinstance(v, torch.Tensor) and v.shape == like.shape:
            return v if (v.dtype == like.dtype and v.device == like.device) else v.to(like)
        return torch.full_like(like, self._v_init())

    # ---------------------------------------------------------------- charge
    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """``H[t]`` from the input ``X[t]`` and the membrane ``V[t-1]`` (a new tensor, autograd-safe)."""
        raise NotImplementedError

    def charge_into(self, x: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> Optional[torch.Tensor]:
        """Write ``H[t]`` into ``out`` with in-place ops (no autograd); ``None`` if a subclass lacks it."""
        return None

    # --------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self.single_step(x)
        return self.multi_step(x)

    def single_step(self, x: torch.Tensor) -> torch.Tensor:
        """One time step ``[B, ...]``; the membrane is kept for the next call."""
        return self.multi_step(x.unsqueeze(0))[0]

    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        """A whole sequence ``[T, B, ...]``; returns the spikes ``[T, B, ...]`` in the input dtype."""
        if x_seq.dim() < 2:
            raise ValueError(
                f"{type(self).__name__} in multi-step mode expects [T, B, ...], got shape {tuple(x_seq.shape)}"
            )
        v = self._initial_v(x_seq[0])
        if self._needs_grad(x_seq, v):
            spikes, v = self._loop_autograd(x_seq, v)
        else:
            spikes, v = self._loop_inplace(x_seq, v)
        self.v = v
        return spikes

    def _needs_grad(self, x: torch.Tensor, v: torch.Tensor) -> bool:
        if not torch.is_grad_enabled():
            return False
        if x.requires_grad or v.requires_grad:
            return True
        return any(p.requires_grad for p in self.parameters(recurse=False))

    def _loop_autograd(self, x_seq: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spikes = []
        threshold, v_reset = self.v_threshold, self.v_reset
        for x in x_seq:
            h = self.charge(x, v)
            spike = self.surrogate(h - threshold)
            spikes.append(spike)
            s = spike.detach() if self.detach_reset else spike
            v = h - s * threshold if v_reset is None else s * v_reset + (1.0 - s) * h
        return torch.stack(spikes), v

    @torch.no_grad()
    def _loop_inplace(self, x_seq: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        threshold, v_reset = self.v_threshold, self.v_reset
        out = torch.empty_like(x_seq)
        h_buf = torch.empty_like(v)
        owned = False  # the first v is the caller's state: never written in place
        for t in range(x_seq.shape[0]):
            h = self.charge_into(x_seq[t], v, h_buf)
            if h is None:  # a subclass without an in-place charge
                h = self.charge(x_seq[t], v).clone()
            s = torch.ge(h, threshold, out=out[t])
            # s is exactly 0 or 1, so these give the same values as the autograd formulas
            if v_reset is None:
                h.sub_(s, alpha=threshold)
            else:
                h.addcmul_(h, s, value=-1.0)
                if v_reset != 0.0:
                    h.add_(s, alpha=v_reset)
            v, h_buf = h, (v if owned else torch.empty_like(h))
            owned = True
        return out, v

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
            f"step_mode={self.step_mode!r}"
        )


class IF(BaseNeuron):
    """Integrate-and-fire: ``H = V + X`` (SpikingJelly ``IFNode``)."""

    has_leak = False

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return v + x

    def charge_into(self, x: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return torch.add(v, x, out=out)


def _leak_into(
    x: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    rest: float,
    decay_input: bool,
    scale: float | torch.Tensor,
    divide: bool,
) -> torch.Tensor:
    """Write the leaky charge into ``out`` in place, in SpikingJelly's operation order (bit-identical values).

    ``decay_input``:  ``V + (X - (V - rest)) ∘ scale``;  otherwise ``V - (V - rest) ∘ scale + X``,
    where ``∘`` is ``/`` when ``divide`` (LIF's tau) and ``*`` otherwise (PLIF's sigmoid(w)).
    ``V - 0.0`` is exactly ``V``, so the subtraction is skipped when ``rest == 0``.
    """
    if decay_input:
        if rest == 0.0:
            torch.sub(x, v, out=out)
        else:
            torch.sub(x, torch.sub(v, rest, out=out), out=out)
        out.div_(scale) if divide else out.mul_(scale)
        return out.add_(v)
    if rest == 0.0:
        torch.div(v, scale, out=out) if divide else torch.mul(v, scale, out=out)
    else:
        torch.sub(v, rest, out=out)
        out.div_(scale) if divide else out.mul_(scale)
    torch.sub(v, out, out=out)
    return out.add_(x)


class LIF(BaseNeuron):
    """Leaky integrate-and-fire with time constant ``tau`` (SpikingJelly ``LIFNode``).

    ``decay_input=True``:  ``H = V + (X - (V - V_reset)) / tau``
    ``decay_input=False``: ``H = V - (V - V_reset) / tau + X``   (``V_reset`` read as 0 for a soft reset)
    """

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        detach_reset: bool = False,
        surrogate: Optional[Surrogate] = None,
        step_mode: str = "m",
    ) -> None:
        if not tau > 1.0:
            raise ValueError(f"LIF tau must be > 1 (membrane time constant), got {tau}")
        super().__init__(v_threshold, v_reset, detach_reset, surrogate, step_mode)
        self.tau = float(tau)
        self.decay_input = bool(decay_input)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        rest = self.v_rest
        if self.decay_input:
            return v + (x - (v - rest)) / self.tau
        return v - (v - rest) / self.tau + x

    def charge_into(self, x: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return _leak_into(x, v, out, self.v_rest, self.decay_input, self.tau, divide=True)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, decay_input={self.decay_input}, " + super().extra_repr()


class ParametricLIF(BaseNeuron):
    """LIF with a learnable time constant (PLIF, Fang et al. 2021; SpikingJelly ``ParametricLIFNode``).

    ``1/tau = sigmoid(w)`` with one scalar parameter ``w`` per layer, initialised to ``-log(init_tau - 1)``
    (``w = 0`` for ``init_tau = 2``):

    ``decay_input=True``:  ``H = V + (X - (V - V_reset)) · sigmoid(w)``
    ``decay_input=False``: ``H = V - (V - V_reset) · sigmoid(w) + X``
    """

    def __init__(
        self,
        init_tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        detach_reset: bool = False,
        surrogate: Optional[Surrogate] = None,
        step_mode: str = "m",
    ) -> None:
        if not init_tau > 1.0:
            raise ValueError(f"ParametricLIF init_tau must be > 1 (membrane time constant), got {init_tau}")
        super().__init__(v_threshold, v_reset, detach_reset, surrogate, step_mode)
        self.decay_input = bool(decay_input)
        self.w = nn.Parameter(torch.as_tensor(-math.log(float(init_tau) - 1.0)))
        self._q: Optional[torch.Tensor] = None

    @property
    def tau(self) -> torch.Tensor:
        """The current time constant ``1 / sigmoid(w)`` (a 0-dim tensor, no graph)."""
        return 1.0 / self.w.detach().sigmoid()

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q = self.w.sigmoid()
        rest = self.v_rest
        if self.decay_input:
            return v + (x - (v - rest)) * q
        return v - (v - rest) * q + x

    def charge_into(self, x: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        q = self._q if self._q is not None else self.w.sigmoid()
        return _leak_into(x, v, out, self.v_rest, self.decay_input, q, divide=False)

    @torch.no_grad()
    def _loop_inplace(self, x_seq: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._q = self.w.sigmoid()  # once per sequence, not once per step
        try:
            return super()._loop_inplace(x_seq, v)
        finally:
            self._q = None

    def extra_repr(self) -> str:
        tau = float(self.tau)
        return f"tau={tau:.4g} (learnable), decay_input={self.decay_input}, " + super().extra_repr()
