"""Op interception, operand classification, provenance and streaming accumulators.

:func:`run_profile` returns counts; :func:`snnenergy.profile` turns them into a report."""
from .api import ProfileRun, run_profile
from .neurons import register_neuron, unregister_neuron

__all__ = ["ProfileRun", "run_profile", "register_neuron", "unregister_neuron"]
