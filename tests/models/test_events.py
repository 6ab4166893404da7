"""The zoo's event-input convention (:mod:`snnenergy.models.events`) and its use in every event model family."""
from __future__ import annotations

from typing import Callable

import pytest
import torch
from torch import nn

from snnenergy.models import create_model, list_models, model_card
from snnenergy.models.events import EVENT_INPUT_NOTE, event_frames
from snnenergy.neurons import reset_net


# ----------------------------------------------------------------------------------------------- the helper
def _frames(b: int, t: int, h: int = 2, w: int = 3) -> torch.Tensor:
    return torch.arange(b * t * 2 * h * w, dtype=torch.float64).reshape(b, t, 2, h, w)


def test_equal_frames_is_the_plain_transpose() -> None:
    x = _frames(3, 4)
    y = event_frames(x, 4)
    assert y.shape == (4, 3, 2, 2, 3)
    assert torch.equal(y, x.transpose(0, 1))
    # a view of the input (no copy, no arithmetic): exactly the official `x.transpose(0, 1)` / permute
    assert y.data_ptr() == x.data_ptr() and y.stride() == x.transpose(0, 1).stride()


def test_multiple_sums_consecutive_groups() -> None:
    x = _frames(2, 6)
    y = event_frames(x, 2)  # 3 frames per step
    assert y.shape == (2, 2, 2, 2, 3) and y.dtype == x.dtype
    for b in range(2):
        assert torch.equal(y[0, b], x[b, 0] + x[b, 1] + x[b, 2])
        assert torch.equal(y[1, b], x[b, 3] + x[b, 4] + x[b, 5])
    y3 = event_frames(x, 3)  # 2 frames per step
    assert torch.equal(y3[2, 1], x[1, 4] + x[1, 5])


def test_one_step_sums_every_frame() -> None:
    x = _frames(2, 5)
    assert torch.equal(event_frames(x, 1), x.sum(1, keepdim=True).transpose(0, 1))
    # hand value: frame t of sample 0 at [c=0, 0, 0] is 12 t, so the sum over t = 0..4 is 120
    assert event_frames(x, 1)[0, 0, 0, 0, 0].item() == 120.0


@pytest.mark.parametrize("t_in, time_steps", [(10, 16), (10, 4), (6, 4), (3, 6)])
def test_not_a_multiple_raises_a_clear_error(t_in: int, time_steps: int) -> None:
    with pytest.raises(ValueError) as err:
        event_frames(torch.zeros(1, t_in, 2, 4, 4), time_steps)
    msg = str(err.value)
    assert f"T_in={t_in}" in msg and f"time_steps={time_steps}" in msg
    assert "multiple" in msg and f"[B, {time_steps}, C, H, W]" in msg


def test_bad_shape_or_time_steps_raise() -> None:
    with pytest.raises(ValueError, match=r"\[B, T, C, H, W\]"):
        event_frames(torch.zeros(4, 2, 8, 8), 4)
    with pytest.raises(ValueError, match="time_steps must be >= 1"):
        event_frames(torch.zeros(1, 4, 2, 8, 8), 0)


def test_every_event_card_is_consistent() -> None:
    names = [n for n in list_models() if model_card(n).input_kind == "events"]
    families = {model_card(n).family for n in names}
    assert {"qkformer", "psn", "sdt", "spikformer", "spikingformer"} <= families
    for name in names:
        card = model_card(name)
        assert len(card.input_shape) == 4 and card.input_shape[1] == 2, name
        assert card.input_shape[0] == card.time_steps == card.config["time_steps"], name
        assert EVENT_INPUT_NOTE in card.notes, name


# -------------------------------------------------------------------------------------- one model per family
def _reference(name: str) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """The pre-change forward of each family written out with a manual ``[B, T] -> [T, B]`` transpose."""
    family = model_card(name).family
    if family == "qkformer":
        return lambda m, x: m.head(m.forward_features(x.transpose(0, 1)).mean(0))
    if family == "psn":
        return lambda m, x: m.classifier(torch.flatten(m.features(x.transpose(0, 1)), 2)).mean(0)
    if family == "sdt":
        return lambda m, x: m.head(m.head_lif(m.forward_features(x.transpose(0, 1).contiguous()))).mean(0)
    return lambda m, x: m.head(m.forward_features(x.permute(1, 0, 2, 3, 4)).mean(0))  # spikformer family


# (name, overrides that keep the spiking run small); one config per family that takes events
FAMILIES = [
    ("qkformer-2-256-cifar10dvs", dict(time_steps=2, embed_dim=64, num_heads=4)),
    ("psn-cifar10dvs", dict(time_steps=2)),
    ("sdt-2-256-cifar10dvs", dict(time_steps=2, embed_dim=64)),
    ("spikformer-2-256-cifar10dvs", dict(time_steps=2, depth=1)),
    ("spikingformer-2-256-dvs128", dict(time_steps=2, depth=1)),
]


def _events(name: str, b: int, t: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((b, t, *model_card(name).input_shape[1:]), generator=g) < 0.2).float()


class _FirstConvInput:
    """Records the input shape of the first convolution the model runs."""

    def __init__(self, model: nn.Module) -> None:
        self.shape: tuple[int, ...] | None = None
        self.handles = [m.register_forward_pre_hook(self._hook) for m in model.modules()
                        if isinstance(m, (nn.Conv1d, nn.Conv2d))]

    def _hook(self, module: nn.Module, args: tuple) -> None:
        if self.shape is None:
            self.shape = tuple(args[0].shape)


@pytest.mark.parametrize("name, overrides", FAMILIES, ids=[n for n, _ in FAMILIES])
def test_official_path_unchanged(name: str, overrides: dict) -> None:
    model = create_model(name, **overrides).eval()
    torch.manual_seed(0)
    for m in model.modules():  # non-trivial BN statistics so that the comparison is not between constants
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x = _events(name, b=2, t=model.time_steps)
    probe = _FirstConvInput(model)
    with torch.no_grad():
        y = model(x)
        reset_net(model)
        ref = _reference(name)(model, x)
        reset_net(model)
        # twice the frames: step t is the sum of frames 2t and 2t + 1
        x2 = _events(name, b=2, t=2 * model.time_steps, seed=1)
        y_binned = model(x2)
        reset_net(model)
        y_summed = model(x2.reshape(2, model.time_steps, 2, *x2.shape[2:]).sum(2))
        reset_net(model)
    assert probe.shape is not None and probe.shape[0] == 2 * model.time_steps  # T·B
    assert y.shape == (2, model_card(name).num_classes)
    assert torch.equal(y, ref)
    assert torch.equal(y_binned, y_summed)


@pytest.mark.parametrize("name", [n for n, _ in FAMILIES])
def test_ann_counterpart_runs_one_step(name: str) -> None:
    card = model_card(name)
    ann = create_model(name, ann=True).eval()
    assert ann.time_steps == 1
    x = _events(name, b=2, t=card.time_steps)  # the card's full frame count, as the data resolver gives it
    probe = _FirstConvInput(ann)
    with torch.no_grad():
        y = ann(x)
        probe.shape = None
        y_sum = ann(x.sum(1, keepdim=True))
    assert probe.shape is not None and probe.shape[0] == 2  # leading dim T·B with T = 1
    assert y.shape == (2, card.num_classes) and torch.isfinite(y).all()
    assert torch.equal(y, y_sum)  # all frames summed into the one step


@pytest.mark.parametrize("name, overrides", FAMILIES, ids=[n for n, _ in FAMILIES])
def test_frame_count_not_a_multiple_raises(name: str, overrides: dict) -> None:
    model = create_model(name, **{**overrides, "time_steps": 4})
    with pytest.raises(ValueError, match=r"T_in=6 frames but the model runs time_steps=4"):
        model(_events(name, b=1, t=6))
