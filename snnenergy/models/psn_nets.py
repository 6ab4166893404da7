"""Networks of the PSN paper (Fang et al., NeurIPS 2023): parallel spiking neurons on CIFAR-10, sequential
CIFAR-10/100 and CIFAR10-DVS.

Re-implemented from the paper and the official code (repo
fangwei123456/Parallel-Spiking-Neuron, read for facts only):

- ``psn-cifar10`` (``cifar10/train_cf10.py``): {conv3x3 (no bias), BN, PSN} x3 + avg-pool 2, twice (256
  channels), flatten, Linear(256·8·8 -> 4096), PSN, Linear(4096 -> 10); the image is repeated T=4 times and
  the output is the mean over T.
- ``*-scifar10`` / ``*-scifar100`` (``sequential_cifar/train_secf10.py``): the 32 image columns are the time
  steps (T=32), each a [3, 32] column; {conv1d k3 (no bias), BN1d, neuron} x3 + avg-pool 2, twice (128
  channels), flatten, Linear(128·8 -> 256), neuron, Linear(256 -> classes); mean over T. Neuron: PSN,
  masked PSN (k=32) or sliding PSN (k=32); the paper's LIF/PLIF baselines are ``neuron='lif'|'plif'`` (soft
  reset, detach_reset, ATan surrogate, as ``create_neuron`` there).
- ``psn-cifar10dvs`` (``cifar10dvs/models.py`` ``VGGPSN``): VGG-11-like conv (with bias) + BN stack with a
  sliding PSN (k=2, exp_init) after every conv, avg-pool 2 four times on 48x48 frames, dropout 0.25 +
  Linear(512·3·3 -> 10) per time step; mean over T (released: ``Dropout2d`` on a 2-D tensor, deprecated in
  PyTorch; ``Dropout`` here, the same at inference).

State-dict keys follow the official modules, except the neuron parameters, which follow SpikingJelly 2.0's
``neuron.psn`` names (``weight``, ``bias``); :func:`convert_psn_repo_state_dict` maps the repository's own
neuron names (``<layer>.fc.weight``/``.fc.bias`` of its ``IFNode5``, ``.threshold`` of its sliding PSN).
"""
from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import nn

from ..neurons import ATan
from ..neurons.base import SpikingNeuron
from .events import EVENT_INPUT_NOTE, event_frames
from .registry import ModelCard, register_model

__all__ = [
    "PSNCifarNet", "PSNSequentialCifarNet", "VGGPSN", "make_psn_net_neuron", "convert_psn_repo_state_dict",
    "TimeFoldedSequential",
]

NEURONS = ("psn", "masked_psn", "sliding_psn", "lif", "plif")


def make_psn_net_neuron(
    kind: str, time_steps: int, psn_k: int = 32, masked_psn_lambda: float = 1.0, exp_init: bool = True
) -> nn.Module:
    """A neuron layer as the PSN repository's ``create_neuron`` builds it (surrogate ATan, alpha 2)."""
    from .. import neurons

    if kind == "psn":
        return neurons.PSN(time_steps, surrogate=ATan(2.0))
    if kind == "masked_psn":
        return neurons.MaskedPSN(psn_k, time_steps, lambda_init=masked_psn_lambda, surrogate=ATan(2.0))
    if kind == "sliding_psn":
        return neurons.SlidingPSN(psn_k, exp_init=exp_init, surrogate=ATan(2.0))
    if kind == "lif":
        return neurons.LIF(tau=2.0, v_reset=None, detach_reset=True, surrogate=ATan(2.0))
    if kind == "plif":
        return neurons.ParametricLIF(init_tau=2.0, v_reset=None, detach_reset=True, surrogate=ATan(2.0))
    raise ValueError(f"neuron must be one of {NEURONS}, got {kind!r}")


class TimeFoldedSequential(nn.Sequential):
    """``Sequential`` on ``[T, B, ...]``: spiking neurons see ``[T, B, ...]``, every other layer the T·B fold
    (SpikingJelly's multi-step ``layer.*`` wrappers; BN statistics over T·B)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for m in self:
            if isinstance(m, SpikingNeuron):
                x = m(x)
            else:
                t, b = x.shape[:2]
                y = m(x.flatten(0, 1))
                x = y.reshape(t, b, *y.shape[1:])
        return x


class _SeqToANN(nn.Module):
    """The repository's ``SeqToANNContainer`` (layers under ``.module``), folding T into the batch."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.module = layers[0] if len(layers) == 1 else nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        y = self.module(x.flatten(0, 1))
        return y.reshape(t, b, *y.shape[1:])


class _ConvBN(nn.Module):
    """The repository's ``Layer``: ``fwd = SeqToANNContainer(conv, BN)``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.fwd = _SeqToANN(nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fwd(x)


def _conv_stages(conv: type[nn.Module], bn: type[nn.Module], pool: type[nn.Module], in_channels: int,
                 channels: int, neuron) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for _ in range(2):
        for _ in range(3):
            layers += [conv(in_channels, channels, kernel_size=3, padding=1, bias=False), bn(channels), neuron()]
            in_channels = channels
        layers.append(pool(2, 2))
    return layers


class PSNCifarNet(nn.Module):
    """The PSN paper's CIFAR-10 CSNN (``CIFAR10Net`` of ``cifar10/train_cf10.py``) for ``[B, 3, 32, 32]``."""

    def __init__(
        self, channels: int = 256, num_classes: int = 10, time_steps: int = 4, neuron: str = "psn",
        psn_k: int = 4, masked_psn_lambda: float = 1.0, exp_init: bool = True,
    ) -> None:
        super().__init__()
        self.time_steps = int(time_steps)
        make = lambda: make_psn_net_neuron(neuron, self.time_steps, psn_k, masked_psn_lambda, exp_init)  # noqa: E731
        self.conv = TimeFoldedSequential(*_conv_stages(nn.Conv2d, nn.BatchNorm2d, nn.AvgPool2d, 3, channels, make))
        hidden = channels * 8 * 8 // 4
        self.fc = TimeFoldedSequential(
            nn.Flatten(), nn.Linear(channels * 8 * 8, hidden), make(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"expected [B, 3, 32, 32] images, got shape {tuple(x.shape)}")
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        return self.fc(self.conv(x)).mean(0)


class PSNSequentialCifarNet(nn.Module):
    """Sequential CIFAR (``sequential_cifar/train_secf10.py``): the image columns are the time steps.

    ``time_steps`` is the sequence length, i.e. the image width (32); it is set by the data, not repeated.
    The ANN counterpart (``to_ann``) keeps reading the 32 columns as its sequence.
    """

    def __init__(
        self, channels: int = 128, num_classes: int = 10, time_steps: int = 32, neuron: str = "psn",
        psn_k: int = 32, masked_psn_lambda: float = 1.0, exp_init: bool = True,
    ) -> None:
        super().__init__()
        self.time_steps = int(time_steps)
        make = lambda: make_psn_net_neuron(neuron, int(time_steps), psn_k, masked_psn_lambda, exp_init)  # noqa: E731
        self.conv = TimeFoldedSequential(*_conv_stages(nn.Conv1d, nn.BatchNorm1d, nn.AvgPool1d, 3, channels, make))
        self.fc = TimeFoldedSequential(
            nn.Flatten(), nn.Linear(channels * 8, channels * 8 // 4), make(), nn.Linear(channels * 8 // 4, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"expected [B, 3, 32, 32] images, got shape {tuple(x.shape)}")
        x = x.permute(3, 0, 1, 2)  # [B, C, H, W] -> [W, B, C, H]: one column per time step
        return self.fc(self.conv(x)).mean(0)


class VGGPSN(nn.Module):
    """The PSN paper's CIFAR10-DVS network (``cifar10dvs/models.py``) for ``[B, T, 2, 48, 48]`` frames."""

    def __init__(
        self, num_classes: int = 10, time_steps: int = 10, neuron: str = "sliding_psn", psn_k: int = 2,
        masked_psn_lambda: float = 1.0, exp_init: bool = True, in_channels: int = 2, input_size: int = 48,
    ) -> None:
        super().__init__()
        self.time_steps = int(time_steps)
        make = lambda: make_psn_net_neuron(neuron, self.time_steps, psn_k, masked_psn_lambda, exp_init)  # noqa: E731
        pool = _SeqToANN(nn.AvgPool2d(2))  # one shared module, as released
        plan = [(in_channels, 64), (64, 128), "pool", (128, 256), (256, 256), "pool", (256, 512), (512, 512), "pool",
                (512, 512), (512, 512), "pool"]
        layers: list[nn.Module] = []
        for step in plan:
            layers += [pool] if step == "pool" else [_ConvBN(*step), make()]
        self.features = nn.Sequential(*layers)
        w = input_size // 16
        # released: Dropout2d(0.25) on the [T·B, 4608] features (deprecated for 2-D input); identical at inference
        self.classifier = nn.Sequential(_SeqToANN(nn.Dropout(0.25), nn.Linear(512 * w * w, num_classes)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(event_frames(x, self.time_steps))
        return self.classifier(torch.flatten(x, 2)).mean(0)


def convert_psn_repo_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Parallel-Spiking-Neuron repository checkpoint's neuron entries to ours.

    ``<n>.fc.weight`` / ``<n>.fc.bias`` of its ``IFNode5`` / ``IFNode5PorderMaskD`` (``nn.Linear(T, T)``) become
    ``<n>.weight`` and ``<n>.bias`` (reshaped to ``[T, 1]``); their ``fc.mask0`` / ``fc.mask1`` buffers keep
    their names under ``<n>``, and a masked PSN gets ``_lambda_ = 1`` (the final mask). The sliding PSN's
    ``<n>.threshold`` (added to ``W·X``) becomes ``<n>.bias``. Other keys are unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        m = re.fullmatch(r"(.+)\.fc\.(weight|bias|mask0|mask1)", key)
        if m and (value.dim() == 2 and value.shape[0] == value.shape[1] or m.group(2) != "weight"):
            prefix, name = m.groups()
            out[f"{prefix}.{name}"] = value.unsqueeze(1) if name == "bias" and value.dim() == 1 else value
            if name == "mask0":
                out[f"{prefix}._lambda_"] = torch.tensor(1.0)
        elif key.endswith(".threshold"):
            out[key[: -len("threshold")] + "bias"] = value
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------------- registry
_PAPER = ("Fang et al., Parallel Spiking Neurons with High Efficiency and Ability to Learn Long-term "
          "Dependencies, NeurIPS 2023 (arXiv 2304.12760)")
_REPO = "fangwei123456/Parallel-Spiking-Neuron@2bfcba4"
_KEYS_NOTE = ("Neuron parameters use SpikingJelly 2.0 names (weight, bias); load repository checkpoints "
              "through convert_psn_repo_state_dict. The parameter count is derived from the official layer "
              "list (not measured on the official code).")


def _scifar_published(dataset: str, neuron: str) -> dict:
    table = {  # best test accuracy in the repository's TensorBoard logs
        ("scifar10", "psn"): 88.45, ("scifar100", "psn"): 62.21,
        ("scifar10", "masked_psn"): 85.81, ("scifar100", "masked_psn"): 60.69,
        ("scifar10", "sliding_psn"): 86.70, ("scifar100", "sliding_psn"): 62.11,
    }
    baselines = {"scifar10": {"top1_lif": 81.50, "top1_plif": 83.49, "top1_klif": 83.26, "top1_glif": 83.66},
                 "scifar100": {"top1_lif": 55.45, "top1_plif": 57.55, "top1_klif": 57.37, "top1_glif": 58.92}}
    pub = {"top1": table[(dataset, neuron)], **baselines[dataset],
           "source": "best test accuracy in the official repository's TensorBoard logs "
                     "(sequential_cifar/logs); baselines are the same network with other neurons "
                     "(LIF: the better of two runs)"}
    if dataset == "scifar100" and neuron == "masked_psn":
        pub["top1_best_k20"] = 61.26
    if dataset == "scifar100" and neuron == "sliding_psn":
        pub["top1_best_k31"] = 62.63
    return pub


def _param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _register() -> None:
    config = dict(channels=256, num_classes=10, time_steps=4, neuron="psn", psn_k=4, masked_psn_lambda=1.0,
                  exp_init=True)
    with torch.device("meta"):
        official = _param_count(PSNCifarNet(**config))
    register_model(ModelCard(
        name="psn-cifar10", family="psn", paper=_PAPER, dataset="cifar10", input_shape=(3, 32, 32), time_steps=4,
        num_classes=10, neuron="PSN (T=4, ATan surrogate)", config=config,
        published={"top1": 95.32, "params_M": 70.11,
                   "source": "max test accuracy of the official 1024-epoch log (cifar10/logs/if5_T4_e1024_...); "
                             "params derived (67.1M of them in fc1)"},
        unused_keys=[], official_params=official,
        notes=f"{_REPO} cifar10/train_cf10.py (CIFAR10Net, neuron 'if5' = PSN, channels 256). {_KEYS_NOTE}",
    ), PSNCifarNet)

    names = {"psn": "psn", "masked_psn": "masked-psn", "sliding_psn": "sliding-psn"}
    for dataset, classes in (("scifar10", 10), ("scifar100", 100)):
        for neuron, prefix in names.items():
            config = dict(channels=128, num_classes=classes, time_steps=32, neuron=neuron, psn_k=32,
                          masked_psn_lambda=1.0, exp_init=True)
            with torch.device("meta"):
                official = _param_count(PSNSequentialCifarNet(**config))
            extra = {
                "psn": "neuron 'if5' (PSN).",
                "masked_psn": ("neuron 'if5pmd8' (masked PSN, k=32); λ=1, the final mask (training ramps λ "
                               "to 1 over the first 1/8 of the epochs)."),
                "sliding_psn": ("neuron 'mspsn' (sliding PSN, k=32). Whether exp_init was used in the logged "
                                "runs is not recorded (their args predate the option); exp_init=True here."),
            }[neuron]
            register_model(ModelCard(
                name=f"{prefix}-{dataset}", family="psn", paper=_PAPER, dataset=f"sequential {dataset[1:]}",
                input_shape=(3, 32, 32), time_steps=32, num_classes=classes,
                neuron=f"{neuron} (ATan surrogate)", config=config, published=_scifar_published(dataset, neuron),
                unused_keys=[], official_params=official,
                notes=(f"{_REPO} sequential_cifar/train_secf10.py (CIFAR10Net, channels 128), {extra} The "
                       "time axis is the image width (T=32 columns of [3, 32]); time_steps is that length, "
                       "not a repetition count, and the ANN counterpart also reads the 32 columns. "
                       f"{_KEYS_NOTE}"),
            ), PSNSequentialCifarNet)

    config = dict(num_classes=10, time_steps=10, neuron="sliding_psn", psn_k=2, masked_psn_lambda=1.0,
                  exp_init=True, in_channels=2, input_size=48)
    with torch.device("meta"):
        official = _param_count(VGGPSN(**config))
    register_model(ModelCard(
        name="psn-cifar10dvs", family="psn", paper=_PAPER, dataset="cifar10dvs", input_shape=(10, 2, 48, 48),
        time_steps=10, num_classes=10, neuron="sliding PSN (k=2, exp_init, ATan surrogate)", config=config,
        published={"top1": 85.9, "top1_T8": 85.3, "top1_T4": 82.3,
                   "source": "best test accuracy in the official logs (cifar10dvs/T{4,8,10}_..._method_PSN_*.log)"},
        unused_keys=[], official_params=official, input_kind="events",
        notes=(f"{_REPO} cifar10dvs/models.py VGGPSN (TEBN-paper code base; '-method PSN' in the log names is a "
               "sliding PSN of order 2). Input [B, T, 2, 48, 48] frames (CIFAR10-DVS resized to 48x48); the "
               "official model is batch-first, ours folds T-first internally (same values). Trained with TET; "
               "the prediction is the mean of the per-step outputs. " + EVENT_INPUT_NOTE + " " + _KEYS_NOTE),
    ), VGGPSN)


_register()
