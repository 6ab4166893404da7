"""The registry (seeds, fusion, one spelling per dataset, readable cards), checkpoint reading and calibration."""
import argparse
import json
import pathlib

import numpy as np
import pytest
import torch
from torch import nn
from zoo_testing import STATE_DICT_DIR

from snnenergy.models import (
    DATASETS, CheckpointReadError, calibrate_batchnorm, canonical_dataset, create_model, list_models, load_checkpoint,
    model_card, read_checkpoint,
)
from snnenergy.models.card_text import card_text
from snnenergy.models.checkpoint import matching_configs, parameter_count

SMALL = "snn-cnn-residual"


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------------------------------------- seeds
def test_same_seed_same_weights_other_seed_other_weights_global_state_untouched():
    before = torch.random.get_rng_state()
    a, b = create_model(SMALL), create_model(SMALL, seed=0)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert _same(a, b)
    assert not _same(a, create_model(SMALL, seed=1))
    assert _same(create_model(SMALL, seed=5), create_model(SMALL, seed=5))


def test_seed_none_draws_from_the_global_generator():
    torch.manual_seed(11)
    a = create_model(SMALL, seed=None)
    torch.manual_seed(11)
    b = create_model(SMALL, seed=None)
    assert _same(a, b) and not _same(a, create_model(SMALL, seed=0))


# ------------------------------------------------------------------------------------------------ fusion
def test_fused_meta_spikeformer_has_no_batchnorm_left_and_keeps_its_card():
    fused = create_model("meta-spikeformer-15m-t1", fused=True)
    plain = create_model("meta-spikeformer-15m-t1")
    bns = lambda m: sum(isinstance(x, nn.modules.batchnorm._BatchNorm) for x in m.modules())  # noqa: E731
    assert bns(plain) > 0 and bns(fused) < bns(plain)
    assert fused.model_card.name == "meta-spikeformer-15m-t1"
    assert not fused.training


def test_fused_on_a_model_without_fuse_names_the_families_that_have_one():
    with pytest.raises(TypeError, match=r"snn-cnn-residual has no fuse\(\).*meta-spikeformer"):
        create_model(SMALL, fused=True)


# ---------------------------------------------------------------------------------------------- datasets
def test_one_spelling_per_dataset_the_one_in_the_model_names():
    names = list_models()
    assert {model_card(n).dataset for n in names} <= set(DATASETS)
    for n in names:
        suffix = [d for d in DATASETS if n.endswith(f"-{d}")]
        if suffix:
            assert model_card(n).dataset == max(suffix, key=len), n


@pytest.mark.parametrize("spelling,canonical", [("ImageNet-1k", "imagenet"), ("CIFAR10-DVS", "cifar10dvs"),
                                                ("dvs128-gesture", "dvs128"), ("sequential cifar100", "scifar100")])
def test_dataset_spellings_map_to_one_identifier(spelling, canonical):
    assert canonical_dataset(spelling) == canonical


def test_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match="unknown dataset"):
        canonical_dataset("mnist-3d")


# ------------------------------------------------------------------------------------------------- cards
def test_every_card_renders_as_wrapped_text_without_python_reprs():
    for n in list_models():
        text = card_text(model_card(n), width=80)
        assert max(map(len, text.splitlines())) <= 80, n
        assert "{'" not in text and "[(" not in text, n
        if model_card(n).published:
            assert "reference values" in text


# ------------------------------------------------------------------------------------------- checkpoints
def _save(path, obj):
    torch.save(obj, path)
    return path


@pytest.mark.parametrize("wrap", [
    lambda s: {"state_dict": s, "args": argparse.Namespace(lr=0.1, output=pathlib.PosixPath("/runs/x")),
               "epoch": 3, "metric": np.float64(91.5), "optimizer": {"state": {}, "param_groups": []}},
    lambda s: {"model": s, "args": argparse.Namespace(epochs=300), "scaler": {"scale": 1024.0}, "epoch": 299},
    lambda s: {"net": s, "max_test_acc": np.float32(0.9), "epoch": np.int64(7)},
    lambda s: {f"module.{k}": v for k, v in s.items()},
], ids=["timm", "mae", "spikingjelly", "dataparallel"])
def test_training_checkpoints_load_with_weights_only(tmp_path, wrap):
    source = create_model(SMALL, seed=2)
    path = _save(tmp_path / "c.pth", wrap(source.state_dict()))
    model = create_model(SMALL)
    load_checkpoint(model, path)
    assert _same(model, source)


def test_unsafe_objects_need_trust(tmp_path):
    path = _save(tmp_path / "c.pth", {"state_dict": create_model(SMALL).state_dict(), "fn": _Unsafe()})
    with pytest.raises(CheckpointReadError, match=r"not weights \(.*_Unsafe\).*trust"):
        read_checkpoint(path)
    with pytest.warns(UserWarning, match="full unpickler"):
        load_checkpoint(create_model(SMALL), path, trust=True)


class _Unsafe:
    pass


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_text("{\"not\": \"a checkpoint\"}"), "is not a PyTorch checkpoint"),
    (lambda p: (torch.save({"a": torch.zeros(2)}, p), p.write_bytes(p.read_bytes()[:100])), "truncated or corrupted"),
])
def test_unreadable_files_give_one_line_errors(tmp_path, make, message):
    path = tmp_path / "c.pth"
    make(path)
    with pytest.raises(CheckpointReadError) as err:
        read_checkpoint(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def _official_state(stem: str) -> dict:
    entries = json.loads((STATE_DICT_DIR / f"{stem}.json").read_text())["state_dict"]
    return {k: torch.empty(shape, device="meta") for k, shape in entries}


@pytest.mark.parametrize("stem,config", [("spikformer-4-384-cifar10", "spikformer-4-384-cifar10"),
                                         ("sdt-2-512-cifar10", "sdt-2-512-cifar10"),
                                         ("qkformer-4-384-cifar10", "qkformer-4-384-cifar10")])
def test_official_key_lists_are_matched_to_their_config(stem, config):
    state = _official_state(stem)
    data = json.loads((STATE_DICT_DIR / f"{stem}.json").read_text())
    assert parameter_count(state) == data["params_total"]  # BatchNorm statistics are not parameters
    assert config in matching_configs(state)


# ------------------------------------------------------------------------------------------- calibration
def test_one_calibration_pass_gives_the_final_statistics():
    from snnenergy.data import sample_images

    x = sample_images(32, normalize="cifar10")
    once, twice = create_model(SMALL), create_model(SMALL)
    assert calibrate_batchnorm(once, x) == calibrate_batchnorm(twice, x, passes=2) > 0
    for (k, a), b in zip(once.state_dict().items(), twice.state_dict().values()):
        if "running" in k:
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert all(m.training for m in once.modules())  # training flags as found (a fresh model trains)
