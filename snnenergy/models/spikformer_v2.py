"""Spikformer V2 (Zhou et al., arXiv 2401.02020): Spikformer with a Spiking Convolutional Stem (SCS).

What is established from public material (the arXiv abstract and later papers citing V2): the abstract says V2
is Spikformer whose patch splitting is replaced by an SCS "with supplementary convolutional layers", that an 8-layer V2
reaches 80.38% ImageNet top-1 at T=4 ("8-512" per secondary sources) and a 172M 16-layer V2 81.10% at T=1
after self-supervised pre-training; a later paper (Max-Former) reports that V2 keeps the max-pooling of the
stem and adds convolutions to it. The paper body (layer list, widths, strides, parameter table) could not be
read and no V2 code is public.

**The SCS built here is therefore an assumption, not the official stem**: Spikformer's SPS (same module
names, four ``Conv3x3-BN-LIF-MaxPool`` stages and the RPE spike sum) with ``extra_convs[i]`` supplementary
``Conv3x3(C->C)-BN-LIF`` layers at the width of stage ``i``, inserted after the stage's LIF and before its
max-pool (default: one per stage). The encoder blocks and the head are Spikformer-ImageNet's. The
supplementary modules are named ``scs_conv{i}_{j}`` / ``scs_bn{i}_{j}`` / ``scs_lif{i}_{j}`` (there is no
official checkpoint to match).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .registry import ModelCard, register_model
from .spikformer import (
    SPS, MLPConv, SSA, Spikformer, SpikformerBlock, dataset_shape, family_lif, neuron_text,
)

__all__ = ["SCS", "SpikformerV2", "spikformer_v2"]


class SCS(SPS):
    """ASSUMED Spiking Convolutional Stem: SPS plus ``extra_convs[i]`` ``Conv3x3-BN-LIF`` layers per stage."""

    def __init__(
        self,
        in_channels: int,
        embed_dim: int,
        extra_convs: Sequence[int] = (1, 1, 1, 1),
        tau: float = 2.0,
    ) -> None:
        super().__init__(in_channels, embed_dim, (True,) * 4, tau, "tbchw")
        if len(extra_convs) != 4 or any(int(n) < 0 for n in extra_convs):
            raise ValueError(f"extra_convs must be 4 non-negative counts (one per stage), got {extra_convs!r}")
        self.extra_convs = tuple(int(n) for n in extra_convs)
        widths = (embed_dim // 8, embed_dim // 4, embed_dim // 2, embed_dim)
        for i, (n, c) in enumerate(zip(self.extra_convs, widths)):
            for j in range(n):
                setattr(self, f"scs_conv{i}_{j}", nn.Conv2d(c, c, 3, 1, 1, bias=False))
                setattr(self, f"scs_bn{i}_{j}", nn.BatchNorm2d(c))
                setattr(self, f"scs_lif{i}_{j}", family_lif(tau))

    def _stage(self, x: torch.Tensor, i: int, T: int) -> torch.Tensor:
        sfx = ("", "1", "2", "3")[i]
        x = getattr(self, f"proj_bn{sfx}")(getattr(self, f"proj_conv{sfx}")(x))
        x = getattr(self, f"proj_lif{sfx}")(x.reshape(T, -1, *x.shape[1:]).contiguous()).flatten(0, 1).contiguous()
        for j in range(self.extra_convs[i]):
            x = getattr(self, f"scs_bn{i}_{j}")(getattr(self, f"scs_conv{i}_{j}")(x))
            x = getattr(self, f"scs_lif{i}_{j}")(x.reshape(T, -1, *x.shape[1:]).contiguous()).flatten(0, 1)
        return getattr(self, f"maxpool{sfx}")(x)


class SpikformerV2(Spikformer):
    """Spikformer V2 with the assumed SCS stem (see the module docstring)."""


def spikformer_v2(
    embed_dim: int = 512, depth: int = 8, num_heads: int = 8, mlp_ratio: float = 4.0, in_channels: int = 3,
    num_classes: int = 1000, time_steps: int = 4, tau: float = 2.0, extra_convs: Sequence[int] = (1, 1, 1, 1),
) -> SpikformerV2:
    """SCS stem + Spikformer-ImageNet blocks (``(Q (K^T V)) · 0.125``) + linear head."""
    hidden = int(embed_dim * mlp_ratio)
    blocks = [
        SpikformerBlock(SSA(embed_dim, num_heads, tau, 0.125, "kv"), MLPConv(embed_dim, hidden, tau, conv_dims=2))
        for _ in range(depth)
    ]
    stem = SCS(in_channels, embed_dim, tuple(extra_convs), tau)
    return SpikformerV2(stem, blocks, embed_dim, num_classes, time_steps, "tbchw")


# --------------------------------------------------------------------------------------------- registry
V2_PAPER = (
    "Zhou et al., Spikformer V2: Join the High Accuracy Club on ImageNet with an SNN Ticket, arXiv 2401.02020"
)
_ASSUMED = (
    "ASSUMED STEM -- NOT OFFICIAL. The paper body and code are not public, so "
    "the SCS layer list is an assumption: Spikformer's SPS (4 x Conv3x3-BN-LIF-MaxPool + RPE spike sum, official "
    "SPS module names) plus extra_convs[i] supplementary Conv3x3(C->C)-BN-LIF layers at each stage's width, after "
    "the stage's LIF and before its max-pool (default one per stage, named scs_*). Established: 'SCS with "
    "supplementary convolutional layers' (abstract); max-pooling kept and convolutions added (Max-Former, "
    "secondary). Not established: the number, width, kernel, stride and placement of the supplementary layers, "
    "the heads, the parameter count. A secondary table gives 51.55M for the 80.38% model; with Spikformer-8-512 "
    "blocks (25.26M) and head that leaves ~25.8M (~98 D^2) for the stem, and the abstract's 172M 16-layer model "
    "fits the same ~98 D^2 stem at D=768 (derived, so the 51.55M is plausible) -- the default stem here has far "
    "fewer parameters, so parameter counts, op counts and energies of this model are NOT comparable to V2's "
    "publications. Blocks/head: Spikformer-ImageNet (SEW residual, SSA (Q (K^T V)) * 0.125, attn_lif 0.5), 8 "
    "heads assumed. No official checkpoint exists."
)


def _register() -> None:
    shape, kind = dataset_shape("imagenet", 4)
    entries = {
        "spikformer-v2-8-384": (384, dict(source="no accuracy found; the config name 'SpikformerV2-8-384 (T=4)' "
                                                 "appears only in secondary notes (DSTSP)")),
        "spikformer-v2-8-512": (512, dict(
            top1=80.38, params_M_secondary=51.55,
            source=(
                "top1: arXiv 2401.02020 abstract ('an 8-layer Spikformer V2 ... 80.38% using 4 time steps'; '8-512' "
                "from secondary sources: STEP cls/README, an SNN assessment note); params_M_secondary: third-party "
                "leaderboard, unverified"
            ),
        )),
    }
    for name, (dim, pub) in entries.items():
        config = dict(embed_dim=dim, depth=8, num_heads=8, mlp_ratio=4.0, in_channels=3, num_classes=1000,
                      time_steps=4, tau=2.0, extra_convs=(1, 1, 1, 1))
        register_model(ModelCard(
            name=name, family="spikformer-v2", paper=V2_PAPER, dataset="imagenet", input_shape=shape, time_steps=4,
            num_classes=1000, neuron=neuron_text(2.0), config=config, published=pub, unused_keys=[],
            official_params=None, notes=_ASSUMED, input_kind=kind,
        ), spikformer_v2)


_register()
