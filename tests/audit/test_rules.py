"""Each rule and each exception of the audit on a small design that triggers it and on its near miss, profiled
for real (the designs are in ``audit_designs.py``; their module names mean nothing to the audit)."""
import pytest
import torch
import torch.nn.functional as F

import snnenergy
from snnenergy.audit import audit
from audit_designs import (C, ChainNet, EncoderVariants, FarAdd, GatedBlock, MSNet, NonSpikeOp, PooledNet, Product,
                           ScaledNet, SEWNet, TernaryNet, inputs)


def _audit(model, **kw):
    torch.manual_seed(1)
    return audit(model, inputs(), **kw)


def _rows(table, **match):
    sel = table
    for k, v in match.items():
        sel = sel[sel[k] == v]
    return sel


def _build(cls, *args):
    torch.manual_seed(0)
    return cls(*args)


# ------------------------------------------------------------------------------------------- rules
def test_spike_sum_into_a_conv_is_an_integer_violation_caused_by_the_add():
    a = _audit(_build(SEWNet))
    v = _rows(a.violations, layer="after.conv")
    assert len(v) == 1 and v.iloc[0].rule == "integer-input" and v.iloc[0].input_kind == "integer"
    assert v.iloc[0].cause == "block:add" and v.iloc[0].input_max >= 2
    assert "membrane" in v.iloc[0].fix and not a.spike_driven and a.level == "not spike-driven"


def test_membrane_shortcut_design_has_no_violation():
    a = _audit(_build(MSNet))
    assert a.spike_driven and len(a.violations) == 0
    assert set(a.exceptions.exception) <= {"encoder", "pooled-spikes"}


def test_membrane_stream_into_a_shortcut_conv_is_a_real_violation_caused_by_the_add():
    a = _audit(_build(MSNet, True))
    v = _rows(a.violations, layer="shortcut.conv")
    assert len(v) == 1 and v.iloc[0].rule == "real-input" and v.iloc[0].cause == "add"
    assert "neuron" in v.iloc[0].fix


@pytest.mark.parametrize("kinds, rule", [("real*real", "non-spike-product"), ("int*real", "non-spike-product")])
def test_products_without_a_spike_side_are_violations(kinds, rule):
    a = _audit(_build(Product, kinds))
    v = _rows(a.violations, op="mul")
    assert len(v) == 1 and v.iloc[0].rule == rule
    assert v.iloc[0].cause == ("block:add" if kinds.startswith("int") else "a.bn:batch_norm")
    assert v.iloc[0].producer_b == "b.bn:batch_norm"


@pytest.mark.parametrize("kinds, note", [("int*spike", "integer-accumulation"), ("real*spike", "real-accumulation")])
def test_products_with_a_spike_side_are_allowed_and_listed(kinds, note):
    a = _audit(_build(Product, kinds))
    assert len(_rows(a.violations, op="mul")) == 0
    listed = _rows(a.allowed, op="mul")
    assert len(listed) == 1 and listed.iloc[0].note == note and listed.iloc[0].other_operand == "binary"


@pytest.mark.parametrize("op", ["softmax", "exp", "sigmoid", "layer_norm", "div"])
def test_non_spike_ops_on_the_activation_path_are_violations(op):
    a = _audit(_build(NonSpikeOp, op))
    v = _rows(a.violations, rule="non-spike-op")
    assert v.op.tolist() == [op] and v.iloc[0].producer
    assert v.iloc[0].energy_basis.startswith("not in level-1")


def test_a_non_spike_op_on_constants_only_is_not_a_violation():
    a = _audit(_build(NonSpikeOp, "sigmoid", True))
    assert len(_rows(a.violations, rule="non-spike-op")) == 0 and a.spike_driven


def test_gated_design_is_not_spike_driven_with_the_product_and_the_sigmoid_among_its_violations():
    a = _audit(_build(GatedBlock))
    assert not a.spike_driven
    rules = dict(zip(a.violations.op, a.violations.rule))
    assert rules.get("mul") == "non-spike-product" and rules.get("sigmoid") == "non-spike-op"
    mul = _rows(a.violations, op="mul").iloc[0]
    assert mul.input_kind == "real" and mul.other_operand == "real"


def test_ternary_spikes_are_allowed_and_flagged_binary_ones_are_not_listed():
    signed = _audit(_build(TernaryNet, True))
    flagged = _rows(signed.allowed, layer="after")
    assert flagged.note.tolist() == ["ternary-spikes"] and flagged.iloc[0].input_min == -1
    assert len(_rows(signed.violations, layer="after")) == 0
    binary = _audit(_build(TernaryNet, False))
    assert len(_rows(binary.allowed, layer="after")) == 0 and len(_rows(binary.violations, layer="after")) == 0


def test_multi_bit_spikes_into_a_conv_are_a_violation_caused_by_the_neuron_even_through_a_chain():
    direct = _audit(_build(TernaryNet, "multi"))
    v = _rows(direct.violations, layer="after").iloc[0]
    assert v.rule == "integer-input" and v.cause == "sign:spikes" and "multi-bit" in v.fix
    chained = _audit(_build(TernaryNet, "multi", True))
    v = _rows(chained.violations, layer="after").iloc[0]
    assert v.rule == "real-input" and v.cause == "sign:spikes"  # not a foldable chain: its source is not spikes
    binary_chain = _audit(_build(TernaryNet, "binary", True))
    assert _rows(binary_chain.exceptions, layer="after").exception.tolist() == ["foldable-chain"]


# -------------------------------------------------------------------------------------- exceptions
def test_encoder_through_batchnorm_and_pooling_is_an_exception():
    a = _audit(_build(EncoderVariants, "bn_pool"))
    e = _rows(a.exceptions, layer="stem.unit.conv")
    assert e.exception.tolist() == ["encoder"]
    assert e.iloc[0].chain == "<input> → norm:batch_norm → pool:max_pool2d → stem.unit.conv:conv2d"
    assert e.iloc[0].macs > 0 and 0 < e.iloc[0].energy_share < 1


def test_raw_input_through_a_non_linear_op_is_not_the_encoder():
    a = _audit(_build(EncoderVariants, "sigmoid"))
    v = _rows(a.violations, layer="stem.unit.conv")
    assert v.rule.tolist() == ["real-input"] and v.iloc[0].cause == "sigmoid"
    assert len(_rows(a.exceptions, exception="encoder")) == 0


@pytest.mark.parametrize("chain", ["conv_bn_conv", "dw_bn_pw"])
def test_a_single_linear_path_from_spikes_is_a_foldable_chain(chain):
    a = _audit(_build(ChainNet, chain))
    e = _rows(a.exceptions, layer="last")
    assert e.exception.tolist() == ["foldable-chain"]
    assert e.iloc[0].chain == "stem.fire:spikes → first.conv:conv2d → first.bn:batch_norm → last:conv2d"
    assert a.spike_driven and a.level == "spike-driven with exceptions"
    assert a.passes() and not a.passes(strict=True)


def test_an_add_joining_two_streams_ends_the_chain_exception():
    a = _audit(_build(ChainNet, "joined"))
    assert len(_rows(a.exceptions, layer="last")) == 0
    v = _rows(a.violations, layer="last")
    assert v.rule.tolist() == ["real-input"] and v.iloc[0].cause == "add"


def test_pooled_spikes_into_a_linear_is_an_exception():
    a = _audit(_build(PooledNet, "spikes", True))
    e = _rows(a.exceptions, layer="fc1")
    assert e.exception.tolist() == ["pooled-spikes"] and e.iloc[0].chain == "stem.fire:spikes → mean → fc1:linear"


def test_pooled_spike_sums_into_a_hidden_linear_are_a_violation_but_into_the_head_an_exception():
    hidden = _audit(_build(PooledNet, "sums", False))
    v = _rows(hidden.violations, layer="fc1")
    assert len(v) == 1 and v.iloc[0].cause == "block:add"
    head = _audit(_build(PooledNet, "sums", True))
    e = _rows(head.exceptions, layer="fc1")
    assert e.exception.tolist() == ["pooled-head"] and "block:add" in e.iloc[0].reason
    assert len(head.violations) == 0


def test_a_scalar_scale_into_a_neuron_is_listed_as_a_threshold_fold():
    a = _audit(_build(ScaledNet, True))
    e = _rows(a.exceptions, exception="threshold-scale")
    assert len(e) == 1 and e.iloc[0].chain == "unit.bn:batch_norm → mul → fire:spikes"
    assert e.iloc[0].macs == C * 16 * 16  # one multiplication per element, per sample
    assert a.level == "spike-driven with exceptions"  # from the pooled head, not the scale
    not_into_neuron = _audit(_build(ScaledNet, False))
    assert len(_rows(not_into_neuron.exceptions, exception="threshold-scale")) == 0


# ------------------------------------------------------------------------------------------ provenance
def test_the_cause_is_the_add_two_modules_away_through_shape_only_ops_and_a_pooling():
    torch.manual_seed(0)
    model = FarAdd()
    report = snnenergy.profile(model, inputs())
    site = report.layers[report.layers.layer == "stage.0.conv"].iloc[0]
    assert site.producer == "reshape.2:max_pool2d"  # the direct producer is the pooling, not the add
    v = _rows(report.audit().violations, layer="stage.0.conv").iloc[0]
    assert v.rule == "integer-input" and v.cause == "res:add"
    assert v.chain == "res:add → reshape.2:max_pool2d → stage.0.conv:conv2d"


# ---------------------------------------------------------------------------------------------- energy
def _consumer_input(model, name, x):
    seen = {}
    module = dict(model.named_modules())[name]
    h = module.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0].detach().clone()))
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        h.remove()
    return seen["x"]


@pytest.mark.parametrize("preset, e_mac, e_ac", [("fp32", 4.6, 0.9), ("int8", 0.23, 0.03)])
def test_energy_at_stake_is_the_energy_now_minus_the_spike_energy_at_the_same_effective_count(preset, e_mac, e_ac):
    torch.manual_seed(0)
    model, x = SEWNet(), inputs()
    a = audit(model, x, preset=preset)
    v = _rows(a.violations, layer="after.conv").iloc[0]
    # effective ops, brute force: every (output position, tap, input channel) with a nonzero input, times C_out
    xin = _consumer_input(model, "after.conv", x)
    nonzero_taps = F.unfold((xin != 0).double(), 3, padding=1).sum().item()
    effective = nonzero_taps * C / x.shape[0]
    assert v.energy_at_stake_mJ == pytest.approx((e_mac - e_ac) * effective / 1e9, rel=1e-9)
    assert v.energy_mJ == pytest.approx(e_mac * effective / 1e9, rel=1e-9)
    assert a.totals["at_stake_mJ"] == pytest.approx(v.energy_at_stake_mJ)
    as_ac = audit(model, x, preset=preset, integer_as="ac")
    assert _rows(as_ac.violations, layer="after.conv").iloc[0].energy_at_stake_mJ == pytest.approx(0.0, abs=1e-15)
    # the n-spike view: a value n costs n accumulates, so the extra spikes of the sums are at stake
    value_weighted = F.unfold(xin.abs().double(), 3, padding=1).sum().item() * C / x.shape[0]
    as_spikes = audit(model, x, preset=preset, integer_as="spikes")
    at_stake = _rows(as_spikes.violations, layer="after.conv").iloc[0].energy_at_stake_mJ
    assert value_weighted > effective and at_stake == pytest.approx(e_ac * (value_weighted - effective) / 1e9, rel=1e-9)
