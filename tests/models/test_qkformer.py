"""QKFormer: parameter counts, official key lists, shapes, dtypes, ANN counterpart and residual structure."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from snnenergy.models import create_model, list_models, load_checkpoint, model_card
from snnenergy.models.qkformer import QKFormer
from snnenergy.neurons import reset_net
from snnenergy.neurons.base import SpikingNeuron

from zoo_testing import STATE_DICT_DIR, is_binary, is_integral, n_params, random_state_dict, record_inputs

# Official totals (sum of model.parameters(), measured by instantiating the official QKFormer code).
REFERENCE_PARAMS = {
    "10-384": 16_473_688,
    "10-512": 29_079_336,
    "10-768": 64_962_760,
    "4-384-cifar10": 6_706_234,
    "4-384-cifar100": 6_740_884,
    "2-256-cifar10dvs": 1_504_138,
    "2-256-dvs128": 1_999_371,
}

def _excite(model: nn.Module) -> nn.Module:
    """Train-mode BN with a positive bias so that random-weight neurons fire often (deterministic)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(m.weight)
            nn.init.constant_(m.bias, 1.0)
    return model.train()


def _calibrated(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Excited BN whose running statistics are those of one forward on ``x``; returned in eval mode."""
    _excite(model)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
    with torch.no_grad():
        model(x)
    reset_net(model)
    return model.eval()


@pytest.mark.parametrize("ms", [False, True], ids=["released", "ms"])
@pytest.mark.parametrize("cfg", sorted(REFERENCE_PARAMS))
def test_parameter_counts_match_official(cfg: str, ms: bool) -> None:
    name = f"qkformer-ms-{cfg}" if ms else f"qkformer-{cfg}"
    with torch.device("meta"):
        model = create_model(name)
    assert n_params(model) == REFERENCE_PARAMS[cfg]
    assert model_card(name).official_params == REFERENCE_PARAMS[cfg]


def test_registry_names_and_alias() -> None:
    names = set(list_models("qkformer*"))
    assert {f"qkformer-{c}" for c in REFERENCE_PARAMS} <= names
    assert {f"qkformer-ms-{c}" for c in REFERENCE_PARAMS} <= names
    assert model_card("qkformer").name == "qkformer-10-768"


@pytest.mark.parametrize("name,json_name,ms", [
    ("10-384", "qkformer-10-384-imagenet", False),
    ("10-384", "qkformer-10-384-imagenet", True),
    ("10-768", "qkformer-10-768-imagenet", False),
    ("4-384-cifar10", "qkformer-4-384-cifar10", False),
    ("4-384-cifar10", "qkformer-4-384-cifar10", True),
    ("2-256-cifar10dvs", "qkformer-2-256-cifar10dvs", False),
    ("2-256-cifar10dvs", "qkformer-2-256-cifar10dvs", True),
])
def test_official_key_list_loads(name: str, json_name: str, ms: bool) -> None:
    model = create_model(f"qkformer-ms-{name}" if ms else f"qkformer-{name}")
    state = random_state_dict(STATE_DICT_DIR / f"{json_name}.json")
    result = load_checkpoint(model, state)
    assert set(result.loaded) == set(state) and result.skipped_unused == []
    key = next(k for k in state if k.endswith("proj_conv.weight"))
    assert torch.equal(model.state_dict()[key], state[key])


@pytest.mark.parametrize("name,input_shape,override", [
    ("qkformer-10-384", (1, 3, 224, 224), {"time_steps": 1}),
    pytest.param("qkformer-10-768", (1, 3, 224, 224), {"time_steps": 1}, marks=pytest.mark.slow),
    ("qkformer-ms-10-384", (1, 3, 224, 224), {"time_steps": 1}),
    ("qkformer-4-384-cifar10", (1, 3, 32, 32), {}),
    ("qkformer-ms-4-384-cifar100", (1, 3, 32, 32), {}),
    ("qkformer-2-256-cifar10dvs", (1, 16, 2, 128, 128), {}),
    ("qkformer-2-256-dvs128", (1, 16, 2, 128, 128), {}),
])
def test_shape_flow_at_real_input_size(name: str, input_shape: tuple, override: dict) -> None:
    model = create_model(name, **override).eval()
    card = model_card(name)
    assert tuple(input_shape[1:]) == card.input_shape
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(input_shape, generator=gen)
    if card.input_kind == "events":
        x = (x > 1.0).float()
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, card.num_classes) and torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["qkformer-4-384-cifar10", "qkformer-ms-4-384-cifar10"])
def test_float64_end_to_end(name: str) -> None:
    model = create_model(name, time_steps=2).double().eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 32, 32, dtype=torch.float64))
    assert y.dtype == torch.float64 and torch.isfinite(y).all()


@pytest.mark.parametrize("name,x", [
    ("qkformer-4-384-cifar10", torch.randn(1, 3, 32, 32)),
    ("qkformer-ms-4-384-cifar10", torch.randn(1, 3, 32, 32)),
    ("qkformer-2-256-cifar10dvs", torch.ones(1, 16, 2, 128, 128)),
])
def test_ann_counterpart_forward(name: str, x: torch.Tensor) -> None:
    ann = create_model(name, ann=True).eval()
    assert ann.time_steps == 1
    assert not any(isinstance(m, SpikingNeuron) for m in ann.modules())
    with torch.no_grad():
        y = ann(x)
    assert y.shape == (1, model_card(name).num_classes) and torch.isfinite(y).all()


def _weight_convs(name: str, m: nn.Module) -> bool:
    return isinstance(m, (nn.Conv1d, nn.Conv2d)) and name.startswith("stage") and (
        name.endswith(("q_conv", "k_conv", "v_conv", "fc1_conv", "mlp1_conv")))


def test_released_residual_is_a_spike_sum() -> None:
    """Integer (non-binary) spike sums reach the next block's Q/K/V and MLP convs and the SPEDS convs."""
    torch.manual_seed(0)
    model = _excite(create_model("qkformer-4-384-cifar10", time_steps=2))
    seen, handles = record_inputs(model, lambda n, m: _weight_convs(n, m) or n.endswith(
        ("patch_embed2.proj3_conv", "patch_embed2.proj_res_conv", "patch_embed3.proj3_conv")))
    block_in, h2 = record_inputs(model, lambda n, m: n in ("stage2.0", "stage3.1"))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    for h in handles + h2:
        h.remove()
    assert len(seen) == 4 * 3 + 2 + 3  # q, k, mlp1 of 4 blocks, v of the 2 SSA blocks; 3 SPEDS convs
    for name, x in seen.items():
        assert is_integral(x) and x.min() >= 0, name
        assert x.max() >= 2, f"{name} should see a spike sum, max {x.max().item()}"
    for name, x in block_in.items():
        assert is_integral(x) and x.max() >= 2, name


def test_ms_variant_residual_is_a_membrane_shortcut() -> None:
    """MS variant: the stream between blocks is real-valued; every Q/K/V/MLP/SPEDS conv sees binary spikes."""
    torch.manual_seed(0)
    model = _excite(create_model("qkformer-ms-4-384-cifar10", time_steps=2))
    seen, handles = record_inputs(model, lambda n, m: _weight_convs(n, m) or n.endswith(
        ("patch_embed2.proj3_conv", "patch_embed2.proj_res_conv", "patch_embed3.proj3_conv")) or n == "head")
    block_in, h2 = record_inputs(model, lambda n, m: n in ("stage2.0", "stage3.1", "patch_embed3"))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    for h in handles + h2:
        h.remove()
    assert len(seen) == 4 * 3 + 2 + 3 + 1
    for name, x in seen.items():
        assert is_binary(x), f"{name} should see binary spikes"
    for name, x in block_in.items():
        assert not is_integral(x), f"{name} input should be membrane-level (real)"


def test_released_and_ms_share_parameters_but_differ_in_neurons() -> None:
    released, ms = create_model("qkformer-4-384-cifar10"), create_model("qkformer-ms-4-384-cifar10")
    assert released.state_dict().keys() == ms.state_dict().keys()
    blk_r, blk_m = released.stage3[0], ms.stage3[0]
    assert hasattr(blk_r.ssa, "proj_lif") and not hasattr(blk_m.ssa, "proj_lif")
    assert hasattr(blk_m.ssa, "in_lif") and hasattr(blk_m.mlp, "in_lif") and not hasattr(blk_m.mlp, "mlp2_lif")


def test_batch_leak_quirk_is_optional() -> None:
    """Default: per-sample neurons (batch-independent). reproduce_batch_leak: the released T·B leak."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    model = _calibrated(create_model("qkformer-4-384-cifar10", time_steps=2), x)
    leak = create_model("qkformer-4-384-cifar10", time_steps=2, reproduce_batch_leak=True).eval()
    leak.load_state_dict(model.state_dict())
    with torch.no_grad():
        batched = model(x)
        reset_net(model)
        singles = []
        for i in range(2):
            singles.append(model(x[i:i + 1]))
            reset_net(model)
        leaked = leak(x)
        reset_net(leak)
        leak_single = leak(x[:1])
    assert batched.abs().max() > 0.01, "the test needs a model whose last stage fires"
    torch.testing.assert_close(batched, torch.cat(singles), rtol=0, atol=1e-5)
    torch.testing.assert_close(leak_single, singles[0], rtol=0, atol=1e-5)
    assert not torch.allclose(leaked, batched, atol=1e-4)


def test_qk_channel_attention_masks_channels() -> None:
    model = QKFormer("cifar", 384, 8, (1, 1, 2), ("qkca", "qkca", "ssa"), num_classes=10, time_steps=2)
    with torch.device("meta"):
        reference = QKFormer("cifar", 384, 8, (1, 1, 2), None, num_classes=10, time_steps=2)
    assert n_params(model) == n_params(reference)
    shapes = {}
    model.stage1[0].tssa.attn_lif.register_forward_pre_hook(lambda m, a: shapes.__setitem__("c", a[0].shape))
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    assert shapes["c"] == (2, 1, 8, 96 // 8, 1)  # one value per channel of each head, summed over tokens
