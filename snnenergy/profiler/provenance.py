"""Provenance: which op produced each activation, and the graph of producer → consumer edges.

Labels are kept per storage owner (a view's ``_base``), so views need no bookkeeping of their own: a reshape
of a neuron's spikes has that neuron as producer because it shares its base. A tensor is a weight when it
*is* a parameter or buffer of the model (or a view or copy of one), is computed from weights only (a
re-parameterised weight, ``self.scale.exp()``), or is a constant made in the forward, whatever argument
position it is passed in; everything computed from the input is an activation.
"""
from __future__ import annotations

import weakref

import torch
from torch import nn

INPUT = "<input>"
PARAMETER = "<parameter>"
CONSTANT = "<constant>"  # made in the forward from no tensor (torch.ones, arange, tensor literals)
UNKNOWN = "<unknown>"
_WEIGHT_LIKE = (PARAMETER, CONSTANT)

_PRUNE_MIN = 4_096  # entries before dead ones are first dropped; then twice the live ones (flat memory)


class Provenance:
    """Producer labels of live tensors, the model's weights, and the edges seen."""

    def __init__(self) -> None:
        self._labels: dict[int, tuple[weakref.ref, str]] = {}
        # the model's parameters and buffers by id, with a weak reference: an id outlives its tensor (a buffer
        # a forward replaces), and a new activation may get it
        self._weights: dict[int, weakref.ref] = {}
        self._prune_at = _PRUNE_MIN
        # node label -> (layer, op, category); (node, input label) edges in order of first appearance
        self.nodes: dict[str, tuple[str, str, str]] = {INPUT: ("", "input", "input")}
        self.edges: dict[tuple[str, str], None] = {}
        # what decides whether an op folds into a weighted neighbour: the sizes (other than 1) of the weight-like
        # operands of an "other" op on an activation (a scale's shape), and a weighted op's (in, out) features
        self.constant_sizes: dict[str, set[tuple[int, ...]]] = {}
        self.features: dict[str, set[tuple[int, int]]] = {}

    def add_weights(self, module: nn.Module) -> None:
        """Mark ``module``'s own parameters and buffers as weights."""
        for store in (module._parameters, module._buffers):
            self._weights.update((id(t), weakref.ref(t)) for t in store.values() if t is not None)

    def set(self, t: torch.Tensor, producer: str) -> None:
        base = t._base
        if base is None:
            base = t
        self._labels[id(base)] = (weakref.ref(base), producer)
        if len(self._labels) > self._prune_at:
            self._labels = {k: v for k, v in self._labels.items() if v[0]() is not None}
            self._prune_at = max(_PRUNE_MIN, 2 * len(self._labels))

    def producer(self, t: torch.Tensor) -> str:
        base = t._base
        if base is None:
            base = t
        weight = self._weights.get(id(base))
        if weight is not None and weight() is base:
            return PARAMETER
        entry = self._labels.get(id(base))
        if entry is not None and entry[0]() is base:
            return entry[1]
        # a parameter the model does not hold (checked last: Parameter's isinstance runs in Python)
        return PARAMETER if isinstance(t, nn.Parameter) else UNKNOWN

    def is_weight(self, t: torch.Tensor) -> bool:
        return self.producer(t) in _WEIGHT_LIKE

    def node(self, label: str, layer: str, op: str, category: str, inputs) -> bool:
        """Record node ``label`` (made by ``op`` in ``layer``) and an edge from each activation in ``inputs``;
        returns whether ``inputs`` held tensors and every one was a weight (the output is then a weight too).
        An "other" op on activations also records the shapes of its weight-like operands (a scale's)."""
        found = seen = False
        constants = None
        for t in inputs:
            seen = True
            p = self.producer(t)
            if p not in _WEIGHT_LIKE:
                found = True
                self.edges[(label, p)] = None
            elif category == "other":
                if constants is None:
                    constants = []
                constants.append(t.shape)
        if not seen or found:
            if label not in self.nodes:
                self.nodes[label] = (layer, op, category)
            if not found:
                self.edges.setdefault((label, ""), None)
            elif constants is not None:
                sizes = self.constant_sizes.setdefault(label, set())
                sizes.update(tuple(n for n in shape if n != 1) for shape in constants)
        return seen and not found

    def set_features(self, label: str, in_features: int, out_features: int) -> None:
        """Record that weighted op ``label`` maps ``in_features`` input features to ``out_features``."""
        self.features.setdefault(label, set()).add((in_features, out_features))

    def clear_tensors(self) -> None:
        """Forget the tensors seen (labels and the model's weights); the nodes and edges stay."""
        self._labels.clear()
        self._weights = {}

    def edge_rows(self) -> list[tuple[str, str, str, str, str, str, str]]:
        """``(node, layer, op, category, input, constant_sizes, features)`` per distinct edge (nodes without
        activation inputs: input ""). ``constant_sizes``: the sizes other than 1 of the node's weight-like
        operands, ``4x4`` (a scalar or none: ""; several shapes ``;``-separated); ``features``: a weighted op's
        input and output features, ``64>128``."""
        rows = [(INPUT, "", "input", "input", "", "", "")]
        with_inputs = {node for node, inp in self.edges if inp}
        for node, inp in self.edges:
            if not inp and node in with_inputs:
                continue
            layer, op, cat = self.nodes.get(node, ("", node, "other"))
            rows.append((node, layer, op, cat, inp, _sizes_text(self.constant_sizes.get(node, ())),
                         ";".join(f"{i}>{o}" for i, o in sorted(self.features.get(node, ())))))
        return rows


def tensors_in(args, kwargs):
    """The tensors among an op's ``args`` (and lists of them, e.g. einsum's or cat's) and ``kwargs`` values."""
    for a in args:
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            for t in a:
                if isinstance(t, torch.Tensor):
                    yield t
    for a in kwargs.values():
        if isinstance(a, torch.Tensor):
            yield a


def _sizes_text(shapes) -> str:
    """``4x4;8`` for the shapes (4, 4) and (8,); a scalar's () adds nothing."""
    return ";".join(sorted({"x".join(map(str, s)) for s in shapes if s}))
