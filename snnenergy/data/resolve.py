"""Turn a CLI input spec (nothing, a tensor file, an image, a folder) into batches for a zoo model."""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .checks import check_input
from .images import is_image_file, load_image, normalize_images
from .loaders import TENSOR_SUFFIXES, _image_files, as_batches, dataset_folder, image_folder, load_tensor
from .sample_data import SAMPLE_NAMES, sample_events, sample_images

if TYPE_CHECKING:
    from snnenergy.models.registry import ModelCard


def normalization_for(dataset: str) -> str:
    """The normalisation name (``imagenet``, ``cifar10``, ``cifar100``) that a dataset name implies.

    Unknown datasets fall back to ImageNet statistics with a warning.
    """
    key = re.sub(r"[^a-z0-9]", "", dataset.lower())
    for name in ("cifar100", "cifar10", "imagenet"):  # cifar100 first: "cifar10" is its prefix
        if name in key:
            return name
    warnings.warn(f"no known normalisation for dataset {dataset!r}; using ImageNet mean/std", stacklevel=3)
    return "imagenet"


def _image_layout(card: ModelCard) -> tuple[int, tuple[int, int]]:
    shape = tuple(card.input_shape)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ValueError(
            f"model {card.name!r} expects samples of shape {shape}; the shipped inputs are RGB/grayscale images "
            "(C, H, W) with C = 1 or 3. Pass a tensor file (.pt/.npy) with inputs of that shape instead."
        )
    return shape[0], (shape[1], shape[2])


def _event_shape(card: ModelCard, time_steps: int | None) -> tuple[int, int, int, int]:
    shape = tuple(card.input_shape)
    if len(shape) != 4 or shape[1] != 2:
        raise ValueError(
            f"model {card.name!r} is an event model with input shape {shape}; the event generator makes "
            "(T, 2, H, W) frames. Pass a tensor file (.pt/.npy) with inputs of that shape instead."
        )
    t = time_steps if time_steps is not None else shape[0]
    return t, 2, shape[2], shape[3]


def _expected_shape(card: ModelCard, time_steps: int | None) -> tuple[int, ...]:
    if card.input_kind == "events":
        return _event_shape(card, time_steps)
    return tuple(card.input_shape)


def _from_file(path: Path, card: ModelCard, time_steps: int | None) -> torch.Tensor:
    expected = _expected_shape(card, time_steps)
    if path.suffix.lower() in TENSOR_SUFFIXES:
        x = load_tensor(path)
        if tuple(x.shape) == expected:  # one sample saved without its batch dimension
            x = x.unsqueeze(0)
        return x
    if is_image_file(path):
        _no_images_for_events(card, path)
        channels, hw = _image_layout(card)
        img = load_image(path, hw, channels).to(torch.float64)
        return normalize_images(img, normalization_for(card.dataset)).to(torch.float32).unsqueeze(0)
    raise ValueError(f"cannot use {str(path)!r} as input: expected a tensor file ({', '.join(TENSOR_SUFFIXES)}), "
                     "an image file, an image folder or a root/<class>/<image> dataset folder")


def _no_images_for_events(card: ModelCard, path: Path) -> None:
    if card.input_kind == "events":
        shape = _event_shape(card, None)
        raise ValueError(
            f"model {card.name!r} takes event frames [B, {', '.join(map(str, shape))}], not images ({str(path)!r}); "
            "pass a .pt/.npy tensor file, or nothing for the generated sample events"
        )


def _from_folder(folder: Path, card: ModelCard, batch_size: int | None) -> list[torch.Tensor]:
    _no_images_for_events(card, folder)
    channels, hw = _image_layout(card)
    norm = normalization_for(card.dataset)
    if _image_files(folder):
        return list(as_batches(image_folder(folder, hw, norm, channels=channels), batch_size))
    if any(d.is_dir() for d in folder.iterdir()):
        loader = dataset_folder(folder, hw, norm, batch_size=batch_size or 32, channels=channels)
        return list(as_batches(loader))
    raise ValueError(f"input folder {str(folder)!r} is empty of images; expected image files or "
                     "root/<class>/<image> sub-folders")


def resolve_input(
    spec: str | os.PathLike | None,
    card: ModelCard,
    batch_size: int | None = None,
    *,
    time_steps: int | None = None,
    n: int | None = None,
) -> list[torch.Tensor]:
    """Batches of inputs for the model described by ``card`` (a :class:`~snnenergy.models.registry.ModelCard`).

    ``spec`` is ``None`` (the shipped samples: the photographs for image models, sized from
    ``card.input_shape`` and normalised for ``card.dataset``; generated DVS events
    ``[n, T, 2, H, W]`` for event models), a ``.pt``/``.pth``/``.npy`` file, an image file, a folder of
    images, or a ``root/<class>/<image>`` dataset folder. ``time_steps`` overrides the T of event inputs
    (default: ``card.input_shape[0]``); ``n`` is the number of shipped samples (default: all five).
    Every batch is checked against the model's input shape; returns a list of float32 batch tensors.
    """
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    expected = _expected_shape(card, time_steps)
    if spec is None:
        count = n if n is not None else len(SAMPLE_NAMES)
        if card.input_kind == "events":
            t, _, h, w = _event_shape(card, time_steps)
            x = sample_events(t, (h, w), n=count)
        else:
            channels, hw = _image_layout(card)
            x = sample_images(hw, n=count, normalize=normalization_for(card.dataset), channels=channels)
        batches = list(as_batches(x, batch_size))
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"input {str(path)!r} does not exist; expected a tensor file, an image, "
                                    "an image folder or a dataset folder")
        if path.is_dir():
            batches = _from_folder(path, card, batch_size)
        else:
            batches = list(as_batches(_from_file(path, card, time_steps), batch_size))
    for i, b in enumerate(batches):
        check_input(b, expected, name=f"input batch {i} for model {card.name!r}")
    return batches
