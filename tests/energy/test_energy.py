"""Energy presets, user tables, levels 1 and 2 end to end, the ANN counterpart and the break-even rate."""
import json

import pytest
import torch
from torch import nn

from snnenergy import profile
from snnenergy.energy import EnergyTableError, get_preset, load_table
from snnenergy.neurons import IF, LIF


class Net(nn.Module):
    """Real-valued encoder conv, a LIF layer, a spiking linear layer, T = 2."""

    def __init__(self, neuron=LIF):
        super().__init__()
        self.time_steps = 2
        self.enc = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.lif = neuron()
        self.fc = nn.Linear(2 * 4 * 4, 3, bias=False)

    def forward(self, x):
        T = self.time_steps
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        s = self.lif(self.enc(x.flatten(0, 1)).reshape(T, x.shape[1], 2, 4, 4) * 3)
        return self.fc(s.flatten(2)).mean(0)


def test_presets_are_horowitz_figures():
    p = get_preset("fp32")
    assert (p.e_mac, p.e_ac, p.e_mul, p.e_add) == (4.6, 0.9, 3.7, 0.9)
    assert get_preset("int8").e_mac == 0.23 and get_preset("fp16").e_ac == 0.4 and get_preset("int32").e_mac == 3.2
    assert "Horowitz" in p.source
    with pytest.raises(ValueError, match="unknown energy preset"):
        get_preset("7nm")


def test_level1_and_ann_by_hand():
    torch.manual_seed(0)
    model = Net()
    r = profile(model, torch.randn(3, 1, 4, 4))
    e = r.energy("fp32", level=1)
    layers = r.layers.set_index("layer")
    enc, fc = layers.loc["enc"], layers.loc["fc"]
    assert enc.input_kind == "real" and fc.input_kind == "binary"
    # SNN: encoder MACs every step (effective = boundary exact for a dense real input) + ACs of fc
    snn_pj = 4.6 * enc.mac + 0.9 * fc.ac
    assert enc.mac == 2 * 2 * 16 * 9 - 2 * 2 * (16 * 9 - 100)  # T*C_out*(taps on real pixels: 100 per map)
    # ANN: every synaptic op dense, once (T = 1)
    ann_pj = 4.6 * (enc.dense_ops / 2 + fc.dense_ops / 2)
    assert e.totals["snn_mJ"] == pytest.approx(snn_pj * 1e-9)
    assert e.totals["ann_mJ"] == pytest.approx(ann_pj * 1e-9)
    assert e.totals["ann_over_snn"] == pytest.approx(ann_pj / snn_pj)
    # break-even: the fc input rate at which SNN = ANN (ACs scale with the rate, encoder fixed)
    r_star = (ann_pj - 4.6 * enc.mac) / (0.9 * fc.dense_ops)
    assert e.totals["break_even_rate"] == pytest.approx(r_star)
    snn_at_r_star = 4.6 * enc.mac + 0.9 * fc.dense_ops * r_star
    assert snn_at_r_star == pytest.approx(ann_pj)


@pytest.mark.parametrize("neuron,leak", [(LIF, True), (IF, False)])
def test_level2_adds_neuron_updates(neuron, leak):
    torch.manual_seed(0)
    r = profile(Net(neuron), torch.randn(2, 1, 4, 4))
    e1, e2 = r.energy(level=1), r.energy(level=2)
    n = r.neurons.iloc[0]
    assert n.neurons == 32 and n.has_leak == leak
    per_update = 0.9 + 0.9 + (3.7 if leak else 0.0)  # integrate + compare (+ leak multiply)
    extra = n.neurons * 2 * per_update + n.spikes * 0.9  # T = 2 steps; a reset add per spike
    assert e2.totals["snn_mJ"] - e1.totals["snn_mJ"] == pytest.approx(extra * 1e-9)
    assert e2.totals["ann_mJ"] - e1.totals["ann_mJ"] == pytest.approx(n.neurons * 0.9 * 1e-9)  # ReLU compares
    assert any("level 2" in a for a in e2.assumptions)


def test_integer_as_ac_or_mac():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2, bias=False)

        def forward(self, x):
            return self.fc(x)

    r = profile(M(), torch.tensor([[[2.0, 0.0, 1.0]]]), time_steps=1)
    assert r.energy(integer_as="mac").totals["snn_mJ"] == pytest.approx(4 * 4.6e-9)
    assert r.energy(integer_as="ac").totals["snn_mJ"] == pytest.approx(4 * 0.9e-9)
    with pytest.raises(ValueError, match="integer_as"):
        r.energy(integer_as="weighted")
    with pytest.raises(ValueError, match="level"):
        r.energy(level=7)
    with pytest.raises(ValueError, match="level 1 or 2"):
        r.energy("loihi", level=3)


def test_user_tables_toml_and_json(tmp_path):
    toml = tmp_path / "chip.toml"
    toml.write_text('name = "chip"\nsource = "our 22 nm synthesis"\ne_mac = 0.5\ne_ac = 0.05\n')
    p = load_table(toml)
    assert (p.e_mac, p.e_ac, p.e_add, p.source) == (0.5, 0.05, 0.05, "our 22 nm synthesis")
    assert p.e_mul == pytest.approx(0.45)
    js = tmp_path / "chip.json"
    js.write_text(json.dumps({"source": "x", "e_mac": 1, "e_ac": 0.1, "e_mul": 0.8, "e_add": 0.2}))
    assert get_preset(str(js)).e_mul == 0.8
    torch.manual_seed(0)
    r = profile(Net(), torch.randn(1, 1, 4, 4))
    assert r.energy(str(toml)).preset.name == "chip"


@pytest.mark.parametrize("content,match", [
    ('source = "s"\ne_ac = 0.1\n', "missing required key"),
    ('source = "s"\ne_mac = -1\ne_ac = 0.1\n', "non-negative"),
    ('source = "s"\ne_mac = "big"\ne_ac = 0.1\n', "number"),
    ('e_mac = 1\ne_ac = 0.1\n', "source"),
    ('source = "s"\ne_mac = 1\ne_ac = 0.1\ne_dram = 3\n', "unknown key"),
    ('source = "s"\ne_mac = 1\ne_ac = \n', "cannot parse"),
])
def test_malformed_tables_are_rejected_with_reasons(tmp_path, content, match):
    f = tmp_path / "bad.toml"
    f.write_text(content)
    with pytest.raises(EnergyTableError, match=match):
        load_table(f)


def test_missing_table_file():
    with pytest.raises(FileNotFoundError):
        load_table("/nonexistent/table.toml")


def test_unknown_acs_are_refused_not_priced_as_zero(tmp_path):
    """A dry run without rates has unknown (NaN) ACs: energy must refuse, and save must write no energy."""
    import json

    from snnenergy import dry_run

    r = dry_run("snn-cnn-residual").to_report()
    assert r.layers["ac"].isna().any()
    with pytest.raises(ValueError, match="unknown"):
        r.energy()
    paths = r.save(tmp_path)
    with open(paths["json"], encoding="utf-8") as f:
        assert "energy" not in json.load(f)["meta"]
