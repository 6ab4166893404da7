"""Spikformer, CML-Spikformer, Spikingformer, CML-Spikingformer and Spikformer V2: counts, keys, shapes, structure."""
from __future__ import annotations

import json
import re

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from snnenergy.models import (
    CheckpointMismatchError, create_model, is_spiking_neuron, list_models, load_checkpoint, model_card, resolve_name,
)
from snnenergy.neurons import LIF, reset_net

from zoo_testing import STATE_DICT_DIR, is_binary, n_params, random_state_dict

# Official model.parameters() totals and the unused (never-called) parameters, measured by instantiating the
# official code (DVS128 Spikformer has no code: the count is the CIFAR10-DVS file with 11 classes).
_IMAGENET = {  # size -> (official total, unused LayerNorm params)
    "8-384": (16_828_312, 12_288), "6-512": (23_385_640, 12_288), "8-512": (29_705_768, 16_384),
    "10-512": (36_025_896, 20_480), "8-768": (66_363_208, 24_576),
}
_SPIKFORMER_CIFAR = {  # size -> ((cifar10, cifar100) official totals, unused)
    "4-256": ((4_159_274, 4_182_404), 4_096), "2-384": ((5_768_122, 5_802_772), 3_072),
    "4-384": ((9_330_874, 9_365_524), 6_144),
}
_SPIKINGFORMER_CIFAR = {
    "4-256": ((4_156_202, 4_179_332), 4_096), "2-384": ((5_765_818, 5_800_468), 3_072),
    "4-384": ((9_326_266, 9_360_916), 6_144),
}


def _reference_counts() -> dict[str, tuple[int, int]]:
    ref: dict[str, tuple[int, int]] = {}
    for family in ("spikformer", "spikingformer", "cml-spikingformer"):
        for size, counts in _IMAGENET.items():
            ref[f"{family}-{size}"] = counts
    for family, table in (("spikformer", _SPIKFORMER_CIFAR), ("cml-spikformer", _SPIKFORMER_CIFAR),
                          ("spikingformer", _SPIKINGFORMER_CIFAR), ("cml-spikingformer", _SPIKINGFORMER_CIFAR)):
        for size, ((c10, c100), unused) in table.items():
            ref[f"{family}-{size}-cifar10"] = (c10, unused)
            ref[f"{family}-{size}-cifar100"] = (c100, unused)
    ref["spikformer-2-256-cifar10dvs"] = (2_585_610, 18_944)  # LayerNorms 2,048 + final norm 512 + pos_embed 16,384
    ref["spikformer-2-256-dvs128"] = (2_585_867, 18_944)
    for family in ("spikingformer", "cml-spikingformer"):
        ref[f"{family}-2-256-cifar10dvs"] = (2_568_714, 2_048)
        ref[f"{family}-2-256-dvs128"] = (2_568_971, 2_048)
    return ref


REFERENCE = _reference_counts()
V2_NAMES = ["spikformer-v2-8-384", "spikformer-v2-8-512"]
ALL_NAMES = sorted(REFERENCE) + V2_NAMES
SMALL = dict(embed_dim=64, depth=2, num_heads=8, time_steps=2)  # structure tests: 64x64 input, N=16, d=8

# json state-dict lists: (number of unused keys, unused parameters), from tests/data/state_dicts/README.md
STATE_DICT_UNUSED = {
    "spikformer-8-384-imagenet": (32, 12_288), "spikformer-8-512-imagenet": (32, 16_384),
    "spikformer-8-768-imagenet": (32, 24_576), "spikformer-4-384-cifar10": (16, 6_144),
    "spikformer-2-256-cifar10dvs": (11, 18_944), "spikingformer-8-512-imagenet": (32, 16_384),
    "spikingformer-8-768-imagenet": (32, 24_576), "spikingformer-4-384-cifar10": (16, 6_144),
    "spikingformer-2-256-cifar10dvs": (8, 2_048), "spikingformer-2-256-dvs128": (8, 2_048),
    "cml-spikingformer-8-768-imagenet": (32, 24_576), "cml-spikingformer-4-384-cifar10": (16, 6_144),
}
_UNUSED_KEY = re.compile(r"block\.\d+\.norm[12]\.(weight|bias)|pos_embed|norm\.(weight|bias)")


def sample_input(name: str, dtype: torch.dtype = torch.float32, time_steps: int | None = None) -> torch.Tensor:
    """A batch-1 input at the card's real size: an image, or binary event frames [1, T, 2, 128, 128]."""
    card = model_card(name)
    g = torch.Generator().manual_seed(0)
    if card.input_kind == "events":
        shape = (1, time_steps or card.time_steps, *card.input_shape[1:])
        return (torch.rand(shape, generator=g) < 0.15).to(dtype)
    return torch.rand((1, *card.input_shape), generator=g).to(dtype)


_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm, nn.MaxPool2d, LIF)


def _run_with_forward_hooks(model: nn.Module, x: torch.Tensor, modules: dict[str, nn.Module], record) -> None:
    """One no-grad forward with ``record(name, inputs)`` called after each listed module runs."""
    handles = [m.register_forward_hook(lambda mod, inp, out, n=n: record(n, inp)) for n, m in modules.items()]
    try:
        with torch.no_grad():
            reset_net(model)
            model(x)
    finally:
        for h in handles:
            h.remove()


def leaf_call_order(model: nn.Module, root: nn.Module, x: torch.Tensor) -> list[str]:
    """Names (relative to ``root``) of the layers under ``root`` (neurons included), in call order."""
    order: list[str] = []
    layers = {n: m for n, m in root.named_modules() if isinstance(m, _LAYERS)}
    _run_with_forward_hooks(model, x, layers, lambda n, inp: order.append(n))
    return order


def module_inputs(model: nn.Module, x: torch.Tensor, kinds: tuple[type, ...]) -> dict[str, torch.Tensor]:
    """The first positional input of every module of the given types during one forward."""
    seen: dict[str, torch.Tensor] = {}
    chosen = {n: m for n, m in model.named_modules() if isinstance(m, kinds)}

    def keep(name: str, inp: tuple) -> None:  # a forward hook must return None or it replaces the output
        seen.setdefault(name, inp[0].detach())

    _run_with_forward_hooks(model, x, chosen, keep)
    return seen


class _AttentionOps(TorchFunctionMode):
    """Records matmuls and scalar multiplications (name, output shape, scalar) while ``active``."""

    def __init__(self) -> None:
        super().__init__()
        self.active = False
        self.ops: list[tuple[str, tuple[int, ...], float | None]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        if self.active and name in ("__matmul__", "matmul", "__mul__", "mul"):
            scalar = next((a for a in args if isinstance(a, (int, float))), None)
            if name.endswith("matmul__") or name == "matmul" or scalar is not None:
                self.ops.append(("matmul" if "matmul" in name else "mul", tuple(out.shape), scalar))
        return out


def attention_ops(model: nn.Module, attn: nn.Module, x: torch.Tensor) -> list[tuple]:
    """The matmuls and scalar multiplications run inside ``attn`` during one forward of ``model``."""
    mode = _AttentionOps()
    pre = attn.register_forward_pre_hook(lambda *a: setattr(mode, "active", True))
    post = attn.register_forward_hook(lambda *a: setattr(mode, "active", False))
    try:
        with torch.no_grad(), mode:
            reset_net(model)
            model(x)
    finally:
        pre.remove()
        post.remove()
    return mode.ops


def lifs(model: nn.Module) -> dict[str, LIF]:
    return {n: m for n, m in model.named_modules() if isinstance(m, LIF)}


# ---------------------------------------------------------------------------------------------- registry
def test_every_issue_name_is_registered_and_aliases_resolve():
    registered = set(list_models())
    assert set(ALL_NAMES) <= registered
    family = {n for n in registered if re.match(r"(cml-)?spik(former|ingformer)", n)}
    assert family == set(ALL_NAMES), sorted(family ^ set(ALL_NAMES))
    assert resolve_name("spikformer") == "spikformer-8-512"
    assert resolve_name("spikingformer") == "spikingformer-8-512"
    assert resolve_name("cml") == "cml-spikingformer-8-512"


@pytest.mark.parametrize("name", ALL_NAMES)
def test_model_card_is_complete(name):
    card = model_card(name)
    assert card.paper and card.dataset and card.neuron and card.notes
    assert card.published.get("source")
    assert card.config["time_steps"] == card.time_steps and card.config["num_classes"] == card.num_classes
    assert card.config["embed_dim"] % card.config["num_heads"] == 0
    if card.input_kind == "events":
        assert card.input_shape == (card.time_steps, 2, 128, 128)
    else:
        assert card.input_shape in ((3, 224, 224), (3, 32, 32))
    if name in REFERENCE:
        assert card.official_params == REFERENCE[name][0]
        assert "block.*.norm1.weight" in card.unused_keys and "block.*.norm2.bias" in card.unused_keys
    else:  # Spikformer V2: nothing official to point to
        assert card.official_params is None and card.unused_keys == []
        assert "ASSUMED" in card.notes and "NOT OFFICIAL" in card.notes


# ------------------------------------------------------------------------------ counts and shape flow
@pytest.mark.parametrize("name", ALL_NAMES)
def test_parameter_count_and_shape_flow_at_real_input_size(name):
    card = model_card(name)
    overrides = {"time_steps": 1} if card.dataset == "imagenet" else {}
    model = create_model(name, **overrides).eval()
    if name in REFERENCE:
        official, unused = REFERENCE[name]
        assert n_params(model) == official - unused
    else:  # the assumed SCS: Spikformer's SPS/blocks/head plus one Conv3x3-BN per stage at D/8, D/4, D/2, D
        dim = card.config["embed_dim"]
        widths = (dim // 8, dim // 4, dim // 2, dim)
        spikformer = REFERENCE[f"spikformer-8-{dim}"]
        assert n_params(model) == spikformer[0] - spikformer[1] + sum(9 * c * c + 2 * c for c in widths)
    with torch.no_grad():
        y = model(sample_input(name))
    assert y.shape == (1, card.num_classes)
    assert torch.isfinite(y).all()


_ANN_NAMES = [
    "spikformer-8-384", "spikformer-4-256-cifar100", "spikformer-2-256-dvs128", "spikingformer-8-384",
    "spikingformer-2-384-cifar10", "spikingformer-2-256-cifar10dvs", "cml-spikingformer-6-512",
    "cml-spikingformer-4-256-cifar100", "cml-spikingformer-2-256-dvs128", "cml-spikformer-2-384-cifar10",
    "spikformer-v2-8-384",
]


@pytest.mark.parametrize("name", _ANN_NAMES)
def test_ann_counterpart_forward(name):
    ann = create_model(name, ann=True).eval()
    assert ann.time_steps == 1
    assert not any(is_spiking_neuron(m) for m in ann.modules())
    assert any(isinstance(m, nn.ReLU) for m in ann.modules())
    with torch.no_grad():
        y = ann(sample_input(name))  # event models: the 16 frames are summed into one
    assert y.shape == (1, model_card(name).num_classes) and torch.isfinite(y).all()


@pytest.mark.parametrize("name, overrides", [
    ("spikformer-8-512", dict(embed_dim=64, depth=1, time_steps=2)),
    ("spikingformer-8-512", dict(embed_dim=64, depth=1, time_steps=2)),
    ("cml-spikingformer-8-512", dict(embed_dim=64, depth=1, time_steps=2)),
    ("spikformer-v2-8-512", dict(embed_dim=64, depth=1, time_steps=2)),
    ("spikformer-4-256-cifar10", {}),
    ("cml-spikformer-4-256-cifar100", {}),
    ("spikingformer-2-384-cifar100", {}),
    ("spikformer-2-256-cifar10dvs", dict(time_steps=4)),
    ("cml-spikingformer-2-256-dvs128", dict(time_steps=4)),
])
def test_float64_forward(name, overrides):
    model = create_model(name, **overrides).double().eval()
    x = sample_input(name, torch.float64, time_steps=overrides.get("time_steps"))
    with torch.no_grad():
        y = model(x)
        assert y.dtype == torch.float64 and torch.isfinite(y).all()
        assert all(isinstance(m.v, torch.Tensor) and m.v.dtype == torch.float64 for m in lifs(model).values())
        reset_net(model)
        assert torch.equal(model(x), y)  # deterministic given a reset


def test_input_errors_and_event_frames():
    dvs = create_model("spikingformer-2-256-cifar10dvs", depth=1)
    with pytest.raises(ValueError, match="frames"):
        dvs(torch.zeros(1, 10, 2, 128, 128))  # T=10 events into the T=16 model
    with pytest.raises(ValueError, match=r"\[B, T, C, H, W\]"):
        dvs(torch.zeros(1, 2, 128, 128))
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        create_model("spikformer-4-256-cifar10", depth=1)(torch.zeros(1, 4, 3, 32, 32))
    with pytest.raises(ValueError, match="divisible"):
        create_model("spikformer-4-384-cifar10", num_heads=7)
    # the ANN counterpart of an event model sees the sum of all frames once
    ann = create_model("spikformer-2-256-cifar10dvs", ann=True, depth=1).eval()
    x = sample_input("spikformer-2-256-cifar10dvs")
    with torch.no_grad():
        assert torch.equal(ann(x), ann(x.sum(1, keepdim=True)))


# -------------------------------------------------------------------------------------- checkpoints
def _json_to_name(stem: str) -> str:
    return stem[: -len("-imagenet")] if stem.endswith("-imagenet") else stem


def test_every_family_state_dict_list_is_covered():
    found = {p.stem for p in STATE_DICT_DIR.glob("*.json") if re.match(r"(cml-)?spik(former|ingformer)-", p.stem)}
    assert found == set(STATE_DICT_UNUSED)


@pytest.mark.parametrize("stem", sorted(STATE_DICT_UNUSED))
def test_official_state_dict_loads(stem):
    path = STATE_DICT_DIR / f"{stem}.json"
    data = json.loads(path.read_text())
    name = _json_to_name(stem)
    model = create_model(name)
    state = random_state_dict(path, seed=1, num_batches_tracked=7)
    result = load_checkpoint(model, state)

    n_unused, unused_params = STATE_DICT_UNUSED[stem]
    skipped = set(result.skipped_unused)
    assert skipped == set(state) - set(model.state_dict())
    assert len(skipped) == n_unused and all(_UNUSED_KEY.fullmatch(k) for k in skipped)
    assert sum(state[k].numel() for k in skipped) == unused_params
    assert set(result.loaded) == set(model.state_dict())
    assert n_params(model) == data["params_total"] - unused_params
    assert all(torch.equal(t, state[k]) for k, t in model.state_dict().items())


def test_wrong_keys_and_shapes_give_clear_errors():
    model = create_model("spikingformer-4-384-cifar10")
    state = random_state_dict(STATE_DICT_DIR / "spikingformer-4-384-cifar10.json", seed=1, num_batches_tracked=7)

    renamed = dict(state)
    renamed["block.0.attn.q_convx.weight"] = renamed.pop("block.0.attn.q_conv.weight")
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(model, renamed)
    message = str(err.value)
    assert "1 missing (block.0.attn.q_conv.weight)" in message
    assert "1 unexpected (block.0.attn.q_convx.weight)" in message
    assert "\n" not in message

    reshaped = dict(state, **{"head.weight": torch.zeros(100, 384)})
    with pytest.raises(CheckpointMismatchError, match=r"1 mis-shaped .*head\.weight \(100, 384\) vs \(10, 384\)"):
        load_checkpoint(model, reshaped)

    # Spikformer-CIFAR keys (Linear projections, proj_conv1 names) do not fit Spikingformer-CIFAR: the counts of
    # each kind, the first three keys of each, and the config the keys and shapes do match
    spikformer = random_state_dict(STATE_DICT_DIR / "spikformer-4-384-cifar10.json", seed=1, num_batches_tracked=7)
    own, theirs = set(model.state_dict()), set(spikformer)
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(model, spikformer)
    message = str(err.value)
    unused = {k for k in theirs - own if ".norm1." in k or ".norm2." in k}
    assert f"{len(own - theirs)} missing" in message
    assert f"{len(theirs - own - unused)} unexpected" in message
    first_unexpected = [k for k in spikformer if k not in own and k not in unused][:3]
    assert f"({', '.join(first_unexpected)}, … {len(theirs - own - unused) - 3} more)" in message
    assert len(message) < 1000
    assert "match spikformer-4-384-cifar10" in message and "--model spikformer-4-384-cifar10" in message


def test_a_checkpoint_of_another_dataset_names_the_config_it_fits():
    cifar100 = create_model("spikingformer-4-384-cifar100", seed=3).state_dict()
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(create_model("spikingformer-4-384-cifar10"), cifar100)
    message = str(err.value)
    assert "2 mis-shaped" in message and "head.weight (100, 384) vs (10, 384)" in message
    assert "spikingformer-4-384-cifar100" in message.split("match", 1)[1]


def test_published_firing_rates_name_real_modules():
    for name in ("spikingformer-8-512", "spikingformer-8-768", "cml-spikingformer-8-768"):
        with torch.device("meta"):
            model = create_model(name)
        pub = model_card(name).published
        neurons = lifs(model)
        convs = {n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
        assert len(pub["firing_rates_percent"]) == 4 + 7 * 8
        assert set(pub["firing_rates_percent"]) <= set(neurons)
        assert set(pub["conv_input_rates_percent"]) <= convs
        assert all(0 < r <= 100 for r in pub["firing_rates_percent"].values())
    # the CML tokenizer pools before the LIF, so its LIF output rate is the next conv's input rate
    pub = model_card("cml-spikingformer-8-768").published
    assert pub["firing_rates_percent"]["patch_embed.proj1_lif"] == pub["conv_input_rates_percent"][
        "patch_embed.proj1_conv"]


# ------------------------------------------------------------------------------------- structure
_SPS_ORDER = [
    "proj_conv", "proj_bn", "proj_lif", "maxpool", "proj_conv1", "proj_bn1", "proj_lif1", "maxpool1",
    "proj_conv2", "proj_bn2", "proj_lif2", "maxpool2", "proj_conv3", "proj_bn3", "proj_lif3", "maxpool3",
    "rpe_conv", "rpe_bn", "rpe_lif",
]
_SPIKFORMER_BLOCK_ORDER = [
    "attn.q_conv", "attn.q_bn", "attn.q_lif", "attn.k_conv", "attn.k_bn", "attn.k_lif", "attn.v_conv", "attn.v_bn",
    "attn.v_lif", "attn.attn_lif", "attn.proj_conv", "attn.proj_bn", "attn.proj_lif",
    "mlp.fc1_conv", "mlp.fc1_bn", "mlp.fc1_lif", "mlp.fc2_conv", "mlp.fc2_bn", "mlp.fc2_lif",
]
_SPIKINGFORMER_BLOCK_ORDER = [
    "attn.proj_lif", "attn.q_conv", "attn.q_bn", "attn.q_lif", "attn.k_conv", "attn.k_bn", "attn.k_lif",
    "attn.v_conv", "attn.v_bn", "attn.v_lif", "attn.attn_lif", "attn.proj_conv", "attn.proj_bn",
    "mlp.mlp1_lif", "mlp.mlp1_conv", "mlp.mlp1_bn", "mlp.mlp2_lif", "mlp.mlp2_conv", "mlp.mlp2_bn",
]


def _image(size: int) -> torch.Tensor:
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(3))


def test_neuron_settings_per_family():
    expected_tau = {
        "spikformer-8-512": 2.0, "spikformer-2-256-cifar10dvs": 2.0, "spikingformer-4-384-cifar10": 2.0,
        "spikingformer-2-256-cifar10dvs": 1.5, "spikingformer-2-256-dvs128": 1.5,
        "cml-spikingformer-2-256-cifar10dvs": 1.75, "cml-spikingformer-2-256-dvs128": 1.75,
        "cml-spikformer-2-384-cifar100": 2.0, "spikformer-v2-8-384": 2.0,
    }
    for name, tau in expected_tau.items():
        neurons = lifs(create_model(name, depth=1))
        assert neurons and all(m.tau == tau and m.decay_input and m.v_reset == 0.0 and m.detach_reset
                               for m in neurons.values()), name
        thresholds = {n: m.v_threshold for n, m in neurons.items()}
        assert thresholds.pop("block.0.attn.attn_lif") == 0.5, name
        assert set(thresholds.values()) == {1.0}, name


def test_spikformer_imagenet_order_sew_residual_and_kv_first_attention():
    model = create_model("spikformer-8-512", **SMALL).train()  # batch-statistics BN: every layer fires
    x = _image(64)
    assert leaf_call_order(model, model.patch_embed, x) == _SPS_ORDER
    assert leaf_call_order(model, model.block[0], x) == _SPIKFORMER_BLOCK_ORDER

    # SEW residual: spikes are added, so the stream holds integers that grow by at most 2 per block
    outs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: outs.update({n: o})) for n, m in
             [("tok", model.patch_embed), ("b0", model.block[0]), ("b1", model.block[1])]]
    with torch.no_grad():
        reset_net(model)
        model(x)
    for h in hooks:
        h.remove()
    for key, bound in (("tok", 2), ("b0", 4), ("b1", 6)):
        t = outs[key]
        assert torch.equal(t, t.round()) and t.min() >= 0 and t.max() <= bound, key
    assert outs["tok"].max() == 2  # spike + spike somewhere
    q_in = module_inputs(model, x, (nn.Conv1d,))["block.1.attn.q_conv"]
    assert not is_binary(q_in) and torch.equal(q_in, q_in.round())  # integer, non-binary: Spikformer's MACs

    # attention: K^T V first ([.., d, d]), then Q (K^T V) ([.., N, d]), then * 0.125
    ops = attention_ops(model, model.block[0].attn, x)
    h, d, n = 8, 8, 16
    assert ops == [("matmul", (2, 1, h, d, d), None), ("matmul", (2, 1, h, n, d), None),
                   ("mul", (2, 1, h, n, d), 0.125)]


def test_spikformer_cifar_and_dvs_attention_orders_and_pools():
    cifar = create_model("spikformer-4-384-cifar10", embed_dim=64, depth=1, num_heads=4, time_steps=2).train()
    x = _image(32)
    order = leaf_call_order(cifar, cifar.patch_embed, x)
    assert order == [n for n in _SPS_ORDER if n not in ("maxpool", "maxpool1")]  # pools in stages 3-4 only
    assert cifar.block[0].attn.q_linear.bias is not None  # Linear with bias on CIFAR
    ops = attention_ops(cifar, cifar.block[0].attn, x)
    assert ops == [("matmul", (2, 1, 4, 64, 64), None), ("mul", (2, 1, 4, 64, 64), 0.125),
                   ("matmul", (2, 1, 4, 64, 16), None)]

    dvs = create_model("spikformer-2-256-cifar10dvs", embed_dim=64, depth=1, num_heads=4, time_steps=2).train()
    ev = sample_input("spikformer-2-256-cifar10dvs", time_steps=2)
    assert leaf_call_order(dvs, dvs.patch_embed, ev) == _SPS_ORDER
    assert dvs.block[0].attn.q_conv.bias is None
    ops = attention_ops(dvs, dvs.block[0].attn, ev)
    assert ops == [("matmul", (2, 1, 4, 64, 64), None), ("matmul", (2, 1, 4, 64, 16), None),
                   ("mul", (2, 1, 4, 64, 16), 0.25)]


def test_cml_spikformer_pools_bn_output_before_lif():
    model = create_model("cml-spikformer-4-384-cifar10", embed_dim=64, depth=1, num_heads=4, time_steps=2).train()
    x = _image(32)
    assert leaf_call_order(model, model.patch_embed, x) == [
        "block1_conv", "block1_bn", "block1_lif", "block2_conv", "block2_bn", "block2_lif",
        "block3_conv", "block3_bn", "block3_mp", "block3_lif", "block4_conv", "block4_bn", "block4_mp", "block4_lif",
        "rpe_conv", "rpe_bn", "rpe_lif",
    ]
    pool_in = module_inputs(model, x, (nn.MaxPool2d,))
    assert not is_binary(pool_in["patch_embed.block3_mp"])  # real-valued BN output
    assert leaf_call_order(model, model.block[0], x)[:3] == ["attn.q_linear", "attn.q_bn", "attn.q_lif"]


def test_spikingformer_ms_residual_pre_activation_and_binary_weight_inputs():
    model = create_model("spikingformer-8-512", **SMALL).train()
    x = _image(64)
    assert leaf_call_order(model, model.patch_embed, x) == [
        "proj_conv", "proj_bn",
        "proj1_lif", "maxpool1", "proj1_conv", "proj1_bn", "proj2_lif", "maxpool2", "proj2_conv", "proj2_bn",
        "proj3_lif", "maxpool3", "proj3_conv", "proj3_bn", "proj4_lif", "maxpool4", "proj4_conv", "proj4_bn",
    ]
    assert leaf_call_order(model, model.block[0], x) == _SPIKINGFORMER_BLOCK_ORDER

    inputs = module_inputs(model, x, (nn.Conv1d, nn.Conv2d, nn.Linear, nn.MaxPool2d))
    real_inputs = {n for n, t in inputs.items() if not is_binary(t)}
    assert real_inputs == {"patch_embed.proj_conv", "head"}  # every other weight layer and pool sees spikes
    stream = module_inputs(model, x, (nn.Linear,))["head"]
    assert not torch.equal(stream, stream.round())  # the membrane-level stream is real-valued

    ops = attention_ops(model, model.block[0].attn, x)  # ImageNet: K^T V ([d, d]) first
    assert ops == [("matmul", (2, 1, 8, 8, 8), None), ("matmul", (2, 1, 8, 16, 8), None),
                   ("mul", (2, 1, 8, 16, 8), 0.125)]


def test_spikingformer_cifar_tokenizer_and_qk_first_attention():
    model = create_model("spikingformer-4-384-cifar10", embed_dim=64, depth=1, num_heads=4, time_steps=2).train()
    x = _image(32)
    assert leaf_call_order(model, model.patch_embed, x) == [
        "block0_conv", "block0_bn", "block1_lif", "block1_conv", "block1_bn", "block2_lif", "block2_conv",
        "block2_bn", "block3_lif", "block3_mp", "block3_conv", "block3_bn", "block4_lif", "block4_mp",
        "block4_conv", "block4_bn",
    ]
    ops = attention_ops(model, model.block[0].attn, x)
    assert ops == [("matmul", (2, 1, 4, 64, 64), None), ("matmul", (2, 1, 4, 64, 16), None),
                   ("mul", (2, 1, 4, 64, 16), 0.125)]


def test_cml_spikingformer_moves_maxpool_before_lif():
    model = create_model("cml-spikingformer-8-512", **SMALL).train()
    x = _image(64)
    assert leaf_call_order(model, model.patch_embed, x) == [
        "proj_conv", "proj_bn", "maxpool",
        "proj1_lif", "proj1_conv", "proj1_bn", "maxpool1", "proj2_lif", "proj2_conv", "proj2_bn", "maxpool2",
        "proj3_lif", "proj3_conv", "proj3_bn", "maxpool3", "proj4_lif", "proj4_conv", "proj4_bn",
    ]
    pool_in = module_inputs(model, x, (nn.MaxPool2d,))
    assert not any(is_binary(t) for t in pool_in.values())  # pooling real BN outputs (Spikingformer: spikes)
    conv_in = module_inputs(model, x, (nn.Conv2d,))
    assert all(is_binary(t) for n, t in conv_in.items() if n != "patch_embed.proj_conv")

    cifar = create_model("cml-spikingformer-4-384-cifar100", embed_dim=64, depth=1, num_heads=4, time_steps=2)
    order = leaf_call_order(cifar, cifar.patch_embed, _image(32))
    assert order[order.index("proj2_bn") + 1] == "proj2_mp" and order[order.index("proj3_bn") + 1] == "proj3_mp"
    assert "maxpool" not in order and len(order) == 16


def test_spikformer_v2_assumed_stem_extends_sps():
    model = create_model("spikformer-v2-8-512", **SMALL).train()
    x = _image(64)
    order = leaf_call_order(model, model.patch_embed, x)
    expected = []
    for i, sfx in enumerate(("", "1", "2", "3")):
        expected += [f"proj_conv{sfx}", f"proj_bn{sfx}", f"proj_lif{sfx}", f"scs_conv{i}_0", f"scs_bn{i}_0",
                     f"scs_lif{i}_0", f"maxpool{sfx}"]
    assert order == expected + ["rpe_conv", "rpe_bn", "rpe_lif"]
    assert leaf_call_order(model, model.block[0], x) == _SPIKFORMER_BLOCK_ORDER
    none = create_model("spikformer-v2-8-512", extra_convs=(0, 0, 0, 0), **SMALL)
    sps = create_model("spikformer-8-512", **SMALL)
    assert n_params(none) == n_params(sps)  # without supplementary layers the stem is Spikformer's SPS
