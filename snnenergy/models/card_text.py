"""A model card as readable text: labelled, wrapped lines, published figures marked as reference values."""
from __future__ import annotations

from typing import Any

from ..wrapping import KEEP, wrap
from .registry import DATASETS, ModelCard

# key prefix of a published figure -> (label, unit)
_FIGURES = {"params_M": ("params", " M"), "sops_G": ("SOPs", " G"), "energy_mJ": ("energy", " mJ"),
            "top1": ("top-1", " %"), "top5": ("top-5", " %")}


def _figure(key: str, v: Any) -> str:
    """``energy_mJ_log`` 7.46 -> ``energy (log) 7.46 mJ``; dicts are counted, not printed."""
    label, unit = key.replace("_", " "), ""
    for prefix, (name, u) in _FIGURES.items():
        if key.startswith(prefix):
            rest = key[len(prefix):].strip("_").replace("_", " ")
            label, unit = (f"{name} ({rest})" if rest else name), u
            break
    if isinstance(v, dict):
        return f"{label.replace('_', ' ')}: {len(v)} values (model_card(name).published[{key!r}])"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{label} {v:g}{unit}"
    if isinstance(v, (list, tuple)):
        return f"{label} " + ", ".join(map(str, v))
    return f"{label} {v}"


def _field(label: str, text: str, width: int) -> list[str]:
    head = f"  {label + ':':<12}"
    return wrap(text, width, initial_indent=head, subsequent_indent=" " * len(head),
                break_on_hyphens=False) or [head.rstrip()]


def published_text(published: dict[str, Any]) -> tuple[str, str]:
    """(``key value; ...`` for every published figure, the source) of a card's ``published`` dict."""
    figures = "; ".join(_figure(k, v) for k, v in published.items()
                        if not k.endswith("source") and not k.endswith("note"))
    notes = "; ".join(str(v) for k, v in published.items() if k.endswith("source") or k.endswith("note"))
    return figures, notes


def card_text(card: ModelCard, width: int = 100) -> str:
    """The card as lines no wider than ``width``."""
    shape = " x ".join(map(str, card.input_shape))
    kind = "event frames (T, polarity, H, W)" if card.input_kind == "events" else "image (C, H, W)"
    lines = [f"{card.name}  ({card.family})"]
    lines += _field("paper", card.paper, width)
    lines += _field("dataset", f"{card.dataset}: {DATASETS.get(card.dataset, card.dataset)}; "
                               f"{card.num_classes} classes", width)
    lines += _field("input", f"{shape} {kind}; T = {card.time_steps}", width)
    if card.neuron:
        lines += _field("neuron", card.neuron, width)
    if card.config:
        lines += _field("config", ", ".join(f"{k}={v}" for k, v in card.config.items()), width)
    if card.published:
        figures, source = published_text(card.published)
        # a wrap keeps each figure whole ("top-1 77.07 %"), breaking only between figures
        figures = "; ".join(f.replace(" ", KEEP) for f in figures.split("; ")) if figures else \
            "none found (see the source)"
        lines += _field("published", f"(reference values from the source, not computed by snnenergy) {figures}",
                        width)
        if source:
            lines += _field("source", source, width)
    if card.official_params is not None:
        lines += _field("parameters", f"{card.official_params:,} in the official model (unused ones included)",
                        width)
    if card.unused_keys:
        lines += _field("unused", "official tensors the forward pass never uses (skipped on load): "
                        + ", ".join(card.unused_keys), width)
    if card.notes:
        lines += _field("notes", card.notes, width)
    return "\n".join(lines)
