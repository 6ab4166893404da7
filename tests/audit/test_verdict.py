"""The Audit object: levels, strictness, JSON round trip, Markdown and text; the top-level entry points."""
import json

import pandas as pd
import pytest
import torch

from snnenergy.audit import LEVELS, Audit, audit_report
from snnenergy.audit.verdict import EXCEPTION_COLUMNS, VIOLATION_COLUMNS, frame, level_of
from hand_built import hand_built_report


def _exc(*kinds):
    return frame([{"layer": f"l{i}", "op": "conv2d", "index": 0, "exception": k} for i, k in enumerate(kinds)],
                 EXCEPTION_COLUMNS)


NO_VIOLATIONS = frame([], VIOLATION_COLUMNS)


@pytest.mark.parametrize("kinds, level", [
    ((), "spike-driven"), (("encoder",), "spike-driven"), (("encoder", "threshold-scale"), "spike-driven"),
    (("encoder", "foldable-chain"), "spike-driven with exceptions"), (("pooled-head",), "spike-driven with exceptions"),
])
def test_levels_from_exceptions(kinds, level):
    assert level_of(NO_VIOLATIONS, _exc(*kinds)) == level


def test_any_violation_means_not_spike_driven():
    v = frame([{"layer": "a", "op": "conv2d", "index": 0, "rule": "integer-input"}], VIOLATION_COLUMNS)
    assert level_of(v, _exc()) == LEVELS[2]


def test_json_round_trip_keeps_every_table_and_the_verdict(tmp_path):
    a = audit_report(hand_built_report())
    b = Audit.from_json(a.to_json())
    for name in ("violations", "exceptions", "allowed"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert (b.level, b.spike_driven, b.totals, b.model) == (a.level, a.spike_driven, a.totals, a.model)
    path = tmp_path / "audit.json"
    a.to_json(path)
    assert Audit.from_json(path).level == a.level
    assert json.loads(path.read_text())["level"] == "not spike-driven"


def test_from_json_refuses_other_documents():
    with pytest.raises(ValueError, match="not an snnenergy audit"):
        Audit.from_json('{"format": "snnenergy-report"}')


def test_markdown_and_text_show_the_verdict_causes_and_fixes():
    a = audit_report(hand_built_report())
    md = a.to_markdown()
    assert md.startswith("# Spike-driven audit: hand-built") and "## Violations" in md and "blk:add" in md
    text = str(a)
    assert "NOT SPIKE-DRIVEN" in text and "cause blk:add" in text and "fix:" in text
    assert "encoder" in text and repr(a).startswith("Audit(model='hand-built'")


def test_summary_row():
    s = audit_report(hand_built_report()).summary()
    assert s["violations"] == 3 and s["integer_max"] == 3.0 and "integer-input ×2" in s["violation_rules"]


def test_entry_points_agree():
    import snnenergy
    import snnenergy.audit
    from audit_designs import SEWNet, inputs

    torch.manual_seed(0)
    model, x = SEWNet(), inputs()
    via_package = snnenergy.audit(model, x)  # the package is callable
    via_report = snnenergy.profile(model, x).audit()
    pd.testing.assert_frame_equal(via_package.violations, via_report.violations)
    with pytest.raises(ValueError, match="rates_only"):
        snnenergy.audit(model, x, rates_only=True)


def test_a_silent_network_gets_a_warning_and_totals_match_the_energy_report():
    import snnenergy
    from audit_designs import Fire, SEWNet, inputs

    torch.manual_seed(0)
    model, x = SEWNet(), inputs()
    report = snnenergy.profile(model, x)
    a = report.audit()
    assert a.totals["snn_mJ"] == pytest.approx(report.energy("fp32", level=1).totals["snn_mJ"])
    assert not any("mean rate" in n for n in a.notes)
    for m in model.modules():
        if isinstance(m, Fire):
            m.threshold = 1e9
    silent = snnenergy.profile(model, x).audit()
    assert silent.spike_driven and any("fired at a mean rate of 0" in n for n in silent.notes)
