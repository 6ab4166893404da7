"""A dry run says that its rates are assumed: the energy lines, the neuron summary and the echoed assumptions
never call its figures measured or exact, and its totals leave unknown counts unknown."""
import math

import snnenergy
from snnenergy.report.render import console_text


def test_a_dry_run_with_an_assumed_rate_says_assumed_not_measured():
    dry = snnenergy.dry_run("snn-cnn-residual", assume_rate=0.15)
    report = dry.to_report()
    e = report.energy(level=2)
    assert e.rates_assumed
    text = console_text(report, level=2, detail=True, width=100)
    assert "assumed 15 %" in text and "measured" not in text
    assert "mean firing rate (assumed)" in text
    assert any("effective counts of a dry run" in a for a in e.assumptions)
    assert not any("exact" in a for a in e.assumptions)


def test_a_profile_says_measured():
    import torch
    m = snnenergy.create_model("snn-cnn-residual")
    r = snnenergy.profile(m, torch.rand(2, 3, 32, 32))
    e = r.energy(level=1)
    assert not e.rates_assumed and "measured" in str(e)


def test_a_dry_run_without_rates_has_unknown_ac_totals():
    t = snnenergy.dry_run("snn-cnn-residual").totals()
    assert math.isnan(t["ac"]) and math.isnan(t["effective_ops"])
    assert t["dense_ops"] > 0 and t["integer_mac"] >= 0 and not math.isnan(t["mac"])
    known = snnenergy.dry_run("snn-cnn-residual", assume_rate=0.1).totals()
    assert known["effective_ops"] == known["ac"] + known["integer_mac"] + known["mac"]
