"""snnenergy: exact AC/MAC counts, firing rates, spike-driven audits and theoretical energy for SNNs.

Names are imported on first use (PEP 562), so that ``import snnenergy`` and the command line start fast.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "profile": ".api",
    "register_neuron": ".profiler",
    "Report": ".report",
    "create_model": ".models",
    "list_models": ".models",
    "model_card": ".models",
    "load_checkpoint": ".models",
    "dry_run": ".profiler.dry_run",
    "estimate": ".energy.replay",
    "compare_models": ".report.compare",
    "reproduce": ".report.reproduce",
    "profile_distributed": ".distributed",
}
_SUBPACKAGES = ("data", "models", "neurons", "profiler", "energy", "report", "audit")  # audit is callable

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'snnenergy' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBPACKAGES])
