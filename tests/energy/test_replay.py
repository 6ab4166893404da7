"""Replays of published energies from published per-layer firing rates.

Reference values (published, not computed): the Spikingformer group's energy logs print 7.4635 mJ
(Spikingformer-8-512), 13.659 mJ (Spikingformer-8-768) and 16.306 mJ (CML-Spikingformer-8-768), and the
dense op counts per layer quoted below. The hand formula re-derives each figure from the shipped CSV with
plain ``csv`` and closed-form layer sizes, independently of the toolkit.
"""
import csv
import io
from importlib import resources
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from snnenergy import model_card
from snnenergy.cli.estimate import estimate as estimate_cmd
from snnenergy.energy import replay as replay_module
from snnenergy.energy.replay import estimate, load_rates, published_rate_tables, published_rates, replay_sites

LOGGED = {"spikingformer-8-512": 7.4635, "spikingformer-8-768": 13.659, "cml-spikingformer-8-768": 16.306}
# dense ops per image incl. T = 4 and bias adds, as the logs print them (reference values)
LOG_DENSE = {
    512: {"first": 346_816_512, "tok": 3_699_376_128, "conv4": 1_849_688_064, "qkv": 205_520_896,
          "proj": 205_922_304, "mlp1": 823_689_216, "mlp2": 822_484_992, "head": 513_000},
    768: {"first": 520_224_768, "tok": 8_323_596_288, "conv4": 4_161_798_144, "qkv": 462_422_016,
          "proj": 463_024_128, "mlp1": 1_852_096_512, "mlp2": 1_850_290_176, "head": 769_000},
}
SCRIPT_HEADS = {512: 8, 768: 12}  # the script's hand-set ssa_info


def _csv_rates(model):
    """layer -> rate (fraction) from the shipped CSV, read with the csv module."""
    for f in resources.files("snnenergy.energy").joinpath("data").iterdir():
        text = f.read_text()
        if f"# model: {model}\n" in text:
            rows = csv.DictReader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("#"))))
            return {(r["layer"], r["measure"]): float(r["rate_percent"]) / 100 for r in rows}
    raise AssertionError(f"no CSV for {model}")


def _script_by_hand(model, D, heads):
    """E = 4.6 pJ x (first conv + head) + 0.9 pJ x (sum rate x dense + SSA term), from the log's dense counts."""
    r, d = _csv_rates(model), LOG_DENSE[D]
    ac = sum(r[(f"patch_embed.proj{i}_conv", "input")] * (d["tok"] if i < 4 else d["conv4"]) for i in range(1, 5))
    T, N, dh = 4, 196, D // heads
    for b in range(8):
        out = lambda n: r[(f"block.{b}.{n}", "output")]  # noqa: E731
        ac += out("attn.proj_lif") * 3 * d["qkv"] + out("attn.attn_lif") * d["proj"]
        ac += out("mlp.mlp1_lif") * d["mlp1"] + out("mlp.mlp2_lif") * d["mlp2"]
        ac += T * heads * N * dh * dh * (min(out("attn.k_lif"), out("attn.v_lif")) + out("attn.q_lif"))
    return (4.6 * (d["first"] + d["head"]) + 0.9 * ac) * 1e-9


@pytest.mark.parametrize("model,D", [("spikingformer-8-512", 512), ("spikingformer-8-768", 768),
                                     ("cml-spikingformer-8-768", 768)])
def test_replays_match_the_logs(model, D):
    rep = estimate(model)
    assert rep.mJ == pytest.approx(LOGGED[model], rel=5e-3)
    assert rep.mJ == pytest.approx(_script_by_hand(model, D, SCRIPT_HEADS[D]), rel=1e-6)
    assert rep.logged_mJ == LOGGED[model] == model_card(model).published["energy_mJ_log"]
    text = str(rep)
    assert "logged" in text and "snnenergy (our exact rules, same rates)" in text
    # the gap to our exact rules is explained part by part and adds up
    diff = rep.differences
    assert diff["delta_mJ"].sum() == pytest.approx(rep.mJ - rep.exact.mJ, rel=1e-9)
    assert rep.exact.mJ < rep.mJ
    if D == 768:
        assert "hand-set H = 12" in text and "the model has 8" in text


def test_dense_counts_from_structure_equal_the_logs():
    s = replay_sites("spikingformer-8-512").frame.set_index("layer")
    d = LOG_DENSE[512]
    w = s[s["weight"]]
    got = (w["dense"] + w["bias"]).to_dict()
    assert got["patch_embed.proj_conv"] == d["first"] and got["head"] == d["head"]
    assert [got[f"patch_embed.proj{i}_conv"] for i in range(1, 5)] == [d["tok"]] * 3 + [d["conv4"]]
    for b in range(8):
        assert [got[f"block.{b}.attn.{n}_conv"] for n in "qkv"] == [d["qkv"]] * 3
        assert got[f"block.{b}.attn.proj_conv"] == d["proj"]
        assert (got[f"block.{b}.mlp.mlp1_conv"], got[f"block.{b}.mlp.mlp2_conv"]) == (d["mlp1"], d["mlp2"])
    # padding-exact dense of a 3x3 / pad 1 conv at H x H: C_in C_out (3H - 2)^2 per step, x T = 4
    valid = w["valid_dense"].to_dict()
    assert valid["patch_embed.proj_conv"] == 4 * 3 * 64 * (3 * 224 - 2) ** 2
    assert valid["patch_embed.proj4_conv"] == 4 * 512 * 512 * (3 * 14 - 2) ** 2
    assert valid["block.0.mlp.mlp1_conv"] == w.loc["block.0.mlp.mlp1_conv", "dense"]  # 1x1: no padding


def test_exact_replay_is_rate_times_padding_exact_dense():
    rep = estimate("spikingformer-8-512")
    r = _csv_rates("spikingformer-8-512")
    terms = rep.exact.terms.set_index("layer")
    for i, H in zip(range(1, 5), (112, 56, 28, 14)):
        c_in, c_out = [64, 128, 256, 512, 512][i - 1], [64, 128, 256, 512, 512][i]
        expect = r[(f"patch_embed.proj{i}_conv", "input")] * 4 * c_in * c_out * (3 * H - 2) ** 2
        assert terms.loc[f"patch_embed.proj{i}_conv", "ac_ops"] == pytest.approx(expect, rel=1e-12)
    assert terms.loc["patch_embed.proj_conv", "mac_ops"] == 4 * 3 * 64 * 670 ** 2


def test_script_head_count_option():
    """With the model's real 8 heads the 768 replay gives 13.675 mJ (reference §5, derived)."""
    rep = estimate("spikingformer-8-768", ssa_heads=8)
    assert rep.mJ == pytest.approx(13.675, abs=1e-3)
    assert rep.mJ == pytest.approx(_script_by_hand("spikingformer-8-768", 768, 8), rel=1e-6)


def test_csv_tables_agree_with_the_model_cards():
    for model in LOGGED:
        pub = model_card(model).published
        r = _csv_rates(model)
        for layer, pct in pub["firing_rates_percent"].items():
            assert r[(layer, "output")] == pytest.approx(pct / 100), layer
        for layer, pct in pub["conv_input_rates_percent"].items():
            assert r[(layer, "input")] == pytest.approx(pct / 100), layer
    tables = published_rate_tables()
    assert set(LOGGED) | {"qkformer-10-768"} <= set(tables)
    assert all("source" in t.meta for t in tables.values())


def test_qkformer_table4_globs():
    t = published_rates("qkformer-10-768")
    assert t.lookup("stage2.1.tssa.q_lif", "output") == 0.0231
    assert t.lookup("stage1.0.mlp.fc1_lif", "output") == 0.0518
    assert t.lookup("stage1.0.tssa.proj_conv", "input") == 0.0832
    assert t.lookup("stage3.0.attn.q_lif", "output") != t.lookup("stage3.0.attn.q_lif", "output")  # NaN: no rate


def test_bad_rate_tables(tmp_path):
    with pytest.raises(FileNotFoundError, match="rate table not found"):
        load_rates(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("layer,measure,rate\nhead,weights,0.5\n")
    with pytest.raises(ValueError, match="measure must be one of"):
        load_rates(bad)
    bad.write_text("layer,measure,rate_percent\nhead,output,150\n")
    with pytest.raises(ValueError, match="fractions in"):
        load_rates(bad)
    bad.write_text("module,value\nx,1\n")
    with pytest.raises(ValueError, match="needs the columns"):
        load_rates(bad)
    part = tmp_path / "part.csv"
    part.write_text("layer,measure,rate\nblock.*.attn.proj_lif,output,0.3\n")
    with pytest.raises(ValueError, match=r"has no rate for \d+ site\(s\) of spikingformer-8-512: patch_embed.proj1_conv"):
        replay_sites("spikingformer-8-512", part)
    kept = replay_sites("spikingformer-8-512", part, missing="skip").frame
    assert set(kept["layer"]) >= {"block.0.attn.q_conv", "patch_embed.proj_conv", "head"}
    assert "block.0.attn.proj_conv" not in set(kept["layer"])
    with pytest.raises(ValueError, match="no published firing rates ship for 'sdt-8-512'"):
        published_rates("sdt-8-512")


def test_cli_estimate():
    runner = CliRunner()
    res = runner.invoke(estimate_cmd, ["--model", "spikingformer-8-512", "--all-conventions"])
    assert res.exit_code == 0, res.output
    assert "replayed 7.46" in res.output and "logged 7.4635 mJ" in res.output
    assert all(name in res.output for name in ("spikformer", "sdt", "qkformer", "neurobench"))
    res = runner.invoke(estimate_cmd, ["--model", "spikingformer-8-512", "--convention", "excel"])
    assert res.exit_code == 2 and "unknown convention 'excel'" in res.output and "Traceback" not in res.output
    res = runner.invoke(estimate_cmd, ["--model", "nosuchnet"])
    assert res.exit_code == 2 and "unknown model" in res.output


# ------------------------------------------------------------------ replays from an existing report
@pytest.fixture(scope="module")
def reports():
    """One profile per model, shared by the tests below (the 8-768 models at 224x224 are slow): one sample
    photograph; the 8-512 model BatchNorm-calibrated as the main job does, the 8-768 ones left silent, as
    fresh BatchNorm statistics leave them (59 of 60 layers never fire)."""
    from snnenergy.api import profile
    from snnenergy.prepare import prepare

    made = {}

    def get(model):
        if model not in made:
            prep = prepare(model_name=model, limit=1, calibrate_bn=model.endswith("512"))
            made[model] = profile(prep.model, prep.batches, model_name=prep.label, weights=prep.weights,
                                  time_steps=prep.time_steps)
        return made[model]
    return get


def _no_second_profile(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a replay from a report profiled the model again")
    monkeypatch.setattr(replay_module, "_structure", fail)


@pytest.mark.parametrize("model", list(LOGGED))
def test_replay_from_a_report_equals_the_replay_from_its_own_profile(model, reports, monkeypatch):
    report = reports(model)
    ref, ref_sites = estimate(model), replay_sites(model).frame  # the all-firing profile made for the replay
    _no_second_profile(monkeypatch)
    for rep in (estimate(report), estimate(model, report=report), estimate(report, rates="published")):
        assert rep.mJ == pytest.approx(ref.mJ, rel=1e-9)
        assert rep.exact.mJ == pytest.approx(ref.exact.mJ, rel=1e-9)
        assert rep.mJ == pytest.approx(LOGGED[model], rel=5e-3) and rep.logged_mJ == ref.logged_mJ
        assert rep.differences["delta_mJ"].to_numpy() == pytest.approx(ref.differences["delta_mJ"].to_numpy(),
                                                                        rel=1e-9, abs=1e-15)
    sites = replay_sites(model, report=report).frame
    # the same sites, counts, rate-1 counts, operand kinds and rates as the all-firing profile gives
    assert sites.drop(columns=["rate_a", "rate_b", "mean_a", "valid_dense"]).equals(
        ref_sites.drop(columns=["rate_a", "rate_b", "mean_a", "valid_dense"]))
    for col in ("rate_a", "rate_b", "valid_dense"):
        assert sites[col].to_numpy() == pytest.approx(ref_sites[col].to_numpy(), rel=1e-12, nan_ok=True)
    assert (sites["valid_dense"] == report.layers["full_rate_ops"]).all()


def test_a_silent_report_is_priced_with_the_kinds_of_rate_one(reports):
    """Where no spike reaches an attention block, the product K^T V (or Q K^T) is all zero and the profile
    records it as binary; at rate 1 it sums N > 1 terms per element, an integer, as the all-firing profile
    records it: the replay takes the kind at rate 1."""
    report = reports("spikingformer-8-768")
    seen = report.layers
    fed = {}  # (row, kind column) of each operand that an attention product made
    for col, made_by in (("input_kind", "producer"), ("other_operand", "other_producer")):
        for i in seen.index[seen[made_by].fillna("").str.endswith("attn:matmul")]:
            fed[(i, col)] = seen.at[i, col]
    assert len(fed) == 8 and set(fed.values()) == {"binary"}  # the silent run's kinds
    sites, full = replay_sites(report).frame, replay_sites("spikingformer-8-768").frame
    kind = {"input_kind": "kind_a", "other_operand": "kind_b"}
    assert {full.at[i, kind[c]] for i, c in fed} == {"integer"}  # all-firing profile
    assert {sites.at[i, kind[c]] for i, c in fed} == {"integer"}


def test_a_report_without_rate_one_counts_uses_nominal_dense(reports, monkeypatch):
    report = reports("spikingformer-8-512")
    ref = estimate(report)
    old = SimpleNamespace(meta=dict(report.meta), layers=report.layers.drop(columns=["full_rate_ops"]))
    _no_second_profile(monkeypatch)
    rep = estimate(old)
    assert rep.mJ == pytest.approx(ref.mJ, rel=1e-12)  # the script prices nominal dense ops anyway
    # ours now counts the taps on padding of the 3x3 convs: rate x (dense - padding-exact dense) more ACs,
    # and (dense - padding-exact dense) more MACs in the first conv, whose input is the image
    s = replay_sites(report).frame
    pad = s["rate_a"] * (s["dense"] - s["valid_dense"])
    extra_ac = pad[s["weight"] & (s["kind_a"] == "binary")].sum()
    extra_mac = pad[s["kind_a"] == "real"].sum()
    assert extra_mac == 4 * 3 * 64 * 9 * 224 ** 2 - 4 * 3 * 64 * (3 * 224 - 2) ** 2 and extra_ac > 0
    assert rep.exact.mJ - ref.exact.mJ == pytest.approx((0.9 * extra_ac + 4.6 * extra_mac) * 1e-9, rel=1e-9)
    assert any("no full_rate_ops column" in n for n in rep.notes)


def test_reports_that_cannot_be_replayed(reports, monkeypatch):
    report = reports("spikingformer-8-512")
    _no_second_profile(monkeypatch)

    def fake(**meta):
        layers = meta.pop("layers", report.layers)
        return SimpleNamespace(meta={**report.meta, **meta}, layers=layers)
    with pytest.raises(ValueError, match="the report is of spikingformer-8-512, not spikingformer-8-768"):
        estimate("spikingformer-8-768", report=report)
    with pytest.raises(ValueError, match="profiled at T = 2, the published rates are for the card's T = 4"):
        estimate(fake(time_steps=2))
    with pytest.raises(ValueError, match="no op counts"):
        estimate(fake(rates_only=True, layers=report.layers.iloc[:0]))
    smaller = report.layers.copy()
    smaller.loc[0, "input_elements"] = 3 * 224 * 224  # one step of the card's size: T x too few
    with pytest.raises(ValueError, match="inputs of another size .* profile at the card's input shape"):
        estimate(fake(layers=smaller))
    with pytest.raises(ValueError, match="not a zoo model: pass the zoo model"):
        estimate(fake(model="MyNet"))
    assert estimate("spikingformer-8-512", report=fake(model="MyNet")).mJ == pytest.approx(7.4635, rel=5e-3)
    with pytest.raises(ValueError, match="give the report once"):
        estimate(report, report=fake())
    with pytest.raises(TypeError, match="a zoo model name or a Report"):
        estimate(3)
