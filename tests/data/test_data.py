"""snnenergy.data: shipped samples, event generator, loaders, checks and the CLI input resolver."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from snnenergy.data import (
    NORMALIZATIONS,
    SAMPLE_NAMES,
    ImageFolderDataset,
    as_batches,
    check_input,
    dataset_folder,
    image_folder,
    load_tensor,
    normalization_for,
    resolve_input,
    sample_events,
    sample_files,
    sample_images,
)
from snnenergy.models.registry import ModelCard

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "snnenergy" / "data" / "samples"


def _card(**kw) -> ModelCard:
    base = dict(name="toy", family="toy", paper="-", dataset="ImageNet", input_shape=(3, 224, 224),
                time_steps=4, num_classes=10)
    base.update(kw)
    return ModelCard(**base)


def _write_png(path: Path, h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return arr


# ---------------------------------------------------------------- shipped files and licences

def test_shipped_samples_are_small_square_jpegs():
    jpgs = sorted(p.name for p in SAMPLES_DIR.glob("*.jpg"))
    assert jpgs == sorted(sample_files()) and len(jpgs) == 5
    assert sum(p.stat().st_size for p in SAMPLES_DIR.iterdir()) < 200_000
    for name in jpgs:
        with Image.open(SAMPLES_DIR / name) as img:
            assert img.format == "JPEG" and img.size == (256, 256) and img.mode == "RGB"


def test_licences_file_lists_every_shipped_image_with_a_pd_or_cc0_licence():
    text = (SAMPLES_DIR / "LICENSES.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([\w.]+\.jpg)` \|.*$", text, re.M)}
    assert set(rows) == set(sample_files())
    for row in rows.values():
        assert "public domain" in row or "CC0" in row
    assert "motorcycle" not in " ".join(sample_files())


# ---------------------------------------------------------------- sample_images

def test_sample_images_default_shape_and_dtype():
    x = sample_images()
    assert x.shape == (5, 3, 224, 224) and x.dtype == torch.float32
    assert sample_images((32, 48), n=2, dtype=torch.float64).shape == (2, 3, 32, 48)
    assert sample_images(16, n=2, dtype=torch.float64).dtype == torch.float64
    assert sample_images(16, n=1, channels=1, normalize=None).shape == (1, 1, 16, 16)


def test_sample_images_repeat_in_order_when_n_exceeds_the_photos():
    x = sample_images(16, n=7, normalize=None)
    assert torch.equal(x[5], x[0]) and torch.equal(x[6], x[1])
    assert not torch.equal(x[0], x[1])


def test_sample_images_match_an_independent_pillow_resize():
    raw = sample_images(224, normalize=None)
    for i, name in enumerate(sample_files()):
        with Image.open(SAMPLES_DIR / name) as img:
            ref = np.asarray(img.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR), dtype=np.float32)
        assert torch.allclose(raw[i], torch.from_numpy(ref).permute(2, 0, 1) / 255, atol=1e-6)


def test_non_square_size_is_a_centre_crop_of_the_cover_resize():
    wide = sample_images((16, 32), n=1, normalize=None)[0]
    with Image.open(SAMPLES_DIR / sample_files()[0]) as img:
        ref = np.asarray(img.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR).crop((0, 8, 32, 24)))
    assert torch.allclose(wide, torch.from_numpy(ref.astype(np.float32)).permute(2, 0, 1) / 255, atol=1e-6)


def test_sample_images_are_photographs_not_noise():
    x = sample_images(64, normalize=None)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    # neighbouring pixels of natural images are strongly correlated; uniform noise would give ~0
    a, b = x[..., :, :-1].flatten(), x[..., :, 1:].flatten()
    assert float(torch.corrcoef(torch.stack([a, b]))[0, 1]) > 0.8


@pytest.mark.parametrize("name", sorted(NORMALIZATIONS))
def test_normalisation_statistics(name):
    raw = sample_images(32, normalize=None, dtype=torch.float64)
    x = sample_images(32, normalize=name, dtype=torch.float64)
    mean, std = (torch.tensor(v, dtype=torch.float64) for v in NORMALIZATIONS[name])
    assert torch.allclose(x.mean((0, 2, 3)), (raw.mean((0, 2, 3)) - mean) / std, atol=1e-12)
    assert torch.allclose(x.std((0, 2, 3)), raw.std((0, 2, 3)) / std, atol=1e-12)
    assert torch.allclose(x * std.view(3, 1, 1) + mean.view(3, 1, 1), raw, atol=1e-12)


def test_known_dataset_statistics():
    assert NORMALIZATIONS["imagenet"] == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert NORMALIZATIONS["cifar10"][0] == (0.4914, 0.4822, 0.4465)
    assert NORMALIZATIONS["cifar100"][0] == (0.5071, 0.4867, 0.4408)


def test_explicit_mean_std_pair():
    raw = sample_images(8, n=1, normalize=None)
    x = sample_images(8, n=1, normalize=((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)))
    assert torch.allclose(x, (raw - 0.5) / 0.25, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(normalize="mnist"),
         r"unknown normalisation 'mnist'; expected one of \['cifar10', 'cifar100', 'imagenet'\]"),
        (dict(channels=1), r"has 3 means and 3 stds, but the images have 1 channel"),
        (dict(n=0), r"n must be a positive int"),
        (dict(size=(0, 4)), r"size must be a positive int or a pair"),
        (dict(dtype=torch.int64), r"dtype must be a floating-point"),
        (dict(channels=2, normalize=None), r"channels must be 1 \(grayscale\) or 3 \(RGB\)"),
    ],
)
def test_sample_images_errors(kwargs, message):
    args = dict(size=8)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sample_images(**args)


# ---------------------------------------------------------------- sample_events

def test_sample_events_shape_dtype_and_counts():
    e = sample_events(4, (32, 48), n=3)
    assert e.shape == (3, 4, 2, 32, 48) and e.dtype == torch.float32
    assert float(e.min()) >= 0 and torch.equal(e, e.round())
    assert float(e[:, :, 0].sum()) > 0 and float(e[:, :, 1].sum()) > 0  # both polarities
    density = float((e > 0).float().mean())
    assert 0.01 < density < 0.6
    for t in range(4):  # every frame carries events (the camera moves during each one)
        assert float(e[:, t].sum()) > 0


def test_sample_events_are_deterministic_and_seeded():
    a = sample_events(3, 32, n=2, seed=7)
    assert torch.equal(a, sample_events(3, 32, n=2, seed=7))
    assert not torch.equal(a, sample_events(3, 32, n=2, seed=8))
    assert not torch.equal(a[0], a[1])  # different photographs


def test_sample_events_physics():
    # closed saccade path: per pixel, as many ON as OFF events in total
    e = sample_events(6, (40, 56), n=5, seed=3)
    total = e.sum(1)
    assert torch.equal(total[:, 0], total[:, 1])
    # a still camera sees no change and emits nothing; a higher threshold emits fewer events
    assert float(sample_events(2, 32, n=1, amplitude=0.0).sum()) == 0
    assert float(sample_events(2, 32, n=1, contrast_threshold=0.4).sum()) < float(sample_events(2, 32, n=1).sum())
    # events sit on edges: pixels in the steepest quarter of log-intensity gradients are far more often
    # active than those in the flattest quarter
    imgs = sample_images(32, normalize=None)
    log_l = torch.log((imgs * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(1) + 0.02)
    grad_x = (log_l[:, 1:-1, 2:] - log_l[:, 1:-1, :-2]).abs()
    grad = (grad_x + (log_l[:, 2:, 1:-1] - log_l[:, :-2, 1:-1]).abs()).flatten()
    active = (sample_events(2, 32, n=5).sum((1, 2))[:, 1:-1, 1:-1] > 0).flatten().float()
    low, high = grad.quantile(torch.tensor([0.25, 0.75]))
    assert float(active[grad >= high].mean()) > 2.5 * float(active[grad <= low].mean())


def test_sample_events_first_frame_matches_the_pixel_model():
    # white-box: with one sub-step per frame the first frame is the thresholded change between the first two
    # camera positions, ON (channel 1) where the log intensity rose, OFF (channel 0) where it fell
    from snnenergy.data.sample_data import _luma, _shifted_views, _triangle_path

    h, w, c, eps, amp = 24, 40, 0.2, 0.02, 0.04
    e = sample_events(3, (h, w), n=1, seed=5, substeps=1, contrast_threshold=c, log_eps=eps, amplitude=amp)
    gen = torch.Generator().manual_seed(5)
    scale = 0.75 + 0.5 * float(torch.rand((), generator=gen, dtype=torch.float64))
    angle = 2 * math.pi * float(torch.rand((), generator=gen, dtype=torch.float64))
    path = _triangle_path(4, amp * min(h, w) * scale, angle)
    margin = math.ceil(amp * min(h, w) * 1.25) + 2
    views = _shifted_views(_luma(0, (h + 2 * margin, w + 2 * margin)), path[:2], (h, w), margin)
    change = (torch.log(views[1] + eps) - torch.log(views[0] + eps)) / c
    assert torch.equal(e[0, 0, 1].double(), change.clamp(min=0).floor())
    assert torch.equal(e[0, 0, 0].double(), (-change).clamp(min=0).floor())
    assert float(e[0, 0].sum()) > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(time_steps=0), "time_steps must be a positive int"), (dict(n=0), "n must be a positive int"),
     (dict(contrast_threshold=0.0), "contrast_threshold and log_eps must be positive")],
)
def test_sample_events_errors(kwargs, message):
    args = dict(time_steps=2, size=8, n=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sample_events(**args)


# ---------------------------------------------------------------- check_input

def test_check_input_accepts_and_returns_valid_input():
    x = torch.zeros(2, 3, 8, 8)
    assert check_input(x, (3, 8, 8)) is x
    assert check_input(x, (3, None, -1)) is x
    assert check_input(torch.zeros(2, 3, dtype=torch.int64), require_float=False) is not None


@pytest.mark.parametrize(
    "x, expected, message",
    [
        (torch.tensor([[1.0, float("nan")], [float("inf"), 2.0]]), None,
         r"input contains 1 NaN and 1 Inf value\(s\) \(first at index \[0, 1\]\); expected finite values"),
        (torch.tensor([[float("-inf")]]), None, r"0 NaN and 1 Inf"),
        (torch.zeros(2, 3, dtype=torch.uint8), None, r"input has dtype torch.uint8; expected a floating-point tensor"),
        (torch.zeros(2, 3, 32, 32), (3, 224, 224),
         r"input has shape \[2, 3, 32, 32\]; expected \[B, 3, 224, 224\] "
         r"\(a batch of samples of shape \(3, 224, 224\)\)$"),
        (torch.zeros(3, 224, 224), (3, 224, 224),
         r"one sample without the batch dimension: add it with x.unsqueeze\(0\)"),
        (torch.zeros(0, 3, 4, 4), (3, 4, 4), r"input is empty \(shape \[0, 3, 4, 4\]\)"),
        (torch.zeros(1, 4, 2, 8, 8), (8, 2, 8, 8), r"expected \[B, 8, 2, 8, 8\]"),
    ],
)
def test_check_input_errors(x, expected, message):
    with pytest.raises(ValueError, match=message):
        check_input(x, expected)


def test_check_input_names_the_input_and_rejects_non_tensors():
    with pytest.raises(ValueError, match="^batch 3 contains 1 NaN"):
        check_input(torch.tensor([float("nan")]), name="batch 3")
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got list"):
        check_input([1.0])


# ---------------------------------------------------------------- load_tensor

def test_load_tensor_formats(tmp_path):
    x = torch.randn(2, 3, 4, 4)
    torch.save(x, tmp_path / "a.pt")
    torch.save({"inputs": x, "labels": torch.tensor([0, 1])}, tmp_path / "b.pth")
    torch.save((x, torch.tensor([0, 1])), tmp_path / "c.pt")
    torch.save({"only": x}, tmp_path / "d.pt")
    for name in ("a.pt", "b.pth", "c.pt", "d.pt"):
        assert torch.equal(load_tensor(tmp_path / name), x)
    np.save(tmp_path / "e.npy", x.numpy().astype(np.float64))
    loaded = load_tensor(tmp_path / "e.npy")
    assert loaded.dtype == torch.float32 and torch.allclose(loaded, x)
    assert load_tensor(tmp_path / "e.npy", dtype=None).dtype == torch.float64


def test_load_tensor_converts_integer_event_counts(tmp_path):
    counts = np.random.default_rng(0).integers(0, 5, size=(1, 4, 2, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "ev.npy", counts)
    x = load_tensor(tmp_path / "ev.npy", expected_shape=(4, 2, 8, 8))
    assert x.dtype == torch.float32 and torch.equal(x, torch.from_numpy(counts).float())


def test_load_tensor_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="tensor file .*missing.pt' does not exist"):
        load_tensor(tmp_path / "missing.pt")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(ValueError, match=r"unsupported tensor file 'x.csv'; expected one of .pt, .pth, .npy"):
        load_tensor(tmp_path / "x.csv")
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"cannot read .*bad.pt: not a tensor file written by torch.save") as info:
        load_tensor(tmp_path / "bad.pt")
    assert "weights_only" not in str(info.value)  # torch's advice to unpickle anything does not apply
    (tmp_path / "bad.npy").write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"cannot read .*bad.npy as a .npy array"):
        load_tensor(tmp_path / "bad.npy")
    np.save(tmp_path / "obj.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"holds an array of dtype <U1; expected a numeric or bool array"):
        load_tensor(tmp_path / "obj.npy")
    torch.save({"a": torch.zeros(1), "b": torch.zeros(1)}, tmp_path / "two.pt")
    with pytest.raises(ValueError, match=r"holds a dict with keys \['a', 'b'\]; expected a tensor"):
        load_tensor(tmp_path / "two.pt")
    torch.save(torch.tensor([[1.0, float("nan")]]), tmp_path / "nan.pt")
    with pytest.raises(ValueError, match=r"tensor from nan.pt contains 1 NaN"):
        load_tensor(tmp_path / "nan.pt")
    torch.save(torch.zeros(2, 3, 8, 8), tmp_path / "shape.pt")
    with pytest.raises(ValueError, match=r"has shape \[2, 3, 8, 8\]; expected \[B, 3, 32, 32\]"):
        load_tensor(tmp_path / "shape.pt", expected_shape=(3, 32, 32))
    with pytest.raises(ValueError, match="is not a file"):
        load_tensor(tmp_path)


# ---------------------------------------------------------------- image_folder / dataset_folder

def test_image_folder_sorted_resized_normalised(tmp_path):
    names = ["b.png", "a.png", "c.png"]
    arrays = {name: _write_png(tmp_path / name, 20 + i * 6, 30, seed=i) for i, name in enumerate(names)}
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "sub").mkdir()
    x = image_folder(tmp_path, 16, normalize=None)
    assert x.shape == (3, 3, 16, 16) and x.dtype == torch.float32
    for i, name in enumerate(["a.png", "b.png", "c.png"]):  # sorted by file name
        img = Image.fromarray(arrays[name])
        scale = 16 / min(img.size)
        new_size = (max(16, round(img.width * scale)), max(16, round(img.height * scale)))
        img = img.resize(new_size, Image.Resampling.BILINEAR)
        left, top = (img.width - 16) // 2, (img.height - 16) // 2
        ref = np.asarray(img.crop((left, top, left + 16, top + 16)), dtype=np.float32) / 255
        assert torch.allclose(x[i], torch.from_numpy(ref).permute(2, 0, 1), atol=1e-6)
    xn = image_folder(tmp_path, 16, normalize="cifar10")
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in NORMALIZATIONS["cifar10"])
    assert torch.allclose(xn, (x - mean) / std, atol=1e-5)


def test_image_folder_on_the_shipped_samples_equals_sample_images_in_file_order():
    x = image_folder(SAMPLES_DIR, 24)  # LICENSES.md is not an image and is skipped
    order = sorted(range(5), key=lambda i: sample_files()[i])
    assert torch.allclose(x, sample_images(24)[order], atol=1e-6)


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder .* does not exist"):
        image_folder(tmp_path / "nope")
    (tmp_path / "file.png").write_bytes(b"garbage")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        image_folder(tmp_path / "file.png")
    with pytest.raises(ValueError, match=r"cannot read image .*file.png: .*Expected an image file Pillow can decode"):
        image_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"contains no image files \(looked for .jpg, .jpeg, .png"):
        image_folder(empty)
    _write_png(empty / "cls" / "x.png", 8, 8, 0)
    msg = r"it has sub-folders \['cls'\]: for a root/<class>/<image> layout use dataset_folder"
    with pytest.raises(ValueError, match=msg):
        image_folder(empty)


def test_dataset_folder_batches_and_labels(tmp_path):
    _write_png(tmp_path / "dog" / "1.png", 10, 12, 1)
    _write_png(tmp_path / "cat" / "b.png", 12, 10, 2)
    _write_png(tmp_path / "cat" / "a.png", 9, 9, 3)
    _write_png(tmp_path / "dog" / "deep" / "2.png", 16, 16, 4)
    loader = dataset_folder(tmp_path, 8, normalize=None, batch_size=3)
    ds = loader.dataset
    assert isinstance(loader, DataLoader) and isinstance(ds, ImageFolderDataset)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(3, 3, 8, 8), (1, 3, 8, 8)]
    assert torch.cat([b[1] for b in batches]).tolist() == [0, 0, 1, 1]
    assert [p.name for p, _ in ds.samples] == ["a.png", "b.png", "1.png", "2.png"]
    first = image_folder(tmp_path / "cat", 8, normalize=None)
    assert torch.allclose(batches[0][0][:2], first, atol=1e-6)


def test_dataset_folder_errors(tmp_path):
    _write_png(tmp_path / "x.png", 8, 8, 0)
    msg = r"has no class sub-folders; expected root/<class>/<image>; it holds 1 image\(s\) directly"
    with pytest.raises(ValueError, match=msg):
        dataset_folder(tmp_path, 8)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _write_png(tmp_path / "b" / "y.png", 8, 8, 0)
    with pytest.raises(ValueError, match=r"class folder\(s\) \['a'\] contain no image files"):
        dataset_folder(tmp_path, 8)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        dataset_folder(tmp_path, 8, batch_size=0)


# ---------------------------------------------------------------- as_batches

def test_as_batches_sources():
    x = torch.arange(10.0).view(5, 2)
    assert [b.shape[0] for b in as_batches(x)] == [5]
    parts = list(as_batches(x, batch_size=2))
    assert [b.shape[0] for b in parts] == [2, 2, 1] and torch.equal(torch.cat(parts), x)
    assert [b.shape[0] for b in as_batches([x, x[:2]], batch_size=3)] == [3, 2, 2]
    assert len(list(as_batches(b for b in (x, x)))) == 2
    loader = DataLoader(TensorDataset(x, torch.arange(5)), batch_size=2)
    got = list(as_batches(loader))
    assert len(got) == 3 and torch.equal(torch.cat(got), x)  # (x, y) pairs → x
    assert torch.equal(next(as_batches([{"inputs": x}])), x)
    assert torch.equal(next(as_batches(x.numpy())), x)


def test_as_batches_errors():
    with pytest.raises(ValueError, match=r"input tensor of shape \[0, 3\] is empty"):
        as_batches(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="the input list is empty; expected at least one batch"):
        as_batches([])
    with pytest.raises(ValueError, match="the input DataLoader is empty"):
        as_batches(DataLoader(TensorDataset(torch.zeros(0, 2)), batch_size=2))
    with pytest.raises(ValueError, match="the input generator yielded no batches"):
        list(as_batches(b for b in []))
    with pytest.raises(ValueError, match="batch_size must be a positive int or None"):
        as_batches(torch.zeros(2), batch_size=0)
    with pytest.raises(TypeError, match="unsupported input source int"):
        as_batches(3)
    with pytest.raises(TypeError, match="unsupported input source dict"):
        as_batches({"x": torch.zeros(1)})
    with pytest.raises(TypeError, match="as_batches got a path"):
        as_batches("images/")
    with pytest.raises(TypeError, match="batch 1 is a str; expected a tensor"):
        list(as_batches([torch.zeros(1), "x"]))
    with pytest.raises(ValueError, match=r"batch 0 has shape \[0, 2\]"):
        list(as_batches([torch.zeros(0, 2)]))


# ---------------------------------------------------------------- resolve_input

def test_resolve_default_images_per_dataset():
    batches = resolve_input(None, _card(), batch_size=2)
    assert [b.shape for b in batches] == [(2, 3, 224, 224), (2, 3, 224, 224), (1, 3, 224, 224)]
    assert torch.allclose(torch.cat(batches), sample_images(224))
    cifar = resolve_input(None, _card(dataset="CIFAR-100", input_shape=(3, 32, 32)))
    assert len(cifar) == 1 and torch.allclose(cifar[0], sample_images(32, normalize="cifar100"))
    cifar10 = resolve_input(None, _card(dataset="cifar10", input_shape=(3, 32, 32)), n=2)
    assert torch.allclose(cifar10[0], sample_images(32, n=2, normalize="cifar10"))


def test_resolve_default_events():
    card = _card(dataset="DVS128 Gesture", input_shape=(4, 2, 32, 32), input_kind="events")
    batches = resolve_input(None, card, batch_size=3, n=4)
    assert [b.shape for b in batches] == [(3, 4, 2, 32, 32), (1, 4, 2, 32, 32)]
    assert torch.equal(torch.cat(batches), sample_events(4, (32, 32), n=4))
    assert resolve_input(None, card, time_steps=2, n=1)[0].shape == (1, 2, 2, 32, 32)


def test_resolve_files_and_folders(tmp_path):
    card = _card(input_shape=(3, 16, 16))
    torch.save(torch.rand(3, 3, 16, 16), tmp_path / "batch.pt")
    assert [b.shape[0] for b in resolve_input(str(tmp_path / "batch.pt"), card, batch_size=2)] == [2, 1]
    np.save(tmp_path / "one.npy", np.zeros((3, 16, 16), np.float32))
    assert resolve_input(tmp_path / "one.npy", card)[0].shape == (1, 3, 16, 16)  # batch dim added
    _write_png(tmp_path / "imgs" / "a.png", 20, 20, 0)
    _write_png(tmp_path / "imgs" / "b.png", 20, 24, 1)
    got = list(resolve_input(tmp_path / "imgs", card))  # a folder is a dataset, loaded in batches
    assert len(got) == 1 and got[0].shape == (2, 3, 16, 16)
    single = resolve_input(tmp_path / "imgs" / "b.png", card)
    assert torch.allclose(single[0], got[0][1:2], atol=1e-6)
    _write_png(tmp_path / "ds" / "c0" / "a.png", 20, 20, 0)
    _write_png(tmp_path / "ds" / "c1" / "b.png", 20, 20, 1)
    ds = resolve_input(tmp_path / "ds", card, batch_size=1, labels=True)
    assert [(x.shape, y.tolist()) for x, y in ds] == [((1, 3, 16, 16), [0]), ((1, 3, 16, 16), [1])]
    ev_card = _card(input_shape=(4, 2, 8, 8), input_kind="events", dataset="CIFAR10-DVS")
    np.save(tmp_path / "ev.npy", np.ones((2, 4, 2, 8, 8), np.uint8))
    assert resolve_input(tmp_path / "ev.npy", ev_card)[0].dtype == torch.float32


def test_resolve_errors(tmp_path):
    card = _card(input_shape=(3, 16, 16))
    with pytest.raises(FileNotFoundError, match="input .*nope' does not exist"):
        resolve_input(tmp_path / "nope", card)
    torch.save(torch.zeros(2, 3, 32, 32), tmp_path / "wrong.pt")
    msg = r"input batch 0 for model 'toy' has shape \[2, 3, 32, 32\]; expected \[B, 3, 16, 16\]"
    with pytest.raises(ValueError, match=msg):
        resolve_input(tmp_path / "wrong.pt", card)
    ev_card = _card(input_shape=(4, 2, 8, 8), input_kind="events")
    torch.save(torch.zeros(1, 4, 2, 8, 8), tmp_path / "ev.pt")
    with pytest.raises(ValueError, match=r"expected \[B, 6, 2, 8, 8\]"):  # T mismatch
        resolve_input(tmp_path / "ev.pt", ev_card, time_steps=6)
    _write_png(tmp_path / "imgs" / "a.png", 8, 8, 0)
    with pytest.raises(ValueError, match=r"model 'toy' takes event frames \[B, 4, 2, 8, 8\], not images"):
        resolve_input(tmp_path / "imgs", ev_card)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="input folder .* is empty of images"):
        resolve_input(tmp_path / "empty", card)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"cannot use .*notes.txt' as input: expected a tensor file"):
        resolve_input(tmp_path / "notes.txt", card)
    with pytest.raises(ValueError, match=r"expects samples of shape \(32, 96\); the shipped inputs are RGB/grayscale"):
        resolve_input(None, _card(input_shape=(32, 96)))
    with pytest.raises(ValueError, match=r"the event generator makes \(T, 2, H, W\) frames"):
        resolve_input(None, _card(input_shape=(4, 3, 8, 8), input_kind="events"))


def test_normalization_for_dataset_names():
    assert normalization_for("ImageNet-1k") == "imagenet"
    assert normalization_for("CIFAR10") == "cifar10"
    assert normalization_for("CIFAR-100") == "cifar100"
    assert normalization_for("sequential CIFAR10") == "cifar10"
    with pytest.warns(UserWarning, match="no known normalisation for dataset 'MNIST'; using ImageNet"):
        assert normalization_for("MNIST") == "imagenet"


def test_sample_names_constant_matches_files():
    assert [f"{n}.jpg" for n in SAMPLE_NAMES] == sample_files()
