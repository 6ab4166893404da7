"""Loading official (or user) checkpoints into zoo models with strict, explained key matching."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn


class CheckpointMismatchError(KeyError):
    """Raised when a checkpoint's keys or shapes do not match the model."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


@dataclass
class LoadResult:
    """What :func:`load_checkpoint` did: loaded keys and documented unused keys it skipped."""

    loaded: list[str] = field(default_factory=list)
    skipped_unused: list[str] = field(default_factory=list)


_WRAPPER_KEYS = ("state_dict", "model", "model_ema", "module", "net")


def _unwrap(obj: Any) -> Mapping[str, torch.Tensor]:
    """Take the state dict out of the usual training-checkpoint wrappers; strip ``module.`` prefixes."""
    if isinstance(obj, Mapping):
        for k in _WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], Mapping) and not isinstance(obj[k], torch.Tensor):
                return _unwrap(obj[k])
        if obj and all(isinstance(k, str) and k.startswith("module.") for k in obj):
            return {k[len("module."):]: v for k, v in obj.items()}
        return obj
    raise TypeError(f"a checkpoint must be a state dict (mapping of names to tensors), got {type(obj).__name__}")


def load_checkpoint(
    model: nn.Module,
    checkpoint: str | os.PathLike | Mapping[str, Any],
    unused_keys: list[str] | None = None,
    key_map: Mapping[str, str] | None = None,
) -> LoadResult:
    """Load ``checkpoint`` (a path or a state dict) into ``model``, strictly.

    Every entry of the model's state dict must be present with the same shape. Checkpoint entries the
    model does not have are allowed only if they match the documented ``unused_keys`` (taken from
    ``model.model_card`` when not given); they are skipped and reported. Anything else raises
    :class:`CheckpointMismatchError` listing the missing, unexpected and mis-shaped keys.
    ``key_map`` renames checkpoint keys (official name -> our name) before matching.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        if not os.path.exists(checkpoint):
            raise FileNotFoundError(f"checkpoint file not found: {checkpoint}")
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = dict(_unwrap(checkpoint))
    if key_map:
        state = {key_map.get(k, k): v for k, v in state.items()}
    if unused_keys is None:
        card = getattr(model, "model_card", None)
        unused_keys = list(getattr(card, "unused_keys", []) or [])

    own = model.state_dict()
    missing = [k for k in own if k not in state]
    skipped = [k for k in state if k not in own and any(fnmatch.fnmatchcase(k, p) for p in unused_keys)]
    unexpected = [k for k in state if k not in own and k not in skipped]
    bad_shape = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or bad_shape:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {missing}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {unexpected}")
        if bad_shape:
            parts.append(f"shape mismatches ({len(bad_shape)}): {bad_shape}")
        raise CheckpointMismatchError(
            "checkpoint does not match the model: " + "; ".join(parts)
            + ". Is it the checkpoint of this exact config (depth, width, dataset)?"
        )
    model.load_state_dict({k: state[k] for k in own}, strict=True)
    return LoadResult(loaded=list(own), skipped_unused=skipped)
