"""The zoo's one convention for event (DVS) input.

Every event model takes frames in the official batch-first layout ``[B, T_in, 2, H, W]`` and runs
``model.time_steps`` steps. :func:`event_frames` turns the input into the time-major ``[T, B, 2, H, W]`` the
models compute on:

* ``T_in == time_steps``: a plain transpose, exactly the official code path (no copy, no arithmetic);
* ``T_in`` a multiple of ``time_steps``: consecutive groups of ``T_in / time_steps`` frames are summed into one
  step, so fewer steps (e.g. the ANN counterpart, ``time_steps = 1``) still see the whole event stream once;
* anything else is an error.
"""
from __future__ import annotations

import torch

__all__ = ["event_frames", "EVENT_INPUT_NOTE"]

#: the sentence every event model's card notes carry about this convention
EVENT_INPUT_NOTE = (
    "Event input [B, T_in, 2, H, W] (official layout): T_in = time_steps runs the official path (a transpose to "
    "[T, B, ...]); T_in a multiple of time_steps is summed into time_steps bins of consecutive frames (so the "
    "ANN counterpart, T=1, sees all frames summed into one); any other T_in raises "
    "(snnenergy.models.events.event_frames)."
)


def event_frames(x: torch.Tensor, time_steps: int) -> torch.Tensor:
    """Event frames ``[B, T_in, C, H, W]`` (official layout) -> ``[time_steps, B, C, H, W]``.

    ``T_in == time_steps`` returns ``x.transpose(0, 1)`` unchanged (bit-identical to the official models);
    ``T_in = k · time_steps`` sums each run of ``k`` consecutive frames into one step (step ``t`` holds frames
    ``t·k .. t·k + k - 1``). Raises ``ValueError`` for a tensor that is not 5-d, a ``time_steps`` below 1, or a
    ``T_in`` that is not a positive multiple of ``time_steps``.
    """
    if x.dim() != 5:
        raise ValueError(
            f"event input must be [B, T, C, H, W] frames (the official layout), got shape {tuple(x.shape)}"
        )
    time_steps = int(time_steps)
    if time_steps < 1:
        raise ValueError(f"time_steps must be >= 1 to bin event frames, got {time_steps}")
    t_in = x.shape[1]
    if t_in == time_steps:
        return x.transpose(0, 1)
    if t_in < time_steps or t_in % time_steps:
        raise ValueError(
            f"event input has T_in={t_in} frames but the model runs time_steps={time_steps}: T_in must equal "
            f"time_steps or be a multiple of it (frames are summed into time_steps bins). Pass "
            f"[B, {time_steps}, C, H, W] (or [B, k*{time_steps}, C, H, W]), or create the model with "
            f"time_steps={t_in} or a divisor of it"
        )
    x = x.transpose(0, 1)
    return x.reshape(time_steps, t_in // time_steps, *x.shape[1:]).sum(1)
