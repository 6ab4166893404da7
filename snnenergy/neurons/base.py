"""The marker base class shared by every spiking neuron layer of snnenergy."""
from __future__ import annotations

from torch import nn

STEP_MODES = ("m", "s")


def check_step_mode(step_mode: str) -> str:
    """Validate a step mode: ``'m'`` (multi-step ``[T, B, ...]``) or ``'s'`` (one step ``[B, ...]`` per call)."""
    if step_mode not in STEP_MODES:
        raise ValueError(f"step_mode must be 'm' (multi-step [T, B, ...]) or 's' (single step), got {step_mode!r}")
    return step_mode


class SpikingNeuron(nn.Module):
    """Base of every spiking neuron layer (LIF family and PSN family).

    ``isinstance(m, SpikingNeuron)`` is how the rest of the toolkit recognises our neuron layers. Subclasses
    override :meth:`reset` when they keep state between calls, and declare two class attributes used by the
    energy model's neuron-update level:

    * ``has_leak``: the membrane decays every step (one multiplication per neuron per step);
    * ``has_reset``: a spike resets the membrane (one update per spike).
    """

    has_leak: bool = True
    has_reset: bool = True
    step_mode: str = "m"

    def reset(self) -> None:
        """Forget every state kept between calls (start of a new sample sequence); stateless neurons keep this."""
