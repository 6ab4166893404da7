"""Evaluation preprocessing: resize the shorter side, centre-crop, normalise, as the official eval pipelines do.

A model card may carry its own transform as data, ``card.preprocess`` (a dict with the keys of
:class:`Preprocess`, e.g. ``{"crop_pct": 0.95, "interpolation": "bicubic"}``); otherwise it follows from the
card's dataset and input size:

* ImageNet: shorter side to ``int(size / crop_pct)`` with ``crop_pct = 0.875`` (256 for 224) by bicubic
  interpolation, centre crop to ``size``, ImageNet mean/std: the eval transform of the MAE/DeiT-style
  pipelines the BICLab models were trained with (``crop_pct = 1`` above 224, as those pipelines do);
* CIFAR-10/100: the 32×32 images as they are (resized only when the card asks for another size),
  normalised with the dataset's mean/std.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
from PIL import Image

from .images import NORMALIZATIONS, as_hw, normalize_images, to_tensor

_INTERPOLATIONS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                   "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}
DEFAULT_CROP_PCT = 0.875


@dataclass(frozen=True)
class Preprocess:
    """One image → a normalised ``[C, H, W]`` float tensor.

    ``size``: the crop ``(H, W)``; ``crop_pct``: the crop's share of the resized shorter side (1.0: resize
    straight to the crop's shorter side; ``None``: no resize, centre crop only when the image is larger);
    ``interpolation``: ``bicubic``, ``bilinear``, ``nearest`` or ``lanczos``; ``normalize``: a name in
    :data:`NORMALIZATIONS` or ``None``; ``channels``: 3 (RGB) or 1 (grayscale).
    """

    size: tuple[int, int]
    crop_pct: float | None = DEFAULT_CROP_PCT
    interpolation: str = "bicubic"
    normalize: str | None = "imagenet"
    channels: int = 3

    def __post_init__(self) -> None:
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATIONS)}, got {self.interpolation!r}")
        if self.crop_pct is not None and not 0 < self.crop_pct <= 1:
            raise ValueError(f"crop_pct must be in (0, 1] or None, got {self.crop_pct!r}")
        if self.normalize is not None and self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {sorted(NORMALIZATIONS)} or None, got {self.normalize!r}")

    def resize_shorter(self) -> int | None:
        """The length the shorter side is resized to (``None``: not resized)."""
        if self.crop_pct is None:
            return None
        return int(min(self.size) / self.crop_pct)

    def image(self, img: Image.Image) -> Image.Image:
        """Resize the shorter side (aspect kept) and centre-crop, as torchvision's ``Resize(int)`` then
        ``CenterCrop``."""
        img = img.convert("RGB" if self.channels == 3 else "L")
        short = self.resize_shorter()
        if short is not None:
            w, h = img.size
            if w <= h:
                new = (short, int(short * h / w))
            else:
                new = (int(short * w / h), short)
            if new != img.size:
                img = img.resize(new, _INTERPOLATIONS[self.interpolation])
        th, tw = self.size
        w, h = img.size
        if w < tw or h < th:
            scale = max(th / h, tw / w)
            img = img.resize((max(tw, round(w * scale)), max(th, round(h * scale))), _INTERPOLATIONS[self.interpolation])
            w, h = img.size
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return img.crop((left, top, left + tw, top + th))

    def __call__(self, img: Image.Image) -> torch.Tensor:
        x = to_tensor(self.image(img)).to(torch.float64)
        return normalize_images(x, self.normalize).to(torch.float32)


def preprocess_for(card: Any) -> Preprocess:
    """The eval preprocessing of a model card (its ``preprocess`` data if it has one, else by dataset)."""
    shape = tuple(card.input_shape)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ValueError(f"model {card.name!r} takes inputs of shape {shape}, not images (C, H, W) with C = 1 or 3")
    channels, size = shape[0], as_hw((shape[1], shape[2]))
    base = _dataset_default(str(card.dataset), size)
    given = dict(getattr(card, "preprocess", None) or {})
    known = {f.name for f in fields(Preprocess)}
    unknown = set(given) - known
    if unknown:
        raise ValueError(f"model card {card.name!r} has unknown preprocess key(s) {sorted(unknown)}; "
                         f"expected some of {sorted(known - {'size', 'channels'})}")
    base.update(given)
    base["channels"] = channels
    if channels == 1 and base.get("normalize") is not None:
        base["normalize"] = None  # the named statistics are RGB
    return Preprocess(size=size, **{k: v for k, v in base.items() if k != "size"})


def _dataset_default(dataset: str, size: tuple[int, int]) -> dict[str, Any]:
    key = "".join(c for c in dataset.lower() if c.isalnum())
    for name in ("cifar100", "cifar10"):
        if name in key:
            return {"crop_pct": 1.0 if size != (32, 32) else None, "interpolation": "bilinear", "normalize": name}
    return {"crop_pct": DEFAULT_CROP_PCT if min(size) <= 224 else 1.0, "interpolation": "bicubic",
            "normalize": "imagenet"}


def describe(p: Preprocess) -> str:
    """One line for reports: what was done to each image."""
    short = p.resize_shorter()
    steps = [f"shorter side to {short} ({p.interpolation})" if short else "no resize",
             f"centre crop {p.size[0]}x{p.size[1]}", f"normalise {p.normalize or 'none'}"]
    return ", ".join(steps)

