"""Input validation with errors that say what is wrong and what would be right."""
from __future__ import annotations

from typing import Sequence

import torch


def _fmt(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("*" if s is None or s == -1 else str(s) for s in shape) + ")"


def _shape_matches(actual: Sequence[int], expected: Sequence[int | None]) -> bool:
    return len(actual) == len(expected) and all(e is None or e == -1 or a == e for a, e in zip(actual, expected))


def check_input(
    x: torch.Tensor,
    expected_shape: Sequence[int | None] | None = None,
    name: str = "input",
    require_float: bool = True,
) -> torch.Tensor:
    """Validate a batch ``x`` and return it unchanged.

    ``expected_shape`` is the shape of one sample without the batch dimension, e.g. ``(3, 224, 224)`` or
    ``(T, 2, 128, 128)`` for events; ``None`` (or -1) entries match any size. Raises ``TypeError`` for a
    non-tensor and ``ValueError`` for an empty tensor, a non-floating dtype (when ``require_float``), a shape
    that does not match, or NaN/Inf values, naming the problem and what was expected.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if expected_shape is not None:
        expected = tuple(expected_shape)
        want = f"[B, {_fmt(expected)[1:-1]}] (a batch of samples of shape {_fmt(expected)})"
        if not _shape_matches(tuple(x.shape[1:]), expected):
            hint = ""
            if _shape_matches(tuple(x.shape), expected):
                hint = "; it looks like one sample without the batch dimension: add it with x.unsqueeze(0)"
            raise ValueError(f"{name} has shape {list(x.shape)}; expected {want}{hint}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {list(x.shape)}); expected at least one sample")
    if require_float and not x.is_floating_point():
        raise ValueError(
            f"{name} has dtype {x.dtype}; expected a floating-point tensor (torch.float32 or float64), "
            "e.g. x.float()"
        )
    if x.is_floating_point() or x.is_complex():
        finite = torch.isfinite(x)
        if not bool(finite.all()):
            n_nan = int(torch.isnan(x).sum())
            n_inf = int(x.numel() - finite.sum()) - n_nan
            first = [int(i) for i in (~finite).nonzero()[0]]
            raise ValueError(
                f"{name} contains {n_nan} NaN and {n_inf} Inf value(s) (first at index {first}); "
                "expected finite values"
            )
    return x
