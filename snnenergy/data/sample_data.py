"""The shipped sample photographs and the DVS event generator built on them."""
from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import torch
import torch.nn.functional as F
from PIL import Image

from .images import Normalize, as_hw, normalize_images, open_image, resize_center_crop, to_tensor

#: The shipped photographs (``snnenergy/data/samples/<name>.jpg``), in the order samples are drawn.
#: Sources and licences (public domain / CC0) are in ``samples/LICENSES.md``.
SAMPLE_NAMES: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field")


def _samples_dir():  # an importlib.resources Traversable (works from wheels and zips)
    return resources.files(__package__).joinpath("samples")


def sample_files() -> list[str]:
    """File names of the shipped photographs, in sample order."""
    return [f"{name}.jpg" for name in SAMPLE_NAMES]


@lru_cache(maxsize=None)
def _sample_photo(index: int, channels: int) -> Image.Image:
    name = sample_files()[index]
    with _samples_dir().joinpath(name).open("rb") as fh:
        return open_image(fh, channels=channels, name=f"shipped sample {name}")


def _check_count(n: int | None, what: str) -> int:
    if n is None:
        return len(SAMPLE_NAMES)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"{what} must be a positive int (or None for all {len(SAMPLE_NAMES)}), got {n!r}")
    return n


def sample_images(
    size: int | tuple[int, int] = 224,
    n: int | None = None,
    normalize: Normalize = "imagenet",
    dtype: torch.dtype = torch.float32,
    channels: int = 3,
) -> torch.Tensor:
    """The shipped photographs as a batch ``[n, C, H, W]``.

    Each photograph is resized so that it covers ``size`` (its shorter side to the target for a square) and
    centre-cropped. ``n=None`` gives all five; a larger ``n`` repeats them in order. ``normalize`` is
    ``"imagenet"`` (default), ``"cifar10"``, ``"cifar100"``, an explicit ``(mean, std)`` pair, or ``None`` for
    values in [0, 1]. ``channels=1`` gives grayscale (ITU-R 601 luma).
    """
    count = _check_count(n, "n")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    hw = as_hw(size)
    images = []
    for i in range(min(count, len(SAMPLE_NAMES))):
        images.append(to_tensor(resize_center_crop(_sample_photo(i, channels), hw)))
    batch = torch.stack([images[i % len(images)] for i in range(count)]).to(torch.float64)
    return normalize_images(batch, normalize).to(dtype)


def _luma(photo_index: int, cover_hw: tuple[int, int]) -> torch.Tensor:
    """Grayscale intensity in [0, 1], float64 ``[1, 1, H, W]``, covering ``cover_hw``."""
    rgb = to_tensor(resize_center_crop(_sample_photo(photo_index, 3), cover_hw)).to(torch.float64)
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).reshape(3, 1, 1)
    return (rgb * weights).sum(0)[None, None]


def _triangle_path(num_points: int, amplitude: float, angle: float) -> torch.Tensor:
    """``num_points`` (dx, dy) positions along a closed equilateral triangle of side ``amplitude`` pixels."""
    vertices = torch.tensor(
        [[0.0, 0.0], [math.cos(angle), math.sin(angle)], [math.cos(angle + math.pi / 3), math.sin(angle + math.pi / 3)],
         [0.0, 0.0]],
        dtype=torch.float64,
    ) * amplitude
    u = torch.linspace(0.0, 3.0, num_points, dtype=torch.float64)
    seg = u.floor().clamp(max=2).long()
    frac = (u - seg).unsqueeze(1)
    return vertices[seg] * (1 - frac) + vertices[seg + 1] * frac


def _shifted_views(img: torch.Tensor, offsets: torch.Tensor, hw: tuple[int, int], margin: int) -> torch.Tensor:
    """Bilinear ``hw`` windows of ``img`` ``[1, 1, H+2m, W+2m]`` displaced by ``offsets`` ``[K, 2]`` pixels."""
    h, w = hw
    src_h, src_w = img.shape[-2:]
    ys = torch.arange(h, dtype=torch.float64) + margin
    xs = torch.arange(w, dtype=torch.float64) + margin
    px = xs[None, None, :] + offsets[:, 0, None, None]  # [K, 1, W]
    py = ys[None, :, None] + offsets[:, 1, None, None]  # [K, H, 1]
    # pixel centres → grid_sample's normalised coordinates (align_corners=False)
    gx = ((2 * px + 1) / src_w - 1).expand(-1, h, w)
    gy = ((2 * py + 1) / src_h - 1).expand(-1, h, w)
    grid = torch.stack([gx, gy], dim=-1)
    views = F.grid_sample(img.expand(len(offsets), -1, -1, -1), grid, mode="bilinear",
                          padding_mode="border", align_corners=False)
    return views[:, 0]  # [K, H, W]


def sample_events(
    time_steps: int,
    size: int | tuple[int, int] = (128, 128),
    n: int = 2,
    seed: int = 0,
    *,
    contrast_threshold: float = 0.2,
    substeps: int = 4,
    amplitude: float = 0.04,
    log_eps: float = 0.02,
) -> torch.Tensor:
    """Event frames ``[n, T, 2, H, W]`` (float32 counts) from a simulated DVS looking at the shipped photos.

    Deterministic generator, an idealised DVS pixel model (as in ESIM / v2e) under a small camera motion:

    1. Sample ``i`` uses photograph ``i mod 5`` (``SAMPLE_NAMES``), converted to luma in [0, 1] and resized to
       cover the sensor plus a motion margin.
    2. The camera follows a closed equilateral triangle of three saccades (like the N-MNIST / N-Caltech101
       recordings): side ``amplitude · min(H, W)`` pixels scaled by a factor in [0.75, 1.25], orientation
       uniform in [0, 2π); both drawn per sample from ``torch.Generator().manual_seed(seed)``. The path is
       sampled at ``T · substeps + 1`` positions and rendered by bilinear interpolation.
    3. Each pixel keeps a reference log intensity ``L_ref``, initialised at the first position, with
       ``L = log(I + log_eps)``. At every sub-step it emits ``floor(|L - L_ref| / C)`` events of polarity
       ``sign(L - L_ref)`` (``C = contrast_threshold``) and moves ``L_ref`` by that many thresholds.
    4. Events are summed per frame (``substeps`` sub-steps each): channel 0 counts OFF (darker) events and
       channel 1 ON (brighter) events, the polarity-as-channel layout of SpikingJelly's frame integration.

    Values are non-negative integer counts; same arguments → identical tensor. Because the path is closed,
    every pixel emits as many ON as OFF events over the whole sample; ``amplitude=0`` gives no events.
    """
    if not isinstance(time_steps, int) or time_steps < 1:
        raise ValueError(f"time_steps must be a positive int, got {time_steps!r}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(substeps, int) or substeps < 1:
        raise ValueError(f"substeps must be a positive int, got {substeps!r}")
    if contrast_threshold <= 0 or log_eps <= 0 or amplitude < 0:
        raise ValueError("contrast_threshold and log_eps must be positive and amplitude non-negative")
    h, w = as_hw(size)
    gen = torch.Generator().manual_seed(seed)
    max_side = amplitude * min(h, w) * 1.25
    margin = math.ceil(max_side) + 2
    rel = []
    for i in range(n):
        scale = 0.75 + 0.5 * float(torch.rand((), generator=gen, dtype=torch.float64))
        angle = 2 * math.pi * float(torch.rand((), generator=gen, dtype=torch.float64))
        path = _triangle_path(time_steps * substeps + 1, amplitude * min(h, w) * scale, angle)
        luma = _luma(i % len(SAMPLE_NAMES), (h + 2 * margin, w + 2 * margin))
        log_i = torch.log(_shifted_views(luma, path, (h, w), margin) + log_eps)
        # threshold units relative to the first view: L_ref = L_0 + C·level with an integer level, so that
        # crossings are exact and a closed path gives as many ON as OFF events per pixel
        rel.append((log_i - log_i[0]) / contrast_threshold)
    rel_t = torch.stack(rel)  # [n, K+1, H, W]
    signed = torch.empty(n, time_steps * substeps, h, w, dtype=torch.float64)  # per sub-step: +ON / -OFF
    level = torch.zeros(n, h, w, dtype=torch.float64)
    for k in range(signed.shape[1]):  # the pixels' memory makes this loop sequential; batched over samples
        torch.trunc(rel_t[:, k + 1] - level, out=signed[:, k])  # whole thresholds crossed, either way
        level += signed[:, k]
    per_frame = signed.view(n, time_steps, substeps, h, w)
    frames = torch.stack([(-per_frame).clamp(min=0).sum(2), per_frame.clamp(min=0).sum(2)], dim=2)
    return frames.to(torch.float32)
