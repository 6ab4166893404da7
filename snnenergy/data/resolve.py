"""Turn an input spec (nothing, a tensor file, an image, a folder, a dataset on disk) into batches for a zoo
model, with caps on samples and batches."""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from .checks import check_input
from .images import is_image_file, open_image
from .datasets import CifarBatches, EventFiles, ImageFiles, is_cifar_folder, load_event_sample
from .loaders import TENSOR_SUFFIXES, as_batches, load_tensor
from .preprocess import preprocess_for
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
        return preprocess_for(card)(open_image(path, _image_layout(card)[0])).unsqueeze(0)
    if path.suffix.lower() == ".npz":
        if card.input_kind != "events":
            raise ValueError(f"{str(path)!r} is an .npz of events, but model {card.name!r} takes images")
        t, _, h, w = _event_shape(card, time_steps)
        x = load_event_sample(path, t, (h, w)) if not _is_frame_batch(path) else _frame_batch(path)
        return x if x.dim() == 5 else x.unsqueeze(0)
    raise ValueError(f"cannot use {str(path)!r} as input: expected a tensor file ({', '.join(TENSOR_SUFFIXES)}), "
                     "an image file, an image folder or a root/<class>/<image> dataset folder")


def _no_images_for_events(card: ModelCard, path: Path) -> None:
    if card.input_kind == "events":
        shape = _event_shape(card, None)
        raise ValueError(
            f"model {card.name!r} takes event frames [B, {', '.join(map(str, shape))}], not images ({str(path)!r}); "
            "pass a .pt/.npy tensor file, or nothing for the generated sample events"
        )


def _is_frame_batch(path: Path) -> bool:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        key = next((k for k in ("frames", "x", "data", "events") if k in z), None)
        return key is not None and z[key].ndim == 5


def _frame_batch(path: Path) -> torch.Tensor:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        key = next(k for k in ("frames", "x", "data", "events") if k in z)
        return torch.from_numpy(np.ascontiguousarray(z[key])).to(torch.float32)


def open_dataset(spec: str | os.PathLike, card: ModelCard, *, time_steps: int | None = None, split: str = "test"
                 ) -> Dataset | None:
    """The on-disk dataset ``spec`` names for the model of ``card``, or ``None`` if ``spec`` is not a dataset:

    * an image folder (images directly in it, or an ImageNet-style ``val/<class>/<image>`` tree), each image
      through the card's eval preprocessing (:func:`~snnenergy.data.preprocess.preprocess_for`);
    * a CIFAR-10/100 python folder (``cifar-10-batches-py``, ``cifar-100-python``) or one batch file (``split``
      ``"test"`` or ``"train"``);
    * a folder of DVS samples, one ``.npz``/``.npy`` each (frames or ``t, x, y, p`` events), for event models.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        if is_cifar_folder(path):
            _no_images_for_events(card, path)
            return CifarBatches(path, preprocess_for(card), split)
        if card.input_kind == "events":
            t, _, h, w = _event_shape(card, time_steps)
            if any(path.rglob("*.np[yz]")):
                return EventFiles(path, t, (h, w))
            _no_images_for_events(card, path)
        _image_layout(card)
        if not any(is_image_file(f) for f in path.rglob("*")):
            raise ValueError(f"input folder {str(path)!r} is empty of images; expected image files or "
                             "root/<class>/<image> sub-folders")
        return ImageFiles(path, preprocess_for(card))
    if path.is_file() and not path.suffix and card.input_kind != "events":
        return CifarBatches(path, preprocess_for(card), split)  # a CIFAR batch file (test_batch, data_batch_1)
    return None


def _cap(total: int, batch_size: int, limit: int | None, batches: int | None) -> int:
    n = total
    if limit is not None:
        n = min(n, limit)
    if batches is not None:
        n = min(n, batches * batch_size)
    return n


def _check_cap(name: str, v: int | None) -> None:
    if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
        raise ValueError(f"{name} must be a positive int or None, got {v!r}")


def take(inputs: Iterable[Any], limit: int | None = None, batches: int | None = None) -> Iterator[Any]:
    """The first ``batches`` batches of ``inputs`` (any iterable or DataLoader of tensors or ``(x, y)`` pairs),
    holding at most ``limit`` samples in all (the last batch cut to fit)."""
    _check_cap("limit", limit)
    _check_cap("batches", batches)
    seen = 0
    for i, item in enumerate(inputs):
        if batches is not None and i >= batches:
            return
        x = item[0] if isinstance(item, (tuple, list)) and item else item
        if limit is not None and isinstance(x, torch.Tensor) and x.dim() > 0:
            room = limit - seen
            if room <= 0:
                return
            if x.shape[0] > room:
                item = x[:room] if x is item else type(item)([v[:room] if isinstance(v, torch.Tensor) else v
                                                              for v in item])
                x = x[:room]
            seen += x.shape[0]
        yield item


def resolve_input(
    spec: str | os.PathLike | None,
    card: ModelCard,
    batch_size: int | None = None,
    *,
    time_steps: int | None = None,
    n: int | None = None,
    limit: int | None = None,
    batches: int | None = None,
    num_workers: int = 0,
    split: str = "test",
    labels: bool = False,
) -> list[torch.Tensor] | DataLoader:
    """Batches of inputs for the model described by ``card`` (a :class:`~snnenergy.models.registry.ModelCard`).

    ``spec`` is ``None`` (the shipped samples: the photographs for image models, sized from
    ``card.input_shape`` and normalised for ``card.dataset``; generated DVS events ``[n, T, 2, H, W]`` for
    event models), a ``.pt``/``.pth``/``.npy`` tensor file, an ``.npz`` of event frames or events, an image
    file, or a dataset on disk (see :func:`open_dataset`: image folders, CIFAR batches, DVS sample folders).
    ``time_steps`` overrides the T of event inputs (default: ``card.input_shape[0]``); ``n`` is the number of
    shipped samples (default: all five). ``limit`` caps the samples and ``batches`` the batches (the first
    ones, in order); ``num_workers`` loads a dataset in that many worker processes.

    In-memory sources give a list of checked float32 batch tensors; a dataset gives a ``DataLoader`` of
    input batches (``(inputs, labels)`` pairs with ``labels=True``; default ``batch_size`` 32) whose first
    sample has been checked against the model's input shape, so that it can be sharded by
    :mod:`snnenergy.distributed`; its ``len(loader.dataset)`` is the number of samples it will give.
    """
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    _check_cap("limit", limit)
    _check_cap("batches", batches)
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be a non-negative int, got {num_workers!r}")
    expected = _expected_shape(card, time_steps)
    dataset = None
    if spec is None:
        count = n if n is not None else len(SAMPLE_NAMES)
        if card.input_kind == "events":
            t, _, h, w = _event_shape(card, time_steps)
            x = sample_events(t, (h, w), n=count)
        else:
            channels, hw = _image_layout(card)
            x = sample_images(hw, n=count, normalize=normalization_for(card.dataset), channels=channels)
        items = list(as_batches(x, batch_size))
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"input {str(path)!r} does not exist; expected a tensor file, an image, "
                                    "an image folder or a dataset folder")
        dataset = open_dataset(path, card, time_steps=time_steps, split=split)
        if dataset is None:
            items = list(as_batches(_from_file(path, card, time_steps), batch_size))
    if dataset is not None:
        return _loader(dataset, card, expected, batch_size or 32, limit, batches, num_workers, labels)
    items = list(take(items, limit, batches))
    for i, b in enumerate(items):
        check_input(b, expected, name=f"input batch {i} for model {card.name!r}")
    return items


def _loader(dataset: Dataset, card: ModelCard, expected: tuple, batch_size: int, limit, batches, workers,
            labels: bool) -> DataLoader:
    count = _cap(len(dataset), batch_size, limit, batches)
    first = dataset[0][0]
    check_input(first.unsqueeze(0), expected, name=f"input sample 0 for model {card.name!r}")
    subset = dataset if count == len(dataset) else Subset(dataset, range(count))
    return DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=workers,
                      collate_fn=None if labels else inputs_only)


def inputs_only(items: list) -> torch.Tensor:
    """Collate ``(sample, label)`` items into the batch of samples (labels are not needed to profile)."""
    return torch.stack([item[0] for item in items])
