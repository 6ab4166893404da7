"""Energy-per-operation presets (pJ) and user tables.

The 45 nm figures are Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014:
E_MAC = E_mul + E_add and E_AC = E_add for the given number format.

Chip presets (``presets/*.toml``: ``loihi``, ``truenorth``, ``spinnaker2``) carry a chip's published energy per
synaptic event and per neuron update instead; they price every synaptic op (AC or MAC) as one event and every
neuron update as one update, and say in ``leaves_out`` what their figures do not cover.
"""
from __future__ import annotations

import difflib
import json
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

HOROWITZ = "Horowitz, ISSCC 2014, 45 nm 0.9 V (E_MAC = mult + add, E_AC = add)"


@dataclass(frozen=True)
class EnergyPreset:
    """Energy per operation in picojoules. ``e_cmp`` (threshold compare) defaults to ``e_add``.

    ``word_bits``: width of a weight / membrane potential / real activation word (memory traffic at level 3).
    ``e_neuron``: energy of one neuron update (chip presets; op presets build it from add, multiply, compare).
    ``chip``: a chip preset (per-event figures that already include the chip's memory; no level 3).
    """

    name: str
    e_mac: float
    e_ac: float
    e_mul: float
    e_add: float
    source: str
    e_cmp: float | None = None
    word_bits: int = 32
    e_neuron: float | None = None
    chip: bool = False
    leaves_out: str = ""

    @property
    def compare(self) -> float:
        return self.e_add if self.e_cmp is None else self.e_cmp

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, EnergyPreset] = {
    "fp32": EnergyPreset("fp32", 4.6, 0.9, 3.7, 0.9, HOROWITZ + ": fp32 mult 3.7, add 0.9", word_bits=32),
    "fp16": EnergyPreset("fp16", 1.5, 0.4, 1.1, 0.4, HOROWITZ + ": fp16 mult 1.1, add 0.4", word_bits=16),
    "int32": EnergyPreset("int32", 3.2, 0.1, 3.1, 0.1, HOROWITZ + ": int32 mult 3.1, add 0.1", word_bits=32),
    "int8": EnergyPreset("int8", 0.23, 0.03, 0.2, 0.03, HOROWITZ + ": int8 mult 0.2, add 0.03", word_bits=8),
}
CHIP_DIR = Path(__file__).with_name("presets")
_ALIASES = {"45nm": "fp32", "45nm-fp32": "fp32", "45nm-fp16": "fp16", "45nm-int32": "int32", "45nm-int8": "int8"}
DEFAULT_PRESET = "fp32"


class EnergyTableError(ValueError):
    """A user energy table is malformed."""


def get_preset(preset: str | EnergyPreset | os.PathLike) -> EnergyPreset:
    """A built-in preset by name, an :class:`EnergyPreset`, or a user table from a ``.toml``/``.json`` file."""
    if isinstance(preset, EnergyPreset):
        return preset
    name = os.fspath(preset)
    key = _ALIASES.get(name, name)
    if key in PRESETS:
        return PRESETS[key]
    if name.endswith((".toml", ".json")):
        return load_table(name)
    close = difflib.get_close_matches(name, sorted(PRESETS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown energy preset {name!r}{hint}; use one of {', '.join(sorted(PRESETS))} or a path to "
                     "a .toml/.json energy table")


_REQUIRED = ("e_mac", "e_ac")
_CHIP_REQUIRED = ("e_synop", "e_neuron")


def load_table(path: str | os.PathLike) -> EnergyPreset:
    """Read a user energy table.

    Keys: ``e_mac`` and ``e_ac`` (pJ, required), ``e_mul``, ``e_add``, ``e_cmp`` (optional; ``e_add`` defaults
    to ``e_ac`` and ``e_mul`` to ``e_mac - e_add``), ``word_bits`` (memory word width, default 32), ``name`` and
    ``source`` (strings; the source is echoed in every report and is required so numbers stay traceable).
    A chip table has ``kind = "chip"``, ``e_synop`` (pJ per synaptic event), ``e_neuron`` (pJ per neuron
    update), ``source`` and optionally ``leaves_out`` (what the figures do not cover).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"energy table not found: {path}")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        if path.endswith(".toml"):
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            data = tomllib.loads(raw.decode())
        else:
            data = json.loads(raw)
    except Exception as e:  # noqa: BLE001 - report any parse error the same way
        raise EnergyTableError(f"{path}: cannot parse energy table: {e}") from e
    return table_from_dict(data, where=path)


def table_from_dict(data: dict, where: str = "energy table") -> EnergyPreset:
    """An :class:`EnergyPreset` from a table's keys (see :func:`load_table`), checked key by key."""
    if not isinstance(data, dict):
        raise EnergyTableError(f"{where}: expected a table of keys e_mac, e_ac, ... got {type(data).__name__}")
    chip = data.get("kind") == "chip"
    allowed = ({"name", "source", "kind", "e_synop", "e_neuron", "word_bits", "leaves_out"} if chip else
               {"name", "source", "kind", "e_mac", "e_ac", "e_mul", "e_add", "e_cmp", "word_bits"})
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise EnergyTableError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    if data.get("kind", "ops") not in ("ops", "chip"):
        raise EnergyTableError(f"{where}: kind must be 'ops' (per-operation energies) or 'chip', got {data['kind']!r}")
    missing = [k for k in (_CHIP_REQUIRED if chip else _REQUIRED) if k not in data]
    if missing:
        raise EnergyTableError(f"{where}: missing required key(s) {missing} (energies in pJ per operation)")
    if not isinstance(data.get("source"), str) or not data["source"].strip():
        raise EnergyTableError(f"{where}: 'source' (where the figures come from) is required and must be a string")
    values = {k: _energy(data[k], k, where) for k in ("e_mac", "e_ac", "e_mul", "e_add", "e_cmp", "e_synop",
                                                       "e_neuron") if k in data}
    bits = data.get("word_bits", 32)
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 64:
        raise EnergyTableError(f"{where}: word_bits must be an integer number of bits in 1..64, got {bits!r}")
    name = str(data.get("name", os.path.basename(where)))
    if chip:
        e = values["e_synop"]
        return EnergyPreset(name=name, e_mac=e, e_ac=e, e_mul=0.0, e_add=0.0, source=data["source"], e_cmp=0.0,
                            word_bits=bits, e_neuron=values["e_neuron"], chip=True,
                            leaves_out=str(data.get("leaves_out", "")))
    e_add = values.get("e_add", values["e_ac"])
    e_mul = values.get("e_mul", max(values["e_mac"] - e_add, 0.0))
    return EnergyPreset(
        name=name, e_mac=values["e_mac"], e_ac=values["e_ac"], e_mul=e_mul, e_add=e_add, source=data["source"],
        e_cmp=values.get("e_cmp"), word_bits=bits,
    )


def _energy(v, key: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise EnergyTableError(f"{where}: {key} must be a finite non-negative number of pJ, got {v!r}")
    return float(v)


def _load_chip_presets() -> None:
    for path in sorted(CHIP_DIR.glob("*.toml")):
        preset = load_table(path)
        PRESETS.setdefault(preset.name, preset)


_load_chip_presets()
