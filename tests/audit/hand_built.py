"""Hand-built profile tables for the audit tests: a provenance graph with the awkward cases (two adds in one
module, a mean applied twice, a constant computed in the forward) and a report around it."""
import pandas as pd

from snnenergy.report import Report


def graph_table(edges):
    """edges: (node, category, input) with node "layer:op"."""
    rows = [("<input>", "", "input", "input", "")]
    for node, cat, inp in edges:
        layer, _, op = node.rpartition(":")
        rows.append((node, layer, op, cat, inp))
    return pd.DataFrame(rows, columns=["node", "layer", "op", "category", "input"])


# a transformer-like block: two adds in one module (one node, with a self-edge), means applied twice in one module
BLOCK = [
    ("stem:conv2d", "synaptic", "<input>"), ("stem.bn:batch_norm", "other", "stem:conv2d"),
    ("lif0:spikes", "neuron", "stem.bn:batch_norm"),
    ("attn:conv2d", "synaptic", "lif0:spikes"), ("attn.bn:batch_norm", "other", "attn:conv2d"),
    ("attn.lif:spikes", "neuron", "attn.bn:batch_norm"),
    ("blk:add", "other", "lif0:spikes"), ("blk:add", "other", "attn.lif:spikes"),
    ("mlp:conv2d", "synaptic", "blk:add"), ("mlp.bn:batch_norm", "other", "mlp:conv2d"),
    ("mlp.lif:spikes", "neuron", "mlp.bn:batch_norm"),
    ("blk:add", "other", "blk:add"), ("blk:add", "other", "mlp.lif:spikes"),
    ("pool:max_pool2d", "other", "blk:add"), ("next:conv2d", "synaptic", "pool:max_pool2d"),
    ("next.bn:batch_norm", "other", "next:conv2d"), ("next.bn2:batch_norm", "other", "next.bn:batch_norm"),
    ("mean", "other", "blk:add"), ("mean", "other", "mean"), ("head:linear", "synaptic", "mean"),
    # a constant computed in the forward: BN pad values (sqrt of a buffer) selected into the border
    ("pad:add", "other", ""), ("pad:sqrt", "other", "pad:add"), ("pad:where", "other", "next.bn2:batch_norm"),
    ("pad:where", "other", "pad:sqrt"), ("dw:conv2d", "synaptic", "pad:where"),
]


def site(layer, op, kind, producer, eff, lo=0.0, hi=1.0):
    ac = eff if kind in ("binary", "ternary") else 0.0
    return {"layer": layer, "op": op, "index": 0, "input_kind": kind, "other_operand": "weight", "input_min": lo,
            "input_max": hi, "input_rate": 0.5, "dense_ops": 2 * eff, "effective_ops": eff, "ac": ac,
            "integer_mac": eff if kind == "integer" else 0.0, "mac": eff if kind == "real" else 0.0,
            "bias_ops": 0.0, "calls": 1.0, "per_step": True, "producer": producer, "weight_params": 9.0,
            "input_elements": 2 * eff, "output_elements": eff,
            "value_weighted_ops": eff * (hi if kind == "integer" else 1)}


def hand_built_report(with_provenance=True):
    layers = pd.DataFrame([
        site("stem", "conv2d", "real", "<input>", 1000.0, -1.0, 2.0),
        site("attn", "conv2d", "binary", "lif0:spikes", 400.0),
        site("mlp", "conv2d", "integer", "blk:add", 300.0, 0.0, 2.0),
        site("next", "conv2d", "integer", "pool:max_pool2d", 200.0, 0.0, 3.0),
        site("dw", "conv2d", "real", "pad:where", 100.0, -0.5, 0.5),
        site("head", "linear", "real", "mean", 10.0, 0.0, 1.5),
    ])
    other = pd.DataFrame({"layer": ["pad", "pad", "blk"], "op": ["sqrt", "where", "add"], "calls": [1.0] * 3,
                          "elements": [8.0, 64.0, 128.0]})
    builders = {"provenance": lambda: graph_table(BLOCK)} if with_provenance else {}
    meta = {"model": "hand-built", "time_steps": 1, "samples": 1, "weights": "as given"}
    return Report(meta, layers=layers, other_ops=other, neurons=pd.DataFrame(), builders=builders)


