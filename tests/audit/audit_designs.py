"""Small designs for the audit tests (also ``--module`` factories for the CLI tests): each triggers one rule or
exception of the audit, or is its near miss. Module names are arbitrary: the audit never reads them."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snnenergy.neurons import SpikingNeuron

C = 8  # channels


class Fire(SpikingNeuron):
    """A stateless threshold neuron: spikes (1.0) where the input reaches ``threshold``."""

    has_leak = False

    def __init__(self, threshold: float = 0.3) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x >= self.threshold).to(x.dtype)


class TernaryFire(SpikingNeuron):
    """Signed spikes: +1 above ``threshold``, -1 below ``-threshold``."""

    has_leak = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x >= 0.3).to(x.dtype) - (x <= -0.3).to(x.dtype)


class MultiSpike(SpikingNeuron):
    """Multi-bit spikes {0, 1, 2}: one spike from 0.1, two from 0.3."""

    has_leak = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x >= 0.1).to(x.dtype) + (x >= 0.3).to(x.dtype)


def conv(cin: int = C, cout: int = C, k: int = 3, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=False, groups=groups)


class ConvBN(nn.Module):
    def __init__(self, cin: int = C, cout: int = C, k: int = 3, groups: int = 1) -> None:
        super().__init__()
        self.conv, self.bn = conv(cin, cout, k, groups), nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class Stem(nn.Module):
    """The encoder: conv on the raw image -> BN -> neuron. Returns (spikes, membrane)."""

    def __init__(self, cin: int = 3) -> None:
        super().__init__()
        self.unit, self.fire = ConvBN(cin, C), Fire()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.unit(x)
        return self.fire(u), u


class Head(nn.Module):
    """Global average pool of spikes -> Linear (the usual pooled head)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(C, 4)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(s, 1).flatten(1))


# ------------------------------------------------------------------------------------------------ rules
class SEWBlock(nn.Module):
    """Spike-sum residual: s + SN(ConvBN(s)), an integer tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.unit, self.fire = ConvBN(), Fire()

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return s + self.fire(self.unit(s))


class SEWNet(nn.Module):
    """Stem -> SEW block -> conv (sees the integer sum) -> neuron -> head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.block, self.after, self.fire, self.head = Stem(), SEWBlock(), ConvBN(), Fire(), Head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, _ = self.stem(x)
        return self.head(self.fire(self.after(self.block(s))))


class MSNet(nn.Module):
    """Membrane shortcut: the stream adds ConvBN outputs, a neuron before every conv. ``downsample_on_membrane``
    feeds the stream itself to a shortcut conv (MS-ResNet's downsample)."""

    def __init__(self, downsample_on_membrane: bool = False) -> None:
        super().__init__()
        self.stem, self.fire1, self.unit1 = Stem(), Fire(), ConvBN()
        self.fire2, self.unit2, self.fire3, self.head = Fire(), ConvBN(), Fire(), Head()
        self.shortcut = ConvBN(C, C, 1) if downsample_on_membrane else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, u = self.stem(x)
        u = u + self.unit1(self.fire1(u))
        v = self.unit2(self.fire2(u))
        u = v + (self.shortcut(u) if self.shortcut is not None else u)
        return self.head(self.fire3(u))


class Product(nn.Module):
    """Two activations multiplied: ``kinds`` picks the operands ("real*real", "int*real", "int*spike",
    "real*spike")."""

    def __init__(self, kinds: str) -> None:
        super().__init__()
        self.kinds = kinds
        self.stem, self.block, self.fire, self.head = Stem(), SEWBlock(), Fire(), Head()
        self.a, self.b = ConvBN(), ConvBN()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, _ = self.stem(x)
        left, right = self.kinds.split("*")
        operand = {"real": lambda: self.a(s), "int": lambda: self.block(s), "spike": lambda: s}
        y = operand[left]() * (self.b(s) if right == "real" else operand[right]())
        return self.head(self.fire(y))


class NonSpikeOp(nn.Module):
    """``op`` on the activation path before a neuron; ``on_constants`` applies it to a parameter instead."""

    def __init__(self, op: str, on_constants: bool = False) -> None:
        super().__init__()
        self.op, self.on_constants = op, on_constants
        self.stem, self.a, self.b, self.fire, self.head = Stem(), ConvBN(), ConvBN(), Fire(), Head()
        self.gate = nn.Parameter(torch.randn(1, C, 1, 1))

    def _apply(self, y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        if self.op == "softmax":
            return torch.softmax(y, dim=1)
        if self.op == "layer_norm":
            return F.layer_norm(y, y.shape[1:])
        if self.op == "div":
            return y / (self.b(s).abs() + 1.0)
        return getattr(torch, self.op)(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, _ = self.stem(x)
        if self.on_constants:
            return self.head(self.fire(self.a(s) * getattr(torch, self.op)(self.gate)))
        return self.head(self.fire(self._apply(self.a(s), s)))


class GatedBlock(nn.Module):
    """``u + conv(s) * sigmoid(conv(s))``: a gated residual."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.value, self.gate, self.fire, self.head = Stem(), ConvBN(), ConvBN(), Fire(), Head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, u = self.stem(x)
        u = u + self.value(s) * torch.sigmoid(self.gate(s))
        return self.head(self.fire(u))


# ----------------------------------------------------------------------------------------- exceptions
class EncoderVariants(nn.Module):
    """The first conv sees the raw input through ``path``: "bn_pool" (BatchNorm, max pool: the encoder) or
    "sigmoid" (a non-linear op: not the encoder)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.norm, self.pool = nn.BatchNorm2d(3), nn.MaxPool2d(2)
        self.stem, self.head = Stem(), Head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.norm(x)) if self.path == "bn_pool" else torch.sigmoid(x)
        s, _ = self.stem(x)
        return self.head(s)


class ChainNet(nn.Module):
    """Spikes -> a linear chain -> conv. ``chain``: "conv_bn_conv", "dw_bn_pw", or "joined" (two ConvBN streams
    added before the conv: not foldable)."""

    def __init__(self, chain: str = "conv_bn_conv") -> None:
        super().__init__()
        self.chain = chain
        self.stem = Stem()
        self.first = ConvBN(C, C, 3, groups=C if chain == "dw_bn_pw" else 1)
        self.other = ConvBN()
        self.last = conv(C, C, 1 if chain == "dw_bn_pw" else 3)
        self.fire, self.head = Fire(), Head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, _ = self.stem(x)
        y = self.first(s)
        if self.chain == "joined":
            y = y + self.other(s)
        return self.head(self.fire(self.last(y)))


class PooledNet(nn.Module):
    """A pooled tensor into Linear layers. ``source``: "spikes" or "sums" (a SEW spike sum); ``head_only``: the
    Linear is the classifier (nothing synaptic after it), else another neuron and Linear follow."""

    def __init__(self, source: str = "spikes", head_only: bool = True) -> None:
        super().__init__()
        self.source, self.head_only = source, head_only
        self.stem, self.block = Stem(), SEWBlock()
        self.fc1, self.fire, self.fc2 = nn.Linear(C, C), Fire(0.0), nn.Linear(C, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, _ = self.stem(x)
        y = self.block(s) if self.source == "sums" else s
        z = self.fc1(y.mean((2, 3)))
        return z if self.head_only else self.fc2(self.fire(z))


class ScaledNet(nn.Module):
    """A scalar scale of a ConvBN output, into a neuron (``into_neuron``) or into an add with the stream."""

    def __init__(self, into_neuron: bool = True) -> None:
        super().__init__()
        self.into_neuron = into_neuron
        self.stem, self.unit, self.fire, self.head = Stem(), ConvBN(), Fire(), Head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, u = self.stem(x)
        y = self.unit(s) * 0.5
        return self.head(self.fire(y if self.into_neuron else y + u))


class TernaryNet(nn.Module):
    """A conv fed by the spikes of ``neuron``: "ternary" (signed), "binary", or "multi" (multi-bit); ``chain``
    puts a ConvBN between them (a foldable chain, if the neuron's outputs are spikes)."""

    def __init__(self, signed: bool | str = True, chain: bool = False) -> None:
        super().__init__()
        kind = {True: "ternary", False: "binary"}.get(signed, signed)
        self.stem, self.unit, self.after, self.fire, self.head = Stem(), ConvBN(), conv(), Fire(), Head()
        self.sign = {"ternary": TernaryFire, "binary": Fire, "multi": MultiSpike}[kind]()
        self.between = ConvBN() if chain else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, _ = self.stem(x)
        return self.head(self.fire(self.after(self.between(self.sign(self.unit(s))))))


class FarAdd(nn.Module):
    """The add of spike tensors sits in ``res``; ``reshape`` flattens and unflattens and max-pools it in another
    module; the conv in a third module sees the result."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Stem()
        self.res = SEWBlock()
        self.reshape = nn.Sequential(nn.Flatten(2), nn.Unflatten(2, (16, 16)), nn.MaxPool2d(2))
        self.stage = nn.Sequential(ConvBN(), Fire())
        self.head = Head()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, _ = self.stem(x)
        return self.head(self.stage(self.reshape(self.res(s))))


# -------------------------------------------------------------------------------- CLI factories
def sew_net() -> nn.Module:
    torch.manual_seed(0)
    return SEWNet()


def ms_net() -> nn.Module:
    torch.manual_seed(0)
    return MSNet()


def chain_net() -> nn.Module:
    torch.manual_seed(0)
    return ChainNet()


def inputs(n: int = 2, size: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 0.5
