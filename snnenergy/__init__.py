"""snnenergy: exact AC/MAC counts, firing rates, spike-driven audits and theoretical energy for SNNs."""
__version__ = "0.1.0"

from .profiler import profile, register_neuron  # noqa: E402
from .report import Report  # noqa: E402
from .models import create_model, list_models, load_checkpoint, model_card  # noqa: E402
from . import data  # noqa: E402,F401

__all__ = ["profile", "register_neuron", "Report", "create_model", "list_models", "model_card", "load_checkpoint",
           "__version__"]
