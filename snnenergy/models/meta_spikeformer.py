"""Meta-SpikeFormer / Spike-driven Transformer V2 (Yao et al., ICLR 2024): ``BICLab/Spike-Driven-Transformer-V2``.

Re-implemented from the paper and the official code, read for facts only, with the official
submodule names (``classification/models.py``), so official checkpoints load unchanged.

Macro structure (input 224): a real-valued Conv7x7/2 + BN encoder, then stages of Conv-based blocks
(``MS_ConvBlock``: SepConv + two 3x3 channel convs) and Transformer-based blocks (``MS_Block``: RepConv
spike-driven self-attention ``SN_0.5(Q·(KᵀV)·0.125)`` + channel MLP), every residual on the membrane level
(each branch starts with a LIF). Head: spatial mean, LIF, Linear, mean over T.

:func:`fuse` folds the linear chains that the maintainers re-parameterise at inference (conv→BN,
SepConv's depthwise→pointwise→BN, RepConv's conv1x1→BN(+pad)→dw3x3→conv1x1→BN→BN). After fusion every
Conv2d after the encoder receives binary spikes.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .registry import ModelCard, register_alias, register_model
from .sdt import sdt_lif, unfold_time

__all__ = [
    "MetaSpikeFormer", "BNAndPadLayer", "RepConv", "SepConv", "MS_ConvBlock", "MS_MLP",
    "MS_Attention_RepConv_qkv_id", "MS_Block", "MS_DownSampling", "meta_spikeformer", "fuse", "parameter_counts",
]


class BNAndPadLayer(nn.Module):
    """BatchNorm2d, then a border of ``pad_pixels`` filled with the value BN gives for a zero input.

    That value is ``bias - running_mean·weight/sqrt(running_var + eps)`` (running statistics, detached, as
    in the official code), which makes the RepConv chain exactly equal to one zero-padded 3x3 conv.
    """

    def __init__(self, pad_pixels: int, num_features: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features)
        self.pad_pixels = pad_pixels

    def pad_value(self) -> torch.Tensor:
        bn = self.bn
        return bn.bias.detach() - bn.running_mean * bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(x)
        p = self.pad_pixels
        if p <= 0:
            return y
        y = F.pad(y, [p] * 4)
        H, W = y.shape[-2:]
        border = torch.ones(H, W, dtype=torch.bool, device=y.device)
        border[p : H - p, p : W - p] = False
        return torch.where(border, self.pad_value().view(1, -1, 1, 1).to(y.dtype), y)


class RepConv(nn.Module):
    """conv1x1 (C→C) → BN+pad → depthwise 3x3 (no padding) → conv1x1 (C→C') → BN; all linear."""

    def __init__(self, in_channel: int, out_channel: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channel, in_channel, 1, 1, 0, bias=False),
            BNAndPadLayer(pad_pixels=1, num_features=in_channel),
            nn.Sequential(
                nn.Conv2d(in_channel, in_channel, 3, 1, 0, groups=in_channel, bias=False),
                nn.Conv2d(in_channel, out_channel, 1, 1, 0, bias=False),
                nn.BatchNorm2d(out_channel),
            ),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SepConv(nn.Module):
    """Inverted separable conv: LIF, pw1x1 (C→2C), BN, LIF, dw7x7, pw1x1 (2C→C), BN (no LIF after the dw)."""

    def __init__(self, dim: int, expansion_ratio: int = 2, kernel_size: int = 7, padding: int = 3) -> None:
        super().__init__()
        med = int(expansion_ratio * dim)
        self.lif1 = sdt_lif()
        self.pwconv1 = nn.Conv2d(dim, med, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(med)
        self.lif2 = sdt_lif()
        self.dwconv = nn.Conv2d(med, med, kernel_size, padding=padding, groups=med, bias=False)
        self.pwconv2 = nn.Conv2d(med, dim, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[0]
        x = unfold_time(self.bn1(self.pwconv1(self.lif1(x).flatten(0, 1))), T)
        x = self.dwconv(self.lif2(x).flatten(0, 1))
        return unfold_time(self.bn2(self.pwconv2(x)), T)


class MS_ConvBlock(nn.Module):
    """``U1 = U + SepConv(U)``; ``U2 = U1 + BN(Conv3x3(LIF(BN(Conv3x3(LIF(U1))))))`` (C→4C→C)."""

    def __init__(self, dim: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.Conv = SepConv(dim)
        self.lif1 = sdt_lif()
        self.conv1 = nn.Conv2d(dim, dim * mlp_ratio, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim * mlp_ratio)
        self.lif2 = sdt_lif()
        self.conv2 = nn.Conv2d(dim * mlp_ratio, dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[0]
        x = self.Conv(x) + x
        x_feat = x
        x = unfold_time(self.bn1(self.conv1(self.lif1(x).flatten(0, 1))), T)
        x = unfold_time(self.bn2(self.conv2(self.lif2(x).flatten(0, 1))), T)
        return x_feat + x


class MS_MLP(nn.Module):
    """Channel MLP on tokens: LIF, Conv1d (C→4C), BN1d, LIF, Conv1d (4C→C), BN1d."""

    def __init__(self, in_features: int, hidden_features: int) -> None:
        super().__init__()
        self.fc1_conv = nn.Conv1d(in_features, hidden_features, 1, 1)
        self.fc1_bn = nn.BatchNorm1d(hidden_features)
        self.fc1_lif = sdt_lif()
        self.fc2_conv = nn.Conv1d(hidden_features, in_features, 1, 1)
        self.fc2_bn = nn.BatchNorm1d(in_features)
        self.fc2_lif = sdt_lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        T = shape[0]
        x = self.fc1_lif(x.flatten(3))
        x = unfold_time(self.fc1_bn(self.fc1_conv(x.flatten(0, 1))), T)
        x = self.fc2_bn(self.fc2_conv(self.fc2_lif(x).flatten(0, 1)))
        return x.reshape(shape)


class MS_Attention_RepConv_qkv_id(nn.Module):
    """V2 spike-driven self-attention: ``RepConv+BN(SN_0.5(Q·(KᵀV)·0.125))``, ``Q,K,V = SN(RepConv+BN(SN(U)))``."""

    def __init__(self, dim: int, num_heads: int = 8) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
        self.dim, self.num_heads, self.scale = dim, num_heads, 0.125
        self.head_lif = sdt_lif()
        self.q_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.k_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.v_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.q_lif = sdt_lif()
        self.k_lif = sdt_lif()
        self.v_lif = sdt_lif()
        self.attn_lif = sdt_lif(v_threshold=0.5)
        self.proj_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, C, N]`` -> ``[T, B, heads, N, C/heads]``."""
        T, B, C, N = x.shape
        return x.transpose(-1, -2).reshape(T, B, N, self.num_heads, C // self.num_heads).permute(0, 1, 3, 2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        T, B, C, H, W = shape
        s = self.head_lif(x).flatten(0, 1)
        q = self._heads(self.q_lif(self.q_conv(s).reshape(shape)).flatten(3))
        k = self._heads(self.k_lif(self.k_conv(s).reshape(shape)).flatten(3))
        v = self._heads(self.v_lif(self.v_conv(s).reshape(shape)).flatten(3))
        kv = k.transpose(-2, -1) @ v  # [T, B, h, C/h, C/h], integer counts
        x = (q @ kv) * self.scale
        x = x.transpose(3, 4).reshape(T, B, C, H * W)
        x = self.attn_lif(x).reshape(shape)
        return self.proj_conv(x.flatten(0, 1)).reshape(shape)


class MS_Block(nn.Module):
    """Transformer-based block: ``U1 = U + SDSA(U)``; ``U2 = U1 + MLP(U1)``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.attn = MS_Attention_RepConv_qkv_id(dim, num_heads=num_heads)
        self.mlp = MS_MLP(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class MS_DownSampling(nn.Module):
    """``[LIF →] Conv (with bias) → BN``; the first one (on the image) has no LIF."""

    def __init__(
        self, in_channels: int, embed_dims: int, kernel_size: int, stride: int, padding: int, first_layer: bool
    ) -> None:
        super().__init__()
        self.encode_conv = nn.Conv2d(in_channels, embed_dims, kernel_size, stride, padding)
        self.encode_bn = nn.BatchNorm2d(embed_dims)
        if not first_layer:
            self.encode_lif = sdt_lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[0]
        if hasattr(self, "encode_lif"):
            x = self.encode_lif(x)
        return unfold_time(self.encode_bn(self.encode_conv(x.flatten(0, 1))), T)


class MetaSpikeFormer(nn.Module):
    """Meta-SpikeFormer (``Spiking_vit_MetaFormer``) with ``embed_dims = [C0, C1, C2, C3]``.

    Input ``[B, C, H, W]`` is repeated ``time_steps`` times. Output: logits ``[B, num_classes]`` averaged
    over T. With ``kd=True`` a second head ``head_kd`` (same spikes) is built; in eval the two heads are
    averaged, in training both are returned (as the official code does for distillation).
    """

    def __init__(
        self,
        embed_dims: Sequence[int] = (128, 256, 512, 640),
        num_heads: int = 8,
        mlp_ratio: int = 4,
        in_channels: int = 3,
        num_classes: int = 1000,
        time_steps: int = 4,
        kd: bool = False,
    ) -> None:
        super().__init__()
        c0, c1, c2, c3 = embed_dims
        self.time_steps = time_steps
        self.num_classes = num_classes
        self.kd = kd
        self.downsample1_1 = MS_DownSampling(in_channels, c0 // 2, 7, 2, 3, first_layer=True)
        self.ConvBlock1_1 = nn.ModuleList([MS_ConvBlock(c0 // 2, mlp_ratio)])
        self.downsample1_2 = MS_DownSampling(c0 // 2, c0, 3, 2, 1, first_layer=False)
        self.ConvBlock1_2 = nn.ModuleList([MS_ConvBlock(c0, mlp_ratio)])
        self.downsample2 = MS_DownSampling(c0, c1, 3, 2, 1, first_layer=False)
        self.ConvBlock2_1 = nn.ModuleList([MS_ConvBlock(c1, mlp_ratio)])
        self.ConvBlock2_2 = nn.ModuleList([MS_ConvBlock(c1, mlp_ratio)])
        self.downsample3 = MS_DownSampling(c1, c2, 3, 2, 1, first_layer=False)
        self.block3 = nn.ModuleList(MS_Block(c2, num_heads, mlp_ratio) for _ in range(6))
        self.downsample4 = MS_DownSampling(c2, c3, 3, 1, 1, first_layer=False)
        self.block4 = nn.ModuleList(MS_Block(c3, num_heads, mlp_ratio) for _ in range(2))
        self.lif = sdt_lif()
        self.head = nn.Linear(c3, num_classes) if num_classes > 0 else nn.Identity()
        if kd:
            self.head_kd = nn.Linear(c3, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(_init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample1_1(x)
        stages = (
            self.ConvBlock1_1, self.downsample1_2, self.ConvBlock1_2, self.downsample2, self.ConvBlock2_1,
            self.ConvBlock2_2, self.downsample3, self.block3, self.downsample4, self.block4,
        )
        for stage in stages:
            if isinstance(stage, nn.ModuleList):
                for blk in stage:
                    x = blk(x)
            else:
                x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4:
            raise ValueError(f"MetaSpikeFormer expects images [B, C, H, W], got shape {tuple(x.shape)}")
        x = x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        x = self.forward_features(x).flatten(3).mean(3)
        x_lif = self.lif(x)
        out = self.head(x_lif).mean(0)
        if self.kd:
            out_kd = self.head_kd(x_lif).mean(0)
            return (out, out_kd) if self.training else (out + out_kd) / 2
        return out

    def fuse(self) -> "MetaSpikeFormer":
        """A new, eval-mode copy with every re-parameterisable linear chain folded (see :func:`fuse`)."""
        return fuse(self)


def _init_weights(m: nn.Module) -> None:
    # the official init touches only Linear layers (truncated normal, std 0.02); convs keep PyTorch's default
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def meta_spikeformer(**kwargs: Any) -> MetaSpikeFormer:
    """Factory used by the registry: ``MetaSpikeFormer(**kwargs)``."""
    return MetaSpikeFormer(**kwargs)


# ------------------------------------------------------------------------------------------------------ fusion
def _bn_scale_shift(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BN as ``y = scale·x + shift`` per channel (running statistics)."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.affine:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.affine:
        shift = shift + bn.bias
    return scale, shift


def _fold_bn(
    weight: torch.Tensor, bias: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of ``bn(conv(x))`` for a conv with this weight and bias (output channels first)."""
    scale, shift = _bn_scale_shift(bn)
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), bias * scale + shift


def _new_conv(template: nn.Module, weight: torch.Tensor, bias: torch.Tensor, **geometry: Any) -> nn.Module:
    """A Conv1d/Conv2d with the template's geometry (overridable), the given weight and a bias."""
    conv_cls = type(template)
    args = dict(
        kernel_size=tuple(weight.shape[2:]), stride=template.stride, padding=template.padding,
        dilation=template.dilation, groups=template.groups,
    )
    args.update(geometry)
    in_channels = weight.shape[1] * args["groups"]
    conv = conv_cls(in_channels, weight.shape[0], bias=True, device=weight.device, dtype=weight.dtype, **args)
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
    return conv


def _conv_bias(conv: nn.Module) -> torch.Tensor:
    if conv.bias is not None:
        return conv.bias.detach()
    return torch.zeros(conv.out_channels, dtype=conv.weight.dtype, device=conv.weight.device)


def _fuse_conv_bn(conv: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    w, b = _fold_bn(conv.weight.detach(), _conv_bias(conv), bn)
    return _new_conv(conv, w, b)


def _fuse_dw_pw_bn(dw: nn.Conv2d, pw: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """Depthwise k×k (zero padding) → pointwise 1x1 → BN as one dense k×k conv (exact)."""
    w = pw.weight.detach()[:, :, 0, 0, None, None] * dw.weight.detach()[:, 0][None]  # [Cout, Cmed, k, k]
    b = pw.weight.detach()[:, :, 0, 0] @ _conv_bias(dw) + _conv_bias(pw)
    w, b = _fold_bn(w, b, bn)
    return _new_conv(dw, w, b, groups=1)


def _fuse_repconv_bn(rep: RepConv, outer_bn: nn.BatchNorm2d) -> nn.Conv2d:
    """RepConv + the extra BN as one dense 3x3 conv with zero padding 1 (exact thanks to the BN-value pad)."""
    conv_a, bnpad, (dw, pw, bn2) = rep.body[0], rep.body[1], rep.body[2]
    s1, b1 = _bn_scale_shift(bnpad.bn)
    a = conv_a.weight.detach()[:, :, 0, 0]  # [C, C]
    d = dw.weight.detach()[:, 0]  # [C, 3, 3]
    p = pw.weight.detach()[:, :, 0, 0]  # [C', C]
    w = torch.einsum("oc,ckl,c,ci->oikl", p, d, s1, a)
    b = p @ (b1 * d.sum(dim=(1, 2)))
    w, b = _fold_bn(w, b, bn2)
    w, b = _fold_bn(w, b, outer_bn)
    return _new_conv(dw, w, b, padding=(bnpad.pad_pixels, bnpad.pad_pixels), groups=1)


def fuse(model: MetaSpikeFormer) -> MetaSpikeFormer:
    """Fold every re-parameterisable linear chain of a Meta-SpikeFormer for inference.

    Returns a **new** model (deep copy, eval mode; the input model is untouched) that computes the same
    function in eval mode (BN uses running statistics; up to float rounding):

    * conv → BN (downsampling convs, SepConv ``pwconv1``, the 3x3 channel convs, the MLP Conv1d layers)
      become one conv with bias; the BN is replaced by ``nn.Identity``;
    * SepConv ``dwconv → pwconv2 → bn2`` becomes one dense 7x7 conv (stored as ``dwconv``);
    * each ``RepConv`` + extra BN (``q_conv``, ``k_conv``, ``v_conv``, ``proj_conv``) becomes one dense 3x3
      ``nn.Conv2d`` with padding 1.

    Afterwards every Conv2d except the encoder receives binary spikes. The fused model has different
    state_dict keys and more FLOPs per RepConv (a dense 3x3) than the unfused chain.
    """
    fused = copy.deepcopy(model).eval()
    for m in list(fused.modules()):
        if isinstance(m, MS_DownSampling):
            m.encode_conv, m.encode_bn = _fuse_conv_bn(m.encode_conv, m.encode_bn), nn.Identity()
        elif isinstance(m, SepConv):
            m.pwconv1, m.bn1 = _fuse_conv_bn(m.pwconv1, m.bn1), nn.Identity()
            m.dwconv, m.pwconv2, m.bn2 = _fuse_dw_pw_bn(m.dwconv, m.pwconv2, m.bn2), nn.Identity(), nn.Identity()
        elif isinstance(m, MS_ConvBlock):
            m.conv1, m.bn1 = _fuse_conv_bn(m.conv1, m.bn1), nn.Identity()
            m.conv2, m.bn2 = _fuse_conv_bn(m.conv2, m.bn2), nn.Identity()
        elif isinstance(m, MS_MLP):
            m.fc1_conv, m.fc1_bn = _fuse_conv_bn(m.fc1_conv, m.fc1_bn), nn.Identity()
            m.fc2_conv, m.fc2_bn = _fuse_conv_bn(m.fc2_conv, m.fc2_bn), nn.Identity()
        elif isinstance(m, MS_Attention_RepConv_qkv_id):
            for name in ("q_conv", "k_conv", "v_conv", "proj_conv"):
                seq = getattr(m, name)
                setattr(m, name, _fuse_repconv_bn(seq[0], seq[1]))
    fused.is_fused = True  # type: ignore[attr-defined]
    return fused


def parameter_counts(model: MetaSpikeFormer) -> dict[str, int]:
    """Parameters as trained (``unfused``) and after :func:`fuse` (``fused``)."""
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {"unfused": count(model), "fused": count(fuse(model))}


# ----------------------------------------------------------------------------------------------------- registry
_PAPER = (
    "Yao et al., Spike-driven Transformer V2: Meta Spiking Neural Network Architecture Inspiring the Design "
    "of Next-generation Neuromorphic Chips, ICLR 2024 (arXiv 2404.03663)"
)
_NEURON = (
    "LIF tau=2 (input decayed), v_th=1 (attn_lif v_th=0.5), hard reset to 0, detach_reset; binary spikes "
    "(SpikingJelly 0.0.0.0.12 MultiStepLIFNode)"
)
_COMMON_NOTES = (
    "ImageNet 224x224, 8 heads, stages: 1+1 ConvBlocks, 2 ConvBlocks, 6 and 2 Transformer blocks (the '8' of "
    "the code names). Training: T=1 from scratch (200 epochs), then fine-tuned to T=4 (50 epochs) with hard "
    "distillation from caformer_b36 (--kd); the released 55M T=4 checkpoint (55M_kd_T4) therefore also "
    "carries head_kd.*: build it with kd=True. No unused tensors (DropPath modules have no parameters and "
    "are never applied). Head: the stored history of classification/models.py (953aacc, 03cc73e) applies "
    "the Linear to the non-spiking mean; the released code is reported to have fixed it to "
    "head(x_lif), which is what this implementation does (binary classifier input). Energy in the paper "
    "follows the Attention-SNN formula (E_MAC=4.6 pJ, E_AC=0.9 pJ); BICLab counts re-parameterised "
    "(fused) convs, with folded BN; fusion turns each RepConv into a dense 3x3 conv (more FLOPs than the "
    "unfused chain). Use fuse() / parameter_counts() for the fused model and its parameter count. "
)

_SIZES: dict[str, dict[str, Any]] = {
    "15m": dict(
        embed_dims=(64, 128, 256, 360), official=15_112_208, code_name="(not in the released code)",
        extra=(
            "Channel plan [64, 128, 256, 360] is inferred: it is the only plan of this family that gives the "
            "paper's 15.1M (15,112,208 measured with the official code); a third-party fork of the official "
            "code names it metaspikformer_8_256 ('15M parameters'). "
        ),
        t1={"params_M": 15.1, "top1": 71.8, "energy_mJ": 4.0,
            "source": "paper Table 1 (ICLR 2024) as quoted secondhand; not checked against the PDF"},
        t4={"params_M": 15.1, "top1": 74.1, "energy_mJ": 16.7,
            "source": "paper Table 1 (ICLR 2024) as quoted secondhand; not checked against the PDF"},
    ),
    "31m": dict(
        embed_dims=(96, 192, 384, 480), official=31_333_864, code_name="metaspikformer_8_384",
        extra="Official code name metaspikformer_8_384 (the last number is C2, not the size). ",
        t1={"params_M": 31.3, "top1": 75.4, "energy_mJ": 7.8,
            "source": "paper Table 1 (ICLR 2024) as quoted secondhand; not checked against the PDF"},
        t4={"params_M": 31.3, "top1": 77.2, "energy_mJ": 32.8,
            "source": "TDFormer Table 1 quoting Meta-SpikeFormer-8-384 (secondary)"},
    ),
    "55m": dict(
        embed_dims=(128, 256, 512, 640), official=55_350_248, code_name="metaspikformer_8_512",
        extra="Official code name metaspikformer_8_512 (the last number is C2, not the size). ",
        t1={"params_M": 55.4, "top1": 77.2, "energy_mJ": 13.0,
            "source": "paper Table 1 (ICLR 2024) as quoted secondhand; not checked against the PDF"},
        t4={"params_M": 55.4, "top1": 80.0, "energy_mJ": 52.4, "top1_without_kd": 79.7,
            "source": (
                "80.0% (T=4, KD): abstract and official README; 52.4 mJ and 79.7% without KD: TDFormer "
                "Table 1 (secondary; an OpenReview review quotes 79.7% / 52.5 mJ from the submission)"
            )},
    ),
}


def _meta_card(name: str, size: str, spec: dict[str, Any], time_steps: int) -> ModelCard:
    config = dict(
        embed_dims=spec["embed_dims"], num_heads=8, mlp_ratio=4, in_channels=3, num_classes=1000,
        time_steps=time_steps, kd=False,
    )
    return ModelCard(
        name=name, family="meta-spikeformer", paper=_PAPER, dataset="imagenet", input_shape=(3, 224, 224),
        time_steps=time_steps, num_classes=1000, neuron=_NEURON, config=config,
        published=dict(spec["t4" if time_steps == 4 else "t1"]), unused_keys=[],
        official_params=spec["official"],
        notes=f"Meta-SpikeFormer {size.upper()} at T={time_steps}; code name {spec['code_name']}. "
        + spec["extra"] + _COMMON_NOTES,
        input_kind="image",
    )


for _size, _spec in _SIZES.items():
    register_model(_meta_card(f"meta-spikeformer-{_size}", _size, _spec, 4), meta_spikeformer)
    register_model(_meta_card(f"meta-spikeformer-{_size}-t1", _size, _spec, 1), meta_spikeformer)
    register_alias(f"meta-spikeformer-{_size}-t4", f"meta-spikeformer-{_size}")
register_alias("meta-spikeformer", "meta-spikeformer-55m")
