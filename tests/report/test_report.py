"""The Report object: tables, JSON round trip, Markdown, console text, files."""
import json

import pandas as pd
import pytest
import torch

from snnenergy import Report, create_model, profile


@pytest.fixture(scope="module")
def report():
    torch.manual_seed(0)
    return profile(create_model("snn-attention-block"), torch.randn(2, 3, 32, 32), weights="untrained")


def test_tables_have_the_documented_columns(report):
    for c in ["layer", "op", "input_kind", "dense_ops", "ac", "mac", "integer_mac", "input_rate", "rate_t0", "rate_t3"]:
        assert c in report.layers.columns
    for c in ["layer", "firing_rate", "rate_t0", "dead", "saturated"]:
        assert c in report.neurons.columns
    names = dict(create_model("snn-attention-block").named_modules())
    assert set(report.layers.layer) <= set(names)  # qualified names as in named_modules()
    assert set(report.neurons.layer) <= set(names)


def test_json_round_trip(report, tmp_path):
    text = report.to_json()
    back = Report.from_json(text)
    for name in ("layers", "per_step", "neurons", "other_ops", "unsupported"):
        pd.testing.assert_frame_equal(getattr(report, name), getattr(back, name), check_dtype=True)
    assert back.meta == json.loads(text)["meta"]
    path = tmp_path / "r.json"
    report.to_json(path)
    again = Report.from_json(path)
    pd.testing.assert_frame_equal(report.layers, again.layers)
    assert again.energy().totals == report.energy().totals


def test_from_json_rejects_other_documents():
    with pytest.raises(ValueError, match="not an snnenergy report"):
        Report.from_json('{"hello": 1}')


def test_markdown_and_console(report):
    md = report.to_markdown()
    assert md.startswith("# snnenergy report: snn-attention-block")
    assert "| layer" in md and "attn.q.fc" in md
    text = str(report)
    assert "attn.q.fc" in text and "ANN/SNN" in text and "untrained" in text


def test_save_writes_every_file(report, tmp_path):
    paths = report.save(tmp_path / "out")
    for p in paths.values():
        assert (tmp_path / "out").joinpath(p.split("/")[-1]).exists()
    assert pd.read_csv(paths["layers_csv"]).shape[0] == report.layers.shape[0]
    assert not list((tmp_path / "out").glob(".tmp-*"))  # no half-written files left


def test_totals_are_sums_of_layers(report):
    t = report.totals()
    assert t["ac"] == report.layers.ac.sum()
    assert t["firing_rate"] == pytest.approx(report.neurons.spikes.sum() / (report.neurons.neurons * 4).sum())
