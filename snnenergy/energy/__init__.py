"""Theoretical energy from counts: presets (45 nm and others), levels, ANN counterpart, break-even rate."""
from .model import EnergyReport, estimate_energy
from .presets import PRESETS, EnergyPreset, EnergyTableError, get_preset, load_table

__all__ = ["EnergyReport", "estimate_energy", "PRESETS", "EnergyPreset", "EnergyTableError", "get_preset",
           "load_table"]
