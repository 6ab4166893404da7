"""The provenance graph and its walks on hand-built tables (no profiler): cycles, self-edges, constants, joins;
and a whole audit of a hand-built report, with and without a provenance table."""
import math

import pandas as pd
import pytest

from hand_built import BLOCK, graph_table, hand_built_report
from snnenergy.audit import ProvenanceGraph, audit_report


def test_graph_marks_constants_off_the_activation_path_and_drops_self_edges_except_for_joins():
    g = ProvenanceGraph.from_table(graph_table(BLOCK))
    assert not g.node("pad:sqrt").active and g.node("pad:where").active
    assert g.node("pad:where").upstream == ("next.bn2:batch_norm",)
    assert g.node("mean").upstream == ("blk:add",)  # two means in one module: not a join
    assert set(g.node("blk:add").upstream) == {"lif0:spikes", "attn.lif:spikes", "blk:add", "mlp.lif:spikes"}
    assert g.node("nowhere:conv2d").category == "unknown"


def test_find_maker_walks_through_max_pooling_to_the_add_despite_the_cycle():
    g = ProvenanceGraph.from_table(graph_table(BLOCK))
    w = g.find_maker("pool:max_pool2d")
    assert w.stop.label == "blk:add" and w.labels() == ["blk:add", "pool:max_pool2d"]


def test_linear_chain_ends_at_a_join_and_passes_a_constant_border():
    g = ProvenanceGraph.from_table(graph_table(BLOCK))
    assert not g.linear_chain("blk:add").ok
    w = g.linear_chain("pad:where")  # where <- BN <- BN <- conv <- max pool <- add of spikes: the add breaks it
    assert not w.ok and w.stop.label == "blk:add"
    assert w.labels()[:3] == ["blk:add", "pool:max_pool2d", "next:conv2d"]
    ok = g.linear_chain("attn.bn:batch_norm")
    assert ok.ok and ok.labels() == ["lif0:spikes", "attn:conv2d", "attn.bn:batch_norm"]


def test_a_max_pool_on_real_values_breaks_the_chain_and_is_named():
    g = ProvenanceGraph.from_table(graph_table([
        ("a:conv2d", "synaptic", "<input>"), ("a.lif:spikes", "neuron", "a:conv2d"),
        ("b:conv2d", "synaptic", "a.lif:spikes"), ("mp:max_pool2d", "other", "b:conv2d"),
        ("c:conv2d", "synaptic", "mp:max_pool2d"), ("mp2:max_pool2d", "other", "a.lif:spikes"),
        ("d:conv2d", "synaptic", "mp2:max_pool2d"), ("d.bn:batch_norm", "other", "d:conv2d")]))
    w = g.linear_chain("mp:max_pool2d")
    assert not w.ok and w.stop.label == "mp:max_pool2d" and w.labels() == ["mp:max_pool2d"]
    ok = g.linear_chain("d.bn:batch_norm")  # a max pool of spikes first is fine
    assert ok.ok and ok.labels() == ["a.lif:spikes", "mp2:max_pool2d", "d:conv2d", "d.bn:batch_norm"]


def test_pooled_walk_and_sinks():
    g = ProvenanceGraph.from_table(graph_table(BLOCK))
    w = g.pooled_walk("mean")
    assert w is not None and w.stop.label == "blk:add"
    assert g.pooled_walk("blk:add") is None
    assert not g.reaches_synaptic("head:linear") and g.reaches_synaptic("blk:add")


def test_encoder_walk_only_from_the_raw_input():
    g = ProvenanceGraph.from_table(graph_table(BLOCK))
    assert g.encoder_walk("<input>") is not None
    assert g.encoder_walk("stem.bn:batch_norm") is None  # a conv lies between


def test_a_table_without_the_agreed_columns_is_refused():
    with pytest.raises(ValueError, match="provenance table lacks columns"):
        ProvenanceGraph.from_table(pd.DataFrame({"node": ["a"], "input": [""]}))


# ---------------------------------------------------------------------------------- a whole audit
def test_audit_of_a_hand_built_report():
    a = audit_report(hand_built_report(), preset="fp32")
    v = a.violations.set_index("layer")
    assert set(v.index) == {"mlp", "next", "dw"}
    assert v.loc["mlp", "cause"] == "blk:add" and v.loc["next", "cause"] == "blk:add"
    assert v.loc["next", "chain"] == "blk:add → pool:max_pool2d → next:conv2d"
    assert v.loc["dw", "rule"] == "real-input" and v.loc["dw", "cause"] == "blk:add"
    # energy at stake: (E_MAC - E_AC) x effective ops for integer and real inputs priced as MACs (fp32 4.6 / 0.9 pJ)
    assert v.loc["next", "energy_at_stake_mJ"] == pytest.approx(3.7 * 200.0 / 1e9)
    assert a.totals["at_stake_mJ"] == pytest.approx(3.7 * 600.0 / 1e9)
    e = a.exceptions.set_index("layer")
    assert e.loc["stem", "exception"] == "encoder" and e.loc["head", "exception"] == "pooled-head"
    assert e.loc["stem", "energy_share"] == pytest.approx(4.6 * 1000 / (4.6 * 1610 + 0.9 * 400))
    assert "sqrt" not in set(a.violations.op)  # computed from constants
    assert a.level == "not spike-driven" and not a.notes


def test_audit_without_a_provenance_table_names_the_direct_producers_and_says_so():
    a = audit_report(hand_built_report(with_provenance=False))
    v = a.violations.set_index("layer")
    assert v.loc["next", "cause"] == "pool:max_pool2d"  # no walk possible
    assert "sqrt" in set(a.violations.op)  # no graph: every listed non-spike op counts
    assert a.notes and "no provenance table" in a.notes[0]


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="integer_as must be one of"):
        audit_report(hand_built_report(), integer_as="float")
    with pytest.raises(ValueError, match="unknown energy preset"):
        audit_report(hand_built_report(), preset="fp64")
    rates_only = hand_built_report()
    rates_only.meta["rates_only"] = True
    with pytest.raises(ValueError, match="rates-only"):
        audit_report(rates_only)
    assert math.isfinite(audit_report(hand_built_report()).totals["snn_mJ"])
