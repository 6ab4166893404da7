"""Model registry: ``create_model(name)``, ``list_models()``, ``model_card(name)``.

Each family module registers its configs as data (a :class:`ModelCard` plus a factory) with
:func:`register_model`; aliases map short names to full ones. Modelled on timm's registry.
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from torch import nn


@dataclass
class ModelCard:
    """Facts about one registered configuration.

    ``published`` holds numbers from the papers and official logs (each with its ``source``); they are
    reference values, never computed results. ``unused_keys`` lists official state_dict entries that the
    forward pass never uses (glob patterns allowed, e.g. ``block.*.norm1.weight``); ``load_checkpoint``
    skips them and reports them.
    """

    name: str
    family: str
    paper: str
    dataset: str
    input_shape: tuple[int, ...]  # one sample, without batch (and without T for static inputs)
    time_steps: int
    num_classes: int
    neuron: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)
    unused_keys: list[str] = field(default_factory=list)
    official_params: int | None = None  # sum of official model.parameters(), unused ones included
    notes: str = ""
    input_kind: str = "image"  # "image" (static, repeated over T inside the model) or "events" ([T, 2, H, W])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Entry:
    card: ModelCard
    factory: Callable[..., nn.Module]


_REGISTRY: dict[str, _Entry] = {}
_ALIASES: dict[str, str] = {}


def register_model(card: ModelCard, factory: Callable[..., nn.Module]) -> None:
    """Register ``factory(**card.config, **overrides)`` under ``card.name``."""
    if card.name in _REGISTRY or card.name in _ALIASES:
        raise ValueError(f"model {card.name!r} is registered twice")
    _REGISTRY[card.name] = _Entry(card, factory)


def register_alias(alias: str, target: str) -> None:
    """Make ``alias`` resolve to the registered model ``target``."""
    if alias in _REGISTRY:
        raise ValueError(f"alias {alias!r} shadows a registered model")
    _ALIASES[alias] = target


def _ensure_loaded() -> None:
    # importing the package registers every family
    from . import _families  # noqa: F401


def resolve_name(name: str) -> str:
    """Full registered name for ``name`` (an alias or a name); a clear error with close matches otherwise."""
    _ensure_loaded()
    if name in _ALIASES:
        name = _ALIASES[name]
    if name not in _REGISTRY:
        known = list(_REGISTRY) + list(_ALIASES)
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}.{hint} `snnenergy models` lists all {len(_REGISTRY)} models.")
    return name


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names (sorted), optionally filtered by a glob ``pattern``."""
    import fnmatch

    _ensure_loaded()
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def list_aliases() -> dict[str, str]:
    _ensure_loaded()
    return dict(_ALIASES)


def model_card(name: str) -> ModelCard:
    """The :class:`ModelCard` of a registered model or alias."""
    return _REGISTRY[resolve_name(name)].card


def create_model(name: str, ann: bool = False, **overrides: Any) -> nn.Module:
    """Build a registered model.

    ``overrides`` replace entries of the card's config (e.g. ``num_classes=10``, ``time_steps=2``).
    ``ann=True`` returns the ANN counterpart: the same graph with every spiking neuron replaced by its
    ANN activation and one time step (see :func:`snnenergy.models.ann.to_ann`).
    """
    entry = _REGISTRY[resolve_name(name)]
    config = dict(entry.card.config)
    unknown = set(overrides) - set(config)
    if unknown:
        raise TypeError(
            f"unknown override(s) {sorted(unknown)} for model {entry.card.name!r}; "
            f"valid: {sorted(config)}"
        )
    config.update(overrides)
    model = entry.factory(**config)
    model.model_card = entry.card  # type: ignore[attr-defined]
    if ann:
        from .ann import to_ann

        model = to_ann(model)
    return model
