"""The command line wired to the API's newer features: level-3 memory options, chip presets, break-even and QNN
figures, uncounted ops, data caps and datasets, progress, forward errors, file permissions, dry runs, torchrun.
Expected figures are computed here from the profile's counts and the cited per-op constants, not by the
energy model under test."""
import json
import math
import os
import re
import stat
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner
from torch.utils.data import DataLoader, Dataset

from cli_testing import UNCOUNTED_OP_MODEL
from snnenergy import Report
from snnenergy.cli import main

SMALL = "snn-cnn-residual"  # CIFAR-sized residual SNN, T = 4: seconds per run
T_SMALL = 4


def run(*args, columns=160):
    return CliRunner(env={"COLUMNS": str(columns)}).invoke(main, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


def ok(res):
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """One level-1 run of the small model with its files (the counts the hand computations start from)."""
    out = tmp_path_factory.mktemp("base")
    res = ok(run("profile", "--model", SMALL, "--out", str(out)))
    return res.output, Report.from_json(out / "report.json"), out


def _steps(layers):
    return [T_SMALL if s else 1 for s in layers["per_step"].astype(bool)]


def _spike_sites(layers):
    kinds = ("binary", "ternary")
    return layers["input_kind"].isin(kinds) | layers["other_operand"].astype(str).isin(kinds)


# ------------------------------------------------------------------------------------------ energy options
def test_break_even_is_printed_as_a_percentage_against_the_ann_and_the_qnn(base):
    text, rep, _ = base
    L = rep.layers
    ann_macs = sum(d / s for d, s in zip(L["dense_ops"], _steps(L)))
    spike = _spike_sites(L)
    # fp32 (Horowitz): E_MAC 4.6 pJ, E_AC 0.9 pJ; the QNN at ceil(log2(4+1)) = 3 bits: 0.2*(3/8)^2 + 0.03*(3/8)
    e_ann = 4.6 * ann_macs
    e_qnn = (0.2 * (3 / 8) ** 2 + 0.03 * (3 / 8)) * ann_macs
    e0 = 4.6 * (L["mac"].sum() + L["integer_mac"].sum()) + 0.9 * L["ac"][~spike].sum()  # spike ops at rate 0
    # every spike-driven op at rate 1: the boundary-exact count, or the nominal one where the profile lacks it
    rate1 = L["full_rate_ops"] if "full_rate_ops" in L else L["dense_ops"]
    slope = 0.9 * rate1[spike].sum()
    r_ann, r_qnn = (e_ann - e0) / slope, (e_qnn - e0) / slope
    line = flat(text)
    assert f"vs ANN {100 * r_ann:.4g} %" in line and f"vs QNN {100 * r_qnn:.4g} %" in line
    assert f"QNN counterpart (3-bit) {e_qnn / 1e9:.4g} mJ" in line
    assert f"ANN counterpart {e_ann / 1e9:.4g} mJ" in line
    snn = 0.9 * L["ac"].sum() + 4.6 * (L["mac"].sum() + L["integer_mac"].sum())
    assert f"SNN {snn / 1e9:.4g} mJ" in line


def _chip_expected(rep, e_synop, e_neuron, level):
    L, n = rep.layers, rep.neurons
    events = L["ac"].sum() + L["mac"].sum() + L["integer_mac"].sum()  # every AC and MAC is one event
    updates = sum(k * (T_SMALL if s else 1) for k, s in zip(n["neurons"], n["per_step"].astype(bool)))
    return (events * e_synop + (updates * e_neuron if level == 2 else 0.0)) / 1e9


@pytest.mark.parametrize("preset, e_synop, e_neuron, level", [
    ("loihi", 23.6, 81.0, 2),  # Davies et al. 2018, Table 2: 23.6 pJ per synaptic op, 81 pJ per neuron update
    ("truenorth", 1e12 / 46e9, 0.0, 1),  # Merolla et al. 2014: 46 GSOPS/W
    ("spinnaker2", 450.0, 2190.0, 2),  # Hoppner et al. 2019 via KerasSpiking
])
def test_chip_presets_print_per_event_figures_and_price_events(tmp_path, base, preset, e_synop, e_neuron, level):
    res = ok(run("profile", "--model", SMALL, "--preset", preset, "--level", str(level), "--out", str(tmp_path)))
    text = flat(res.output)
    assert f"chip preset {preset}" in text and "pJ per synaptic event" in text and "E_MAC" not in text
    assert "leaves out:" in text and "QNN not priced on a chip preset" in text
    got = json.loads((tmp_path / "report.json").read_text())["meta"]["energy"]["totals"]["snn_mJ"]
    assert got == pytest.approx(_chip_expected(base[1], e_synop, e_neuron, level), rel=2e-3)


def test_level_3_on_a_chip_preset_is_a_one_line_error():
    res = run("profile", "--model", SMALL, "--preset", "loihi", "--level", "3")
    assert res.exit_code == 2 and "level 1 or 2" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("options, api", [
    (["--sram-kib", "4"], {"sram_kib": 4.0}),
    (["--sram-model", "lemaire"], {"sram_model": "lemaire"}),
    (["--sram-kib", "1", "--dram"], {"sram_kib": 1.0, "dram": True}),
])
def test_memory_options_reach_the_level_3_energy_console_and_files(tmp_path, base, options, api):
    res = ok(run("profile", "--model", SMALL, "--level", "3", *options, "--out", str(tmp_path)))
    rep = base[1]
    want = rep.energy(level=3, **api).totals
    default = rep.energy(level=3).totals
    assert want["snn_mJ"] != pytest.approx(default["snn_mJ"], rel=1e-6)  # the option changes the figure
    assert f"SNN {want['snn_mJ']:.4g} mJ" in flat(res.output)
    saved = json.loads((tmp_path / "report.json").read_text())["meta"]["energy"]["totals"]
    assert saved["snn_mJ"] == pytest.approx(want["snn_mJ"], rel=1e-12)
    assert f"{want['snn_mJ']:.4g} mJ" in flat((tmp_path / "report.md").read_text())


def test_with_dram_the_1_kib_sram_overflows_and_costs_more():
    rep_args = ("profile", "--model", SMALL, "--level", "3", "--sram-kib", "1")
    without, with_ = ok(run(*rep_args)), ok(run(*rep_args, "--dram"))
    snn = [float(re.search(r"SNN ([\d.e-]+) mJ", flat(r.output)).group(1)) for r in (without, with_)]
    assert snn[1] > snn[0]


def test_memory_options_below_level_3_are_refused():
    res = run("profile", "--model", SMALL, "--sram-kib", "64")
    assert res.exit_code == 2 and "--level 3" in res.output


# ------------------------------------------------------------------------------------------ uncounted ops
def test_uncounted_ops_are_said_in_the_energy_summary_and_its_assumptions(tmp_path):
    import importlib.util

    import snnenergy

    src = tmp_path / "odd.py"
    src.write_text(UNCOUNTED_OP_MODEL)
    spec = importlib.util.spec_from_file_location("odd_w", src)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rep = snnenergy.profile(mod.build(), torch.randn(3, 4), batch_size=1)  # 3 forwards, one fft each
    e = rep.energy()
    assert any(a.startswith("NOT COUNTED: 3 ops of 1 kind not counted: fft") for a in e.assumptions)
    assert "3 ops of 1 kind not counted" in str(e) and "leave them out" in str(e)
    clean = snnenergy.profile(torch.nn.Linear(4, 2), torch.randn(3, 4)).energy()
    assert "not counted" not in str(clean)
    torch.save(torch.randn(3, 4), tmp_path / "x.pt")
    res = ok(run("profile", "--module", f"{src}:build", "--input", str(tmp_path / "x.pt"), "--batch-size", "1"))
    assert "3 ops of 1 kind not counted" in flat(res.output)


# --------------------------------------------------------------------------------------- data and progress
def _meta(out):
    return json.loads((out / "report.json").read_text())["meta"]


def test_limit_and_batches_cap_the_shipped_samples(tmp_path):
    ok(run("profile", "--model", SMALL, "--rates-only", "--limit", "3", "--out", str(tmp_path / "a")))
    ok(run("profile", "--model", SMALL, "--rates-only", "--batch-size", "2", "--batches", "2",
           "--out", str(tmp_path / "b")))
    a, b = _meta(tmp_path / "a"), _meta(tmp_path / "b")
    assert (a["samples"], a["batches"]) == (3, 1)
    assert (b["samples"], b["batches"]) == (4, 2)


def test_limit_and_batches_cap_a_tensor_file(tmp_path):
    torch.save(torch.rand(7, 3, 32, 32), tmp_path / "x.pt")
    ok(run("profile", "--model", SMALL, "--rates-only", "--input", str(tmp_path / "x.pt"), "--batch-size", "3",
           "--limit", "5", "--out", str(tmp_path / "o")))
    m = _meta(tmp_path / "o")
    assert (m["samples"], m["batches"]) == (5, 2)  # batches of 3 and 2


def test_an_image_folder_is_a_dataset_capped_by_limit_with_workers(tmp_path):
    from PIL import Image

    folder = tmp_path / "val" / "cls"
    folder.mkdir(parents=True)
    for i in range(5):
        Image.fromarray((torch.rand(40, 40, 3) * 255).to(torch.uint8).numpy()).save(folder / f"{i}.png")
    res = ok(run("profile", "--model", SMALL, "--input", str(tmp_path / "val"), "--batch-size", "2", "--limit", "3",
                 "--num-workers", "1", "--out", str(tmp_path / "o")))
    m = _meta(tmp_path / "o")
    assert (m["samples"], m["batches"]) == (3, 2)
    # BatchNorm is calibrated on one batch of the first 32 samples, whatever the batch size: here all 3
    assert "(3 samples)" in m["inputs"] and "BatchNorm calibrated on folder" in flat(res.output)
    assert "first" not in m["weights"]


class _Unreadable(Dataset):
    def __len__(self):
        return 11

    def __getitem__(self, i):
        raise AssertionError("counting samples must not load any")


def test_samples_of_a_loader_are_counted_without_loading_it():
    from snnenergy.prepare import count_samples

    assert count_samples(DataLoader(_Unreadable(), batch_size=4)) == 11
    assert count_samples([torch.zeros(2, 3), torch.zeros(5, 3)]) == 7


def test_progress_forced_hidden_and_off_when_not_a_terminal():
    args = ("profile", "--model", SMALL, "--rates-only", "--batch-size", "2")
    forced, quiet, default = ok(run(*args, "--progress")), ok(run(*args, "--quiet")), ok(run(*args))
    assert "profiling" in forced.stderr and "5/5" in forced.stderr
    assert "profiling" not in quiet.stderr and "profiling" not in default.stderr  # CliRunner: not a terminal


def test_progress_default_is_on_for_a_terminal_and_more_than_one_batch(monkeypatch):
    from snnenergy.cli import profile as cli_profile

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli_profile._show_progress(None, 2) and not cli_profile._show_progress(None, 1)
    assert not cli_profile._show_progress(False, 9) and cli_profile._show_progress(True, 1)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not cli_profile._show_progress(None, 9)


# ------------------------------------------------------------------------------------------ errors, files
@pytest.mark.parametrize("error", ["ValueError('need at least 10 samples\\nsecond line')",
                                   "IndexError('index 7 is out of bounds')",
                                   "RuntimeError('shapes cannot be multiplied\\nmore detail')"])
def test_a_forward_error_is_one_line_with_the_profilers_note(tmp_path, error):
    src = tmp_path / "bad.py"
    src.write_text("from torch import nn\n"
                   "class M(nn.Module):\n"
                   "    def forward(self, x):\n"
                   f"        raise {error}\n"
                   "def build():\n    return M()\n")
    torch.save(torch.randn(3, 4), tmp_path / "x.pt")
    res = run("profile", "--module", f"{src}:build", "--input", str(tmp_path / "x.pt"))
    assert res.exit_code == 1 and "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "the model failed on the inputs" in lines[0]
    assert "snnenergy: raised by M.forward on a batch of shape (3, 4)" in lines[0]
    assert "second line" not in res.output and "more detail" not in res.output


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_atomic_write_gives_the_permissions_of_the_umask(tmp_path, mask):
    from snnenergy.report.report import atomic_write

    old = os.umask(mask)
    try:
        atomic_write(tmp_path / "a.txt", "x")
        Report.from_json(Report(meta={"model": "m", "time_steps": 1}).to_json()).to_json(tmp_path / "r.json")
    finally:
        os.umask(old)
    for f in ("a.txt", "r.json"):
        assert stat.S_IMODE(os.stat(tmp_path / f).st_mode) == 0o666 & ~mask
    assert (tmp_path / "a.txt").read_text() == "x"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


# ------------------------------------------------------------------------------------------------ dry run
def _printed_acs(text: str) -> str:
    return re.search(r"per sample: ACs ([\w,]+)", text).group(1)


def test_dry_run_with_an_assumed_rate_counts_rate_times_the_real_runs_dense_ops(base):
    rep = base[1]
    binary = rep.layers["input_kind"] == "binary"
    expected = 0.1 * rep.layers["dense_ops"][binary].sum()  # the real profile's dense ops of spike-driven sites
    res = ok(run("profile", "--model", SMALL, "--dry-run", "--assume-rate", "0.1"))
    assert _printed_acs(res.output) == f"{expected:,.0f}"
    assert "dry run on the meta device" in flat(res.output) and "energy per sample" in res.output
    dense = f"dense {rep.totals()['dense_ops']:,.0f}"
    assert dense in res.output


def test_dry_run_with_a_real_runs_rates(base):
    rep, out = base[1], base[2]
    L = rep.layers
    binary = L["input_kind"] == "binary"
    expected = (L["input_rate"][binary] * L["dense_ops"][binary]).sum()
    res = ok(run("profile", "--model", SMALL, "--dry-run", "--rates", str(out / "report.json")))
    assert _printed_acs(res.output) == f"{expected:,.0f}"


def test_dry_run_without_rates_knows_no_acs_and_no_energy(tmp_path):
    res = ok(run("profile", "--model", SMALL, "--dry-run", "--out", str(tmp_path)))
    assert _printed_acs(res.output) == "unknown" and "energy per sample" not in res.output
    assert "--assume-rate" in res.output and " mJ" not in res.output
    saved = json.loads((tmp_path / "report.json").read_text())
    assert "energy" not in saved["meta"] and (tmp_path / "energy.csv").read_text() == ""
    assert " mJ" not in (tmp_path / "report.md").read_text()


def test_dry_run_of_a_module_with_an_input_shape_and_refused_combinations(tmp_path):
    src = tmp_path / "net.py"
    src.write_text("from torch import nn\nfrom snnenergy.neurons import LIF\n"
                   "def build():\n    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), LIF(), nn.Flatten(),"
                   " nn.Linear(4 * 8 * 8, 2))\n")
    res = ok(run("profile", "--module", f"{src}:build", "--dry-run", "--input-shape", "3,8,8", "--assume-rate", "0.5"))
    # conv: 8*8 positions x 4 out x 27 taps (fvcore-style dense, padding included); linear: 256 x 2
    assert f"dense {8 * 8 * 4 * 27 + 256 * 2:,}" in res.output
    assert _printed_acs(res.output) == f"{0.5 * 256 * 2:,.0f}"
    assert run("profile", "--model", SMALL, "--assume-rate", "0.1").exit_code == 2
    refused = run("profile", "--model", SMALL, "--dry-run", "--limit", "2")
    assert refused.exit_code == 2 and "--limit" in refused.output


# ---------------------------------------------------------------------------------------------- torchrun
def _cli(*args, out, nproc=None):
    prefix = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)] \
        if nproc else [sys.executable]
    env = {**os.environ, "COLUMNS": "100", "OMP_NUM_THREADS": "1"}
    return subprocess.run([*prefix, "-m", "snnenergy", "profile", *args, "--out", str(out)], capture_output=True,
                          text=True, timeout=180, env=env)


def test_torchrun_two_processes_give_the_single_process_tables(tmp_path):
    args = ("--model", SMALL, "--batch-size", "2")
    start = time.perf_counter()
    two = _cli(*args, out=tmp_path / "two", nproc=2)
    if time.perf_counter() - start > 60:
        pytest.skip("two torchrun processes took over 60 s on this machine")
    assert two.returncode == 0, two.stderr[-2000:]
    one = _cli(*args, out=tmp_path / "one")
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.stdout.count("Per block") == 1  # only rank 0 prints
    a, b = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("one", "two"))
    assert (a["meta"]["samples"], a["meta"]["batches"]) == (b["meta"]["samples"], b["meta"]["batches"]) == (5, 3)
    # every table, the neurons' dead / saturated fractions included (the ranks sum per-neuron spike counts)
    for name in ("layers", "per_step", "neurons", "other_ops", "unsupported"):
        assert a["tables"][name] == b["tables"][name], name
    assert a["meta"]["energy"]["totals"] == b["meta"]["energy"]["totals"]
    assert not math.isnan(a["meta"]["energy"]["totals"]["snn_mJ"])


# ---------------------------------------------------------------------------------------------- conventions
def test_convention_prices_the_same_run_under_a_papers_bookkeeping(base):
    rep = base[1]
    res = ok(run("profile", "--model", SMALL, "--convention", "spikformer"))
    want = rep.energy(convention="spikformer")
    assert f"spikformer: {want.mJ:.6g} mJ per sample" in flat(res.output)
    assert max(map(len, res.output.splitlines())) <= 160  # wrapped to the terminal
    assert "convention spikformer" in res.output
    assert "convention" not in ok(run("profile", "--model", SMALL, "--rates-only", "--convention", "sdt")).output
    assert run("profile", "--model", SMALL, "--convention", "nope").exit_code == 2
