"""Level 3: memory access and addressing (Lemaire et al., ICONIP 2022, arXiv 2210.13107), per site and neuron layer.

Counts follow Lemaire et al.'s analytical model (equation numbers of the paper, as in Qualia's implementation):

SNN, a synaptic site driven by events (spikes; integers under ``integer_as="ac"/"spikes"``) with O synaptic
events (the exact effective count) from θ input events:
  weight reads O (7f), membrane potential reads O and writes O (9, 14: the per-step T·N part is the neuron
  layer's, below), input reads θ from a FIFO (5), bias reads one per output and step (the profile's bias ops),
  addressing O accumulates (16.3) plus, for convolutions, 2·θ multiply-accumulates (16.2).
SNN, a site with dense (real-valued; integer under ``"mac"``) inputs and D MACs, as a formal layer per step:
  weight reads D, input reads D (3, 6.1f: no reuse), bias reads, output writes one per output (11),
  addressing N_in + N_out + |W| accumulates for convolutions (Lemaire: C_in·H·W + C_out·H'·W' + C_out·k²; the
  profile does not carry C_in, so |W| ≥ C_out·k² stands in, an upper bound) or D for other ops.
SNN neuron layer: per neuron and step one potential read and one write (Lemaire's T·N terms), one 1-bit output
  write per spike (13).
ANN/QNN (T = 1, every site dense): the formal-layer counts above once.

Energy per access (pJ), by the memory's size in bits and the word width read:
  ``"packed"`` (default): Horowitz ISSCC 2014, 64-bit SRAM reads of 10 / 20 / 100 pJ at 8 KiB / 32 KiB / 1 MiB,
    interpolated linearly in size (held at 10 pJ below 8 KiB and 100 pJ above 1 MiB), times bits/64 (words
    packed per 64-bit access; Qualia's "new" T. Louis model at 8 KiB);
  ``"lemaire"``: Lemaire et al.'s linear fit of the same points, 1.09e-5 × size_bits + 13.2 pJ per access,
    whatever the width (Qualia's "old" ICONIP model).
Memories are sized by what they hold (a site's weights, its output potentials, its input and output activations
per step; the other operand of an activation × activation product is sized like the input), or all at one SRAM of
``sram_kib``. With ``dram=True`` weights larger than the SRAM (``sram_kib``, else 1 MiB) are read from DRAM at
1300 pJ per 64-bit word (Horowitz: 1.3-2.6 nJ; the lower bound, also SpikingJelly's NeuroMC constant).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

KIB_BITS = 8 * 1024
SRAM_SIZES_BITS = np.array([8 * KIB_BITS, 32 * KIB_BITS, 1024 * KIB_BITS], dtype=np.float64)
SRAM_PJ_PER_64BIT = np.array([10.0, 20.0, 100.0])
DRAM_PJ_PER_64BIT = 1300.0
LEMAIRE_PJ_PER_BIT_OF_SIZE = 1.09e-5
LEMAIRE_PJ_OFFSET = 13.2
SRAM_MODELS = ("packed", "lemaire")
HOROWITZ_MEMORY = ("Horowitz ISSCC 2014 (45 nm): 64-bit SRAM read 10 pJ (8 KiB), 20 pJ (32 KiB), 100 pJ (1 MiB); "
                   "DRAM 1.3-2.6 nJ per 64 bits")

SNN_COUNTS = ["weight_reads", "potential_reads", "potential_writes", "input_reads", "bias_reads", "output_writes",
              "addressing_acc", "addressing_mac"]
ANN_COUNTS = ["ann_weight_reads", "ann_input_reads", "ann_bias_reads", "ann_output_writes", "ann_addressing_acc"]


@dataclass(frozen=True)
class MemoryModel:
    """How a memory access is priced at level 3 (see the module docstring)."""

    sram_kib: float | None = None
    dram: bool = False
    sram_model: str = "packed"

    def __post_init__(self) -> None:
        if self.sram_model not in SRAM_MODELS:
            raise ValueError(f"sram_model must be one of {SRAM_MODELS}, got {self.sram_model!r}")
        if self.sram_kib is not None and (isinstance(self.sram_kib, bool) or not self.sram_kib > 0):
            raise ValueError(f"sram_kib must be a positive SRAM size in KiB, got {self.sram_kib!r}")

    @property
    def sram_bits(self) -> float:
        """The size weights must fit in to stay on chip (``sram_kib``, else Horowitz's largest SRAM, 1 MiB)."""
        return float(self.sram_kib) * KIB_BITS if self.sram_kib is not None else float(SRAM_SIZES_BITS[-1])

    def access_pj(self, size_bits, bits) -> np.ndarray:
        """Energy of one access of ``bits`` bits to an SRAM holding ``size_bits`` (or the ``sram_kib`` SRAM)."""
        size = np.full(np.shape(size_bits), self.sram_bits) if self.sram_kib is not None else np.asarray(
            size_bits, dtype=np.float64)
        if self.sram_model == "lemaire":
            return LEMAIRE_PJ_PER_BIT_OF_SIZE * size + LEMAIRE_PJ_OFFSET + 0.0 * np.asarray(bits, dtype=np.float64)
        return np.interp(size, SRAM_SIZES_BITS, SRAM_PJ_PER_64BIT) * np.asarray(bits, dtype=np.float64) / 64.0

    def weight_access_pj(self, size_bits, bits) -> np.ndarray:
        """Like :meth:`access_pj`, from DRAM where ``dram`` is set and the weights do not fit the SRAM."""
        sram = self.access_pj(size_bits, bits)
        if not self.dram:
            return sram
        dram = DRAM_PJ_PER_64BIT * np.asarray(bits, dtype=np.float64) / 64.0
        return np.where(np.asarray(size_bits, dtype=np.float64) > self.sram_bits, dram, sram)

    def describe(self) -> list[str]:
        where = (f"one {self.sram_kib:g} KiB SRAM for every memory" if self.sram_kib is not None
                 else "each memory sized by its contents (weights, potentials, activations per step)")
        if self.sram_model == "packed":
            cost = ("SRAM per access = E64(size) × bits/64, E64 linear in size through (8 KiB, 10 pJ), "
                    "(32 KiB, 20 pJ), (1 MiB, 100 pJ), held outside (Horowitz ISSCC 2014, 45 nm 64-bit SRAM reads)")
        else:
            cost = (f"SRAM per access = {LEMAIRE_PJ_PER_BIT_OF_SIZE:g} pJ × size_bits + {LEMAIRE_PJ_OFFSET:g} pJ "
                    "(Lemaire et al. ICONIP 2022 linear fit of Horowitz's SRAM points, any width)")
        out = [f"level 3 memory: {where}; {cost}"]
        if self.dram:
            out.append(f"level 3 DRAM: a site's weights larger than {self.sram_bits / KIB_BITS:g} KiB are read "
                       f"from DRAM at {DRAM_PJ_PER_64BIT:g} pJ per 64 bits (Horowitz ISSCC 2014: 1.3-2.6 nJ; the "
                       "lower bound)")
        return out


def activation_bits(kind: pd.Series, lo: pd.Series, hi: pd.Series, word_bits: int) -> np.ndarray:
    """Bits per element of an activation: 1 (binary), 2 (ternary), the integer range's width, else a word."""
    mag = np.maximum(np.abs(lo.to_numpy(np.float64, na_value=0.0)), np.abs(hi.to_numpy(np.float64, na_value=0.0)))
    int_bits = np.ceil(np.log2(mag + 1.0)) + (lo.to_numpy(np.float64, na_value=0.0) < 0)
    k = kind.to_numpy()
    return np.select([k == "binary", k == "ternary", k == "integer"], [1.0, 2.0, np.maximum(int_bits, 1.0)],
                     float(word_bits))


def _is_conv(ops: pd.Series) -> np.ndarray:
    return ops.astype(str).str.contains("conv").to_numpy()


def snn_site_memory(sites: pd.DataFrame, events: np.ndarray, dense: np.ndarray, theta: np.ndarray,
                    event_driven: np.ndarray, steps: np.ndarray, in_bits: np.ndarray, word_bits: int,
                    mm: MemoryModel, e_add: float, e_mac: float) -> pd.DataFrame:
    """Level 3 counts and energies (mJ) of the SNN's synaptic sites (see the module docstring)."""
    w = sites["weight_params"].to_numpy(np.float64)
    n_in = sites["input_elements"].to_numpy(np.float64) / steps
    n_out = sites["output_elements"].to_numpy(np.float64) / steps
    total = events + dense
    fd = np.divide(dense, total, out=np.where(event_driven, 0.0, 1.0), where=total > 0)
    conv = _is_conv(sites["op"])
    c = {
        "weight_reads": events + dense,
        "potential_reads": events,
        "potential_writes": events,
        "input_reads": theta * (1 - fd) + dense,
        "bias_reads": sites["bias_ops"].to_numpy(np.float64),
        "output_writes": sites["output_elements"].to_numpy(np.float64) * fd,
        "addressing_acc": events + np.where(conv, fd * (n_in + n_out + w) * steps, dense),
        "addressing_mac": np.where(conv, 2.0 * theta * (1 - fd), 0.0),
    }
    wb = float(word_bits)
    e_w = mm.weight_access_pj(np.where(w > 0, w, n_in) * wb, wb)
    e_v = mm.access_pj(n_out * wb, wb)
    e_in = mm.access_pj(n_in * in_bits, in_bits)
    c["e_weight_pJ"], c["e_potential_pJ"], c["e_input_pJ"] = e_w, e_v, e_in
    pj = ((c["weight_reads"] + c["bias_reads"]) * e_w + (2 * events + c["output_writes"]) * e_v
          + c["input_reads"] * e_in)
    c["memory_mJ"] = pj / 1e9
    c["addressing_mJ"] = (c["addressing_acc"] * e_add + c["addressing_mac"] * e_mac) / 1e9
    return pd.DataFrame(c, index=sites.index)


def ann_site_memory(sites: pd.DataFrame, macs: np.ndarray, steps: np.ndarray, bits: int, mm: MemoryModel,
                    e_add: float, prefix: str) -> pd.DataFrame:
    """Level 3 counts and energies (mJ) of the ANN (or QNN) counterpart's sites, run once (T = 1)."""
    w = sites["weight_params"].to_numpy(np.float64)
    n_in = sites["input_elements"].to_numpy(np.float64) / steps
    n_out = sites["output_elements"].to_numpy(np.float64) / steps
    bias = sites["bias_ops"].to_numpy(np.float64) / steps
    addressing = np.where(_is_conv(sites["op"]), n_in + n_out + w, macs)
    b = float(bits)
    e_w = mm.weight_access_pj(np.where(w > 0, w, n_in) * b, b)
    e_in = mm.access_pj(n_in * b, b)
    e_out = mm.access_pj(n_out * b, b)
    c = {}
    if prefix == "ann":
        c = {"ann_weight_reads": macs, "ann_input_reads": macs, "ann_bias_reads": bias, "ann_output_writes": n_out,
             "ann_addressing_acc": addressing}
    c[f"{prefix}_memory_mJ"] = (macs * e_w + macs * e_in + bias * e_w + n_out * e_out) / 1e9
    c[f"{prefix}_addressing_mJ"] = addressing * e_add / 1e9
    return pd.DataFrame(c, index=sites.index)


def neuron_memory(neurons: pd.DataFrame, updates: np.ndarray, word_bits: int, mm: MemoryModel) -> pd.DataFrame:
    """Level 3 of the SNN's neuron layers: a potential read and write per update, a 1-bit write per spike."""
    n = neurons["neurons"].to_numpy(np.float64)
    wb = float(word_bits)
    e_v = mm.access_pj(n * wb, wb)
    e_s = mm.access_pj(n, 1.0)
    spikes = neurons["spikes"].to_numpy(np.float64)
    c = pd.DataFrame(index=neurons.index)
    c["potential_reads"], c["potential_writes"], c["output_writes"] = updates, updates, spikes
    c["e_potential_pJ"] = e_v
    c["memory_mJ"] = (2 * updates * e_v + spikes * e_s) / 1e9
    return c
