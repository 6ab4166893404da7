"""Image decoding, resizing and normalisation with Pillow (no torchvision)."""
from __future__ import annotations

from pathlib import Path
from typing import IO, Sequence, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

#: Per-channel (mean, std) of the training sets, for ``normalize=`` arguments.
NORMALIZATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
}

#: File suffixes treated as images when scanning folders.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

Normalize = Union[str, tuple[Sequence[float], Sequence[float]], None]


def as_hw(size: int | Sequence[int]) -> tuple[int, int]:
    """``size`` as ``(H, W)``; an int means a square."""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if len(hw) != 2 or not all(isinstance(s, int) and s > 0 for s in hw):
        raise ValueError(f"size must be a positive int or a pair (H, W) of positive ints, got {size!r}")
    return hw  # type: ignore[return-value]


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def open_image(source: Path | IO[bytes], channels: int = 3, name: str | None = None) -> Image.Image:
    """Decode an image file into an RGB (``channels=3``) or grayscale (``channels=1``) Pillow image."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    label = name or str(source)
    try:
        with Image.open(source) as img:
            return img.convert("RGB" if channels == 3 else "L")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(
            f"cannot read image {label}: {exc}. Expected an image file Pillow can decode "
            f"({', '.join(IMAGE_EXTENSIONS)})."
        ) from exc


def resize_center_crop(img: Image.Image, size: int | Sequence[int]) -> Image.Image:
    """Scale so that the image covers ``size`` (its shorter side for a square target), then centre-crop."""
    h, w = as_hw(size)
    scale = max(h / img.height, w / img.width)
    new_w, new_h = max(w, round(img.width * scale)), max(h, round(img.height * scale))
    if (new_w, new_h) != img.size:
        img = img.resize((new_w, new_h), Image.Resampling.BILINEAR)  # antialiased when shrinking
    left, top = (new_w - w) // 2, (new_h - h) // 2
    return img.crop((left, top, left + w, top + h))


def to_tensor(img: Image.Image) -> torch.Tensor:
    """Pillow image → float32 tensor ``[C, H, W]`` in [0, 1]."""
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).to(torch.float32).div_(255.0)


def normalization_stats(normalize: Normalize, channels: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(mean, std) tensors of shape ``[C, 1, 1]`` for a named or explicit normalisation; ``None`` for none."""
    if normalize is None:
        return None
    if isinstance(normalize, str):
        key = normalize.lower()
        if key not in NORMALIZATIONS:
            raise ValueError(
                f"unknown normalisation {normalize!r}; expected one of {sorted(NORMALIZATIONS)}, "
                "None for [0, 1] values, or an explicit (mean, std) pair"
            )
        mean, std = NORMALIZATIONS[key]
    else:
        try:
            mean, std = normalize
        except (TypeError, ValueError):
            raise ValueError(f"normalize must be a name, None or a (mean, std) pair, got {normalize!r}") from None
    mean_t = torch.as_tensor(mean, dtype=torch.float64).reshape(-1, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float64).reshape(-1, 1, 1)
    if mean_t.shape[0] != channels or std_t.shape[0] != channels:
        raise ValueError(
            f"normalisation {normalize!r} has {mean_t.shape[0]} means and {std_t.shape[0]} stds, "
            f"but the images have {channels} channel(s); pass normalize=None or a ({channels}-value mean, "
            f"{channels}-value std) pair"
        )
    if bool((std_t <= 0).any()):
        raise ValueError(f"normalisation stds must be positive, got {std}")
    return mean_t, std_t


def normalize_images(x: torch.Tensor, normalize: Normalize) -> torch.Tensor:
    """``(x - mean) / std`` per channel for ``x`` of shape ``[..., C, H, W]`` with values in [0, 1]."""
    stats = normalization_stats(normalize, x.shape[-3])
    if stats is None:
        return x
    mean, std = (s.to(x.dtype) for s in stats)
    return (x - mean) / std


def load_image(
    source: Path | IO[bytes], size: int | Sequence[int], channels: int = 3, name: str | None = None
) -> torch.Tensor:
    """One image file → float32 ``[C, H, W]`` in [0, 1], resized to cover ``size`` and centre-cropped."""
    return to_tensor(resize_center_crop(open_image(source, channels, name), size))


def refuse_mixed_layout(folder, loose: list, nested: int) -> None:
    """Refuse a folder holding files directly (``loose``) and ``nested`` more in sub-folders: reading either
    layout would silently drop the other."""
    if loose and nested:
        raise ValueError(f"folder {str(folder)!r} holds {len(loose)} file(s) directly (e.g. {loose[0].name}) and "
                         f"{nested} in class sub-folders; use one layout, root/<class>/<file> or files directly "
                         "in root (move or remove the loose files)")
