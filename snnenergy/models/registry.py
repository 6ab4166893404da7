"""Model registry: ``create_model(name)``, ``list_models()``, ``model_card(name)``.

Each family module registers its configs as data (a :class:`ModelCard` plus a factory) with
:func:`register_model`; aliases map short names to full ones. Modelled on timm's registry.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from torch import nn

#: One spelling per dataset: the identifiers used in the zoo's model names (``spikformer-4-384-cifar10``).
#: Register-time spellings are reduced to lower-case letters and digits and mapped here.
DATASETS: dict[str, str] = {
    "imagenet": "ImageNet-1k (ILSVRC 2012)",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "cifar10dvs": "CIFAR10-DVS (event camera recordings of CIFAR-10)",
    "dvs128": "DVS128 Gesture (event camera recordings of 11 gestures)",
    "scifar10": "sequential CIFAR-10 (the image read column by column)",
    "scifar100": "sequential CIFAR-100 (the image read column by column)",
}
_DATASET_SPELLINGS = {"imagenet1k": "imagenet", "dvs128gesture": "dvs128", "sequentialcifar10": "scifar10",
                      "sequentialcifar100": "scifar100"}


def canonical_dataset(name: str) -> str:
    """The zoo's one identifier for a dataset spelling (``ImageNet-1k`` -> ``imagenet``)."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    key = _DATASET_SPELLINGS.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return key


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
    card.dataset = canonical_dataset(card.dataset)
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


def create_model(name: str, ann: bool = False, *, seed: int | None = 0, fused: bool = False,
                 **overrides: Any) -> nn.Module:
    """Build a registered model.

    ``overrides`` replace entries of the card's config (e.g. ``num_classes=10``, ``time_steps=2``).
    ``seed``: the untrained weights are drawn from a generator seeded with it (default 0), so the same call
    builds the same model every time; the global random state is left untouched. ``None`` draws from the
    global random state instead.
    ``fused=True`` returns the inference-fused model for families that define ``fuse()`` (Meta-SpikeFormer:
    BatchNorm and re-parameterisable chains folded into the convolutions).
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
    if seed is None:
        model = entry.factory(**config)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = entry.factory(**config)
    model.model_card = entry.card  # type: ignore[attr-defined]
    if fused:
        model = fuse_model(model)
    if ann:
        from .ann import to_ann

        model = to_ann(model)
    return model


def fuse_model(model: nn.Module) -> nn.Module:
    """``model.fuse()`` (a new, fused copy), keeping its model card; a clear error for models without one."""
    if not callable(getattr(model, "fuse", None)):
        card = getattr(model, "model_card", None)
        label = card.name if card is not None else type(model).__name__
        families = ", ".join(fusable_families()) or "none"
        raise TypeError(f"{label} has no fuse(); families with an inference fusion: {families}")
    card = getattr(model, "model_card", None)
    fused = model.fuse()
    if card is not None:
        fused.model_card = card  # type: ignore[attr-defined]
    return fused


def fusable_families() -> list[str]:
    """Families whose model class defines ``fuse()`` (read from the factories' return annotations)."""
    import typing

    _ensure_loaded()
    out = set()
    for entry in _REGISTRY.values():
        factory = entry.factory
        try:
            cls = factory if isinstance(factory, type) else typing.get_type_hints(factory).get("return")
        except Exception:  # an unresolvable annotation: not known to fuse
            cls = None
        if isinstance(cls, type) and callable(getattr(cls, "fuse", None)):
            out.add(entry.card.family)
    return sorted(out)
