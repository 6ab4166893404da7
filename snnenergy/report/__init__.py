"""The report stage: the Report object, its tables, serialisation and renderings."""
from .report import Report, atomic_write

__all__ = ["Report", "atomic_write"]
