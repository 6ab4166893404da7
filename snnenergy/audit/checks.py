"""Applying the rules of :mod:`.rules` to one profile: every synaptic site and every non-synaptic op on the
activation path becomes a violation, an accepted exception, an allowed-but-listed note, or nothing."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import rules as R
from .graph import Node, ProvenanceGraph, Walk

PJ_PER_MJ = 1e9
ARROW = " → "


@dataclass
class Finding:
    """One row of the violations, exceptions or allowed table (``table`` says which)."""

    table: str  # "violations", "exceptions" or "allowed"
    row: dict[str, Any]


@dataclass
class Context:
    """What every check needs: the graph, the neuron output ranges, energies and the preset's E_AC / E_MAC."""

    graph: ProvenanceGraph
    neuron_range: dict[str, tuple[float, float]]
    site_mJ: dict[tuple[str, str, int], float]
    other_elements: dict[tuple[str, str], float]
    e_ac: float
    e_mac: float
    total_mJ: float
    has_provenance: bool
    notes: list[str] = field(default_factory=list)


def _producers(cell: Any) -> list[str]:
    if not isinstance(cell, str) or not cell:
        return [R.UNKNOWN]
    return [p for p in cell.split(";") if p]


def _label(row: dict[str, Any]) -> str:
    """The provenance label of a site's output (``layer:op``; the op alone at the top level)."""
    return f"{row['layer']}:{row['op']}" if row["layer"] else str(row["op"])


def _chain_text(walk: Walk, consumer: str) -> str:
    return ARROW.join(walk.labels() + [consumer])


def _spikes_source(ctx: Context, node: Node) -> bool:
    """A neuron whose recorded outputs are spikes ({0, 1} or {-1, 0, 1}); True when its range is unknown."""
    if not node.is_spikes:
        return False
    lo, hi = ctx.neuron_range.get(node.layer, (0.0, 1.0))
    return not (lo < -1 or hi > 1) or (lo != lo)


def _join_of_spikes(ctx: Context, node: Node) -> bool:
    return any(_spikes_source(ctx, ctx.graph.find_maker(i).stop) for i in node.upstream)


def _fix(ctx: Context, rule: str, cause: Node) -> str:
    if cause.op in R.JOINS and rule == R.RULE_REAL and _join_of_spikes(ctx, cause):
        return R.fix_for(R.RULE_INTEGER, cause.op, cause.category)
    return R.fix_for(rule, cause.op, cause.category)


# ------------------------------------------------------------------------------------ synaptic sites
def _site_base(row: dict[str, Any]) -> dict[str, Any]:
    return {"layer": row["layer"], "op": row["op"], "index": int(row["index"]), "input_kind": row["input_kind"],
            "input_min": float(row["input_min"]), "input_max": float(row["input_max"])}


def _site_energy(ctx: Context, row: dict[str, Any]) -> tuple[float, float]:
    """(energy now, energy if its activation input were spikes at the same effective count), mJ per sample."""
    now = ctx.site_mJ.get((row["layer"], row["op"], int(row["index"])), float("nan"))
    spikes = ctx.e_ac * float(row["effective_ops"]) / PJ_PER_MJ
    return now, spikes


def _violation(ctx: Context, row: dict[str, Any], rule: str, producer: str, walk: Walk, cause: Node,
               extra: dict[str, Any] | None = None) -> Finding:
    now, spikes = _site_energy(ctx, row)
    consumer = _label(row)
    out = {**_site_base(row), "producer": producer, "cause": cause.label, "cause_op": cause.op,
           "chain": _chain_text(walk, consumer), "rule": rule, "energy_mJ": now,
           "energy_at_stake_mJ": now - spikes, "energy_basis": "level-1 ops", "fix": _fix(ctx, rule, cause)}
    out.update(extra or {})
    return Finding("violations", out)


def _exception(ctx: Context, row: dict[str, Any], kind: str, reason: str, producer: str, walk: Walk) -> Finding:
    now, _ = _site_energy(ctx, row)
    consumer = _label(row)
    macs = float(row.get("mac", 0.0)) + float(row.get("integer_mac", 0.0))
    return Finding("exceptions", {
        **_site_base(row), "exception": kind, "reason": reason, "producer": producer,
        "chain": _chain_text(walk, consumer), "macs": macs, "energy_mJ": now,
        "energy_share": now / ctx.total_mJ if ctx.total_mJ else float("nan"), "energy_basis": "level-1 ops"})


def _note(row: dict[str, Any], kind: str, producer: str) -> Finding:
    return Finding("allowed", {**_site_base(row), "other_operand": row.get("other_operand", "weight"),
                               "note": kind, "reason": R.NOTES[kind], "producer": producer,
                               "ac": float(row.get("ac", 0.0))})


def _weighted_input(ctx: Context, row: dict[str, Any], producer: str) -> Finding:
    """The verdict on one non-binary activation (from ``producer``) into a weighted op."""
    g = ctx.graph
    consumer = _label(row)
    enc = g.encoder_walk(producer, consumer)
    if enc is not None:
        return _exception(ctx, row, R.EXC_ENCODER, R.EXCEPTIONS[R.EXC_ENCODER], producer, enc)
    if row["op"] in R.POOLED_CONSUMERS:
        pooled = g.pooled_walk(producer, consumer)
        if pooled is not None and _spikes_source(ctx, pooled.stop):
            return _exception(ctx, row, R.EXC_POOLED_SPIKES, R.EXCEPTIONS[R.EXC_POOLED_SPIKES], producer, pooled)
        if pooled is not None and not g.reaches_synaptic(consumer):
            reason = R.EXCEPTIONS[R.EXC_POOLED_HEAD].format(stream=f"output of {pooled.stop.label}")
            return _exception(ctx, row, R.EXC_POOLED_HEAD, reason, producer, pooled)
    chain = g.linear_chain(producer, consumer)
    folded_source = _spikes_source(ctx, chain.stop) or chain.stop.is_input
    if chain.ok and folded_source and len(chain.chain) > 1:
        source = "the raw input" if chain.stop.is_input else f"the spikes of {chain.stop.label}"
        return _exception(ctx, row, R.EXC_CHAIN, R.EXCEPTIONS[R.EXC_CHAIN].format(source=source), producer, chain)
    if row["input_kind"] == "integer":
        maker = g.find_maker(producer, consumer)
        return _violation(ctx, row, R.RULE_INTEGER, producer, maker, maker.stop)
    return _violation(ctx, row, R.RULE_REAL, producer, chain, chain.stop)


_SEVERITY = {"violations": 0, "exceptions": 1, "allowed": 2}


def check_site(ctx: Context, row: dict[str, Any]) -> Finding | None:
    """The verdict on one synaptic site (a row of the report's ``layers`` table), or None when spike-driven."""
    kind, other = row["input_kind"], row.get("other_operand", "weight")
    producers = _producers(row.get("producer"))
    if other == "weight":
        if kind == "binary":
            return None
        if kind == "ternary":
            return _note(row, R.NOTE_TERNARY, producers[0])
        found = [_weighted_input(ctx, row, p) for p in producers]
        return min(found, key=lambda f: _SEVERITY[f.table])
    return _product(ctx, row, producers)


def _product(ctx: Context, row: dict[str, Any], producers: list[str]) -> Finding | None:
    """Two activations multiplied: fine when one side is spikes (listed when the other is not binary)."""
    a, b = row["input_kind"], row.get("other_operand", "real")
    if a in R.SPIKE_KINDS or b in R.SPIKE_KINDS:
        if "ternary" in (a, b):
            return _note(row, R.NOTE_TERNARY, producers[0])
        other_side = b if a in R.SPIKE_KINDS else a
        if other_side == "integer":
            return _note(row, R.NOTE_INTEGER_ACC, producers[0])
        if other_side == "real":
            return _note(row, R.NOTE_REAL_ACC, producers[0])
        return None
    producers_b = _producers(row.get("producer_b", row.get("other_producer")))
    consumer = _label(row)
    walk_a = ctx.graph.find_maker(producers[0], consumer)
    walk_b = ctx.graph.find_maker(producers_b[0], consumer)
    extra = {"other_operand": b, "other_min": float(row.get("other_min", math.nan)),
             "other_max": float(row.get("other_max", math.nan)), "producer_b": producers_b[0],
             "chain": f"A: {_chain_text(walk_a, consumer)}; B: {_chain_text(walk_b, consumer)}"}
    return _violation(ctx, row, R.RULE_PRODUCT, producers[0], walk_a, walk_a.stop, extra)


# ---------------------------------------------------------------------------- non-synaptic ops
def _op_cost(ctx: Context, layer: str, op: str) -> tuple[float, float]:
    elements = ctx.other_elements.get((layer, op), float("nan"))
    return elements, ctx.e_mac * elements / PJ_PER_MJ


_OP_BASIS = "not in level-1 totals: output elements x E_MAC"


def check_other_ops(ctx: Context, other_ops: pd.DataFrame) -> list[Finding]:
    """Non-spike computations on the activation path (violations) and scalar scales into neurons (exceptions).

    With a provenance table, the activation path is its graph (ops computed from constants only, such as a
    BatchNorm's pad value, are not on it); without one, every non-spike op the profile lists counts."""
    out: list[Finding] = []
    g = ctx.graph
    for n in g.nodes.values():
        if not n.upstream:
            continue  # not on the activation path
        two_sided_division = n.op in R.DIVISIONS and len(n.upstream) >= 2
        non_spike = n.op in R.FUSED_NON_SPIKE or (n.category in ("other", "unsupported") and n.op in R.NON_SPIKE_OPS)
        if non_spike or (n.category == "other" and two_sided_division):
            out.append(_op_violation(ctx, n.layer, n.op, ";".join(n.upstream), n))
        elif n.category == "other" and n.op in R.SCALES and len(n.upstream) == 1 and _feeds_only_neurons(g, n.label):
            out.append(_scale_exception(ctx, n))
    if not ctx.has_provenance and other_ops is not None and len(other_ops):
        for layer, op in other_ops[["layer", "op"]].drop_duplicates().itertuples(index=False, name=None):
            if op in R.NON_SPIKE_OPS:
                out.append(_op_violation(ctx, layer, op, "", g.node(f"{layer}:{op}" if layer else op)))
    return out


def _feeds_only_neurons(g: ProvenanceGraph, label: str) -> bool:
    consumers = [c for c in g.consumers(label) if c != label]
    return bool(consumers) and all(g.node(c).is_spikes for c in consumers)


def _op_violation(ctx: Context, layer: str, op: str, producer: str, node: Node) -> Finding:
    elements, mJ = _op_cost(ctx, layer, op)
    return Finding("violations", {
        "layer": layer, "op": op, "index": -1, "input_kind": "", "input_min": math.nan, "input_max": math.nan,
        "producer": producer, "cause": node.label, "cause_op": op, "chain": ARROW.join([*node.upstream, node.label]),
        "rule": R.RULE_OP, "energy_mJ": mJ, "energy_at_stake_mJ": mJ, "energy_basis": _OP_BASIS,
        "fix": R.fix_for(R.RULE_OP, op, node.category)})


def _scale_exception(ctx: Context, n: Node) -> Finding:
    elements, mJ = _op_cost(ctx, n.layer, n.op)
    return Finding("exceptions", {
        "layer": n.layer, "op": n.op, "index": -1, "input_kind": "", "input_min": math.nan, "input_max": math.nan,
        "exception": R.EXC_THRESHOLD_SCALE, "reason": R.EXCEPTIONS[R.EXC_THRESHOLD_SCALE], "producer": n.upstream[0],
        "chain": ARROW.join([n.upstream[0], n.label, *ctx.graph.consumers(n.label)]), "macs": elements,
        "energy_mJ": mJ, "energy_share": mJ / ctx.total_mJ if ctx.total_mJ else math.nan,
        "energy_basis": _OP_BASIS})
