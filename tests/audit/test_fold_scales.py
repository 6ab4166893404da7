"""A scale on the path to a weighted op folds into its weights only along the op's features: a scalar or a
per-channel scale does (the op then sees spikes: a foldable chain), a gate that varies along positions or
tokens, where the op shares its weights, does not (the op multiplies real values: a violation caused by the
scale). The expected verdicts follow from that algebra, worked out by hand per design: w·(α_c s) = (w α_c)·s for
a per-channel α, but Σ_k w_k α_(p+k) s_(p+k) has a different weight at every position p for a per-position α."""
import pandas as pd
import pytest
import torch
from torch import nn

from snnenergy.audit import audit
from snnenergy.audit.graph import ProvenanceGraph
from audit_designs import Fire

C, H = 4, 6


class ScaledBeforeConv(nn.Module):
    """Spikes of a stem, times a learned constant of shape ``shape``, into a 3x3 conv (C -> C)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.stem, self.fire = nn.Conv2d(3, C, 3, padding=1), Fire(0.0)
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, int(torch.tensor(shape).prod())).reshape(shape))
        self.conv = nn.Conv2d(C, C, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.fire(self.stem(x)) * self.scale)


class ScaledBeforeLinear(nn.Module):
    """Spike tokens ``[B, N, C]`` times a constant of shape ``shape``, into a linear over C."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.embed, self.fire = nn.Linear(3, C), Fire(0.0)
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, int(torch.tensor(shape).prod())).reshape(shape))
        self.fc = nn.Linear(C, 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # [B, N = H·W, 3]
        return self.fc(self.fire(self.embed(tokens)) * self.scale)


class ScaleBetweenLinears(nn.Module):
    """Spikes -> linear (C -> 6) -> a per-feature scale [6] -> reshaped to [B, 2, 3] -> linear over 3: the scale
    folds into the first linear's outputs (upstream), not into the second's inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.fire = Fire(0.0)
        self.first = nn.Linear(3 * H * H, 6, bias=False)
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, 6))
        self.second = nn.Linear(3, 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.first(self.fire(x).flatten(1)) * self.scale
        return self.second(y.reshape(-1, 2, 3))


def _audit(model: nn.Module):
    torch.manual_seed(0)
    return audit(model, torch.randn(2, 3, H, H))


def _verdict(a, layer: str) -> tuple[str, str]:
    """("violation", rule, cause) or ("exception", kind, "") of the one finding on ``layer``."""
    v = a.violations[a.violations.layer == layer]
    if len(v):
        return "violation", v.iloc[0].rule, v.iloc[0].cause
    e = a.exceptions[a.exceptions.layer == layer]
    assert len(e) == 1, f"no finding on {layer}"
    return "exception", e.iloc[0].exception, ""


@pytest.mark.parametrize("shape, expected", [
    ((1,), ("exception", "foldable-chain", "")),                 # a scalar
    ((C, 1, 1), ("exception", "foldable-chain", "")),            # per input channel
    ((H, H), ("violation", "real-input", "mul")),                # per position: a weight per position
    ((C, H, H), ("violation", "real-input", "mul")),             # per channel and position
    ((1, 1, H), ("violation", "real-input", "mul")),             # per column only
])
def test_a_scale_before_a_conv_folds_only_per_channel(shape, expected):
    a = _audit(ScaledBeforeConv(shape))
    assert _verdict(a, "conv") == expected
    if expected[0] == "violation":
        row = a.violations[a.violations.layer == "conv"].iloc[0]
        assert "input features" in row.fix and row.energy_at_stake_mJ > 0
        assert not a.spike_driven


@pytest.mark.parametrize("shape, expected", [
    ((C,), ("exception", "foldable-chain", "")),                 # per input feature
    ((H * H, 1), ("violation", "real-input", "mul")),            # per token
    ((H * H, C), ("violation", "real-input", "mul")),            # per token and feature
])
def test_a_scale_before_a_linear_folds_only_per_input_feature(shape, expected):
    assert _verdict(_audit(ScaledBeforeLinear(shape)), "fc") == expected


def test_a_scale_folds_into_the_weighted_op_before_it():
    a = _audit(ScaleBetweenLinears())
    assert _verdict(a, "second") == ("exception", "foldable-chain", "")


def test_the_provenance_table_records_the_scale_sizes_and_the_features():
    from snnenergy import profile
    r = profile(ScaledBeforeConv((H, H)), torch.randn(2, 3, H, H))
    nodes = r.provenance.drop_duplicates("node").set_index("node")
    assert nodes.loc["mul", "constant_sizes"] == f"{H}x{H}"
    assert nodes.loc["conv:conv2d", "features"] == f"{C}>{C}" and nodes.loc["stem:conv2d", "features"] == f"3>{C}"
    r = profile(ScaleBetweenLinears(), torch.randn(2, 3, H, H))
    nodes = r.provenance.drop_duplicates("node").set_index("node")
    assert nodes.loc["mul", "constant_sizes"] == "6" and nodes.loc["second:linear", "features"] == "3>2"


def test_a_table_without_the_sizes_keeps_the_rule_it_was_written_under():
    from snnenergy import profile
    torch.manual_seed(0)
    r = profile(ScaledBeforeConv((H, H)), torch.randn(2, 3, H, H))
    old = r.provenance.drop(columns=["constant_sizes", "features"])
    g = ProvenanceGraph.from_table(old)
    assert g.linear_chain("mul", "conv:conv2d").ok
    assert not ProvenanceGraph.from_table(r.provenance).linear_chain("mul", "conv:conv2d").ok
