"""Profiling across processes and GPUs with ``torch.distributed`` (``torchrun``).

Every process (rank) profiles its own shard of the data with the ordinary :func:`snnenergy.profile`; the
reports are gathered to rank 0 and merged with :meth:`Report.merge`, so that the result equals one run on
all the data: the same tables, ``meta["samples"]`` (every sample once) and ``meta["batches"]`` (every
batch is one that a single process would run). The ``dead`` / ``saturated`` fractions of the neuron table,
which a merge of separately made reports can only bound, are exact too: before they are computed, the
ranks sum their per-neuron spike counts with ``all_reduce`` (layers whose size differs between ranks or
calls have no per-neuron counts: NaN, as in one process).

Sharding never repeats or drops a sample. (``torch.utils.data.DistributedSampler`` pads the last round
with repeated samples so that every rank gets as many, which would count those samples twice: the
sharding here strides instead, ``rank, rank + world, ...``.)

* a tensor (or a list/tuple of batch tensors) is split into batches and rank ``r`` takes batches
  ``r, r + world, ...``: every batch is exactly the one a single process would see;
* a ``DataLoader`` over a map-style dataset is rebuilt over a ``Subset`` of the same dataset (same batch
  size, collate function and workers) holding the batches ``r, r + world, ...`` of the loader's samples
  (in index order, so that a shuffling sampler gives every rank the same list); samplers that draw with
  replacement cannot be split that way and are refused;
* any other iterable is read in full by every rank, which keeps batches ``r, r + world, ...``.

A progress bar (``progress=True``) shows on rank 0 only, labelled with its rank; its total is rank 0's shard.

Usage::

    torchrun --nproc_per_node 2 my_script.py      # my_script calls profile_distributed(model, loader)
"""
from __future__ import annotations

import atexit
import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, Sampler, SequentialSampler, Subset, WeightedRandomSampler

__all__ = ["ShardSampler", "distributed_env", "is_distributed", "shard_inputs", "profile_distributed"]


def distributed_env() -> tuple[int, int, int] | None:
    """``(rank, world_size, local_rank)`` from the environment ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``), or from an initialised process group; ``None`` outside a distributed launch."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise ValueError(f"RANK={os.environ['RANK']!r} and WORLD_SIZE={os.environ['WORLD_SIZE']!r} must be integers "
                         "(as torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world}; expected 0 <= RANK < WORLD_SIZE")
    return rank, world, local


def is_distributed() -> bool:
    """Whether this process is one of several launched together (``torchrun --nproc_per_node N``, N > 1)."""
    env = distributed_env()
    return env is not None and env[1] > 1


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...`` below ``length``: disjoint shards that together cover every index
    once (no padding, unlike ``DistributedSampler``)."""

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}; expected 0 <= rank < world_size")
        self.length, self.rank, self.world_size = int(length), int(rank), int(world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def _split(x: torch.Tensor, batch_size: int | None, batch_dim: int) -> list[torch.Tensor]:
    if batch_size is None or x.shape[batch_dim] <= batch_size:
        return [x]
    return list(x.split(batch_size, dim=batch_dim))


def shard_inputs(inputs: Any, rank: int, world_size: int, batch_size: int | None = None, batch_dim: int = 0
                 ) -> Any:
    """This rank's part of ``inputs`` (see the module docstring); ``[]`` when the rank gets no data."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside world size {world_size}; expected 0 <= rank < world_size")
    if isinstance(inputs, torch.Tensor):
        return _split(inputs, batch_size, batch_dim)[rank::world_size]
    if isinstance(inputs, (list, tuple)):
        batches = [b for item in inputs
                   for b in (_split(item, batch_size, batch_dim) if isinstance(item, torch.Tensor) else [item])]
        return batches[rank::world_size]
    if isinstance(inputs, DataLoader) and _map_style(inputs):
        return _sharded_loader(inputs, rank, world_size)
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable):
        raise TypeError(f"inputs must be a tensor, a list of tensors, a DataLoader or an iterable of batches; "
                        f"got {type(inputs).__name__}")
    return _Strided(inputs, rank, world_size)


def _map_style(loader: DataLoader) -> bool:
    try:
        len(loader.dataset)  # type: ignore[arg-type]
    except TypeError:
        return False
    return hasattr(loader.dataset, "__getitem__") and loader.batch_size is not None


def _sharded_loader(loader: DataLoader, rank: int, world: int) -> DataLoader | list:
    indices = _sample_indices(loader)
    size = int(loader.batch_size)  # type: ignore[arg-type]
    n_batches = len(indices) // size if loader.drop_last else -(-len(indices) // size)
    mine = [i for b in ShardSampler(n_batches, rank, world) for i in indices[b * size:(b + 1) * size]]
    if not mine:
        return []
    # only the last batch of all may be short, and it is the last of its rank's: batching ``mine`` again
    # gives this rank's batches exactly
    return DataLoader(Subset(loader.dataset, mine), batch_size=size, shuffle=False, num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=False,
                      worker_init_fn=loader.worker_init_fn, prefetch_factor=loader.prefetch_factor,
                      persistent_workers=loader.persistent_workers)


def _sample_indices(loader: DataLoader) -> list:
    """The indices ``loader`` reads, the same list on every rank (a shuffling sampler's, in index order)."""
    sampler, n = loader.sampler, len(loader.dataset)  # type: ignore[arg-type]
    whole_permutation = isinstance(sampler, RandomSampler) and not sampler.replacement and len(sampler) == n
    if isinstance(sampler, SequentialSampler) or whole_permutation:
        return list(range(n))
    if isinstance(sampler, (RandomSampler, WeightedRandomSampler)) or getattr(sampler, "replacement", False):
        raise ValueError(f"the DataLoader's {type(sampler).__name__} draws a random selection of samples (with "
                         "replacement, or a subset), differently in every process, so it cannot be split between "
                         "ranks; use shuffle=False, or a sampler that reads every sample of a fixed set once")
    indices = list(sampler)
    try:
        return sorted(indices)
    except TypeError:  # keys that do not sort: the sampler's own (deterministic) order
        return indices


class _Strided:
    """Items ``rank, rank + world, ...`` of any iterable (every rank reads it all)."""

    def __init__(self, items: Iterable[Any], rank: int, world: int) -> None:
        self.items, self.rank, self.world = items, rank, world

    def __iter__(self) -> Iterator[Any]:
        for i, item in enumerate(self.items):
            if i % self.world == self.rank:
                yield item


def _is_empty(part: Any) -> bool:
    return isinstance(part, (list, tuple)) and len(part) == 0


def _device_for(device: str | torch.device | None, local_rank: int) -> torch.device | None:
    """``cuda`` means this process's GPU (``cuda:LOCAL_RANK``); other devices are used as given."""
    if device is None:
        return None
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        return torch.device("cuda", local_rank)
    return dev


def profile_distributed(
    model: nn.Module,
    inputs: Any,
    *,
    batch_size: int | None = None,
    batch_dim: int = 0,
    device: str | torch.device | None = None,
    backend: str | None = None,
    all_ranks: bool = False,
    progress: bool = False,
    **profile_kwargs: Any,
):
    """Profile this rank's shard of ``inputs`` and merge every rank's report; returns the merged
    :class:`~snnenergy.report.Report` on rank 0 (on every rank with ``all_ranks=True``) and ``None`` elsewhere.

    Run under ``torchrun`` (or with a process group already initialised). The process group is created from
    the environment when needed (``backend``: ``nccl`` for CUDA devices, else ``gloo``) and kept for later
    calls (re-creating it per call races between ranks); it is destroyed when the interpreter exits.
    ``device="cuda"`` means ``cuda:LOCAL_RANK``. ``progress``: a bar on rank 0 (its shard). Other keyword
    arguments go to :func:`snnenergy.profile`. Outside a distributed launch this is a plain
    :func:`snnenergy.profile`. Every rank takes part in every collective, also one with no data or whose
    profile failed; an error on any rank is raised on every rank (none is left waiting for the others).
    """
    from .api import profile
    from .report.merge import merge_reports

    env = distributed_env()
    dev = _device_for(device, env[2] if env else 0)
    if env is None or env[1] == 1:
        return profile(model, inputs, batch_size=batch_size, batch_dim=batch_dim, device=dev, progress=progress,
                       **profile_kwargs)
    rank, world, local = env
    _init_group(backend or _default_backend(dev), dev)
    counts = _SummedNeuronCounts(world)
    payload: Any = None
    try:
        part = shard_inputs(inputs, rank, world, batch_size, batch_dim)
        if not _is_empty(part):
            bar = f"profiling (rank 0 of {world})" if progress and rank == 0 else False
            rep = profile(model, part, batch_size=batch_size, batch_dim=batch_dim, device=dev, progress=bar,
                          neuron_counts_reduce=counts, **profile_kwargs)
            payload = rep.to_dict()
    except Exception as e:  # shared with the other ranks below, then raised everywhere
        payload = {"error": f"rank {rank}: {type(e).__name__}: {e}", "type": type(e).__name__}
    counts.join()  # a rank without data, or whose profile failed before its counts were summed
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, payload)
    errors = [g for g in gathered if isinstance(g, dict) and "error" in g]
    if errors:
        raise _rebuild_error(errors[0])
    if rank != 0 and not all_ranks:
        return None
    reports = [g for g in gathered if g is not None]
    if not reports:
        raise ValueError("inputs yielded no batch on any rank: pass a non-empty tensor, list of tensors or DataLoader")
    return merge_reports(reports, shared_fractions=True)


class _SummedNeuronCounts:
    """The ``neuron_counts_reduce`` of :func:`snnenergy.profile` under torchrun: every rank's per-neuron
    spike counts and neuron-steps summed with one ``all_reduce`` (after one ``all_gather_object`` of the
    layers and shapes), so that every rank computes the dead / saturated fractions of all the data. A rank
    that never got that far (no data, an error) calls :meth:`join` to take part with nothing."""

    def __init__(self, world: int) -> None:
        self.world = world
        self.done = False

    def __call__(self, entries: list[tuple[str, torch.Tensor | None, int]]) -> list[tuple[torch.Tensor | None, int]]:
        return self._exchange(entries)

    def join(self) -> None:
        if not self.done:
            self._exchange([])

    def _exchange(self, entries: list[tuple[str, torch.Tensor | None, int]]) -> list[tuple[torch.Tensor | None, int]]:
        self.done = True
        described = [(layer, None if c is None else tuple(c.shape), steps) for layer, c, steps in entries]
        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, described)
        layout = _summable_layout(gathered)  # the same on every rank
        if not layout:
            return [(None, steps) for _, _, steps in entries]
        n_counts = sum(math.prod(shape) for _, shape in layout.values())
        dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
        buf = torch.zeros(n_counts + len(layout), dtype=torch.float64, device=dev)  # counts, then steps per layer
        slots = {layer: k for k, layer in enumerate(layout)}
        failed: Exception | None = None
        try:
            steps_here = torch.zeros(len(layout), dtype=torch.float64)
            for layer, c, steps in entries:
                if layer in layout:
                    at, shape = layout[layer]
                    buf[at:at + math.prod(shape)] = c.reshape(-1)  # type: ignore[union-attr]
                    steps_here[slots[layer]] = steps
            buf[n_counts:] = steps_here  # one copy to the device
        except Exception as e:  # raised after the all-reduce, which the other ranks are waiting for
            failed = e
        dist.all_reduce(buf)
        if failed is not None:
            raise failed
        total_steps = buf[n_counts:].tolist()  # one copy to the host
        out: list[tuple[torch.Tensor | None, int]] = []
        for layer, c, steps in entries:
            if layer not in layout:
                out.append((None, steps))
                continue
            at, shape = layout[layer]
            out.append((buf[at:at + math.prod(shape)].view(shape).to(c.device),  # type: ignore[union-attr]
                        int(total_steps[slots[layer]])))
        return out


def _summable_layout(gathered: list[list[tuple[str, tuple | None, int]]]) -> dict[str, tuple[int, tuple]]:
    """``layer -> (offset, shape)`` in the summed buffer, for the layers with per-neuron counts of one shape on
    every rank that ran them (in order of first appearance, rank 0 first)."""
    shapes: dict[str, tuple | None] = {}
    for described in gathered:
        for layer, shape, _ in described or ():
            if layer in shapes and shapes[layer] != shape:
                shapes[layer] = None  # sizes differ between ranks, or a rank has no per-neuron counts
            else:
                shapes.setdefault(layer, shape)
    layout: dict[str, tuple[int, tuple]] = {}
    at = 0
    for layer, shape in shapes.items():
        if shape is not None:
            layout[layer] = (at, shape)
            at += math.prod(shape)
    return layout


def _default_backend(dev: torch.device | None) -> str:
    if dev is not None and dev.type == "cuda" and dist.is_nccl_available():
        return "nccl"
    return "gloo"


def _init_group(backend: str, dev: torch.device | None) -> None:
    if dist.is_initialized():
        return
    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this PyTorch build; run in one process instead")
    if dev is not None and dev.type == "cuda":
        torch.cuda.set_device(dev)
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"{' and '.join(missing)} not set: launch with torchrun --nproc_per_node N (it sets them), "
                         "or set them for every process")
    dist.init_process_group(backend=backend, init_method="env://")
    atexit.register(_destroy_group)


def _destroy_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


_ERRORS: dict[str, type[Exception]] = {"ValueError": ValueError, "TypeError": TypeError, "KeyError": KeyError,
                                       "FileNotFoundError": FileNotFoundError, "RuntimeError": RuntimeError}


def _rebuild_error(err: dict[str, str]) -> Exception:
    return _ERRORS.get(err.get("type", ""), RuntimeError)(err["error"])

