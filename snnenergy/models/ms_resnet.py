"""MS-ResNet (Hu, Deng, Wu, Yao, Li; TNNLS 2024, arXiv 2112.08954): membrane-shortcut residual SNNs.

Re-implemented from the paper and the official code (repo Ariande1/MS-ResNet,
``models/MS_ResNet.py``, read for facts only). State-dict keys are the official ones
(``conv2_x.0.residual_function.1.weight``, ``...residual_function.2.bn.weight``, ``conv2_x.0.shortcut.0.weight``).

- Neuron (official ``mem_update``): ``u[t] = 0.25·u[t-1]·(1 - s[t-1]) + x[t]`` with the spike detached in the
  reset factor, ``s = u > 0.5`` (strictly greater), rectangular surrogate of width 1; no state between calls.
- tdBN: ``BatchNorm3d`` over ``[B, C, T, H, W]`` (statistics over B, T, H, W), weight initialised to the
  threshold 0.5; the last BN of every residual branch is zero-initialised.
- Block: ``residual = [SN, conv3x3(stride), tdBN, SN, conv3x3, tdBN0]``, ``out = residual(x) + shortcut(x)``
  where the shortcut is the identity or conv1x1(stride)+tdBN applied to the real-valued (membrane-level) x:
  the membrane shortcut. ResNet-104 pools first (avg-pool 2x2, conv1x1, tdBN).
- Head: SN, spatial average, mean over T, (dropout 0.2 for 104,) Linear.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..neurons import BaseNeuron, Surrogate
from .registry import ModelCard, register_model

__all__ = ["MSResNet", "MSBasicBlock", "MSNeuron", "TDBatchNorm", "TimeFolded", "StrictRectangular"]


class _StrictRectSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, width: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.width = width
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        window = (x.abs() < ctx.width).to(grad_output.dtype) / (2 * ctx.width)
        return grad_output * window, None


class StrictRectangular(Surrogate):
    """Spike when ``x > 0`` (strict); rectangular surrogate ``1/(2w)`` for ``|x| < w`` (MS-ResNet's ActFun)."""

    def __init__(self, width: float = 0.5) -> None:
        super().__init__(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _StrictRectSpike.apply(x, self.alpha)


class MSNeuron(BaseNeuron):
    """MS-ResNet's ``mem_update``: ``H = decay·V + X``, fire at ``H > v_threshold`` (strict), hard reset to 0.

    The official neuron keeps no state between calls, so every multi-step call starts from a zero membrane
    (single-step mode carries the membrane as usual).
    """

    def __init__(self, decay: float = 0.25, v_threshold: float = 0.5, width: float = 0.5,
                 step_mode: str = "m") -> None:
        super().__init__(v_threshold=v_threshold, v_reset=0.0, detach_reset=True,
                         surrogate=StrictRectangular(width), step_mode=step_mode)
        self.decay = float(decay)

    def charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.decay * v + x

    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        self.reset()
        return self._run(x_seq)

    def single_step(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x.unsqueeze(0))[0]

    def _run(self, x_seq: torch.Tensor) -> torch.Tensor:
        # own loop: the firing rule is strict (u > 0.5), unlike the >= of the shared fast path
        if x_seq.dim() < 2:
            raise ValueError(f"MSNeuron expects [T, B, ...], got shape {tuple(x_seq.shape)}")
        v = self._initial_v(x_seq[0])
        spikes = []
        for x in x_seq:
            h = self.charge(x, v)
            s = self.surrogate(h - self.v_threshold)
            spikes.append(s)
            v = h * (1.0 - s.detach())
        self.v = v
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        return f"decay={self.decay}, " + super().extra_repr()


class TDBatchNorm(nn.Module):
    """Threshold-dependent BN: ``BatchNorm3d`` on ``[B, C, T, H, W]`` (state-dict prefix ``bn``)."""

    def __init__(self, num_features: int, weight_init: float = 0.5) -> None:
        super().__init__()
        self.bn = nn.BatchNorm3d(num_features)
        nn.init.constant_(self.bn.weight, weight_init)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.permute(1, 2, 0, 3, 4)).permute(2, 0, 1, 3, 4)


class TimeFolded(nn.Sequential):
    """``Sequential`` on ``[T, B, ...]``: convs and pools run on the T·B-folded tensor, other layers as is."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for m in self:
            if isinstance(m, (nn.Conv2d, nn.AvgPool2d, nn.MaxPool2d)):
                t, b = x.shape[:2]
                y = m(x.flatten(0, 1))
                x = y.reshape(t, b, *y.shape[1:])
            else:
                x = m(x)
        return x


def _conv(cin: int, cout: int, k: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=k // 2, bias=bias)


class MSBasicBlock(nn.Module):
    """``residual_function(x) + shortcut(x)``; ``pool_shortcut`` selects the ResNet-104 shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1, pool_shortcut: bool = False) -> None:
        super().__init__()
        self.residual_function = TimeFolded(
            MSNeuron(), _conv(cin, cout, 3, stride), TDBatchNorm(cout),
            MSNeuron(), _conv(cout, cout, 3), TDBatchNorm(cout, weight_init=0.0),
        )
        if stride == 1 and cin == cout:
            self.shortcut = TimeFolded()
        elif pool_shortcut:
            # official: AvgPool3d((1,2,2)) on [T, B, C, H, W], i.e. a 2x2 average per channel and step
            self.shortcut = TimeFolded(nn.AvgPool2d(2, stride=2), _conv(cin, cout, 1), TDBatchNorm(cout))
        else:
            self.shortcut = TimeFolded(_conv(cin, cout, 1, stride), TDBatchNorm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual_function(x) + self.shortcut(x)


class MSResNet(nn.Module):
    """MS-ResNet-18/34 (``stem='7x7'``) or -104 (``stem='3x3x3'``, pooled shortcuts, dropout before fc)."""

    def __init__(
        self,
        layers: Sequence[int] = (2, 2, 2, 2),
        stem: str = "7x7",
        num_classes: int = 1000,
        time_steps: int = 6,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if stem not in ("7x7", "3x3x3"):
            raise ValueError(f"stem must be '7x7' (ResNet-18/34) or '3x3x3' (ResNet-104), got {stem!r}")
        self.time_steps = int(time_steps)
        if stem == "7x7":
            self.conv1 = TimeFolded(_conv(3, 64, 7, stride=2), TDBatchNorm(64))
        else:  # three biased 3x3 convs with nothing between them, then one tdBN
            self.conv1 = TimeFolded(_conv(3, 64, 3, 2, bias=True), _conv(64, 64, 3, bias=True),
                                    _conv(64, 64, 3, bias=True), TDBatchNorm(64))
        # the official MaxPool2d attribute is never used in forward (conv2_x strides instead): not built
        self.mem_update = MSNeuron()
        cin = 64
        for i, (cout, depth) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for stride in [2] + [1] * (depth - 1):
                blocks.append(MSBasicBlock(cin, cout, stride, pool_shortcut=stem == "3x3x3"))
                cin = cout
            setattr(self, f"conv{i + 2}_x", nn.Sequential(*blocks))
        self.dropout = nn.Dropout(p=dropout) if dropout > 0 else None
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"MS-ResNet expects [B, 3, H, W] images, got shape {tuple(x.shape)}")
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        x = self.conv1(x)
        x = self.conv5_x(self.conv4_x(self.conv3_x(self.conv2_x(x))))
        x = self.mem_update(x)
        x = F.adaptive_avg_pool3d(x, (None, 1, 1))
        x = x.view(x.shape[0], x.shape[1], -1)
        x = x.sum(dim=0) / x.shape[0]
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)


# --------------------------------------------------------------------------------------------------- registry
_PAPER = ("Hu, Deng, Wu, Yao, Li, Advancing Spiking Neural Networks towards Deep Residual Learning, "
          "IEEE TNNLS 2024 (arXiv 2112.08954)")
_CONFIGS = {
    # depth: (layers, stem, T, dropout, official params, published)
    18: ((2, 2, 2, 2), "7x7", 6, 0.0, 11_693_736, {
        "params_M": 11.69, "top1": 63.10,
        "source": "[U] top1 recalled from comparison tables in SDT / Meta-SpikeFormer, low confidence; "
                  "params measured on the official code",
    }),
    34: ((3, 4, 6, 3), "7x7", 6, 0.0, 21_801_896, {
        "params_M": 21.80, "top1": 69.42,
        "source": "[U] top1 (T=6) recalled from comparison tables in SDT / Meta-SpikeFormer, low confidence",
    }),
    104: ((3, 8, 32, 8), "3x3x3", 6, 0.2, 77_350_504, {
        "params_M": 77.35, "top1": 74.21, "top1_T": 5,
        "source": "[U] top1 74.21 at T=5 recalled from comparison tables (76.02 in another setting), "
                  "low confidence; params measured on the official code (a '77.28M' label is unverified)",
    }),
}


def _register() -> None:
    for depth, (layers, stem, t, dropout, official, published) in _CONFIGS.items():
        config = dict(layers=layers, stem=stem, num_classes=1000, time_steps=t, dropout=dropout)
        register_model(ModelCard(
            name=f"ms-resnet{depth}", family="ms-resnet", paper=_PAPER, dataset="ImageNet-1k",
            input_shape=(3, 224, 224), time_steps=t, num_classes=1000,
            neuron="mem_update: decay 0.25, fire at u > 0.5, hard reset, rectangular surrogate",
            config=config, published=published, unused_keys=[], official_params=official,
            notes=(
                "Ariande1/MS-ResNet@7c5f006 models/MS_ResNet.py (time_window=6 is a module constant there; "
                "here it is time_steps). Membrane shortcut: the residual stream carries tdBN outputs and every "
                "branch starts with a neuron, so every non-first conv sees binary spikes except the "
                "downsample shortcut 1x1 convs, which get the real-valued stream; the fc gets the T- and "
                "space-averaged spikes (real, but a linear map of binary spikes). The unused MaxPool2d "
                "attribute of the official model is not built (it has no parameters). README: weight decay "
                "1e-5 for 18/34 'instead of 1e-4 reported in the paper'."
            ),
        ), MSResNet)


_register()
