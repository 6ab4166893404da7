"""The main job prints, beside the card's published figures, the energy replayed from the published per-layer
firing rates, computed from the report it just made (no second profile).

The real model with its real rate table (Spikingformer-8-512, the official energy log: 7.4635 mJ, a reference
value) runs on one sample photograph (``--limit 1``) to keep the test short; the expected figures come from
the replay's own path, which profiles the model once more with every neuron firing, independently of the
report. Cases that print no replay, or say why none was made, use a small CIFAR model with a test-only table.
"""
import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from snnenergy.cli import main
from snnenergy.energy import replay as replay_module
from snnenergy.energy.replay import RateTable, estimate

LOGGED_512 = 7.4635  # mJ, Spikingformer-8-512 official energy log (reference value)
SMALL = "spikingformer-2-384-cifar10"


def run(*args, columns=100):
    return CliRunner(env={"COLUMNS": str(columns)}).invoke(main, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


def _no_second_profile(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the main job profiled the model a second time for the replay")
    monkeypatch.setattr(replay_module, "_structure", fail)


def test_main_job_prints_the_replay_from_the_published_rates(tmp_path, monkeypatch):
    ref = estimate("spikingformer-8-512")  # its own all-firing profile, not the main job's report
    assert ref.mJ == pytest.approx(LOGGED_512, rel=5e-3)
    _no_second_profile(monkeypatch)
    res = run("profile", "--model", "spikingformer", "--limit", "1", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert max(map(len, res.output.splitlines())) <= 100
    line = (f"replayed from the published per-layer firing rates (spikingformer convention, preset fp32): "
            f"{ref.mJ:.4g} mJ (its log: {LOGGED_512:g} mJ); our exact rules at the same rates: {ref.exact.mJ:.4g} mJ")
    assert line in flat(res.output)
    text = flat(res.output)
    assert text.index("published (reference values") < text.index(line) < text.index("per sample:")
    assert f"- {line}" in (tmp_path / "report.md").read_text()
    replay = json.loads((tmp_path / "report.json").read_text())["meta"]["replay"]
    assert replay["mJ"] == pytest.approx(ref.mJ, rel=1e-9)
    assert replay["exact_mJ"] == pytest.approx(ref.exact.mJ, rel=1e-9)
    assert replay["logged_mJ"] == LOGGED_512 and "Spikingformer repository" in replay["rates"]


def _small_table(complete: bool) -> RateTable:
    """A test-only rate table of the small model (made-up rates); without the attention's neurons if not
    ``complete``."""
    rows = [("patch_embed.block*_lif", "output", 0.3), ("patch_embed.block3_conv", "input", 0.21),
            ("patch_embed.block4_conv", "input", 0.17), ("block.*.attn.proj_lif", "output", 0.12),
            ("block.*.mlp.mlp1_lif", "output", 0.2), ("block.*.mlp.mlp2_lif", "output", 0.09)]
    if complete:
        rows += [("block.0.attn.q_lif", "output", 0.08), ("block.*.attn.q_lif", "output", 0.06),
                 ("block.*.attn.k_lif", "output", 0.1), ("block.*.attn.v_lif", "output", 0.14),
                 ("block.*.attn.attn_lif", "output", 0.05)]
    entries = pd.DataFrame(rows, columns=["layer", "measure", "rate"])
    return RateTable(entries, {"model": SMALL, "source": "test-only table"}, "test-only.csv")


def _ship(monkeypatch, table):
    shipped = replay_module.published_rate_tables()
    monkeypatch.setattr(replay_module, "published_rate_tables", lambda: {**shipped, SMALL: table})


def test_a_test_only_table_is_replayed_and_a_model_without_one_prints_no_replay(monkeypatch):
    plain = run("profile", "--model", SMALL)
    assert plain.exit_code == 0, plain.output
    assert "published per-layer firing rates" not in plain.output
    table = _small_table(complete=True)
    ref = estimate(SMALL, rates=table)
    assert ref.logged_mJ is None and ref.mJ > ref.exact.mJ > 0
    _ship(monkeypatch, table)
    _no_second_profile(monkeypatch)
    res = run("profile", "--model", SMALL)
    assert res.exit_code == 0, res.output
    assert (f"replayed from the published per-layer firing rates (spikingformer convention, preset fp32): "
            f"{ref.mJ:.4g} mJ; our exact rules at the same rates: {ref.exact.mJ:.4g} mJ") in flat(res.output)


def test_the_main_job_says_why_no_replay_was_made(monkeypatch):
    _ship(monkeypatch, _small_table(complete=False))
    _no_second_profile(monkeypatch)
    res = run("profile", "--model", SMALL)
    assert res.exit_code == 0, res.output
    assert re.search(r"replay from the published per-layer firing rates \(spikingformer convention, preset fp32\): "
                     rf"not made: rate table test-only.csv has no rate for \d+ site\(s\) of {SMALL} per sample:",
                     flat(res.output))
    _ship(monkeypatch, _small_table(complete=True))
    res = run("profile", "--model", SMALL, "--time-steps", "2")
    assert res.exit_code == 0, res.output
    assert "not made: the report of spikingformer-2-384-cifar10 was profiled at T = 2, the published rates " \
           "are for the card's T = 4" in flat(res.output)
    assert max(map(len, res.output.splitlines())) <= 100
