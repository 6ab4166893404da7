"""The top-level API: :func:`profile` composes the profiler (counts) and the report (tables, energy)."""
from __future__ import annotations

from .profiler.api import profile

__all__ = ["profile"]
