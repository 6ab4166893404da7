"""Theoretical energy from counts: presets (45 nm, chips, user tables), levels 1-3, ANN and QNN counterparts,
per-term breakdown and break-even rates."""
from .memory import MemoryModel
from .model import INTEGER_AS, TERMS, EnergyReport, break_even_text, estimate_energy, rate_text
from .presets import PRESETS, EnergyPreset, EnergyTableError, get_preset, load_table
from .qnn import qnn_bits, qnn_costs
from .table import energy_table

__all__ = ["EnergyReport", "estimate_energy", "energy_table", "INTEGER_AS", "TERMS", "MemoryModel", "PRESETS",
           "EnergyPreset", "EnergyTableError", "get_preset", "load_table", "qnn_bits", "qnn_costs", "rate_text", "break_even_text"]
