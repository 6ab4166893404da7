"""The provenance graph of a profile and the walks the audit takes back along it.

Nodes are producer labels exactly as the report's ``provenance`` table gives them (``block.0:add``,
``stem.lif:spikes``, ``stage1.conv:conv2d``, ``<input>``): one node per (module, op), so two adds in one
module's forward are one node, and a stream that passes one module twice makes a cycle. Every walk keeps a
visited set. Shape-only ops are not nodes (their outputs carry their input's label).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from .rules import (ENCODER_PASS, FOLDABLE_SCALES, INPUT, JOINS, KIND_PRESERVING, LINEAR_ONE_INPUT, POOLING, SCALES,
                    UNKNOWN, WEIGHTED)

PROVENANCE_COLUMNS = ("node", "layer", "op", "category", "input")
FOLD_COLUMNS = ("constant_sizes", "features")  # optional: tables written before they existed lack them
_POOLED_PASS = POOLING | KIND_PRESERVING | SCALES


@dataclass(frozen=True)
class Node:
    """One producer: its label, module path, op name, category and the labels of its activation inputs."""

    label: str
    layer: str
    op: str
    category: str  # "synaptic", "other", "neuron", "input", "unsupported" or "unknown" (not in the table)
    inputs: tuple[str, ...] = ()
    # the inputs a walk follows: activations only (inputs derived from constants or of unknown origin are
    # dropped), and no self-edge (an op applied to its own output, e.g. two means in one module) except for
    # joins, where a self-edge is a stream added to itself again
    upstream: tuple[str, ...] = ()
    active: bool = False  # on the activation path: reachable from the raw input
    # the sizes other than 1 of the op's constant operands (a scale's shape; () for a scalar) and a weighted op's
    # (in, out) features, from the provenance table; None where the table does not say
    constant_sizes: tuple[tuple[int, ...], ...] | None = None
    features: tuple[tuple[int, int], ...] | None = None

    @property
    def is_varying_scale(self) -> bool:
        """A scale (or BatchNorm) whose constant varies along some dim: it folds into a weighted neighbour only
        along that neighbour's features."""
        return self.category == "other" and self.op in FOLDABLE_SCALES and any(self.constant_sizes or ())

    def in_features(self) -> set[int] | None:
        return None if self.features is None else {i for i, _ in self.features}

    def out_features(self) -> set[int] | None:
        return None if self.features is None else {o for _, o in self.features}

    @property
    def is_spikes(self) -> bool:
        return self.category == "neuron"

    @property
    def is_input(self) -> bool:
        return self.category == "input" or self.label == INPUT


@dataclass
class Walk:
    """The result of a walk back from a consumer: where it stopped and the nodes passed (consumer side last)."""

    stop: Node
    chain: list[Node] = field(default_factory=list)  # from ``stop`` to the consumer's producer
    ok: bool = True

    def labels(self) -> list[str]:
        return [n.label for n in self.chain]


def _upstream(n: Node, active: set[str]) -> tuple[str, ...]:
    return tuple(i for i in n.inputs if i in active and (i != n.label or n.op in JOINS))


def _parse_sizes(cell, sep: str) -> tuple[tuple[int, ...], ...]:
    """``"4x4;8"`` -> ((4, 4), (8,)) (``sep`` "x"); ``"64>128"`` -> ((64, 128),) (``sep`` ">"); empty -> ()."""
    if not isinstance(cell, str) or not cell:
        return ()
    return tuple(tuple(int(n) for n in part.split(sep)) for part in cell.split(";") if part)


def _fold_fields(sizes: tuple | None) -> dict:
    """Node fields from parsed fold columns; a table without them leaves the sizes unknown (None)."""
    if sizes is None:
        return {"constant_sizes": None, "features": None}
    return {"constant_sizes": sizes[0], "features": sizes[1]}


def _split_label(label: str) -> tuple[str, str]:
    layer, sep, op = label.rpartition(":")
    return (layer, op) if sep else ("", label)


class ProvenanceGraph:
    """Producer -> consumer edges of one profile (see the report's ``provenance`` table)."""

    def __init__(self, nodes: dict[str, Node]) -> None:
        self._consumers: dict[str, list[str]] = {}
        for n in nodes.values():
            for i in n.inputs:
                self._consumers.setdefault(i, []).append(n.label)
        active = self._reachable_from(INPUT)
        self.nodes = {k: replace(n, active=k in active, upstream=_upstream(n, active)) for k, n in nodes.items()}
        self._downstream: dict[str, frozenset[str]] = {}

    def _reachable_from(self, label: str) -> set[str]:
        seen, todo = set(), [label]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(self._consumers.get(n, ()))
        return seen

    @classmethod
    def from_table(cls, table: pd.DataFrame | None) -> "ProvenanceGraph":
        """Build from a provenance table (columns ``node, layer, op, category, input``)."""
        if table is None or len(table) == 0:
            return cls({INPUT: Node(INPUT, "", "input", "input")})
        missing = [c for c in PROVENANCE_COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"provenance table lacks columns {missing}; expected {list(PROVENANCE_COLUMNS)}")
        info: dict[str, tuple[str, str, str]] = {}
        inputs: dict[str, list[str]] = {}
        fold: dict[str, tuple] = {}
        fold_columns = [c for c in FOLD_COLUMNS if c in table.columns]
        for node, layer, op, cat, inp, *sizes in table[[*PROVENANCE_COLUMNS, *fold_columns]].itertuples(
                index=False, name=None):
            info.setdefault(node, (str(layer), str(op), str(cat)))
            ins = inputs.setdefault(node, [])
            if isinstance(inp, str) and inp and inp not in ins:
                ins.append(inp)
            if len(sizes) == len(FOLD_COLUMNS) and node not in fold:
                fold[node] = (_parse_sizes(sizes[0], "x"), _parse_sizes(sizes[1], ">"))
        nodes = {k: Node(k, *info[k], tuple(inputs[k]), **_fold_fields(fold.get(k))) for k in info}
        nodes.setdefault(INPUT, Node(INPUT, "", "input", "input"))
        return cls(nodes)

    def node(self, label: str) -> Node:
        """The node ``label``; a label the table lacks is an ``unknown`` node with no inputs."""
        n = self.nodes.get(label)
        if n is not None:
            return n
        if label == INPUT:
            return Node(INPUT, "", "input", "input")
        layer, op = _split_label(label)
        return Node(label, layer, op if label != UNKNOWN else "unknown", "unknown")

    def _feeding(self, n: Node, excluded: frozenset[str]) -> tuple[str, ...]:
        """The inputs of ``n`` a walk back from a consumer follows. One node stands for every call of its op in
        its module, so a single-input op (a mean, a BatchNorm) can list inputs of several calls; those that lie
        downstream of the consumer (``excluded``) belong to a later call and cannot have fed it. Joins keep all
        their inputs (a stream fed back through an add is still a join)."""
        if n.op in JOINS or not excluded:
            return n.upstream
        return tuple(i for i in n.upstream if i not in excluded)

    def downstream(self, label: str | None) -> frozenset[str]:
        """``label`` and every node reachable from it (empty for None)."""
        if label is None:
            return frozenset()
        found = self._downstream.get(label)
        if found is None:
            found = self._downstream[label] = frozenset(self._reachable_from(label))
        return found

    def consumers(self, label: str) -> list[str]:
        return self._consumers.get(label, [])

    def reaches_synaptic(self, label: str) -> bool:
        """Whether any synaptic op lies downstream of ``label``."""
        seen, todo = {label}, list(self.consumers(label))
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            if self.node(n).category == "synaptic":
                return True
            todo.extend(self.consumers(n))
        return False

    # ------------------------------------------------------------------------------------------ walks
    def find_maker(self, start: str, consumer: str | None = None) -> Walk:
        """Walk back from ``start`` through ops that cannot make spikes non-binary (max pooling, clamps...):
        the node where the walk stops is the op that made the values (an add, a pooling, a neuron...)."""
        chain, seen, excluded = [], set(), self.downstream(consumer)
        n = self.node(start)
        while n.category == "other" and n.op in KIND_PRESERVING and self._feeding(n, excluded) and n.label not in seen:
            seen.add(n.label)
            chain.append(n)
            feeding = self._feeding(n, excluded)
            n = self.node(next((i for i in feeding if i not in seen), feeding[0]))
        return Walk(n, [n] + chain[::-1])

    def sources_through(self, start: str, passable: frozenset[str], consumer: str | None = None
                        ) -> tuple[list[Node], list[Node]]:
        """All nodes reached walking back from ``start`` through "other" ops in ``passable``: (the first nodes
        not passable on each path, the passable nodes walked)."""
        sources, passed, seen, todo = [], [], set(), [start]
        excluded = self.downstream(consumer)
        while todo:
            label = todo.pop()
            if label in seen:
                continue
            seen.add(label)
            n = self.node(label)
            feeding = self._feeding(n, excluded)
            if n.category == "other" and n.op in passable and feeding:
                passed.append(n)
                todo.extend(feeding)
            else:
                sources.append(n)
        return sources, passed

    def encoder_walk(self, start: str, consumer: str | None = None) -> Walk | None:
        """A walk from the raw input to ``start`` through shape-only, BatchNorm and pooling ops, or None."""
        sources, passed = self.sources_through(start, ENCODER_PASS, consumer)
        if sources and all(s.is_input for s in sources):
            return Walk(sources[0], [sources[0]] + passed[::-1])
        return None

    def pooled_walk(self, start: str, consumer: str | None = None) -> Walk | None:
        """A walk back from ``start`` through one or more pooling ops (and scalar scales, max/clamp ops: a mean
        written as sum / n) on a single path: stops at the pooled tensor's producer; None when no pooling lies
        directly before ``start``."""
        chain, seen, pooled, excluded = [], set(), False, self.downstream(consumer)
        n = self.node(start)
        while (n.category == "other" and n.op in _POOLED_PASS and len(self._feeding(n, excluded)) == 1
               and n.label not in seen):
            seen.add(n.label)
            pooled = pooled or n.op in POOLING
            chain.append(n)
            n = self.node(self._feeding(n, excluded)[0])
        if not pooled:
            return None
        return Walk(n, [n] + chain[::-1])

    def linear_chain(self, start: str, consumer: str | None = None) -> Walk:
        """Walk back from ``start`` along one path of linear ops (weighted ops, BatchNorm, pooling, scales and
        shifts) to a spike tensor or the raw input. ``ok`` is False when the walk meets a join (two activation
        inputs, or a stream meeting itself), a non-linear op or an unknown producer: ``stop`` is then that
        node. Max pooling and clamps count only while they act on spikes, i.e. upstream of every linear op. A
        scale that varies along some dim (a per-channel BatchNorm, a learned gate) folds only into a weighted
        op next to it on the path along that op's features: the input features of the next one downstream,
        or the output features of the previous one upstream (:func:`_folds_along`); else the walk stops there."""
        chain, seen, acting_on_spikes = [], set(), None  # the max pool / clamp that must see spikes, if any
        excluded = self.downstream(consumer)
        downstream_in = self.node(consumer).in_features() if consumer is not None else None
        unfolded: list[Node] = []  # varying scales not folded downstream: the next weighted op upstream must take them
        n = self.node(start)
        while True:
            if n.is_spikes or n.is_input:
                if unfolded:
                    return self._stopped_at(chain, unfolded[0])
                return Walk(n, [n] + chain[::-1], ok=True)
            feeding = self._feeding(n, excluded)
            if n.label in seen or len(feeding) != 1:
                return Walk(n, [n] + chain[::-1], ok=False)
            weighted = n.category == "synaptic" and n.op in WEIGHTED
            linear = weighted or (n.category == "other" and n.op in LINEAR_ONE_INPUT)
            preserving = n.category == "other" and n.op in KIND_PRESERVING
            if linear and acting_on_spikes is not None:  # that max pool acts on real values: not linear
                return self._stopped_at(chain, acting_on_spikes)
            if not (linear or preserving):
                return Walk(n, [n] + chain[::-1], ok=False)
            if preserving and acting_on_spikes is None:
                acting_on_spikes = n
            seen.add(n.label)
            chain.append(n)
            if weighted:
                out_features = n.out_features()
                left = [u for u in unfolded if not _folds_along(u, out_features)]
                if left:
                    return self._stopped_at(chain, left[0])
                unfolded, downstream_in = [], n.in_features()
            elif n.is_varying_scale and not _folds_along(n, downstream_in):
                unfolded.append(n)
            n = self.node(feeding[0])

    @staticmethod
    def _stopped_at(chain: list[Node], node: Node) -> Walk:
        """A failed walk whose stop is ``node``, one of the nodes passed (``chain``, consumer side first)."""
        i = chain.index(node)
        return Walk(node, chain[i::-1], ok=False)


def _folds_along(scale: Node, features: set[int] | None) -> bool:
    """Whether ``scale``'s constant varies along one dim only, of a size in ``features`` (a weighted op's input
    or output features, None when unknown): a per-feature scale folds into that op's weights, one that varies
    along positions or tokens, where the op shares its weights, does not."""
    if scale.constant_sizes is None:
        return True  # a table without the sizes: the rule as before them
    shapes = [s for s in scale.constant_sizes if s]
    if not shapes:
        return True
    return features is not None and all(len(s) == 1 and s[0] in features for s in shapes)
