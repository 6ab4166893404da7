"""Operand kinds, decided per call on the actual values, without host synchronisation.

Each call's operand is summarised on the device by its ``min`` and ``max`` and figures of its fractional parts
that are all zero iff every value is integral: their min and max, or, where the operand's nonzeros and Σ|x|
are reduced anyway, the sum of the fractional parts of |x| per part, from the same reduction. They are read
in the session's single host copy and turned into a kind code there by :func:`kind_code`:

====  =========  =====================================================
code  kind       values
====  =========  =====================================================
0     binary     every value in {0, 1} (bool included)
1     ternary    values in {-1, 0, 1} with at least one -1
2     integer    all values integral, some outside {-1, 0, 1}
3     real       anything else (a NaN included)
4     weight     a parameter/buffer operand (the other side of a weight layer)
====  =========  =====================================================
"""
from __future__ import annotations

BINARY, TERNARY, INTEGER, REAL, WEIGHT = 0, 1, 2, 3, 4
KIND_NAMES = ("binary", "ternary", "integer", "real", "weight")
N_KINDS = 5
SPIKE_KINDS = (BINARY, TERNARY)


def kind_code(mn: float, mx: float, *fractional: float) -> int:
    """Kind code of an operand from its value range and figures of its fractional parts that are all zero
    exactly when every value is integral (their min and max, or sums of the fractional parts of |x|)."""
    for f in fractional:
        if not f == 0:  # a NaN compares unequal: real
            return REAL
    if mx <= 1 and mn >= 0:
        return BINARY
    if mx <= 1 and mn >= -1:
        return TERNARY
    return INTEGER
