"""The zoo table reproduces the published findings with the general rules alone (untrained weights, BatchNorm
calibrated on the shipped photographs). The configurations of ``snnenergy.audit.zoo.ZOO`` are narrowed here
(embedding width 64, T = 2 or 1) to keep the test fast on a CPU: the rules see only the graph's structure and
the operand kinds, which the width does not change. ``reports/audit.md`` is the same table at the registered
widths."""
import dataclasses

import pytest
import torch

from snnenergy.audit.zoo import ZOO, audit_config

NARROW = {
    "spikformer": dict(embed_dim=64, num_heads=4, time_steps=2),
    "spikingformer": dict(embed_dim=64, num_heads=4, time_steps=2),
    "cml-spikingformer": dict(embed_dim=64, num_heads=4, time_steps=2),
    "sdt": dict(embed_dim=64, num_heads=4, time_steps=2),
    "qkformer": dict(embed_dim=64, num_heads=4, time_steps=2),
    "sew-resnet": dict(time_steps=1),
    "ms-resnet": dict(time_steps=1),
    "meta-spikeformer": dict(embed_dims=(16, 32, 64, 72)),
}


def _audit(label):
    cfg = next(c for c in ZOO if c.label == label)
    family = max((k for k in NARROW if cfg.name.startswith(k)), key=len)
    small = dataclasses.replace(cfg, overrides={**cfg.overrides, **NARROW[family]}, samples=2,
                                size=32 if cfg.size == 32 else 64)
    torch.set_num_threads(1)
    return audit_config(small)


def _kinds(a):
    return set(a.exceptions.exception)


def test_every_zoo_row_is_covered_here():
    assert {c.label for c in ZOO} == set(LABELS)


def _spikformer(a):
    assert a.level == "not spike-driven"
    assert set(a.violations.rule) == {"integer-input"} and all(c.endswith(":add") for c in a.violations.cause)
    q = a.violations[a.violations.layer.str.endswith("attn.q_linear")].input_max.tolist()
    assert len(q) == 2 and q[1] > q[0] >= 2  # spike sums grow along the residual stream


def _spike_driven_but_head(a):
    assert a.spike_driven and a.level == "spike-driven with exceptions"
    assert "pooled-head" in _kinds(a) and _kinds(a) <= {"encoder", "pooled-head", "threshold-scale"}


def _clean(a):
    assert a.level == "spike-driven" and a.spike_driven
    assert _kinds(a) <= {"encoder", "threshold-scale"}


def _qkformer(a):
    assert a.level == "not spike-driven" and set(a.violations.rule) == {"integer-input"}
    assert all(c.endswith(":add") for c in a.violations.cause)


def _sew(a):
    assert a.level == "not spike-driven" and set(a.violations.rule) == {"integer-input"}
    assert all(c.endswith(":add") for c in a.violations.cause) and a.violations.input_max.max() >= 3


def _ms_resnet(a):
    assert a.level == "not spike-driven" and set(a.violations.rule) == {"real-input"}
    assert len(a.violations) == 3 and a.violations.layer.str.contains("shortcut").all()
    assert all(c.endswith(":add") for c in a.violations.cause) and "neuron" in a.violations.fix.iloc[0]


def _meta_unfused(a):
    assert a.spike_driven and a.level == "spike-driven with exceptions" and "foldable-chain" in _kinds(a)


LABELS = {
    "spikformer-2-384-cifar10": _spikformer,
    "spikingformer-2-384-cifar10": _spike_driven_but_head,
    "cml-spikingformer-2-384-cifar10": _spike_driven_but_head,
    "sdt-2-256-cifar10": _clean,
    "qkformer-4-384-cifar10": _qkformer,
    "qkformer-ms-4-384-cifar10": _clean,
    "sew-resnet18": _sew,
    "ms-resnet18": _ms_resnet,
    "meta-spikeformer-15m-t1": _meta_unfused,
    "meta-spikeformer-15m-t1 (fused)": _clean,
}


@pytest.mark.parametrize("label", list(LABELS))
def test_zoo_finding(label):
    LABELS[label](_audit(label))
