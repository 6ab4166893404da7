"""Spike-driven Transformer v1: parameter counts, official keys, shapes and structure."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnenergy.models import CheckpointMismatchError, create_model, load_checkpoint, model_card, resolve_name
from snnenergy.models.sdt import MS_MLP_Conv, MS_SPS, MS_SSA_Conv
from snnenergy.neurons import BaseNeuron, reset_net

import zoo_testing
from zoo_testing import is_binary, key_list_path, lif_ref, n_params, random_state_dict

# official parameter counts (models-sdt-qkformer-psn.md §11; the two DVS counts are derived there from the
# measured 2-256 count: 2-channel first conv, and 11 classes for DVS128 Gesture)
OFFICIAL = {
    "sdt-8-384": 16_816_536,
    "sdt-6-512": 23_373_736,
    "sdt-8-512": 29_689_896,
    "sdt-10-512": 36_006_056,
    "sdt-8-768": 66_339_144,
    "sdt-2-256-cifar10": 2_567_082,
    "sdt-2-512-cifar10": 10_233_546,
    "sdt-2-512-cifar100": 10_279_716,
    "sdt-2-256-cifar10dvs": 2_566_794,
    "sdt-2-256-dvs128": 2_567_051,
}
DEPTH = {"sdt-8-384": 8, "sdt-6-512": 6, "sdt-8-512": 8, "sdt-10-512": 10, "sdt-8-768": 8}
SMALL = ["sdt-2-256-cifar10", "sdt-2-512-cifar10", "sdt-2-512-cifar100", "sdt-2-256-cifar10dvs", "sdt-2-256-dvs128"]


def randomize_bn(model: nn.Module, seed: int = 0) -> None:
    """:func:`zoo_testing.randomize_bn` with small running variances, so that every neuron layer fires at a
    moderate rate."""
    zoo_testing.randomize_bn(model, seed, var_scale=0.002, var_offset=0.0005)


# ------------------------------------------------------------------------------------------- counts and keys
@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_param_counts_equal_official_minus_talking_heads(name):
    model = create_model(name)
    depth = DEPTH.get(name, 2)
    assert n_params(model) == OFFICIAL[name] - 64 * depth
    card = model_card(name)
    assert card.official_params == OFFICIAL[name]
    assert card.unused_keys == ["block.*.attn.talking_heads.weight"]
    assert card.published.get("source")


def test_alias_and_ann():
    assert resolve_name("sdt") == "sdt-8-512"
    ann = create_model("sdt-2-256-cifar10", ann=True).eval()
    assert not any(isinstance(m, BaseNeuron) for m in ann.modules())
    assert ann.time_steps == 1
    with torch.no_grad():
        out = ann(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    "name, file",
    [
        ("sdt-2-512-cifar10", "sdt-2-512-cifar10.json"),
        ("sdt-8-512", "sdt-8-512-imagenet.json"),
        ("sdt-8-768", "sdt-8-768-imagenet.json"),
    ],
)
def test_official_keys_load(name, file):
    state = random_state_dict(key_list_path(file), num_batches_tracked=7)
    model = create_model(name)
    result = load_checkpoint(model, state)
    depth = model_card(name).config["depth"]
    assert sorted(result.skipped_unused) == sorted(f"block.{i}.attn.talking_heads.weight" for i in range(depth))
    assert set(result.loaded) == set(model.state_dict())
    assert len(result.loaded) + depth == len(state)
    assert torch.equal(model.block[1].attn.proj_conv.weight, state["block.1.attn.proj_conv.weight"])
    assert torch.equal(model.patch_embed.rpe_bn.running_var, state["patch_embed.rpe_bn.running_var"])
    state["block.0.attn.attn_lif.bogus"] = torch.zeros(1)
    with pytest.raises(CheckpointMismatchError):
        load_checkpoint(model, state)


# ------------------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name", SMALL)
def test_small_configs_forward_at_real_size(name):
    card = model_card(name)
    model = create_model(name).eval()
    if card.input_kind == "events":
        assert card.input_shape[0] == card.time_steps
        x = (torch.rand(1, *card.input_shape) < 0.2).float()
    else:
        x = torch.randn(1, *card.input_shape)
    with torch.no_grad():
        out = model(x)
    reset_net(model)
    assert out.shape == (1, card.num_classes) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    "name, size, tokens",
    [("sdt-2-256-cifar10", 32, 8), ("sdt-2-256-dvs128", 128, 16), ("sdt-2-256-cifar10dvs", 64, 16)],
)
def test_token_grid(name, size, tokens):
    model = create_model(name, time_steps=2).eval()
    cin = model_card(name).config["in_channels"]
    x = torch.rand(1, 2, cin, size, size) if cin == 2 else torch.rand(1, cin, size, size)
    with torch.no_grad():
        u = model.patch_embed(x.transpose(0, 1) if cin == 2 else x.unsqueeze(0).repeat(2, 1, 1, 1, 1))
    assert u.shape == (2, 1, 256, tokens, tokens)


def test_imagenet_shape_flow_t1():
    model = create_model("sdt-8-384", time_steps=1).eval()
    seen = {}
    model.patch_embed.register_forward_hook(lambda m, i, o: seen.__setitem__("embed", o.shape))
    model.head.register_forward_pre_hook(lambda m, i: seen.__setitem__("head", i[0].shape))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert seen["embed"] == (1, 1, 384, 14, 14)  # 196 tokens
    assert seen["head"] == (1, 1, 384)
    assert out.shape == (1, 1000)


def test_float64_end_to_end():
    model = create_model("sdt-2-256-cifar10", time_steps=2).double().eval()
    randomize_bn(model)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32, dtype=torch.float64))
    assert out.dtype == torch.float64 and torch.isfinite(out).all()


# ---------------------------------------------------------------------------------------------- structure
def _bn(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d, x5: torch.Tensor) -> torch.Tensor:
    T = x5.shape[0]
    y = _bn(bn, F.conv2d(x5.flatten(0, 1), conv.weight, conv.bias, conv.stride, conv.padding))
    return y.reshape(T, -1, *y.shape[1:])


def sdsa_reference(attn: MS_SSA_Conv, u: torch.Tensor, dvs: bool) -> torch.Tensor:
    """U + BN(Conv(Q ⊙ SN_0.5(Σ_tokens K ⊙ V))), written from the paper/notes, not from the module."""
    T, B, C, H, W = u.shape
    h, d = attn.num_heads, C // attn.num_heads
    erode = (lambda t: F.max_pool3d(t, (1, 3, 3), (1, 1, 1), (0, 1, 1))) if dvs else (lambda t: t)
    s = lif_ref(u)
    q = lif_ref(_conv_bn(attn.q_conv, attn.q_bn, s))
    k = erode(lif_ref(_conv_bn(attn.k_conv, attn.k_bn, s)))
    v = erode(lif_ref(_conv_bn(attn.v_conv, attn.v_bn, s)))
    per_head = lambda t: t.reshape(T, B, h, d, H * W).transpose(3, 4)  # [T, B, h, N, d]  # noqa: E731
    kv = erode(per_head(k) * per_head(v))
    mask = lif_ref(kv.sum(dim=3, keepdim=True), v_th=0.5)  # one binary value per channel
    x = erode(per_head(q) * mask)
    x = x.transpose(3, 4).reshape(T, B, C, H, W)
    return _conv_bn(attn.proj_conv, attn.proj_bn, x) + u


@pytest.mark.parametrize("dvs", [False, True])
def test_sdsa_matches_reference_equation(dvs):
    torch.manual_seed(0)
    attn = MS_SSA_Conv(64, num_heads=8, dvs=dvs).double().eval()
    randomize_bn(attn, seed=3)
    with torch.no_grad():  # sparse K and V (as in trained SDTs) so that the channel mask is not saturated
        attn.k_bn.bias -= 8.0 if dvs else 3.0
        attn.v_bn.bias -= 8.0 if dvs else 3.0
    u = torch.randn(3, 2, 64, 6, 6, dtype=torch.float64) * 2
    kv_in = {}
    attn.talking_heads_lif.register_forward_pre_hook(lambda m, i: kv_in.__setitem__("x", i[0]))
    with torch.no_grad():
        out = attn(u)
        ref = sdsa_reference(attn, u, dvs)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    # the column-sum neuron sees integer sums over the tokens, one value per channel, and does fire
    x = kv_in["x"]
    assert x.shape == (3, 2, 8, 1, 8)
    assert torch.equal(x, x.round()) and x.max() > 1
    assert attn.talking_heads_lif.v_threshold == 0.5
    mask = lif_ref(x, 0.5)
    assert 0 < mask.mean() < 1
    # the membrane shortcut: the output is real-valued, not spikes
    assert not is_binary(out)


def test_mlp_membrane_shortcut():
    torch.manual_seed(1)
    mlp = MS_MLP_Conv(32, 128).double().eval()
    randomize_bn(mlp, seed=4)
    u = torch.randn(2, 1, 32, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        out = mlp(u)
        h = lif_ref(_conv_bn(mlp.fc1_conv, mlp.fc1_bn, lif_ref(u)))
        ref = _conv_bn(mlp.fc2_conv, mlp.fc2_bn, h) + u
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    assert 0 < h.mean() < 1


def sps_reference(sps: MS_SPS, x: torch.Tensor, pooling: str) -> torch.Tensor:
    """Stages 1-3 pool the spikes, stage 4 pools the BN output before its LIF; RPE is a membrane shortcut."""
    T = x.shape[0]
    pool = lambda t, on: (  # noqa: E731
        F.max_pool2d(t.flatten(0, 1), 3, 2, 1).reshape(T, -1, t.shape[2], (t.shape[3] + 1) // 2, (t.shape[4] + 1) // 2)
        if on == "1" else t
    )
    for sfx, on in zip(("", "1", "2"), pooling[:3]):
        x = pool(lif_ref(_conv_bn(getattr(sps, f"proj_conv{sfx}"), getattr(sps, f"proj_bn{sfx}"), x)), on)
    feat = pool(_conv_bn(sps.proj_conv3, sps.proj_bn3, x), pooling[3])
    return _conv_bn(sps.rpe_conv, sps.rpe_bn, lif_ref(feat)) + feat


@pytest.mark.parametrize("pooling, size, out", [("1111", 64, 4), ("0011", 32, 8), ("0111", 32, 4)])
def test_sps_pool_placement_and_rpe_shortcut(pooling, size, out):
    torch.manual_seed(2)
    sps = MS_SPS(3, 64, pooling).double().eval()
    randomize_bn(sps, seed=5)
    x = torch.randn(2, 1, 3, size, size, dtype=torch.float64)
    pool_inputs = {}
    for sfx in ("", "1", "2", "3"):
        getattr(sps, f"maxpool{sfx}").register_forward_pre_hook(
            lambda m, i, sfx=sfx: pool_inputs.__setitem__(sfx, i[0])
        )
    with torch.no_grad():
        y = sps(x)
        ref = sps_reference(sps, x, pooling)
    assert y.shape == (2, 1, 64, out, out)
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-12)
    for sfx, on in zip(("", "1", "2", "3"), pooling):
        module = getattr(sps, f"maxpool{sfx}")
        assert isinstance(module, nn.MaxPool2d) == (on == "1")
    for sfx in ("", "1", "2"):
        assert is_binary(pool_inputs[sfx])  # spikes are pooled in stages 1-3
    assert not is_binary(pool_inputs["3"])  # stage 4 pools the BN output


def test_head_is_spiking_and_averaged_over_time():
    model = create_model("sdt-2-256-cifar10", time_steps=3).double().eval()
    randomize_bn(model, seed=6)
    seen = {}
    model.head_lif.register_forward_pre_hook(lambda m, i: seen.__setitem__("membrane", i[0]))
    model.head.register_forward_pre_hook(lambda m, i: seen.__setitem__("spikes", i[0]))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32, dtype=torch.float64))
    spikes = seen["spikes"]
    assert seen["membrane"].shape == (3, 1, 256) and not is_binary(seen["membrane"])
    assert is_binary(spikes) and torch.equal(spikes, lif_ref(seen["membrane"]))
    torch.testing.assert_close(out, model.head(spikes).mean(0))


def test_only_the_first_conv_sees_non_binary_input():
    """Audit of the official code (notes §10): every conv/linear but the stem's first conv gets spikes."""
    model = create_model("sdt-2-256-cifar10", time_steps=2).double().eval()
    randomize_bn(model, seed=7)
    kinds = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_pre_hook(lambda mod, i, name=name: kinds.__setitem__(name, is_binary(i[0])))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32, dtype=torch.float64))
    assert [n for n, binary in kinds.items() if not binary] == ["patch_embed.proj_conv"]
    assert len(kinds) == 5 + 2 * 6 + 1
