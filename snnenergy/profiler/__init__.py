"""Op interception, operand classification, provenance and streaming accumulators."""
from .api import profile
from .neurons import register_neuron, unregister_neuron

__all__ = ["profile", "register_neuron", "unregister_neuron"]
