"""The profiler on the zoo reproduces the known findings (DESIGN §4): where non-binary values reach synaptic
ops, and which op produced them. Untrained weights with BatchNorm calibrated on real photographs, so that the
neurons fire and spike sums actually occur."""
import torch

import snnenergy
from snnenergy.data import sample_images
from snnenergy.models import calibrate_batchnorm


def _profile(name, size, n=2, **overrides):
    torch.manual_seed(0)
    model = snnenergy.create_model(name, **overrides)
    x = sample_images(size, n=n, normalize="cifar10" if size == 32 else "imagenet")
    calibrate_batchnorm(model, x)
    report = snnenergy.profile(model, x)
    assert report.totals()["firing_rate"] > 0.01  # calibrated: the network is not silent
    return report.layers


def _weight_layers(layers):
    return layers[layers.op.isin(["conv1d", "conv2d", "linear"])]


def test_spikformer_qkv_and_mlp_inputs_are_integer_growing_with_depth():
    layers = _profile("spikformer-4-384-cifar10", 32)
    qkv = layers[layers.layer.str.contains(r"attn\.(?:q|k|v)_linear$")]
    fc1 = layers[layers.layer.str.endswith("mlp.fc1_linear")]
    assert len(qkv) == 12 and len(fc1) == 4
    assert (qkv.input_kind == "integer").all() and (fc1.input_kind == "integer").all()
    q_max = layers[layers.layer.str.endswith("attn.q_linear")].input_max.tolist()
    assert q_max == sorted(q_max) and q_max[-1] > q_max[0] >= 2  # spike sums grow along the residual stream
    # provenance: the residual adds of the previous block (or of the patch embedding) made them
    assert set(qkv.producer) == {"patch_embed:add", "block.0:add", "block.1:add", "block.2:add"}
    assert layers.iloc[0].input_kind == "real" and layers.iloc[0].producer == "<input>"


def test_spikingformer_convs_after_the_first_are_binary():
    layers = _profile("spikingformer-4-384-cifar10", 32)
    convs = layers[layers.op.isin(["conv1d", "conv2d"])]
    assert convs.iloc[0].input_kind == "real" and convs.iloc[0].producer == "<input>"
    assert (convs.iloc[1:].input_kind == "binary").all()
    # attention: spike x spike, then integer scores x spike V: accumulates, no multiplications
    att = layers[layers.op == "matmul"]
    assert (att.ac > 0).all() and (att.mac == 0).all()


def test_sdt_only_the_encoder_is_non_binary():
    layers = _profile("sdt-2-256-cifar10", 32)
    non_binary = layers[layers.input_kind != "binary"]
    assert non_binary.layer.tolist() == ["patch_embed.proj_conv"]
    masks = layers[layers.op == "mul"]  # SDSA's Hadamard products of spike tensors
    assert len(masks) == 4 and (masks.other_operand == "binary").all() and (masks.mac == 0).all()


def test_qkformer_q_k_and_mlp_inputs_are_integer():
    layers = _profile("qkformer-4-384-cifar10", 32)
    qk = layers[layers.layer.str.contains(r"\.(?:q|k)_conv$")]
    mlp1 = layers[layers.layer.str.endswith("mlp.mlp1_conv")]
    assert len(qk) > 0 and (qk.input_kind == "integer").all()
    assert (mlp1.input_kind == "integer").all()
    assert all(p.endswith(":add") for p in qk.producer)  # SEW spike-sum residuals


def test_qkformer_membrane_shortcut_variant_is_binary_into_its_convs():
    layers = _profile("qkformer-ms-4-384-cifar10", 32)
    convs = _weight_layers(layers)
    inner = convs[convs.layer.str.contains(r"(?:q|k|v|mlp1)_conv$")]
    assert len(inner) > 0 and (inner.input_kind == "binary").all()


def test_ms_resnet_downsample_shortcuts_see_real_values():
    layers = _profile("ms-resnet18", 64, n=1, time_steps=2)
    shortcuts = layers[layers.layer.str.contains("shortcut")]
    assert len(shortcuts) == 4 and (shortcuts.input_kind == "real").all()
    residual = layers[layers.layer.str.contains("residual_function")]
    assert len(residual) == 16 and (residual.input_kind == "binary").all()


def test_sew_resnet_add_makes_integer_inputs():
    layers = _profile("sew-resnet18", 64, n=1, time_steps=2)
    after_blocks = layers[layers.producer.str.endswith(":add")]
    assert len(after_blocks) > 0 and (after_blocks.input_kind == "integer").all()


def test_meta_spikeformer_fused_is_binary_after_the_encoder():
    from snnenergy.models.meta_spikeformer import fuse

    torch.manual_seed(0)
    model = snnenergy.create_model("meta-spikeformer-15m-t1")
    x = sample_images(64, n=1)
    calibrate_batchnorm(model, x)
    unfused = snnenergy.profile(model, x).layers
    fused = snnenergy.profile(fuse(model), x).layers
    assert fused[fused.input_kind != "binary"].layer.tolist() == ["downsample1_1.encode_conv"]
    # before fusion the re-parameterisable chains (conv -> BN -> conv, SepConv) carry real values
    chains = unfused[(unfused.input_kind == "real") & (unfused.producer != "<input>")]
    assert len(chains) > 0 and fused.dense_ops.sum() > 0
