"""Meta-SpikeFormer (Spike-driven Transformer V2): counts, official keys, shapes, structure and fusion."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from snnenergy.models import create_model, load_checkpoint, model_card, resolve_name
from snnenergy.models.meta_spikeformer import (
    BNAndPadLayer,
    MetaSpikeFormer,
    MS_Attention_RepConv_qkv_id,
    RepConv,
    fuse,
    parameter_counts,
)
from snnenergy.neurons import BaseNeuron, reset_net

from zoo_testing import is_binary, key_list_path, lif_ref, n_params, random_state_dict, randomize_bn

# official counts (models-sdt-qkformer-psn.md §3.2 / §11); no unused tensors
OFFICIAL = {"15m": 15_112_208, "31m": 31_333_864, "55m": 55_350_248}
OFFICIAL_KD = {"31m": 31_814_864, "55m": 55_991_248}
DIMS = {"15m": (64, 128, 256, 360), "31m": (96, 192, 384, 480), "55m": (128, 256, 512, 640)}


def expected_fused_params(dims, num_classes: int = 1000, mlp: int = 4) -> int:
    """Parameter count after folding, from the layer list of the paper/notes (independent of the code)."""
    c0, c1, c2, c3 = dims
    down = lambda i, o, k: i * o * k * k + o  # noqa: E731  conv with bias, BN folded away
    conv_block = lambda c: (  # noqa: E731
        (c * 2 * c + 2 * c)  # pwconv1 + bn1
        + (2 * c * c * 49 + c)  # dw7x7 -> pwconv2 -> bn2 as one dense 7x7
        + (c * mlp * c * 9 + mlp * c) + (mlp * c * c * 9 + c)  # the two 3x3 channel convs
    )
    ms_block = lambda c: 4 * (c * c * 9 + c) + (c * mlp * c + mlp * c) + (mlp * c * c + c)  # noqa: E731
    return (
        down(3, c0 // 2, 7) + conv_block(c0 // 2) + down(c0 // 2, c0, 3) + conv_block(c0)
        + down(c0, c1, 3) + 2 * conv_block(c1) + down(c1, c2, 3) + 6 * ms_block(c2)
        + down(c2, c3, 3) + 2 * ms_block(c3) + c3 * num_classes + num_classes
    )


# ------------------------------------------------------------------------------------------- counts and keys
@pytest.mark.parametrize("size", sorted(OFFICIAL))
def test_param_counts_and_cards(size):
    for name, t in ((f"meta-spikeformer-{size}", 4), (f"meta-spikeformer-{size}-t1", 1)):
        model = create_model(name)
        card = model_card(name)
        assert n_params(model) == OFFICIAL[size] == card.official_params
        assert card.unused_keys == []
        assert model.time_steps == card.time_steps == t
        assert tuple(card.config["embed_dims"]) == DIMS[size]
        assert card.published.get("source") and card.published.get("top1")
    assert resolve_name(f"meta-spikeformer-{size}-t4") == f"meta-spikeformer-{size}"


def test_alias_kd_head_and_fused_counts():
    assert resolve_name("meta-spikeformer") == "meta-spikeformer-55m"
    assert n_params(create_model("meta-spikeformer-31m", kd=True)) == OFFICIAL_KD["31m"]
    model = create_model("meta-spikeformer-15m")
    counts = parameter_counts(model)
    assert counts["unfused"] == OFFICIAL["15m"]
    assert counts["fused"] == expected_fused_params(DIMS["15m"])


@pytest.mark.parametrize("size", ["31m", "55m"])
def test_official_keys_load(size):
    files = [key_list_path(f"meta-spikeformer-{size}-imagenet-t{t}.json") for t in (1, 4)]
    for name, path in zip((f"meta-spikeformer-{size}-t1", f"meta-spikeformer-{size}"), files):
        model = create_model(name)
        state = random_state_dict(path, num_batches_tracked=3)
        result = load_checkpoint(model, state)
        assert result.skipped_unused == []
        assert set(result.loaded) == set(state) == set(model.state_dict())
        key = "block3.0.attn.q_conv.0.body.1.bn.running_var"
        assert torch.equal(model.block3[0].attn.q_conv[0].body[1].bn.running_var, state[key])
        del model, state


# ------------------------------------------------------------------------------------------------- shapes
def test_imagenet_shape_flow_t1():
    model = create_model("meta-spikeformer-15m", time_steps=1).eval()
    shapes = {}
    for name in ("downsample1_1", "downsample1_2", "downsample2", "downsample3", "downsample4"):
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape)))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert shapes == {
        "downsample1_1": (1, 1, 32, 112, 112),
        "downsample1_2": (1, 1, 64, 56, 56),
        "downsample2": (1, 1, 128, 28, 28),
        "downsample3": (1, 1, 256, 14, 14),
        "downsample4": (1, 1, 360, 14, 14),
    }
    assert out.shape == (1, 1000)


def test_ann_counterpart_forward():
    ann = create_model("meta-spikeformer-15m", ann=True).eval()
    assert not any(isinstance(m, BaseNeuron) for m in ann.modules()) and ann.time_steps == 1
    with torch.no_grad():
        out = ann(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()


# ---------------------------------------------------------------------------------------------- structure
def test_bn_and_pad_layer_pads_with_bn_of_zero():
    layer = BNAndPadLayer(pad_pixels=1, num_features=4).double().eval()
    randomize_bn(layer, seed=1)
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    y = layer(x)
    bn = layer.bn
    zero_value = bn(torch.zeros(1, 4, 1, 1, dtype=torch.float64)).view(4)
    assert y.shape == (2, 4, 5, 5)
    torch.testing.assert_close(y[:, :, 1:-1, 1:-1], bn(x))
    for border in (y[:, :, 0, :], y[:, :, -1, :], y[:, :, :, 0], y[:, :, :, -1]):
        torch.testing.assert_close(border, zero_value.view(1, 4, 1).expand_as(border))


def test_attention_equation():
    """SN_0.5(Q·(KᵀV)·0.125) per head, Q/K/V = SN(RepConv+BN(SN(U))), projection RepConv+BN."""
    torch.manual_seed(0)
    attn = MS_Attention_RepConv_qkv_id(32, num_heads=8).double().eval()
    randomize_bn(attn, seed=2)
    u = torch.randn(2, 1, 32, 4, 4, dtype=torch.float64) * 2
    with torch.no_grad():
        out = attn(u)
        T, B, C, H, W = u.shape
        s = lif_ref(u).flatten(0, 1)
        branch = lambda conv: lif_ref(conv(s).reshape(u.shape)).reshape(T, B, 8, C // 8, H * W)  # noqa: E731
        q, k, v = branch(attn.q_conv), branch(attn.k_conv), branch(attn.v_conv)  # [T, B, h, d, N]
        # out[e, m] = Σ_d Q[m, d] · (Σ_n K[n, d] V[n, e]); heads are channel-major ([T, B, h, d, N] here)
        scores = torch.einsum("tbhdm,tbhdn,tbhen->tbhem", q, k, v)
        x = lif_ref(scores.reshape(T, B, C, H * W) * 0.125, v_th=0.5).reshape(T * B, C, H, W)
        ref = attn.proj_conv(x).reshape(u.shape)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-10)
    assert attn.attn_lif.v_threshold == 0.5
    assert 0 < x.mean() < 1


def test_membrane_shortcuts_and_spiking_head():
    torch.manual_seed(1)
    model = MetaSpikeFormer(embed_dims=(16, 32, 64, 80), time_steps=2).double().eval()
    randomize_bn(model, seed=3)
    seen = {}

    def grab(key):
        return lambda m, i, *o: seen.__setitem__(key, (i[0], o[0] if o else None))

    blk = model.block3[0]
    blk.register_forward_hook(grab("block"))
    blk.attn.head_lif.register_forward_hook(grab("attn_lif"))
    blk.attn.register_forward_hook(grab("attn"))
    blk.mlp.fc1_lif.register_forward_pre_hook(grab("mlp_lif"))
    cb = model.ConvBlock2_1[0]
    cb.register_forward_hook(grab("convblock"))
    cb.Conv.register_forward_hook(grab("sepconv"))
    cb.lif1.register_forward_pre_hook(grab("cb_lif1"))
    model.lif.register_forward_hook(grab("head_lif"))
    model.head.register_forward_pre_hook(grab("head"))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64, dtype=torch.float64))
    u, u2 = seen["block"]
    assert not is_binary(u) and not is_binary(u2)  # the residual stream is membrane-level
    torch.testing.assert_close(seen["attn_lif"][0], u)  # the attention branch starts with a LIF on U
    u1 = u + seen["attn"][1]
    torch.testing.assert_close(seen["mlp_lif"][0].reshape(u1.shape), u1)  # MLP branch: LIF on U + SDSA(U)
    x, _ = seen["convblock"]
    torch.testing.assert_close(seen["cb_lif1"][0], x + seen["sepconv"][1])  # U1 = U + SepConv(U)
    membrane, spikes = seen["head_lif"]
    assert membrane.shape == (2, 1, 80) and torch.equal(spikes, lif_ref(membrane))
    assert torch.equal(seen["head"][0], spikes) and is_binary(spikes)
    torch.testing.assert_close(out, model.head(spikes).mean(0))


# -------------------------------------------------------------------------------------------------- fusion
def _conv_inputs(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, tuple[bool, float]]]:
    """Forward with plain pre-hooks on every Conv/Linear: (binary?, mean of input) per layer."""
    seen: dict[str, tuple[bool, float]] = {}

    def record(name):
        return lambda mod, i: seen.__setitem__(name, (is_binary(i[0]), float(i[0].mean())))

    hooks = [
        m.register_forward_pre_hook(record(name))
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            out = model(x)
        reset_net(model)
    finally:
        for h in hooks:
            h.remove()
    return out, seen


def test_fuse_preserves_function_and_makes_all_conv_inputs_binary():
    torch.manual_seed(0)
    model = create_model("meta-spikeformer-15m", time_steps=2).double().eval()
    randomize_bn(model, seed=0)
    keys_before = list(model.state_dict())
    x = torch.randn(1, 3, 48, 48, dtype=torch.float64)

    out, unfused = _conv_inputs(model, x)
    fused_model = fuse(model)
    out_fused, fused = _conv_inputs(fused_model, x)

    torch.testing.assert_close(out_fused, out, rtol=1e-9, atol=1e-9)
    assert out.std() > 0
    # the input model is untouched: fusion returns a new model
    assert list(model.state_dict()) == keys_before and fused_model is not model
    assert any(isinstance(m, RepConv) for m in model.modules())
    folded_away = (RepConv, BNAndPadLayer, nn.BatchNorm1d, nn.BatchNorm2d)
    assert not any(isinstance(m, folded_away) for m in fused_model.modules())
    assert n_params(fused_model) == expected_fused_params(DIMS["15m"])

    # unfused: non-binary conv inputs only inside the foldable chains (and the encoder)
    non_binary = sorted(n for n, (b, _) in unfused.items() if not b)
    expected = ["downsample1_1.encode_conv"]
    expected += [f"{cb}.0.Conv.pwconv2" for cb in ("ConvBlock1_1", "ConvBlock1_2", "ConvBlock2_1", "ConvBlock2_2")]
    for stage, n in (("block3", 6), ("block4", 2)):
        for i in range(n):
            for proj in ("q_conv", "k_conv", "v_conv", "proj_conv"):
                expected += [f"{stage}.{i}.attn.{proj}.0.body.2.0", f"{stage}.{i}.attn.{proj}.0.body.2.1"]
    assert non_binary == sorted(expected)

    # fused: every Conv2d/Conv1d/Linear after the encoder gets binary spikes, and they are not all silent
    fused_convs = [n for n, m in fused_model.named_modules() if isinstance(m, nn.Conv2d)]
    assert set(fused_convs) <= set(fused) and len(fused_convs) == 5 + 4 * 4 + 8 * 4  # downsamples, ConvBlocks, RepConvs
    assert [n for n, (b, _) in fused.items() if not b] == ["downsample1_1.encode_conv"]
    rates = [r for n, (_, r) in fused.items() if n != "downsample1_1.encode_conv"]
    assert min(rates) > 0.001 and max(rates) < 0.95
