"""Datasets on disk (ImageNet-style folders, CIFAR batches, DVS events, Tonic) and the caps of the resolver,
on small files the tests write."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from snnenergy.data import (
    NORMALIZATIONS,
    Preprocess,
    TonicFrames,
    events_to_frames,
    open_dataset,
    preprocess_for,
    read_cifar_batch,
    resolve_input,
    take,
)
from snnenergy.distributed import shard_inputs
from snnenergy.models.registry import ModelCard


def _card(**kw) -> ModelCard:
    base = dict(name="toy", family="toy", paper="-", dataset="ImageNet", input_shape=(3, 16, 16), time_steps=4,
                num_classes=10)
    base.update(kw)
    return ModelCard(**base)


def _png(path: Path, h: int, w: int, seed: int) -> np.ndarray:
    arr = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    with Image.open(path) as img:  # as decoded (JPEG is lossy)
        return np.asarray(img.convert("RGB"))


def _expected_eval(arr: np.ndarray, short: int, crop: int, stats: str, resample=Image.Resampling.BICUBIC):
    """The eval transform written out independently: shorter side to ``short``, centre crop, normalise."""
    img = Image.fromarray(arr)
    w, h = img.size
    size = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    img = img.resize(size, resample)
    left, top = int(round((img.width - crop) / 2)), int(round((img.height - crop) / 2))
    x = np.asarray(img.crop((left, top, left + crop, top + crop)), dtype=np.float64) / 255.0
    mean, std = (np.array(v) for v in NORMALIZATIONS[stats])
    return torch.from_numpy(((x - mean) / std).transpose(2, 0, 1)).float()


# ---------------------------------------------------------------- ImageNet-style folders

def test_imagenet_val_folder_uses_the_cards_eval_transform(tmp_path):
    a = _png(tmp_path / "val" / "n01" / "x.JPEG", 30, 40, 0)  # landscape
    b = _png(tmp_path / "val" / "n02" / "y.png", 50, 20, 1)  # portrait
    loader = resolve_input(tmp_path / "val", _card(), batch_size=2, labels=True)
    (x, y), = list(loader)
    assert y.tolist() == [0, 1] and x.shape == (2, 3, 16, 16)
    assert torch.allclose(x[0], _expected_eval(a, int(16 / 0.875), 16, "imagenet"), atol=1e-6)
    assert torch.allclose(x[1], _expected_eval(b, 18, 16, "imagenet"), atol=1e-6)
    # a card's own transform (data on the card) wins: Spikformer-style crop_pct 1.0, bilinear
    card = _card()
    card.preprocess = {"crop_pct": 1.0, "interpolation": "bilinear"}
    (x2, _), = list(resolve_input(tmp_path / "val", card, batch_size=2, labels=True))
    assert torch.allclose(x2[0], _expected_eval(a, 16, 16, "imagenet", Image.Resampling.BILINEAR), atol=1e-6)


def test_flat_folder_and_defaults_per_dataset(tmp_path):
    _png(tmp_path / "a.png", 32, 32, 2)
    _png(tmp_path / "b.png", 32, 32, 3)
    ds = open_dataset(tmp_path, _card())
    assert len(ds) == 2 and [lb for _, lb in ds.samples] == [-1, -1]
    assert preprocess_for(_card()).resize_shorter() == 18
    assert preprocess_for(_card(input_shape=(3, 288, 288))).resize_shorter() == 288  # crop_pct 1 above 224
    cifar = preprocess_for(_card(dataset="CIFAR-100", input_shape=(3, 32, 32)))
    assert cifar.resize_shorter() is None and cifar.normalize == "cifar100"
    bad = _card()
    bad.preprocess = {"crop": 3}
    with pytest.raises(ValueError, match=r"unknown preprocess key\(s\) \['crop'\]"):
        preprocess_for(bad)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        Preprocess((8, 8), interpolation="cubic")


# ---------------------------------------------------------------- CIFAR

def _cifar(folder: Path, n: int, hundred: bool = False, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 100 if hundred else 10, n)]
    folder.mkdir(parents=True, exist_ok=True)
    key = b"fine_labels" if hundred else b"labels"
    with open(folder / ("test" if hundred else "test_batch"), "wb") as f:
        pickle.dump({b"batch_label": b"testing batch 1 of 1", key: labels, b"data": data}, f)
    if hundred:
        (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": []}))
    return data, labels


def test_cifar10_and_cifar100_python_batches(tmp_path):
    data, labels = _cifar(tmp_path / "cifar-10-batches-py", 5)
    card = _card(dataset="cifar10", input_shape=(3, 32, 32))
    batches = list(resolve_input(tmp_path / "cifar-10-batches-py", card, batch_size=2, labels=True))
    assert [x.shape[0] for x, _ in batches] == [2, 2, 1]
    assert torch.cat([y for _, y in batches]).tolist() == labels
    img = data[3].reshape(3, 32, 32).astype(np.float64) / 255.0  # channel-major rows, as the format stores them
    mean, std = (np.array(v).reshape(3, 1, 1) for v in NORMALIZATIONS["cifar10"])
    assert torch.allclose(batches[1][0][1], torch.from_numpy((img - mean) / std).float(), atol=1e-6)
    # one batch file directly
    one = list(resolve_input(tmp_path / "cifar-10-batches-py" / "test_batch", card, batch_size=8, labels=True))
    assert torch.equal(one[0][0], torch.cat([x for x, _ in batches]))
    data100, labels100 = _cifar(tmp_path / "cifar-100-python", 3, hundred=True)
    card100 = _card(dataset="CIFAR-100", input_shape=(3, 32, 32))
    (x, y), = list(resolve_input(tmp_path / "cifar-100-python", card100, labels=True))
    assert y.tolist() == labels100 and x.shape == (3, 3, 32, 32)
    images, _ = read_cifar_batch(tmp_path / "cifar-100-python" / "test")
    assert np.array_equal(images[0], data100[0].reshape(3, 32, 32).transpose(1, 2, 0))


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_reader_refuses_pickles_that_run_code(tmp_path):
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": _Evil()}))
    with pytest.raises(ValueError, match=r"not a CIFAR python batch \(builtins.print is not allowed"):
        read_cifar_batch(tmp_path / "test_batch")
    (tmp_path / "x").mkdir()
    with pytest.raises(ValueError, match="is empty of images"):
        resolve_input(tmp_path / "x", _card(dataset="cifar10", input_shape=(3, 32, 32)))


# ---------------------------------------------------------------- DVS events

def test_events_to_frames_by_number_and_by_time():
    ev = {"t": np.array([5, 1, 2, 3, 4, 9]), "x": np.array([0, 1, 2, 3, 0, 1]), "y": np.array([0, 0, 1, 1, 2, 2]),
          "p": np.array([1, 0, 1, 1, 0, 0])}
    f = events_to_frames(ev, 3, (3, 4))
    assert f.shape == (3, 2, 3, 4) and f.sum() == 6
    # time order t = 1, 2, 3, 4, 5, 9: two events per frame
    assert f[0, 0, 0, 1] == 1 and f[0, 1, 1, 2] == 1  # t=1 (OFF at x1,y0), t=2 (ON at x2,y1)
    assert f[1, 1, 1, 3] == 1 and f[1, 0, 2, 0] == 1  # t=3, t=4
    assert f[2, 1, 0, 0] == 1 and f[2, 0, 2, 1] == 1  # t=5, t=9
    g = events_to_frames(ev, 2, (3, 4), split_by="time")  # spans [1, 5) and [5, 9]
    assert g[0].sum() == 4 and g[1].sum() == 2
    with pytest.raises(ValueError, match="events reach x=3, y=2 but the model's frames are 2x2"):
        events_to_frames(ev, 2, (2, 2))


def test_dvs_npz_files_and_folders(tmp_path):
    card = _card(dataset="DVS128 Gesture", input_shape=(2, 2, 4, 4), input_kind="events")
    frames = np.random.default_rng(0).integers(0, 3, size=(3, 2, 2, 4, 4)).astype(np.uint8)
    np.savez(tmp_path / "frames.npz", frames=frames)
    got = resolve_input(tmp_path / "frames.npz", card, batch_size=2)
    assert [b.shape[0] for b in got] == [2, 1] and torch.equal(torch.cat(got), torch.from_numpy(frames).float())
    ev = dict(t=np.arange(8), x=np.arange(8) % 4, y=np.arange(8) // 2 % 4, p=np.arange(8) % 2)
    (tmp_path / "dvs" / "c0").mkdir(parents=True)
    (tmp_path / "dvs" / "c1").mkdir()
    np.savez(tmp_path / "dvs" / "c0" / "s0.npz", **ev)
    np.save(tmp_path / "dvs" / "c1" / "s1.npy", frames[0])
    (x, y), = list(resolve_input(tmp_path / "dvs", card, batch_size=4, labels=True))
    assert y.tolist() == [0, 1] and x.shape == (2, 2, 2, 4, 4)
    assert torch.equal(x[0], events_to_frames(ev, 2, (4, 4))) and torch.equal(x[1], torch.from_numpy(frames[0]).float())
    np.savez(tmp_path / "bad.npz", frames=frames[0, :1])
    with pytest.raises(ValueError, match=r"holds frames of shape \(1, 2, 4, 4\); the model takes \(2, 2, 4, 4\)"):
        resolve_input(tmp_path / "bad.npz", card)


def test_tonic_style_datasets_become_frames():
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
    events = np.array([(0, 0, 10, 1), (1, 1, 20, 0), (2, 3, 30, 1), (3, 2, 40, 1)], dtype=dtype)
    ds = TonicFrames([(events, 7)], time_steps=2, size=(4, 4))
    x, label = ds[0]
    assert label == 7 and x.shape == (2, 2, 4, 4) and x[0, 1, 0, 0] == 1 and x[1, 1, 2, 3] == 1
    tonic = pytest.importorskip("tonic", reason="tonic (the optional DVS-datasets extra) is not installed")
    sensor = tonic.datasets.NMNIST.sensor_size  # (34, 34, 2)
    ev = np.array([(1, 2, 5, 1), (3, 4, 6, 0)], dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    frames = tonic.transforms.ToFrame(sensor_size=sensor, n_event_bins=1)(ev)
    assert TonicFrames([(ev, 0)], 1, sensor[1::-1])[0][0].sum() == frames.sum()


# ---------------------------------------------------------------- caps and loaders

def test_limit_batches_and_workers(tmp_path):
    for i in range(7):
        _png(tmp_path / "val" / f"c{i % 2}" / f"{i}.png", 20, 20, i)
    card = _card()
    full = torch.cat(list(resolve_input(tmp_path / "val", card, batch_size=3)))  # input batches only
    assert full.shape[0] == 7
    capped = list(resolve_input(tmp_path / "val", card, batch_size=3, limit=5))
    assert [x.shape[0] for x in capped] == [3, 2] and torch.equal(torch.cat(capped), full[:5])
    assert [x.shape[0] for x in resolve_input(tmp_path / "val", card, batch_size=3, batches=2)] == [3, 3]
    assert len(resolve_input(tmp_path / "val", card, batch_size=3, limit=5).dataset) == 5
    two = list(resolve_input(tmp_path / "val", card, batch_size=3, limit=4, num_workers=2))
    assert torch.equal(torch.cat(two), full[:4])
    shipped = resolve_input(None, card, batch_size=2, limit=3)
    assert [b.shape[0] for b in shipped] == [2, 1]
    assert len(resolve_input(None, card, batch_size=1, batches=2)) == 2
    # a resolved dataset shards by batch under snnenergy.distributed: rank r takes batches r, r + 2, ...
    parts = [torch.cat(list(shard_inputs(resolve_input(tmp_path / "val", card, batch_size=2), r, 2)))
             for r in range(2)]
    assert torch.equal(parts[0], torch.cat([full[0:2], full[4:6]]))
    assert torch.equal(parts[1], torch.cat([full[2:4], full[6:]]))
    for kw, msg in [({"limit": 0}, "limit must be a positive int"), ({"batches": -1}, "batches must be"),
                    ({"num_workers": -1}, "num_workers must be a non-negative int")]:
        with pytest.raises(ValueError, match=msg):
            resolve_input(None, card, **kw)


def test_take_caps_any_iterable_or_dataloader():
    x = torch.arange(10.0).reshape(10, 1)
    loader = DataLoader(TensorDataset(x, torch.arange(10)), batch_size=4)
    got = list(take(loader, limit=6))
    assert [b[0].shape[0] for b in got] == [4, 2] and got[1][1].tolist() == [4, 5]
    assert [b.shape[0] for b in take((x[i:i + 3] for i in range(0, 10, 3)), batches=2)] == [3, 3]
    assert [b.shape[0] for b in take([x, x], limit=12)] == [10, 2]
