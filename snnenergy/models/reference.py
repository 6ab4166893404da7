"""Small reference models of our own (not from a paper) that exercise every profiler path.

* ``snn-cnn-residual``: a spiking CNN whose residual adds two spike tensors (SEW style), so the next conv sees
  integer inputs {0, 1, 2}; the first conv sees the real-valued image.
* ``snn-attention-block``: a spiking self-attention block (Spikformer-style SSA): spike × spike ``q @ kᵀ``,
  integer × spike ``attn @ v``, a scalar scale, a spike-sum residual into the MLP.
"""
from __future__ import annotations

import torch
from torch import nn

from ..neurons import LIF
from .registry import ModelCard, register_model


def _lif() -> LIF:
    return LIF(tau=2.0, detach_reset=True)


class ConvBNLIF(nn.Module):
    """Conv → BN on ``[T·B, ...]`` → LIF on ``[T, B, ...]``."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.lif = _lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1)))
        return self.lif(y.reshape(T, B, *y.shape[1:]))


class SpikeResidualBlock(nn.Module):
    """Two Conv-BN-LIF units with a spike-sum shortcut: ``out = s + unit2(unit1(s))`` (values 0, 1, 2)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.unit1 = ConvBNLIF(c, c)
        self.unit2 = ConvBNLIF(c, c)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return s + self.unit2(self.unit1(s))


class SpikingResNetTiny(nn.Module):
    def __init__(self, time_steps: int = 4, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.time_steps = time_steps
        self.stem = ConvBNLIF(3, width)
        self.block = SpikeResidualBlock(width)
        self.down = ConvBNLIF(width, 2 * width, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)  # [T, B, C, H, W]
        s = self.down(self.block(self.stem(x)))
        T, B = s.shape[:2]
        feat = self.pool(s.flatten(0, 1)).flatten(1).reshape(T, B, -1)
        return self.head(feat).mean(0)


class LinearBNLIF(nn.Module):
    """Linear → BN over channels on ``[T·B·N, D]`` → LIF, for token tensors ``[T, B, N, D]``."""

    def __init__(self, d_in: int, d_out: int, v_threshold: float = 1.0) -> None:
        super().__init__()
        self.fc = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)
        self.lif = LIF(tau=2.0, detach_reset=True, v_threshold=v_threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[:-1]
        y = self.bn(self.fc(x.flatten(0, -2)))
        return self.lif(y.reshape(*shape, -1))


class SpikingSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = 0.125
        self.q = LinearBNLIF(dim, dim)
        self.k = LinearBNLIF(dim, dim)
        self.v = LinearBNLIF(dim, dim)
        self.attn_lif = LIF(tau=2.0, detach_reset=True, v_threshold=0.5)
        self.proj = LinearBNLIF(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        T, B, N, D = x.shape
        return x.reshape(T, B, N, self.heads, D // self.heads).permute(0, 1, 3, 2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, B, N, D = x.shape
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        attn = q @ k.transpose(-2, -1)  # spike × spike
        y = (attn @ v) * self.scale  # integer × spike, then a scalar scale
        y = self.attn_lif(y.permute(0, 1, 3, 2, 4).reshape(T, B, N, D))
        return self.proj(y)


class SpikingAttentionBlockNet(nn.Module):
    def __init__(self, time_steps: int = 4, num_classes: int = 10, dim: int = 64, heads: int = 4,
                 patch: int = 4) -> None:
        super().__init__()
        self.time_steps = time_steps
        self.embed = ConvBNLIF(3, dim)
        self.patch = patch
        self.pool = nn.MaxPool2d(patch)
        self.attn = SpikingSelfAttention(dim, heads)
        self.mlp = LinearBNLIF(dim, dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        s = self.embed(x)  # [T, B, D, H, W]
        T, B = s.shape[:2]
        s = self.pool(s.flatten(0, 1))
        tokens = s.flatten(2).transpose(1, 2).reshape(T, B, -1, s.shape[1])  # [T, B, N, D]
        tokens = tokens + self.attn(tokens)  # spike sum: {0, 1, 2}
        tokens = tokens + self.mlp(tokens)  # the MLP sees integer inputs
        return self.head(tokens.mean(2)).mean(0)


_CARDS = [
    (ModelCard(
        name="snn-cnn-residual", family="reference", paper="snnenergy reference model (not from a paper)",
        dataset="cifar10", input_shape=(3, 32, 32), time_steps=4, num_classes=10,
        neuron="LIF tau=2, hard reset 0, threshold 1, detach_reset",
        config={"time_steps": 4, "num_classes": 10, "width": 16},
        notes="Spiking CNN with a spike-sum (SEW-style) residual: the conv after the block sees integers {0,1,2}.",
    ), SpikingResNetTiny),
    (ModelCard(
        name="snn-attention-block", family="reference", paper="snnenergy reference model (not from a paper)",
        dataset="cifar10", input_shape=(3, 32, 32), time_steps=4, num_classes=10,
        neuron="LIF tau=2, hard reset 0, threshold 1 (attention LIF 0.5), detach_reset",
        config={"time_steps": 4, "num_classes": 10, "dim": 64, "heads": 4, "patch": 4},
        notes="Spikformer-style spiking self-attention block with spike-sum residuals.",
    ), SpikingAttentionBlockNet),
]

for _card, _factory in _CARDS:
    register_model(_card, _factory)
