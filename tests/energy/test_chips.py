"""Chip presets carry their published per-event figures; level 2 prices synaptic events and neuron updates."""
import pytest

from energy_hand import neuron, report, site
from snnenergy.energy import get_preset


def test_chip_presets_match_their_sources():
    loihi = get_preset("loihi")  # Davies et al. 2018, Table 2: 23.6 pJ per synaptic spike op, 81 pJ neuron update
    assert (loihi.e_ac, loihi.e_mac, loihi.e_neuron, loihi.chip) == (23.6, 23.6, 81.0, True)
    assert "Davies" in loihi.source and "routing" in loihi.leaves_out
    tn = get_preset("truenorth")  # Merolla et al. 2014: 46 billion synaptic ops per second per watt
    assert tn.e_ac == pytest.approx(1e12 / 46e9) and tn.e_neuron == 0.0 and "Merolla" in tn.source
    sp = get_preset("spinnaker2")  # Hoeppner et al. 2019 via KerasSpiking: 450 pJ per synop, 2.19 nJ per update
    assert (sp.e_ac, sp.e_neuron) == (450.0, 2190.0) and "Hoeppner" in sp.source


@pytest.mark.parametrize("name,synop,update", [("loihi", 23.6, 81.0), ("spinnaker2", 450.0, 2190.0)])
def test_level2_prices_events_and_neuron_updates(name, synop, update):
    r = report(2, [site("enc", "linear", "real", dense_ops=8.0, mac=8.0, input_rate=1.0),
                   site("fc", "linear", "binary", dense_ops=12.0, ac=5.0, input_rate=0.2)],
               [neuron("lif", 3.0, 2.0)])
    e1, e2 = r.energy(name, level=1), r.energy(name, level=2)
    assert e1.totals["snn_mJ"] == pytest.approx((8 + 5) * synop * 1e-9)
    assert e2.totals["snn_mJ"] == pytest.approx(((8 + 5) * synop + 3 * 2 * update) * 1e-9)
    # the ANN counterpart on the same chip: every dense MAC an event, every neuron one update
    assert e2.totals["ann_mJ"] == pytest.approx(((4 + 6) * synop + 3 * update) * 1e-9)
    assert e2.totals["qnn_mJ"] != e2.totals["qnn_mJ"]
    assert "leaves out" in str(e2) and "QNN not priced" in str(e2)


def test_energy_table_compares_presets_and_levels():
    r = report(2, [site("fc", "linear", "binary", dense_ops=12.0, ac=5.0, input_rate=0.2, weight_params=6.0,
                        input_elements=6.0, output_elements=4.0)], [neuron("lif", 2.0, 1.0)])
    t = r.energy_table(presets=["fp32", "int8", "loihi"], levels=[1, 2, 3])
    assert len(t) == 9
    row = t[(t.preset == "int8") & (t.level == 2)].iloc[0]
    e = r.energy("int8", level=2)
    assert row.snn_mJ == e.totals["snn_mJ"] and row.break_even_pct == pytest.approx(100 * e.totals["break_even_rate"])
    assert row.snn_neuron_mJ == pytest.approx(e.breakdown.loc["snn", "neuron_mJ"])
    chip3 = t[(t.preset == "loihi") & (t.level == 3)].iloc[0]
    assert chip3.snn_mJ != chip3.snn_mJ and "level 3" in chip3.note


def test_chip_table_errors(tmp_path):
    from snnenergy.energy import EnergyTableError, load_table

    f = tmp_path / "chip.toml"
    f.write_text('kind = "chip"\nname = "mine"\nsource = "our test chip"\ne_synop = 2.0\ne_neuron = 5.0\n')
    mine = load_table(f)
    assert (mine.chip, mine.e_ac, mine.e_mac, mine.e_neuron, mine.source) == (True, 2.0, 2.0, 5.0, "our test chip")
    f.write_text('kind = "chip"\nsource = "s"\ne_synop = 1.0\n')
    with pytest.raises(EnergyTableError, match="e_neuron"):
        load_table(f)
    f.write_text('kind = "asic"\nsource = "s"\ne_mac = 1.0\ne_ac = 0.1\n')
    with pytest.raises(EnergyTableError, match="kind"):
        load_table(f)
