"""Datasets on disk: ImageNet-style image folders, CIFAR-10/100 python batches, DVS event files, Tonic.

Each is a map-style ``torch.utils.data.Dataset`` of ``(sample, label)`` (label -1 where the layout has none),
so that a ``DataLoader`` can batch it with workers and ``snnenergy.distributed`` can shard it by sample.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .images import IMAGE_EXTENSIONS, is_image_file, open_image, refuse_mixed_layout
from .preprocess import Preprocess

EVENT_SUFFIXES = (".npz", ".npy")


def _dir(path: str | os.PathLike, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{what} {str(p)!r} does not exist")
    if not p.is_dir():
        raise NotADirectoryError(f"{what} {str(p)!r} is a file, not a folder")
    return p


def folder_files(folder: Path, keep) -> list[tuple[Path, int]]:
    """``(file, label)``: files directly in ``folder`` (label -1), or in its class sub-folders (sorted, 0..K-1);
    a folder with both is refused (taking either would silently drop the other)."""
    flat = sorted((f for f in folder.iterdir() if keep(f)), key=lambda f: f.name)
    classes = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    out = []
    for label, d in enumerate(classes):
        out += [(f, label) for f in sorted(f for f in d.rglob("*") if keep(f))]
    refuse_mixed_layout(folder, flat, len(out))
    return [(f, -1) for f in flat] if flat else out


class ImageFiles(Dataset):
    """An ImageNet-style folder (``val/<class>/<image>`` or images directly in it) through a :class:`Preprocess`."""

    def __init__(self, root: str | os.PathLike, preprocess: Preprocess) -> None:
        self.root = _dir(root, "image folder")
        self.preprocess = preprocess
        self.samples = folder_files(self.root, is_image_file)
        if not self.samples:
            raise ValueError(f"image folder {str(self.root)!r} has no images, directly or in class sub-folders "
                             f"(looked for {', '.join(IMAGE_EXTENSIONS)})")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[i]
        return self.preprocess(open_image(path, self.preprocess.channels)), label


# ------------------------------------------------------------------ CIFAR

CIFAR_SPLITS = {
    "cifar10": {"test": ["test_batch"], "train": [f"data_batch_{i}" for i in range(1, 6)]},
    "cifar100": {"test": ["test"], "train": ["train"]},
}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles the CIFAR batches (dicts of bytes, lists and NumPy arrays) and nothing that runs code."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch file")


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [N, 32, 32, 3], labels int64 [N])`` of one CIFAR-10/100 python batch file."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            d = _ArraysOnly(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{p} is not a CIFAR python batch ({e}); expected the pickled dict of "
                         "cifar-10-batches-py or cifar-100-python") from None
    if not isinstance(d, dict):
        raise ValueError(f"{p} holds a {type(d).__name__}; a CIFAR batch is a dict with b'data' and labels")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    labels = d.get("labels", d.get("fine_labels"))
    data = d.get("data")
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 or labels is None:
        raise ValueError(f"{p} is not a CIFAR batch: expected 'data' [N, 3072] uint8 and 'labels' or 'fine_labels'")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int64)


def find_cifar_files(path: str | os.PathLike, split: str = "test") -> list[Path]:
    """The batch files of ``split`` in a ``cifar-10-batches-py`` / ``cifar-100-python`` folder (or one file)."""
    p = Path(path).expanduser()
    if p.is_file():
        return [p]
    _dir(p, "CIFAR folder")
    for layout in CIFAR_SPLITS.values():
        if split not in layout:
            raise ValueError(f"split must be 'test' or 'train', got {split!r}")
        files = [p / n for n in layout[split]]
        if all(f.is_file() for f in files):
            return files
    raise ValueError(f"{str(p)!r} is not a CIFAR folder: expected test_batch / data_batch_1..5 (CIFAR-10) or "
                     "test / train (CIFAR-100), the python versions of the datasets")


def is_cifar_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "test_batch").is_file() or ((path / "test").is_file() and (path / "meta").is_file()))


class CifarBatches(Dataset):
    """CIFAR-10/100 from their python batches, each image through ``preprocess`` (a :class:`Preprocess`)."""

    def __init__(self, path: str | os.PathLike, preprocess: Preprocess, split: str = "test") -> None:
        parts = [read_cifar_batch(f) for f in find_cifar_files(path, split)]
        self.images = np.concatenate([im for im, _ in parts])
        self.labels = np.concatenate([lb for _, lb in parts])
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.preprocess(Image.fromarray(self.images[i])), int(self.labels[i])


# ------------------------------------------------------------------ DVS events

def events_to_frames(events: dict[str, np.ndarray] | np.ndarray, time_steps: int, size: Sequence[int],
                     split_by: str = "number") -> torch.Tensor:
    """Event counts ``[T, 2, H, W]`` (float32) from events with fields ``t``, ``x``, ``y``, ``p``.

    ``split_by="number"``: T slices of (nearly) equal event counts, in time order, slice ``j`` holding
    events ``[⌊j·N/T⌋, ⌊(j+1)·N/T⌋)`` (SpikingJelly's ``frames_number`` integration); ``"time"``: T equal time
    spans. Channel 0 counts events of polarity 0 (OFF), channel 1 polarity 1 (ON).
    """
    h, w = int(size[0]), int(size[1])
    t, x, y, p = (np.asarray(events[k]) for k in ("t", "x", "y", "p"))
    n = len(t)
    frames = np.zeros((time_steps, 2, h, w), dtype=np.float32)
    if n == 0:
        return torch.from_numpy(frames)
    if (x.max() >= w) or (y.max() >= h) or x.min() < 0 or y.min() < 0:
        raise ValueError(f"events reach x={int(x.max())}, y={int(y.max())} but the model's frames are {h}x{w}; "
                         "pass events from a sensor of the model's size")
    order = np.argsort(t, kind="stable")
    if split_by == "number":
        slot = np.empty(n, dtype=np.int64)
        slot[order] = (np.arange(n) * time_steps) // n
    elif split_by == "time":
        t0, span = t.min(), max(t.max() - t.min(), 1)
        slot = np.minimum(((t - t0) * time_steps) // span, time_steps - 1).astype(np.int64)
    else:
        raise ValueError(f"split_by must be 'number' or 'time', got {split_by!r}")
    pol = (np.asarray(p) > 0).astype(np.int64)
    np.add.at(frames, (slot, pol, y.astype(np.int64), x.astype(np.int64)), 1.0)
    return torch.from_numpy(frames)


def _event_dict(arr: Any) -> dict[str, np.ndarray] | None:
    """Fields t, x, y, p of a structured array or an npz, else None."""
    names = getattr(getattr(arr, "dtype", None), "names", None) or (list(arr.keys()) if hasattr(arr, "keys") else [])
    if all(k in names for k in ("t", "x", "y", "p")):
        return {k: np.asarray(arr[k]) for k in ("t", "x", "y", "p")}
    return None


def load_event_sample(path: Path, time_steps: int, size: Sequence[int], split_by: str = "number") -> torch.Tensor:
    """One sample ``[T, 2, H, W]`` from a ``.npz`` (``frames`` or ``t, x, y, p``) or ``.npy`` (frames or events)."""
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"cannot read {path} as .npz/.npy ({e})") from None
    events = _event_dict(data)
    if events is not None:
        return events_to_frames(events, time_steps, size, split_by)
    if hasattr(data, "keys"):
        key = next((k for k in ("frames", "x", "data", "events") if k in data), None)
        if key is None:
            raise ValueError(f"{path} has arrays {sorted(data.keys())}; expected 'frames' [T, 2, H, W] or events "
                             "'t', 'x', 'y', 'p'")
        data = data[key]
    frames = torch.from_numpy(np.ascontiguousarray(data)).to(torch.float32)
    want = (time_steps, 2, int(size[0]), int(size[1]))
    if tuple(frames.shape) != want:
        raise ValueError(f"{path} holds frames of shape {tuple(frames.shape)}; the model takes {want}")
    return frames


class EventFiles(Dataset):
    """A folder of DVS samples, one ``.npz``/``.npy`` file each (flat or ``<class>/<sample>``), as frames."""

    def __init__(self, root: str | os.PathLike, time_steps: int, size: Sequence[int], split_by: str = "number") -> None:
        self.root = _dir(root, "event folder")
        self.samples = folder_files(self.root, lambda f: f.is_file() and f.suffix.lower() in EVENT_SUFFIXES)
        if not self.samples:
            raise ValueError(f"event folder {str(self.root)!r} has no .npz/.npy files, directly or in class folders")
        self.time_steps, self.size, self.split_by = time_steps, tuple(size), split_by

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[i]
        return load_event_sample(path, self.time_steps, self.size, self.split_by), label


class TonicFrames(Dataset):
    """A Tonic dataset (or any dataset of ``(events, label)`` with structured ``t, x, y, p`` events) as frames
    ``[T, 2, H, W]``; events already turned into frames by a Tonic transform pass through."""

    def __init__(self, dataset: Any, time_steps: int, size: Sequence[int], split_by: str = "number") -> None:
        self.dataset, self.time_steps, self.size, self.split_by = dataset, time_steps, tuple(size), split_by

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        item = self.dataset[i]
        events, label = (item[0], item[1]) if isinstance(item, tuple) and len(item) > 1 else (item, -1)
        fields_ = _event_dict(events)
        if fields_ is not None:
            return events_to_frames(fields_, self.time_steps, self.size, self.split_by), _label(label)
        return torch.as_tensor(np.asarray(events), dtype=torch.float32), _label(label)


def _label(label: Any) -> int:
    try:
        return int(label)
    except (TypeError, ValueError):
        return -1
