"""``compare_models`` and ``snnenergy compare``: each column equals what the model's own report gives, computed
here separately (own build, own calibration, own profile, hand formulas for level-1 energy), and the console
table fits the terminal."""
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import snnenergy
from snnenergy.cli import main
from snnenergy.data import resolve_input
from snnenergy.energy.presets import get_preset
from snnenergy.models import calibrate_batchnorm, model_card
from snnenergy.report.compare import COLUMNS, compare_markdown, compare_models, compare_text

SMALL = ("snn-cnn-residual", "snn-attention-block")  # the zoo's two smallest models (CIFAR-sized input)


def _own_report(name):
    """The model profiled by hand: seed-0 weights, BatchNorm set from the shipped samples, those samples."""
    model = snnenergy.create_model(name, seed=0)
    batches = resolve_input(None, model_card(name))
    calibrate_batchnorm(model, batches)
    return model, snnenergy.profile(model, batches, model_name=name)


@pytest.fixture(scope="module")
def own():
    return {name: _own_report(name) for name in SMALL}


@pytest.fixture(scope="module")
def by_name():
    return compare_models(",".join(SMALL)).set_index("model")


def _hand_level1(report, preset="fp32"):
    """Level-1 SNN and ANN energy (mJ) from the layer table: E_AC·ACs + E_MAC·(MACs + integer MACs); the ANN
    runs every site dense once (dense ops / steps) at E_MAC."""
    p = get_preset(preset)
    layers = report.layers
    snn = (p.e_ac * layers["ac"].sum() + p.e_mac * (layers["mac"].sum() + layers["integer_mac"].sum())) / 1e9
    steps = np.where(layers["per_step"].astype(bool), report.time_steps, 1)
    ann = p.e_mac * (layers["dense_ops"] / steps).sum() / 1e9
    return snn, ann


def test_columns_by_name_equal_the_separately_computed_reports(own, by_name):
    assert list(compare_models(SMALL[:1]).columns) == COLUMNS
    for name, (model, report) in own.items():
        row = by_name.loc[name]
        t = report.totals()
        for col in ("dense_ops", "ac", "mac", "integer_mac", "firing_rate"):
            assert row[col] == pytest.approx(t[col], rel=1e-12), (name, col)
        assert row["params"] == sum(p.numel() for p in model.parameters())
        assert row["time_steps"] == model_card(name).time_steps and row["samples"] == 5
        snn, ann = _hand_level1(report)
        assert row["snn_mJ"] == pytest.approx(snn, rel=1e-9) and row["ann_mJ"] == pytest.approx(ann, rel=1e-9)
        assert row["ann_over_snn"] == pytest.approx(ann / snn, rel=1e-9)
        assert row["convention_mJ"] == row["snn_mJ"]
        assert row["audit"] == report.audit().level
        assert row["violations"] == len(report.audit().violations)
        assert "untrained" in row["weights"] and "BatchNorm calibrated" in row["weights"] and "seed 0" in row["weights"]


def test_reports_at_level_2_and_a_paper_convention(own):
    from snnenergy.energy.conventions import apply_convention

    reports = [r for _, r in own.values()]
    preset = "int8"
    df = compare_models(reports, preset=preset, level=2, integer_as="ac", convention="spikformer")
    for report, row in zip(reports, df.itertuples(index=False)):
        e = report.energy(preset=preset, level=2, integer_as="ac").totals
        for col in ("snn_mJ", "ann_mJ", "qnn_mJ", "qnn_over_snn"):
            assert getattr(row, col) == pytest.approx(e[col], rel=1e-12)
        assert row.convention_mJ == pytest.approx(apply_convention(report, "spikformer", preset).mJ, rel=1e-12)
        assert row.convention_mJ != pytest.approx(row.snn_mJ)  # a different bookkeeping, not a copy
        assert math.isnan(row.params)  # a Report made by profile() records no parameter count
    text = compare_text(df, 100)
    assert "SNN energy, spikformer" in text and "level 2" in text


def test_saved_reports_stand_in_for_models(own, by_name, tmp_path):
    model, report = own[SMALL[0]]
    report = snnenergy.Report.from_dict(report.to_dict())  # a copy: the fixture's report stays as profiled
    report.meta["params"] = sum(p.numel() for p in model.parameters())
    path = report.save(tmp_path / "r")["json"]
    row = compare_models([path]).iloc[0]
    for col in ("params", "dense_ops", "ac", "mac", "integer_mac", "snn_mJ", "ann_mJ", "qnn_mJ"):
        assert row[col] == pytest.approx(by_name.loc[SMALL[0], col], rel=1e-12), col
    with pytest.raises(FileNotFoundError, match="report file not found"):
        compare_models([str(tmp_path / "missing.json")])


def test_bad_model_lists_are_refused_in_one_line():
    with pytest.raises(ValueError, match="no empty names"):
        compare_models("snn-cnn-residual,,x")
    with pytest.raises(ValueError, match="given twice"):
        compare_models(["snn-cnn-residual", "snn-cnn-residual"])
    with pytest.raises(TypeError, match="zoo names or snnenergy Reports"):
        compare_models([3])
    with pytest.raises(KeyError, match="unknown model"):
        compare_models(["no-such-model"])


@pytest.mark.parametrize("width", [40, 55, 70, 100, 160])
def test_text_fits_every_width_and_shows_every_model(by_name, width):
    df = by_name.reset_index()
    long = df.copy()
    long.loc[1, "model"] = "x" * 120  # a name wider than any terminal is shortened, never overflows
    for frame in (df, long):
        text = compare_text(frame, width)
        assert max(map(len, text.splitlines())) <= width
    text = compare_text(df, width)
    for name in SMALL:
        assert name in text
    cells = {line.split()[0] for line in text.splitlines() if line.strip()}
    assert {"T", "audit"} <= cells


@pytest.mark.parametrize("width", [40, 100])
def test_text_shows_the_table_values_uncut(by_name, width):
    df = by_name.reset_index()
    text = compare_text(df, width)
    rows = [line for line in text.splitlines() if line.startswith("SNN energy (")]  # one per block of models
    unit = rows[0][rows[0].index("(") + 1:rows[0].index(")")]
    factor = {"mJ": 1, "µJ": 1e3, "nJ": 1e6, "pJ": 1e9}[unit]
    shown = [float(v.replace(",", "")) for row in rows for v in row.split(")")[1].split()]
    assert shown == pytest.approx(list(df["snn_mJ"] * factor), rel=5e-4)  # four significant digits


def test_markdown_has_one_row_per_model(by_name):
    md = compare_markdown(by_name.reset_index())
    rows = [line for line in md.splitlines() if line.startswith("| snn-")]
    assert [r.split("|")[1].strip() for r in rows] == list(SMALL)


def test_cli_prints_a_table_within_columns_and_writes_csv_and_markdown(tmp_path, by_name, own):
    from snnenergy.energy.conventions import apply_convention

    out = tmp_path / "cmp"
    res = CliRunner(env={"COLUMNS": "100"}).invoke(main, ["compare", "--models", ",".join(SMALL), "--out", str(out),
                                                          "--convention", "spikformer"])
    assert res.exit_code == 0, res.output
    table = [line for line in res.output.splitlines() if not line.startswith("wrote ")]
    assert len(table) > 15 and max(map(len, table)) <= 100
    assert res.output.splitlines()[-2:] == [f"wrote {out / 'compare.csv'}", f"wrote {out / 'compare.md'}"]
    for name in SMALL:
        assert name in res.output
    csv = pd.read_csv(out / "compare.csv").set_index("model")
    for col in ("dense_ops", "ac", "mac", "integer_mac", "snn_mJ", "ann_mJ", "qnn_mJ", "params"):
        assert csv[col].to_numpy() == pytest.approx(by_name.loc[list(csv.index), col].to_numpy(), rel=1e-12)
    for name in SMALL:  # the same counts as the API's own profile, so the same paper-convention energy
        assert csv.loc[name, "convention_mJ"] == pytest.approx(apply_convention(own[name][1], "spikformer").mJ,
                                                               rel=1e-9)
    assert "SNN energy, spikformer" in res.output
    assert "untrained" in res.output and "BatchNorm calibrated" in res.output  # the weights are labelled
    assert (out / "compare.md").read_text(encoding="utf-8").startswith("# Model comparison")


@pytest.mark.parametrize("args, message", [
    (["--models", "snn-cnn-residual,,"], "expected zoo names separated by commas"),
    (["--models", "no-such-model"], "unknown model 'no-such-model'"),
    (["--models", "snn-cnn-residual", "--convention", "excel"], "unknown convention 'excel'"),
    (["--models", "snn-cnn-residual", "--preset", "nope"], "nope"),
])
def test_cli_bad_input_is_one_line(args, message):
    res = CliRunner(env={"COLUMNS": "100"}).invoke(main, ["compare", *args])
    assert res.exit_code != 0 and message in res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, (KeyError, ValueError, TypeError))
