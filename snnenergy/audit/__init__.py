"""Spike-driven audit (DESIGN §4): rules over the profiler's op records and provenance. Not implemented yet."""
