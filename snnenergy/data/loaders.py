"""Inputs from files and folders, and turning any input source into a stream of batch tensors."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .checks import check_input
from .datasets import folder_files
from .images import (IMAGE_EXTENSIONS, Normalize, as_hw, is_image_file, load_image, normalize_images,
                     refuse_mixed_layout)

TENSOR_SUFFIXES = (".pt", ".pth", ".npy")
#: Keys tried, in order, when a ``.pt`` file holds a dict instead of a tensor.
TENSOR_KEYS = ("inputs", "input", "x", "data", "images", "events", "frames")


def _existing(path: str | os.PathLike, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{what} {str(p)!r} does not exist")
    return p


def _tensor_from_container(obj: Any, path: Path) -> torch.Tensor:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, Mapping):
        for key in TENSOR_KEYS:
            if isinstance(obj.get(key), torch.Tensor):
                return obj[key]
        tensors = [k for k, v in obj.items() if isinstance(v, torch.Tensor)]
        if len(tensors) == 1:
            return obj[tensors[0]]
        raise ValueError(
            f"{path} holds a dict with keys {sorted(map(str, obj))}; expected a tensor, or a dict with one "
            f"tensor or a tensor under one of {list(TENSOR_KEYS)}"
        )
    if isinstance(obj, (tuple, list)) and obj and isinstance(obj[0], torch.Tensor):
        return obj[0]  # an (inputs, labels) pair
    raise ValueError(f"{path} holds a {type(obj).__name__}; expected a tensor of inputs")


def load_tensor(
    path: str | os.PathLike,
    dtype: torch.dtype | None = torch.float32,
    expected_shape: Sequence[int | None] | None = None,
) -> torch.Tensor:
    """Read a batch of inputs from ``.pt``/``.pth`` (``torch.load(weights_only=True)``) or ``.npy``.

    A ``.pt`` file may hold a tensor, an ``(inputs, labels)`` pair, or a dict (see ``TENSOR_KEYS``). Integer
    and bool data (e.g. event counts saved as uint8) are converted to ``dtype`` (``None`` keeps the stored
    dtype). The result is checked with :func:`check_input` (NaN/Inf, empty, ``expected_shape``).
    """
    p = _existing(path, "tensor file")
    if not p.is_file():
        raise ValueError(f"{str(p)!r} is not a file; expected a {'/'.join(TENSOR_SUFFIXES)} file")
    suffix = p.suffix.lower()
    if suffix in (".pt", ".pth"):
        try:
            obj = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for corrupt or unsafe files
            # torch's own text suggests weights_only=False, which inputs never need (and a corrupt file would
            # not pass either): say what the file can be instead
            raise ValueError(f"cannot read {p}: not a tensor file written by torch.save (truncated, corrupted, or "
                             "holding objects other than tensors); expected a tensor, an (inputs, labels) pair or "
                             "a dict of tensors") from exc
        x = _tensor_from_container(obj, p)
    elif suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"cannot read {p} as a .npy array: {exc}") from exc
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
            raise ValueError(f"{p} holds an array of dtype {arr.dtype}; expected a numeric or bool array")
        x = torch.from_numpy(np.ascontiguousarray(arr))
    else:
        raise ValueError(f"unsupported tensor file {p.name!r}; expected one of {', '.join(TENSOR_SUFFIXES)}")
    if dtype is not None and x.dtype != dtype:
        if x.is_complex():
            raise ValueError(f"{p} holds a complex tensor ({x.dtype}); expected real-valued inputs")
        x = x.to(dtype)
    return check_input(x, expected_shape, name=f"tensor from {p.name}", require_float=dtype is not None)


def _image_files(folder: Path) -> list[Path]:
    return sorted((f for f in folder.iterdir() if is_image_file(f)), key=lambda f: f.name)


def _require_dir(path: str | os.PathLike, what: str) -> Path:
    p = _existing(path, what)
    if not p.is_dir():
        raise NotADirectoryError(f"{what} {str(p)!r} is a file, not a folder")
    return p


def image_folder(
    path: str | os.PathLike,
    size: int | tuple[int, int] = 224,
    normalize: Normalize = "imagenet",
    dtype: torch.dtype = torch.float32,
    channels: int = 3,
) -> torch.Tensor:
    """All images directly in ``path`` (sorted by file name) as one batch ``[N, C, H, W]``.

    Each image is resized to cover ``size`` and centre-cropped, then normalised as in
    :func:`~snnenergy.data.sample_images`. Files that are not images (by suffix) are ignored; an
    unreadable image raises ``ValueError`` naming it.
    """
    folder = _require_dir(path, "image folder")
    files = _image_files(folder)
    if not files:
        subdirs = [d.name for d in folder.iterdir() if d.is_dir()]
        hint = (f"; it has sub-folders {sorted(subdirs)[:5]}: for a root/<class>/<image> layout use "
                "dataset_folder" if subdirs else "")
        raise ValueError(f"image folder {str(folder)!r} contains no image files "
                         f"(looked for {', '.join(IMAGE_EXTENSIONS)}){hint}")
    folder_files(folder, is_image_file)  # refuses loose images next to class sub-folders
    hw = as_hw(size)
    batch = torch.stack([load_image(f, hw, channels) for f in files]).to(torch.float64)
    return normalize_images(batch, normalize).to(dtype)


class ImageFolderDataset(Dataset):
    """A torchvision-style ``root/<class>/<image>`` folder (classes sorted by name, labels 0..K-1).

    Images are found recursively inside each class folder and sorted by path; item ``i`` is
    ``(image [C, H, W], label)``. ``classes``, ``class_to_idx`` and ``samples`` mirror torchvision's
    ``ImageFolder``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        size: int | tuple[int, int] = 224,
        normalize: Normalize = "imagenet",
        dtype: torch.dtype = torch.float32,
        channels: int = 3,
    ) -> None:
        self.root = _require_dir(root, "dataset folder")
        self.size = as_hw(size)
        self.normalize = normalize
        self.dtype = dtype
        self.channels = channels
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not self.classes:
            loose = len(_image_files(self.root))
            hint = f"; it holds {loose} image(s) directly: for a flat folder use image_folder" if loose else ""
            raise ValueError(f"dataset folder {str(self.root)!r} has no class sub-folders; expected "
                             f"root/<class>/<image>{hint}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples: list[tuple[Path, int]] = []
        empty = []
        for cls in self.classes:
            files = sorted(f for f in (self.root / cls).rglob("*") if is_image_file(f))
            if not files:
                empty.append(cls)
            self.samples += [(f, self.class_to_idx[cls]) for f in files]
        if empty:
            raise ValueError(f"dataset folder {str(self.root)!r}: class folder(s) {empty} contain no image files "
                             f"(looked for {', '.join(IMAGE_EXTENSIONS)})")
        refuse_mixed_layout(self.root, _image_files(self.root), len(self.samples))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        img = load_image(path, self.size, self.channels).to(torch.float64)
        return normalize_images(img, self.normalize).to(self.dtype), label


def dataset_folder(
    path: str | os.PathLike,
    size: int | tuple[int, int] = 224,
    normalize: Normalize = "imagenet",
    batch_size: int = 32,
    shuffle: bool = False,
    num_workers: int = 0,
    dtype: torch.dtype = torch.float32,
    channels: int = 3,
) -> DataLoader:
    """A ``DataLoader`` of ``(images [B, C, H, W], labels [B])`` over a ``root/<class>/<image>`` folder."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    dataset = ImageFolderDataset(path, size, normalize, dtype, channels)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers)


def _split(x: torch.Tensor, batch_size: int | None) -> Iterator[torch.Tensor]:
    if batch_size is None or x.dim() == 0 or x.shape[0] <= batch_size:
        yield x
    else:
        yield from x.split(batch_size)


def _batch_input(item: Any, index: int) -> torch.Tensor:
    if isinstance(item, np.ndarray):
        item = torch.from_numpy(item)
    if isinstance(item, (tuple, list)) and item:
        item = item[0]  # (inputs, labels, ...)
    if isinstance(item, Mapping):
        item = next((item[k] for k in TENSOR_KEYS if k in item), item)
    if not isinstance(item, torch.Tensor):
        raise TypeError(f"batch {index} is a {type(item).__name__}; expected a tensor, an (inputs, labels) pair "
                        f"or a dict with one of the keys {list(TENSOR_KEYS)}")
    return item


def as_batches(inputs: Any, batch_size: int | None = None) -> Iterator[torch.Tensor]:
    """An iterator of input batch tensors from a tensor, a list/tuple/iterable of tensors, or a DataLoader.

    A tensor is one batch (split along dim 0 into chunks of ``batch_size`` if given). Items of an iterable
    may be tensors, ``(inputs, labels)`` pairs (the inputs are taken) or dicts with an input key; with
    ``batch_size`` a larger item is split too. Raises ``TypeError`` for an unsupported source (checked
    at once) and ``ValueError`` for an empty one (for a lazy iterable, when it turns out to be empty).
    """
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(inputs)
    if isinstance(inputs, torch.Tensor):
        if inputs.dim() == 0 or inputs.shape[0] == 0 or inputs.numel() == 0:
            raise ValueError(f"input tensor of shape {list(inputs.shape)} is empty; expected a batch [B, ...], B ≥ 1")
        return _split(inputs, batch_size)
    if isinstance(inputs, (str, bytes, os.PathLike)):
        raise TypeError(f"as_batches got a path ({inputs!r}); load it first with load_tensor, image_folder or "
                        "dataset_folder (or use resolve_input)")
    if isinstance(inputs, Mapping) or not isinstance(inputs, Iterable):
        raise TypeError(f"unsupported input source {type(inputs).__name__}; expected a tensor, a list/tuple/"
                        "iterable of tensors or a DataLoader")
    try:
        length = len(inputs)  # type: ignore[arg-type]
    except TypeError:  # generators, iterable datasets
        length = None
    if length == 0:
        what = "DataLoader" if isinstance(inputs, DataLoader) else type(inputs).__name__
        raise ValueError(f"the input {what} is empty; expected at least one batch")
    return _iterate(inputs, batch_size)


def _iterate(inputs: Iterable[Any], batch_size: int | None) -> Iterator[torch.Tensor]:
    count = 0
    for index, item in enumerate(inputs):
        x = _batch_input(item, index)
        if x.dim() == 0 or x.shape[0] == 0:
            raise ValueError(f"batch {index} has shape {list(x.shape)}; expected a non-empty batch [B, ...]")
        for chunk in _split(x, batch_size):
            count += 1
            yield chunk
    if count == 0:
        raise ValueError(f"the input {type(inputs).__name__} yielded no batches; expected at least one")
