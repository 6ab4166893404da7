"""The QNN counterpart: the same graph as a ⌈log₂(T+1)⌉-bit quantised ANN (Yan et al.'s fair baseline).

An SNN running T binary time steps carries at most T + 1 distinct input levels per neuron (0..T spikes), which a
⌈log₂(T+1)⌉-bit activation represents exactly: Yan, Bai, Wong, "Reconsidering the energy efficiency of spiking
neural networks", arXiv 2409.08290 (v2 onwards) compare an SNN with T steps to a QNN of that width.

Costs are scaled from Horowitz's 8-bit integer figures (ISSCC 2014, 45 nm: 0.2 pJ multiply, 0.03 pJ add) with
a multiplier's energy proportional to bits² (an array multiplier has bits² partial-product cells) and an adder's
to bits (a ripple adder has one full adder per bit): E_mul(b) = 0.2·(b/8)², E_add(b) = 0.03·(b/8). These are
the quadratic and linear laws Qualia's energy metric offers to interpolate Horowitz's 8- and 32-bit points
(qualia-plugin-snn, EnergyEstimationMetric). Weights are taken at the same b bits (a b × b multiplier), so the
QNN is "equally quantised" in both operands; the accumulator is priced at b bits too, a lower bound.
"""
from __future__ import annotations

from dataclasses import dataclass

INT8_MUL_PJ = 0.2
INT8_ADD_PJ = 0.03
QNN_SOURCE = ("QNN of ⌈log₂(T+1)⌉-bit activations and weights (Yan et al., arXiv 2409.08290); E_mul ∝ bits², "
              "E_add ∝ bits, scaled from Horowitz ISSCC 2014 int8 (mult 0.2 pJ, add 0.03 pJ)")


@dataclass(frozen=True)
class QnnCosts:
    """Per-operation energies (pJ) of a ``bits``-bit integer datapath."""

    bits: int
    e_mul: float
    e_add: float

    @property
    def e_mac(self) -> float:
        return self.e_mul + self.e_add


def qnn_bits(time_steps: int) -> int:
    """⌈log₂(T+1)⌉, the activation width that holds 0..T spikes (1 bit for T = 1, 3 bits for T = 4)."""
    T = int(time_steps)
    if T < 1:
        raise ValueError(f"the QNN counterpart needs T >= 1 time steps, got {time_steps!r}")
    return T.bit_length()  # equals ceil(log2(T + 1)) exactly, without floating point


def qnn_costs(bits: int) -> QnnCosts:
    """MAC parts of a ``bits``-bit integer datapath, scaled from the int8 figures (mult ∝ bits², add ∝ bits)."""
    s = bits / 8.0
    return QnnCosts(bits, INT8_MUL_PJ * s * s, INT8_ADD_PJ * s)
