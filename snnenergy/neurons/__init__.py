"""Spiking neurons: multi-step LIF/IF/PLIF, the PSN family, surrogate gradients and a reset helper.

Every neuron layer derives from :class:`SpikingNeuron`; the membrane-potential neurons (IF, LIF, PLIF) from
its subclass :class:`BaseNeuron`.
"""
from .base import SpikingNeuron
from .lif import IF, LIF, BaseNeuron, ParametricLIF
from .psn import PSN, MaskedPSN, SlidingPSN, masked_psn_lambda, set_masked_psn_lambda
from .reset import reset_net
from .surrogate import ATan, Sigmoid, Surrogate

__all__ = [
    "SpikingNeuron",
    "BaseNeuron",
    "LIF",
    "IF",
    "ParametricLIF",
    "PSN",
    "MaskedPSN",
    "SlidingPSN",
    "masked_psn_lambda",
    "set_masked_psn_lambda",
    "Surrogate",
    "Sigmoid",
    "ATan",
    "reset_net",
]
