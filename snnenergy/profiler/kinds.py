"""Operand kinds, decided per call on the actual values, without host synchronisation.

A call's operand is summarised by device-side statistics (min, max, whether all values are integral); the
kind code is computed on the device too and only read when the report is built:

====  =========  =====================================================
code  kind       values
====  =========  =====================================================
0     binary     every value in {0, 1} (bool included)
1     ternary    values in {-1, 0, 1} with at least one -1
2     integer    all values integral, some outside {-1, 0, 1}
3     real       anything else
4     weight     a parameter/buffer operand (the other side of a weight layer)
====  =========  =====================================================
"""
from __future__ import annotations

import torch

BINARY, TERNARY, INTEGER, REAL, WEIGHT = 0, 1, 2, 3, 4
KIND_NAMES = ("binary", "ternary", "integer", "real", "weight")
N_KINDS = 5
SPIKE_KINDS = (BINARY, TERNARY)


def kind_name(code: int) -> str:
    return KIND_NAMES[code]


def operand_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(kind_code, min, max)`` of ``x`` as 0-dim device tensors (kind int64, min/max float64)."""
    if x.dtype == torch.bool:
        zero = torch.zeros((), dtype=torch.int64, device=x.device)
        if x.numel() == 0:
            return zero, zero.double(), zero.double()
        mn, mx = x.to(torch.uint8).aminmax()
        return zero, mn.double(), mx.double()
    if x.numel() == 0:
        z = torch.zeros((), dtype=torch.float64, device=x.device)
        return torch.zeros((), dtype=torch.int64, device=x.device), z, z
    mn, mx = x.aminmax()
    mn, mx = mn.double(), mx.double()
    if x.is_floating_point():
        # exact: every value is integral iff the fractional parts are all 0 (a NaN makes min/max NaN: real)
        fmin, fmax = torch.frac(x).aminmax()
        integral = (fmin == 0) & (fmax == 0)
    else:
        integral = torch.ones((), dtype=torch.bool, device=x.device)
    return classify(integral, mn, mx), mn, mx


def classify(integral: torch.Tensor, mn: torch.Tensor, mx: torch.Tensor) -> torch.Tensor:
    """Kind code from device flags (see module docstring)."""
    in_unit = integral & (mx <= 1)
    binary = in_unit & (mn >= 0)
    ternary = in_unit & (mn >= -1) & ~binary
    code = torch.where(integral, INTEGER, REAL)
    code = torch.where(ternary, TERNARY, code)
    return torch.where(binary, BINARY, code).to(torch.int64)
