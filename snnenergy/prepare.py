"""What a run profiles: a model and its inputs built from names and paths (a zoo name or ``FILE.py:FACTORY``,
a checkpoint, an input path or the shipped samples), with the facts the report records about them (weights,
input source, calibration). Used by the CLI's commands, :mod:`snnenergy.report.compare` and ``reproduce``."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader

SAMPLE_PHOTOS = "sample photographs"


@dataclass
class Prepared:
    """A model ready to profile, its input batches and how both came about."""

    model: nn.Module
    batches: list[torch.Tensor] | DataLoader  # a DataLoader for datasets on disk (loaded as profiled)
    label: str
    weights: str
    inputs: str
    time_steps: int | None
    card: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


def _seeded(seed: int | None, build: Callable[[], Any]) -> Any:
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _user_card(label: str, shape: tuple[int, ...], time_steps: int | None):
    """A card for a ``--module`` model given ``--input-shape``: the shipped samples at that shape."""
    from .models.registry import ModelCard

    events = len(shape) == 4 and shape[1] == 2
    if not events and not (len(shape) == 3 and shape[0] in (1, 3)):
        raise ValueError(f"--input-shape {','.join(map(str, shape))} is neither an image (C,H,W with C = 1 or 3) "
                         "nor event frames (T,2,H,W); pass --input with a tensor file of that shape instead")
    return ModelCard(name=label, family="user", paper="", dataset="imagenet", input_shape=shape,
                     time_steps=time_steps or (shape[0] if events else 1), num_classes=0,
                     input_kind="events" if events else "image")


def build_model(model_name: str | None, factory: Callable[[], nn.Module] | None, seed: int | None,
                time_steps: int | None) -> tuple[nn.Module, str, Any]:
    """``(model, label, card)``: a zoo model built from ``seed`` or the user's factory's model."""
    from .models import create_model, model_card, resolve_name

    if model_name is not None:
        name = resolve_name(model_name)
        overrides = {"time_steps": time_steps} if time_steps is not None else {}
        return create_model(name, seed=seed, **overrides), name, model_card(name)
    model = _seeded(seed, factory)
    if not isinstance(model, nn.Module):
        raise TypeError(f"the factory must return an nn.Module, got {type(model).__name__}")
    if time_steps is not None:
        for attr in ("time_steps", "T"):
            if isinstance(getattr(model, attr, None), int):
                setattr(model, attr, time_steps)
    return model, type(model).__name__, getattr(model, "model_card", None)


def describe_input(spec: str | None, card: Any, n_samples: int) -> str:
    """Where the inputs came from, in words, as the report records it."""
    if spec is None:
        if card is not None and card.input_kind == "events":
            return (f"{n_samples} simulated event streams (a DVS sensor simulation over the shipped "
                    f"{SAMPLE_PHOTOS}), shape {tuple(card.input_shape)}")
        shape = "x".join(map(str, card.input_shape[1:])) if card is not None else "?"
        return f"{n_samples} shipped {SAMPLE_PHOTOS} (public domain / CC0), {shape}"
    path = Path(spec)
    kind = "folder" if path.is_dir() else "file"
    return f"{kind} {os.path.abspath(spec)} ({n_samples} sample{'' if n_samples == 1 else 's'})"


def read_tensor_file(path: str, expected: tuple[int, ...] | None, image_model: bool, dataset: str | None
                     ) -> torch.Tensor:
    """A tensor file as float inputs: integer images (0-255) are scaled (and normalised for ``dataset``), one
    sample without a batch dimension gets one, each with a warning that says so."""
    from .data import load_tensor, normalization_for, normalize_images

    x = load_tensor(path, dtype=None)
    if not x.is_floating_point():
        if image_model and x.numel() and int(x.max()) > 1:
            norm = normalization_for(dataset) if dataset else None
            how = f"divided by 255 and normalised with the {norm} mean/std" if norm else "divided by 255"
            warnings.warn(f"{path} holds {x.dtype} values {int(x.min())}..{int(x.max())}: read as 8-bit images, "
                          f"{how}; save float tensors to control this")
            x = x.to(torch.float64) / 255.0
            if norm:
                x = normalize_images(x, norm)
        x = x.to(torch.float32)
    if expected is not None and tuple(x.shape) == tuple(expected):
        warnings.warn(f"{path} holds one sample of shape {tuple(x.shape)} without a batch dimension: read as a "
                      "batch of 1")
        x = x.unsqueeze(0)
    return x


def load_inputs(spec: str | None, card: Any, batch_size: int | None, time_steps: int | None, *,
                limit: int | None = None, batches: int | None = None, num_workers: int = 0
                ) -> list[torch.Tensor] | DataLoader:
    """Input batches for ``card``'s model (the shipped samples when ``spec`` is None): a list of tensors for
    in-memory sources, a DataLoader for datasets on disk; at most ``limit`` samples in ``batches`` batches."""
    from .data import as_batches, check_input, resolve_input, take
    from .data.loaders import TENSOR_SUFFIXES

    if spec is not None and Path(spec).suffix.lower() in TENSOR_SUFFIXES and Path(spec).is_file():
        expected = None
        if card is not None:
            shape = tuple(card.input_shape)
            expected = ((time_steps,) + shape[1:]) if card.input_kind == "events" and time_steps else shape
        x = read_tensor_file(spec, expected, image_model=card is None or card.input_kind == "image",
                             dataset=getattr(card, "dataset", None))
        items = list(take(as_batches(x, batch_size), limit, batches))
        for i, b in enumerate(items):
            check_input(b, expected, name=f"input batch {i}")
        return items
    if card is None:
        raise ValueError("a --module model without a model_card needs --input-shape C,H,W (e.g. 3,32,32) to use "
                         "the shipped sample photographs, or --input (a .pt/.npy tensor file or an image folder)")
    return resolve_input(spec, card, batch_size, time_steps=time_steps, limit=limit, batches=batches,
                         num_workers=num_workers)


def count_samples(batches: list[torch.Tensor] | DataLoader) -> int:
    """Samples the inputs hold, without loading a dataset (``len(loader.dataset)``)."""
    if isinstance(batches, DataLoader):
        return len(batches.dataset)  # type: ignore[arg-type]
    return sum(int(b.shape[0]) for b in batches)


CALIBRATION_SAMPLES = 32  # BatchNorm is calibrated on the first this many samples, however they are batched


def _calibration_batches(batches: list[torch.Tensor] | DataLoader, n_samples: int
                         ) -> tuple[list[torch.Tensor], str | None]:
    """What BatchNorm is calibrated on: one batch of the first :data:`CALIBRATION_SAMPLES` samples, whatever the
    batch size (a training-mode BatchNorm normalises each batch with that batch's statistics, so calibrating
    batch by batch would make the result depend on how the samples are batched), read from a dataset only as
    far as needed; with the part used, in words (``None``: every one of the ``n_samples``)."""
    taken, n = [], 0
    for batch in batches:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        taken.append(x[:CALIBRATION_SAMPLES - n])
        n += int(taken[-1].shape[0])
        if n >= CALIBRATION_SAMPLES:
            break
    if len(taken) > 1 and len({tuple(t.shape[1:]) for t in taken}) == 1:
        taken = [torch.cat(taken)]
    return taken, (f"the first {n} samples of" if n_samples > n else None)


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def prepare(
    model_name: str | None = None,
    factory: Callable[[], nn.Module] | None = None,
    checkpoint: str | None = None,
    input_spec: str | None = None,
    batch_size: int | None = None,
    time_steps: int | None = None,
    calibrate_bn: bool | None = None,
    seed: int | None = 0,
    fuse: bool = False,
    input_shape: tuple[int, ...] | None = None,
    trust_checkpoint: bool = False,
    limit: int | None = None,
    batches: int | None = None,
    num_workers: int = 0,
) -> Prepared:
    """Everything ``snnenergy profile`` needs, from its options.

    ``calibrate_bn=None`` (default) calibrates BatchNorm on the inputs for untrained zoo models only (no
    checkpoint); ``True`` always, ``False`` never. Calibrating over a checkpoint warns that it overwrites the
    trained statistics. ``fuse`` applies the model's inference fusion after loading and calibration.
    ``limit`` caps the samples, ``batches`` the batches, ``num_workers`` loads a dataset in worker processes.
    """
    from .models import calibrate_batchnorm, fuse_model, load_checkpoint

    model, label, card = build_model(model_name, factory, seed, time_steps)
    if card is None and input_shape is not None:
        card = _user_card(label, tuple(input_shape), time_steps)
    inputs_ = load_inputs(input_spec, card, batch_size, time_steps, limit=limit, batches=batches,
                          num_workers=num_workers)
    n_samples = count_samples(inputs_)
    inputs = describe_input(input_spec, card, n_samples)
    meta: dict[str, Any] = {"input_source": "samples" if input_spec is None else os.path.abspath(input_spec)}
    if checkpoint:
        result = load_checkpoint(model, checkpoint, trust=trust_checkpoint)
        weights = f"checkpoint {checkpoint}"
        if result.skipped_unused:
            weights += f" ({len(result.skipped_unused)} documented unused tensors skipped)"
    elif model_name is not None:
        weights = "untrained weights"
        meta["seed"] = seed
    else:
        weights = f"as built by the factory (seed {seed})" if seed is not None else "as built by the factory"
    if calibrate_bn is None:
        calibrate_bn = model_name is not None and not checkpoint
    if calibrate_bn:
        if checkpoint:
            warnings.warn("--calibrate-bn overwrites the checkpoint's trained BatchNorm statistics with statistics "
                          "of these inputs")
        calibration, part = _calibration_batches(inputs_, n_samples)
        n = calibrate_batchnorm(model, calibration)
        if n:
            where = inputs.split(" (")[0].split(", shape")[0]
            where = f"{part} {where}" if part else where
            weights += f", BatchNorm calibrated on {where.replace('shipped ', '')}"
            meta["bn_calibrated"] = n
    elif model_name is not None and not checkpoint and _has_batchnorm(model):
        weights += ", BatchNorm not calibrated (fresh statistics leave most spiking layers silent)"
    if weights.startswith("untrained"):
        weights += ": illustrative only"
    if fuse:
        model = fuse_model(model)
        weights += "; fused for inference"
        meta["fused"] = True
    return Prepared(model, inputs_, label, weights, inputs, time_steps, card, meta)
