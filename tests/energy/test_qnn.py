"""The QNN counterpart: ⌈log₂(T+1)⌉ bits, MACs scaled from int8 (multiplier ∝ bits², adder ∝ bits)."""
import pytest

from energy_hand import neuron, report, site
from snnenergy.energy.qnn import qnn_bits, qnn_costs

# T -> bits by hand: T + 1 levels (0..T spikes) need 1, 2, 3, 4 bits for T = 1, 3, 4, 8
CASES = [(1, 1, 0.2 / 64 + 0.03 / 8), (3, 2, 0.2 * 4 / 64 + 0.03 * 2 / 8), (4, 3, 0.2 * 9 / 64 + 0.03 * 3 / 8),
         (8, 4, 0.2 * 16 / 64 + 0.03 * 4 / 8)]


@pytest.mark.parametrize("T,bits,e_mac", CASES)
def test_qnn_energy_by_hand(T, bits, e_mac):
    assert qnn_bits(T) == bits
    assert qnn_costs(bits).e_mac == pytest.approx(e_mac)
    # 10 dense MACs per step, 2 ReLUs; level 2 prices each QNN activation at one b-bit compare (an add)
    r = report(T, [site("fc", "linear", "binary", dense_ops=10.0 * T, ac=T * 3.0, input_rate=0.3)],
               [neuron("lif", 2.0, 1.0)])
    e1, e2 = r.energy("fp32", level=1), r.energy("fp32", level=2)
    assert e1.totals["qnn_bits"] == bits
    assert e1.totals["qnn_mJ"] == pytest.approx(10 * e_mac * 1e-9)
    assert e2.totals["qnn_mJ"] == pytest.approx((10 * e_mac + 2 * 0.03 * bits / 8) * 1e-9)
    assert e1.totals["qnn_over_snn"] == pytest.approx(e1.totals["qnn_mJ"] / e1.totals["snn_mJ"])
    assert f"QNN ({bits}-bit)" in str(e1)


def test_qnn_bits_rejects_no_time_step():
    with pytest.raises(ValueError, match="T >= 1"):
        qnn_bits(0)
