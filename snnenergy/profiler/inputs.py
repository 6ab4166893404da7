"""What a profile is run on: checking the options and turning ``inputs`` into batches for the model's forward.

The rules (also in :func:`snnenergy.profile`'s docstring):

* A **batch** is a tensor, or a tuple/list ``(inputs..., extras...)``: the model's forward gets the first *k*
  tensors, *k* being the number of positional arguments its ``forward`` requires (at least 1); the extras
  (labels, indices) are ignored. A dict is refused (the forward gets tensors positionally).
* ``inputs`` is a tensor (one batch), a DataLoader or any iterable of batches, or a tuple/list of batches.
  A tuple/list is itself **one** batch when the forward takes *k* ≥ 2 tensors and it holds tensors only, or
  when it is ``(x, y)`` with ``y`` label-like: as many entries along its dim 0 as ``x`` has samples, and
  fewer dimensions than ``x`` (``[B]`` class indices, ``[B, classes]`` one-hot rows of image batches,
  ``[B, H, W]`` masks) or integer/bool values where ``x`` is floating. Otherwise each element is a batch
  (two float tensors with as many dims are two batches, even of different widths).
* ``batch_size`` splits every larger batch along ``batch_dim`` (all tensors of a batch alike).
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Iterable, Iterator

import torch
from torch import nn

Batch = tuple[torch.Tensor, ...]


def check_int_option(name: str, value: Any, minimum: int, example: str) -> None:
    """Refuse anything but an int ≥ ``minimum`` (bools included), in one line."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__}); e.g. {name}={example}")
    if value < minimum:
        what = "a positive int" if minimum == 1 else f"an int ≥ {minimum}"
        raise ValueError(f"{name} must be {what}, got {value}; e.g. {name}={example}")


_ARITY: dict[tuple, int] = {}  # (class, its forward) -> arity (signatures are slow to read)


def forward_arity(model: nn.Module) -> int:
    """How many tensors the model's forward takes: its required positional arguments, at least one.

    A forward replaced on the instance by a generic ``(*args, **kwargs)`` wrapper (an enclosing profile's)
    is read through to the class's ``forward``."""
    key = (type(model), getattr(type(model), "forward", None))
    if "forward" not in model.__dict__:
        arity = _ARITY.get(key)
        if arity is None:
            arity = _forward_arity(model)  # raises for a forward that cannot be profiled: nothing cached
            if len(_ARITY) > 1000:
                _ARITY.clear()
            _ARITY[key] = arity
        return arity
    return _forward_arity(model)


def _forward_arity(model: nn.Module) -> int:
    params = _parameters(model.forward)
    if params is not None and [p.kind for p in params] == [inspect.Parameter.VAR_POSITIONAL,
                                                           inspect.Parameter.VAR_KEYWORD]:
        cls_params = _parameters(getattr(type(model), "forward", None))
        params = cls_params[1:] if cls_params else params  # drop ``self``
    if params is None:
        return 1
    kw_only = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if kw_only:
        raise TypeError(
            f"{type(model).__name__}.forward requires keyword argument(s) {', '.join(kw_only)}; the profiler passes "
            "tensors positionally: profile a small wrapper module whose forward supplies them")
    required = [p for p in params
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    return max(1, len(required))


def _parameters(fn: Any) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None


def is_label_like(y: Any, x: torch.Tensor, batch_dim: int) -> bool:
    """``y`` looks like the labels of batch ``x``: one entry per sample of ``x`` along ``y``'s dim 0, and fewer
    dimensions than ``x`` or integer/bool values where ``x`` is floating (see the module docstring)."""
    if not (isinstance(y, torch.Tensor) and y.dim() >= 1 and batch_dim < x.dim()):
        return False
    if y.shape[0] != x.shape[batch_dim]:
        return False
    integral = not (y.is_floating_point() or y.is_complex())
    return y.dim() < x.dim() or (integral and x.is_floating_point())


def iter_batches(inputs: Any, arity: int, batch_dim: int, batch_size: int | None) -> Iterator[Batch]:
    """The batches of ``inputs`` as tuples of ``arity`` tensors, each checked, split by ``batch_size``."""
    for i, raw in enumerate(_raw_batches(inputs, arity, batch_dim)):
        batch = _as_batch(raw, arity, i)
        for t in batch:
            check_tensor(t, batch_dim, i)
        if batch_size is None or batch_size >= batch[0].shape[batch_dim]:
            yield batch
        else:
            yield from _split(batch, batch_size, batch_dim, i)


def known_samples(inputs: Any, arity: int, batch_dim: int) -> int | None:
    """The number of samples ``inputs`` holds when it can be told without loading anything (for a progress
    bar): a tensor, a tuple/list of batches, a DataLoader over a sized dataset."""
    if isinstance(inputs, (torch.Tensor, tuple, list)):
        try:
            return sum(int(_as_batch(raw, arity, i)[0].shape[batch_dim])
                       for i, raw in enumerate(_raw_batches(inputs, arity, batch_dim)))
        except (TypeError, IndexError):
            return None  # the batches themselves will say what is wrong
    dataset = getattr(inputs, "dataset", None)
    try:
        return len(dataset) if dataset is not None else None
    except TypeError:
        return None


def _raw_batches(inputs: Any, arity: int, batch_dim: int) -> Iterable[Any]:
    if isinstance(inputs, torch.Tensor):
        return (inputs,)
    if isinstance(inputs, dict):
        raise TypeError(f"inputs is a dict (keys {_keys(inputs)}); the model's forward gets tensors: pass the "
                        "tensor itself, e.g. inputs['x'], or a list of tensors")
    if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise TypeError(
            f"inputs must be a tensor, an iterable of tensors or a DataLoader; got {type(inputs).__name__}"
            + (" (to profile files, load them first, e.g. snnenergy.data.load_tensor(path))"
               if isinstance(inputs, str) else ""))
    if isinstance(inputs, (tuple, list)) and _is_one_batch(inputs, arity, batch_dim):
        return (inputs,)
    return inputs


def _is_one_batch(seq: tuple | list, arity: int, batch_dim: int) -> bool:
    if not seq or not all(isinstance(t, torch.Tensor) for t in seq[:max(arity, 2)]):
        return False
    if arity >= 2:
        return True
    return len(seq) == 2 and is_label_like(seq[1], seq[0], batch_dim)


def _as_batch(item: Any, arity: int, index: int) -> Batch:
    where = f"batch {index}"
    if isinstance(item, torch.Tensor):
        if arity > 1:
            raise TypeError(f"{where} is one tensor, but the model's forward takes {arity} tensors: pass each batch "
                            f"as a tuple of {arity} tensors")
        return (item,)
    if isinstance(item, dict):
        raise TypeError(f"{where} is a dict (keys {_keys(item)}); the model's forward gets tensors: yield "
                        "tensors or (x, y) tuples, e.g. (b['x'] for b in loader)")
    if isinstance(item, (tuple, list)):
        if len(item) < arity:
            raise TypeError(f"{where} holds {len(item)} value(s), but the model's forward takes {arity} tensors: "
                            f"pass each batch as a tuple of {arity} tensors")
        for j, t in enumerate(item[:arity]):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"element {j} of {where} is a {type(t).__name__}, not a tensor; the model's "
                                f"forward takes {arity} tensor(s) (then labels, which are ignored)")
        return tuple(item[:arity])
    raise TypeError(f"every batch must be a tensor or a tuple (inputs..., labels); {where} is a "
                    f"{type(item).__name__}")


def check_tensor(x: torch.Tensor, batch_dim: int, index: int = 0) -> None:
    """A batch tensor has the batch dimension, at least one sample and finite values."""
    shape = tuple(x.shape)
    if x.dim() == 0:
        raise ValueError("input batch is a scalar; expected a batch tensor such as [B, C, H, W]")
    if batch_dim >= x.dim():
        raise ValueError(f"batch_dim={batch_dim} is out of range for batch {index} of shape {shape}: give 0 to "
                         f"{x.dim() - 1} (the index of the batch dimension)")
    if shape[batch_dim] == 0:
        raise ValueError(f"batch {index} of shape {shape} is empty (0 samples along batch_dim={batch_dim}); pass "
                         "at least one sample")
    if x.is_floating_point():
        lo, hi = x.aminmax()  # both NaN when any value is NaN
        lo, hi = lo.item(), hi.item()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = "NaN" if math.isnan(lo) or math.isnan(hi) else "Inf"
            raise ValueError(f"input batch of shape {shape} contains {bad} values; inputs must be finite")


def _split(batch: Batch, batch_size: int, batch_dim: int, index: int) -> Iterator[Batch]:
    n = batch[0].shape[batch_dim]
    for t in batch[1:]:
        if t.shape[batch_dim] != n:
            raise ValueError(
                f"batch {index} cannot be split by batch_size={batch_size}: its tensors have "
                f"{[tuple(u.shape) for u in batch]}, not all {n} along batch_dim={batch_dim}; pass batches of the "
                "size you want and batch_size=None")
    parts = [t.split(batch_size, dim=batch_dim) for t in batch]
    yield from zip(*parts)


def describe(batch: Batch) -> str:
    """``shape (2, 3, 32, 32) float32 on cpu`` for each tensor of a batch."""
    return ", ".join(f"shape {tuple(t.shape)} {str(t.dtype).removeprefix('torch.')} on {t.device}" for t in batch)


def explain_forward_error(error: BaseException, model: nn.Module, batch: Batch, batch_dim: int) -> None:
    """Add a note to an error raised by the model's forward: what it was given (the error itself is kept).

    A zoo model whose card expects another sample shape says so."""
    if not hasattr(error, "add_note"):
        return
    x = batch[0]
    card = getattr(model, "model_card", None)
    expected = tuple(getattr(card, "input_shape", ()) or ())
    got = tuple(x.shape[:batch_dim]) + tuple(x.shape[batch_dim + 1:])
    if expected and got != expected:
        error.add_note(
            f"snnenergy: {card.name} expects one sample of shape {expected} "
            f"(batched as [B, {', '.join(map(str, expected))}]), got {got} per sample in a batch of shape {tuple(x.shape)}"
        )
        return
    error.add_note(f"snnenergy: raised by {type(model).__name__}.forward on a batch of {describe(batch)} "
                   f"(batch_dim={batch_dim}: {x.shape[batch_dim]} sample{'' if x.shape[batch_dim] == 1 else 's'} "
                   f"of shape {got})")
    if not x.is_floating_point():
        error.add_note(f"snnenergy: the input has dtype {x.dtype}; models expect floating-point inputs, e.g. x.float()")


def _keys(d: dict) -> str:
    keys = [repr(k) for k in list(d)[:5]]
    return "[" + ", ".join(keys) + (", ...]" if len(d) > 5 else "]")
