"""Loading official (or user) checkpoints into zoo models with strict, explained key matching.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors, containers and plain Python values only,
no code. The official training scripts also store a few harmless objects beside the weights (the
``argparse.Namespace`` of the run's arguments, NumPy scalars such as a best accuracy, paths); those types are
allowed by name in :data:`SAFE_CHECKPOINT_TYPES`. Anything else is refused unless ``trust=True``.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import pathlib
import pickle
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn


class CheckpointMismatchError(KeyError):
    """Raised when a checkpoint's keys or shapes do not match the model."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


class CheckpointReadError(ValueError):
    """Raised when a file cannot be read as a checkpoint (corrupt, empty, not a checkpoint, unsafe types)."""


@dataclass
class LoadResult:
    """What :func:`load_checkpoint` did: loaded keys and documented unused keys it skipped."""

    loaded: list[str] = field(default_factory=list)
    skipped_unused: list[str] = field(default_factory=list)


#: Keys under which training scripts store the weights: timm's CheckpointSaver (``state_dict``,
#: ``state_dict_ema``), the MAE / DeiT-style scripts (``model``, ``model_ema``), SpikingJelly's examples
#: (``net``), DataParallel-era scripts (``module``).
WRAPPER_KEYS = ("state_dict", "model", "module", "net", "state_dict_ema", "model_ema")
_SHOWN = 3  # keys listed per kind of mismatch


def _numpy_types() -> list[Any]:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with torch
        return []
    try:
        from numpy._core.multiarray import _reconstruct, scalar  # numpy >= 2
    except ImportError:  # pragma: no cover
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in ("float64", "float32", "float16", "int64", "int32", "int8",
                                                   "uint8", "bool")]
    return [scalar, _reconstruct, np.ndarray, np.dtype, *dtype_classes]


#: Non-tensor types the official training checkpoints contain, allowed for ``weights_only`` loading.
SAFE_CHECKPOINT_TYPES: list[Any] = [argparse.Namespace, pathlib.PosixPath, pathlib.WindowsPath,
                                    pathlib.PurePosixPath, pathlib.PureWindowsPath, *_numpy_types()]


def read_checkpoint(path: str | os.PathLike, trust: bool = False) -> Any:
    """The object stored in ``path`` (``torch.load`` on the CPU), with one-line errors for unreadable files.

    ``trust=False`` (default) loads with ``weights_only=True`` and :data:`SAFE_CHECKPOINT_TYPES` allowed;
    ``trust=True`` runs the full unpickler (arbitrary code: only for files you trust) after a warning.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if os.path.isdir(path):
        raise CheckpointReadError(f"checkpoint {path} is a directory; expected a .pth/.pt file")
    if os.path.getsize(path) == 0:
        raise CheckpointReadError(f"checkpoint {path} is empty (0 bytes)")
    if trust:
        warnings.warn(f"loading {path} with the full unpickler (trust_checkpoint): it can run any code it holds",
                      stacklevel=3)
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:
            raise CheckpointReadError(f"cannot read checkpoint {path}: {_first_line(e)}") from e
    try:
        with torch.serialization.safe_globals(SAFE_CHECKPOINT_TYPES):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" in str(e) or "weights_only" in str(e):
            unsafe = _unsafe_globals(path)
            if unsafe:
                raise CheckpointReadError(
                    f"checkpoint {path} holds objects that are not weights ({', '.join(unsafe[:4])}); "
                    "if you trust the file, load it with --trust-checkpoint (load_checkpoint(..., trust=True))"
                ) from e
        raise _unreadable(path, e) from e
    except Exception as e:  # torch raises RuntimeError, EOFError, ... for truncated or foreign files
        raise _unreadable(path, e) from e


def _unreadable(path: str, e: BaseException) -> CheckpointReadError:
    return CheckpointReadError(f"{path} is not a PyTorch checkpoint, or is truncated or corrupted "
                               f"({_first_line(e)}); expected a file written by torch.save")


def _unsafe_globals(path: str) -> list[str]:
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        return []
    allowed = {f"{t.__module__}.{t.__qualname__}" for t in SAFE_CHECKPOINT_TYPES if hasattr(t, "__qualname__")}
    return [g for g in found if g not in allowed]


def _first_line(e: BaseException) -> str:
    """The exception's type and first sentence."""
    text = str(e).strip().splitlines()
    first = text[0].split(". ")[0].rstrip(".") if text else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _unwrap(obj: Any) -> Mapping[str, torch.Tensor]:
    """Take the state dict out of the usual training-checkpoint wrappers; strip ``module.`` prefixes."""
    if isinstance(obj, Mapping):
        for k in WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], Mapping):
                return _unwrap(obj[k])
        if not obj or not any(isinstance(v, torch.Tensor) for v in obj.values()):
            keys = ", ".join(map(str, list(obj)[:6])) or "none"
            raise CheckpointReadError(
                f"the checkpoint holds no weights: a dict with keys {keys}; expected a state dict, or one under "
                f"one of {', '.join(WRAPPER_KEYS)}"
            )
        if all(isinstance(k, str) and k.startswith("module.") for k in obj):
            return {k[len("module."):]: v for k, v in obj.items()}
        return obj
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    raise CheckpointReadError(
        f"a checkpoint must hold a state dict (mapping of names to tensors), got {type(obj).__name__}")


def load_checkpoint(
    model: nn.Module,
    checkpoint: str | os.PathLike | Mapping[str, Any],
    unused_keys: list[str] | None = None,
    key_map: Mapping[str, str] | None = None,
    trust: bool = False,
) -> LoadResult:
    """Load ``checkpoint`` (a path or a state dict) into ``model``, strictly.

    Every entry of the model's state dict must be present with the same shape. Checkpoint entries the
    model does not have are allowed only if they match the documented ``unused_keys`` (taken from
    ``model.model_card`` when not given); they are skipped and reported. Anything else raises
    :class:`CheckpointMismatchError` with the counts of missing, unexpected and mis-shaped keys, the first
    few of each, and the zoo config whose keys and shapes the checkpoint matches, if one does.
    ``key_map`` renames checkpoint keys (official name -> our name) before matching. Files are read by
    :func:`read_checkpoint` (``trust`` as there); unreadable ones raise :class:`CheckpointReadError`.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = read_checkpoint(checkpoint, trust=trust)
    state = dict(_unwrap(checkpoint))
    if key_map:
        state = {key_map.get(k, k): v for k, v in state.items()}
    if unused_keys is None:
        card = getattr(model, "model_card", None)
        unused_keys = list(getattr(card, "unused_keys", []) or [])
    own = model.state_dict()
    missing, unexpected, bad_shape, skipped = compare_keys(own, state, unused_keys)
    if missing or unexpected or bad_shape:
        raise CheckpointMismatchError(_mismatch_message(model, state, missing, unexpected, bad_shape))
    model.load_state_dict({k: state[k] for k in own}, strict=True)
    return LoadResult(loaded=list(own), skipped_unused=skipped)


def compare_keys(own: Mapping[str, Any], state: Mapping[str, Any], unused_keys: list[str]
                 ) -> tuple[list[str], list[str], list[str], list[str]]:
    """``(missing, unexpected, mis-shaped, skipped-as-documented-unused)`` keys of ``state`` against ``own``."""
    missing = [k for k in own if k not in state]
    skipped = [k for k in state if k not in own and any(fnmatch.fnmatchcase(k, p) for p in unused_keys)]
    unexpected = [k for k in state if k not in own and k not in skipped]
    bad_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    return missing, unexpected, bad_shape, skipped


def _listing(what: str, keys: list[str]) -> str:
    more = f", … {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return f"{len(keys)} {what} ({', '.join(keys[:_SHOWN])}{more})"


def _mismatch_message(model: nn.Module, state: Mapping[str, Any], missing: list[str], unexpected: list[str],
                      bad_shape: list[str]) -> str:
    card = getattr(model, "model_card", None)
    label = card.name if card is not None else type(model).__name__
    parts = [_listing(what, keys) for what, keys in
             (("missing", missing), ("unexpected", unexpected), ("mis-shaped (checkpoint vs model)", bad_shape))
             if keys]
    text = f"checkpoint does not match {label}: " + "; ".join(parts) + "."
    matches = [n for n in matching_configs(state, getattr(card, "family", None)) if n != getattr(card, "name", None)]
    if matches:
        text += f" Its keys and shapes match {', '.join(matches[:3])}: use --model {matches[0]}."
    else:
        text += " Is it the checkpoint of this exact config (depth, width, dataset)?"
    return text


_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def parameter_count(state: Mapping[str, Any]) -> int:
    """Elements of the state dict's parameters (BatchNorm running statistics left out), the figure an
    official ``sum(p.numel() for p in model.parameters())`` gives."""
    return sum(int(v.numel()) for k, v in state.items()
               if hasattr(v, "numel") and not k.endswith(_BUFFER_SUFFIXES))


def matching_configs(state: Mapping[str, Any], family: str | None = None) -> list[str]:
    """Registered configs whose state dict has exactly the keys and shapes of ``state`` (documented unused
    keys allowed). Candidates are the configs of ``family`` and those whose card's official parameter count
    equals the checkpoint's; they are built on the ``meta`` device, so this allocates no weights."""
    from .registry import _REGISTRY, _ensure_loaded

    _ensure_loaded()
    shapes = {k: tuple(v.shape) for k, v in state.items() if hasattr(v, "shape")}
    n_params = parameter_count(state)
    out = []
    for name, entry in _REGISTRY.items():
        if entry.card.family != family and entry.card.official_params != n_params:
            continue
        try:
            with torch.device("meta"):
                own = entry.factory(**entry.card.config).state_dict()
        except Exception:  # a factory that cannot build on meta is simply not suggested
            continue
        if len(own) > len(shapes) or any(shapes.get(k) != tuple(v.shape) for k, v in own.items()):
            continue
        extra = [k for k in shapes if k not in own]
        if all(any(fnmatch.fnmatchcase(k, p) for p in entry.card.unused_keys) for k in extra):
            out.append(name)
    return out
