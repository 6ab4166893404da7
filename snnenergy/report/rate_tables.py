"""Firing-rate tables in the papers' format (``Report.rate_table``): per layer x time step, and per block with
one column per role (attention input, Q, K, V, attention, MLP), as a DataFrame, CSV or booktabs LaTeX.

Roles are read from the graph, not from layer names: within a block (the top-level module prefix up to the
block index, :func:`block_of`), the products of two activations are the attention. The first product whose two
operands are both neuron outputs is the first attention product P1; a later product P2 that consumes P1's
output (directly, or through non-synaptic ops and neurons) fixes the order: P1's output as P2's first operand
means (Q K^T) V, so P1's operands are Q and K and P2's other operand V; as P2's second operand it means
Q (K^T V), so P1's operands are K and V and P2's first operand Q. The attention module is the common module
prefix of the block's products: its other neurons are ``attn-in`` (called before Q/K/V) or ``attn`` (after);
neurons of the block outside it are ``pre`` (before it) or ``MLP 1``, ``MLP 2``, ... (after). A block without
products names each neuron by its path inside the block. A role held by several neurons is numbered.
Limitation: a block whose attention is a product of a neuron with a reduction of another (QKFormer's token
attention) has no P2; its P1 operands are taken as Q and K.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Iterable

import numpy as np
import pandas as pd

from .render import block_of

FORMATS = ("frame", "csv", "latex")
BY = ("layer", "block")
_INDEXED = re.compile(r"\.\d+$")


# ------------------------------------------------------------------------------------------- per layer
def step_columns(T: int) -> list[str]:
    return [f"t={t + 1}" for t in range(T)]


def layer_rate_frame(report, percent: bool = True) -> pd.DataFrame:
    """One row per neuron layer (network order): ``layer``, ``type``, ``neurons``, ``mean`` and one column per
    time step ``t=1 .. t=T`` (NaN for layers that do not run per step); in % when ``percent``."""
    n = report.neurons
    T = report.time_steps
    scale = 100.0 if percent else 1.0
    out = pd.DataFrame({"layer": n["layer"].astype(str).to_numpy() if not n.empty else [],
                        "type": n["type"].astype(str).to_numpy() if not n.empty else [],
                        "neurons": n["neurons"].to_numpy(np.float64) if not n.empty else []})
    out["mean"] = n["firing_rate"].to_numpy(np.float64) * scale if not n.empty else []
    for t, col in enumerate(step_columns(T)):
        src = f"rate_t{t}"
        out[col] = n[src].to_numpy(np.float64) * scale if src in n.columns else np.nan
    return out


# ------------------------------------------------------------------------------------------- roles
class _Graph:
    """Producer labels of the profile: which neuron or product an operand label comes from."""

    def __init__(self, report) -> None:
        self.inputs: dict[str, list[str]] = defaultdict(list)
        self.category: dict[str, str] = {}
        prov = report.provenance
        if not prov.empty:
            for node, cat, inp in zip(prov["node"].astype(str), prov["category"].astype(str),
                                      prov["input"].astype(str)):
                self.category[node] = cat
                if inp:
                    self.inputs[node].append(inp)
        self.neurons = {f"{layer}:spikes": layer for layer in report.neurons["layer"].astype(str)} \
            if not report.neurons.empty else {}

    def neuron_of(self, label: str) -> str | None:
        """The neuron layer whose spikes ``label`` carries, through non-synaptic ops (pooling, reshapes)."""
        seen, stack = set(), [label]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            if node in self.neurons:
                return self.neurons[node]
            if self.category.get(node) == "other":
                stack.extend(self.inputs.get(node, []))
        return None

    def reaches(self, label: str, target: str) -> bool:
        """Whether ``label`` depends on the node ``target`` through non-synaptic ops and neurons."""
        seen, stack = set(), [label]
        while stack:
            node = stack.pop()
            if node == target:
                return True
            if node in seen:
                continue
            seen.add(node)
            if node == label or self.category.get(node) in ("other", "neuron") or node in self.neurons:
                stack.extend(self.inputs.get(node, []))
        return False


def _first(label) -> str:
    """The main producer of an operand (``producer`` lists several, most frequent first, joined by ';')."""
    return str(label).split(";")[0] if isinstance(label, str) else ""


def _common_prefix(paths: Iterable[str]) -> str:
    split = [p.split(".") for p in paths]
    out = []
    for parts in zip(*split):
        if len(set(parts)) != 1:
            break
        out.append(parts[0])
    return ".".join(out)


def _qkv(products: pd.DataFrame, g: _Graph) -> dict[str, str]:
    """{neuron layer: "Q" | "K" | "V"} from the block's products (see the module docstring)."""
    rows = list(products.itertuples(index=False))
    for i, p1 in enumerate(rows):
        a1, b1 = g.neuron_of(_first(p1.producer)), g.neuron_of(_first(getattr(p1, "other_producer", "")))
        if a1 is None or b1 is None:
            continue
        label1 = f"{p1.layer}:{p1.op}"
        for p2 in rows[i + 1:]:
            pa, pb = _first(p2.producer), _first(getattr(p2, "other_producer", ""))
            if g.reaches(pa, label1):
                v = g.neuron_of(pb)
                return {a1: "Q", b1: "K", **({v: "V"} if v else {})}
            if g.reaches(pb, label1):
                q = g.neuron_of(pa)
                return {**({q: "Q"} if q else {}), a1: "K", b1: "V"}
        return {a1: "Q", b1: "K"}
    return {}


def _number(roles: list[str]) -> list[str]:
    """``["MLP", "MLP"] -> ["MLP 1", "MLP 2"]``; a role held once keeps its name."""
    total = defaultdict(int)
    for r in roles:
        total[r] += 1
    seen: dict[str, int] = defaultdict(int)
    out = []
    for r in roles:
        seen[r] += 1
        out.append(f"{r} {seen[r]}" if total[r] > 1 or r == "MLP" else r)
    return out


def block_roles(report) -> pd.DataFrame:
    """One row per neuron layer: ``layer``, ``block`` and its ``role`` within the block."""
    n = report.neurons
    if n.empty:
        return pd.DataFrame(columns=["layer", "block", "role"])
    g = _Graph(report)
    layers = report.layers
    products = layers[layers.get("other_operand", pd.Series("weight", index=layers.index)).astype(str) != "weight"] \
        if not layers.empty else layers
    names = n["layer"].astype(str).tolist()
    blocks = [block_of(x) for x in names]
    roles: dict[str, str] = {}
    for block in dict.fromkeys(blocks):
        members = [x for x, b in zip(names, blocks) if b == block]
        prods = products[products["layer"].astype(str).map(block_of) == block] if not products.empty else products
        qkv = _qkv(prods, g) if not prods.empty else {}
        if not qkv:
            for x in members:
                roles[x] = x[len(block) + 1:] if x.startswith(block + ".") else x
            continue
        attn = _common_prefix(prods["layer"].astype(str))
        inside = [x == attn or x.startswith(attn + ".") for x in members]
        first_qkv = min(members.index(x) for x in qkv if x in members)
        first_in = inside.index(True) if any(inside) else len(members)
        raw = []
        for k, (x, ins) in enumerate(zip(members, inside)):
            if x in qkv:
                raw.append(qkv[x])
            elif ins:
                raw.append("attn-in" if k < first_qkv else "attn")
            else:
                raw.append("pre" if k < first_in else "MLP")
        roles.update(zip(members, _number(raw)))
    return pd.DataFrame({"layer": names, "block": blocks, "role": [roles[x] for x in names]})


def numbered(blocks: pd.Series) -> pd.Series:
    """Whether each block is a numbered (repeated) one: ``block.3``, ``layer2.1``; not ``patch_embed``, ``block``."""
    return blocks.astype(str).str.contains(_INDEXED)


OUTSIDE_NUMBERED = "outside numbered blocks"


def layer_groups(report) -> tuple[list[str], str]:
    """A group per neuron layer (network order) and what the groups are, for a plot legend. A model with numbered
    blocks (``block.3``): the role of each layer within its numbered block, :data:`OUTSIDE_NUMBERED` for the
    others (stem, head); a model without them: the block of each layer (its top-level module, ``block_of``)."""
    roles = block_roles(report)
    if not len(roles):
        return [], "block"
    inside = numbered(roles["block"])
    if inside.any():
        return list(np.where(inside, roles["role"], OUTSIDE_NUMBERED)), "role in block"
    return list(roles["block"]), "block (top-level module)"


def block_rate_frame(report, percent: bool = True, blocks: str = "repeated") -> pd.DataFrame:
    """One row per block, one column per role (mean firing rate; % when ``percent``). ``blocks="repeated"``
    keeps the indexed blocks (``block.3``, ``layer2.1``) when the model has any; ``"all"`` keeps every one."""
    if blocks not in ("repeated", "all"):
        raise ValueError(f"blocks must be 'repeated' or 'all', got {blocks!r}")
    roles = block_roles(report)
    rates = report.neurons["firing_rate"].to_numpy(np.float64) * (100.0 if percent else 1.0) \
        if not report.neurons.empty else np.array([])
    roles["rate"] = rates
    if blocks == "repeated" and numbered(roles["block"]).any():
        roles = roles[numbered(roles["block"])]
    wide = roles.pivot_table(index="block", columns="role", values="rate", aggfunc="first", sort=False)
    wide = wide.reindex(index=list(dict.fromkeys(roles["block"])), columns=list(dict.fromkeys(roles["role"])))
    wide.columns.name = None
    return wide.reset_index()


# ------------------------------------------------------------------------------------------- rendering
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


def _cell(v, digits: int) -> str:
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "--"
        return f"{v:.{digits}f}"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):d}"
    return latex_escape(v)


def to_latex(frame: pd.DataFrame, caption: str, label: str, digits: int = 2,
             integer_columns: tuple[str, ...] = ("neurons",)) -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``): text columns left, numbers right,
    ``--`` for missing values."""
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    spec = "".join("r" if num else "l" for num in numeric)
    header = " & ".join(_header(c) for c in frame.columns)
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(caption)}}}", rf"\label{{{label}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule", header + r" \\", r"\midrule"]
    for row in frame.itertuples(index=False, name=None):
        cells = [(_cell(int(v), 0) if c in integer_columns and isinstance(v, (float, np.floating))
                  and not math.isnan(v) else _cell(v, digits)) for c, v in zip(frame.columns, row)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _header(col: str) -> str:
    m = re.fullmatch(r"t=(\d+)", col)
    return rf"$t{{=}}{m.group(1)}$" if m else latex_escape(col)


def rate_table(report, format: str = "frame", by: str = "layer", percent: bool = True, blocks: str = "repeated",
               digits: int = 2):
    """Firing rates of ``report`` per layer x time step (``by="layer"``) or per block x role (``by="block"``) as a
    DataFrame (``format="frame"``), CSV text or booktabs LaTeX text; in % when ``percent`` (the papers' unit)."""
    if format not in FORMATS:
        raise ValueError(f"rate_table format must be one of {', '.join(FORMATS)}, got {format!r}")
    if by not in BY:
        raise ValueError(f"rate_table by must be 'layer' (layer x time step) or 'block' (block x role), got {by!r}")
    frame = layer_rate_frame(report, percent) if by == "layer" else block_rate_frame(report, percent, blocks)
    if format == "frame":
        return frame
    if format == "csv":
        return frame.to_csv(index=False)
    unit = "%" if percent else "fraction"
    model = report.meta.get("model", "model")
    what = "per neuron layer and time step" if by == "layer" else "per block and role"
    weights = str(report.meta.get("weights", ""))
    caption = f"Firing rates ({unit}) of {model}, {what}, T = {report.time_steps}" + (
        f"; weights: {weights}" if weights else "") + "."
    label = "tab:rates-" + re.sub(r"[^A-Za-z0-9]+", "-", f"{model}-{by}").strip("-").lower()
    return to_latex(frame, caption, label, digits)
