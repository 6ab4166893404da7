"""``snnenergy`` end to end through the CLI: the main job, files, inputs, checkpoints and what the console shows."""
import argparse
import json
import os
import re
import stat
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from cli_testing import UNCOUNTED_OP_MODEL
from snnenergy import Report, create_model
from snnenergy.cli import main

SMALL = "snn-cnn-residual"  # the zoo's small reference CNN (CIFAR input): seconds per run


def run(*args, columns=100, **kw):
    """Invoke the CLI in-process with a terminal ``columns`` wide."""
    return CliRunner(env={"COLUMNS": str(columns)}, **kw).invoke(main, list(args))


def flat(text: str) -> str:
    """The output with wrapped lines joined (single spaces)."""
    return " ".join(text.split())


def width(text: str) -> int:
    return max(map(len, text.splitlines()), default=0)


# ------------------------------------------------------------------------------------------- the main job
@pytest.mark.slow
def test_main_job_default_model_fires_everywhere_and_says_untrained_and_calibrated(tmp_path):
    # the README's main job (the default model on the shipped photographs), rates only to keep the test short
    res = run("profile", "--model", "spikingformer", "--rates-only", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert "untrained weights, BatchNorm calibrated on 5 sample photographs: illustrative only" in flat(res.output)
    rep = Report.from_json(tmp_path / "report.json")
    assert len(rep.neurons) == 60 and (rep.neurons["firing_rate"] > 0).all()
    assert "0 of 60 layers never fire" in res.output


def test_untrained_zoo_models_calibrate_by_default_and_not_with_no_calibrate(tmp_path):
    on = run("profile", "--model", "spikformer-4-384-cifar10", "--rates-only", "--out", str(tmp_path / "on"))
    off = run("profile", "--model", "spikformer-4-384-cifar10", "--rates-only", "--no-calibrate",
              "--out", str(tmp_path / "off"))
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    fired_on = Report.from_json(tmp_path / "on" / "report.json").neurons["firing_rate"]
    fired_off = Report.from_json(tmp_path / "off" / "report.json").neurons["firing_rate"]
    assert (fired_on > 0).all()
    assert (fired_off == 0).sum() > len(fired_off) // 2  # fresh BatchNorm: most layers silent
    assert "BatchNorm not calibrated" in flat(off.output) and "calibrated on" not in off.output


def test_published_figures_are_printed_as_labelled_reference_values():
    res = run("profile", "--model", "spikformer-4-384-cifar10", "--rates-only")
    line = flat(res.output.split("\npublished")[1].split("\nper sample")[0])
    assert "reference values, not computed here" in line and "top-1 95.19 %" in line
    assert "params 9.32 M" in line and "ours: params" in line


def test_two_runs_give_byte_identical_json_and_text(tmp_path):
    outs = [run("profile", "--model", SMALL, "--seed", "3", "--out", str(tmp_path / str(i))) for i in range(2)]
    assert all(o.exit_code == 0 for o in outs), outs[0].output
    assert outs[0].output.replace(str(tmp_path / "0"), "") == outs[1].output.replace(str(tmp_path / "1"), "")
    a, b = ((tmp_path / str(i) / "report.json").read_bytes() for i in range(2))
    assert a == b
    other = run("profile", "--model", SMALL, "--seed", "4", "--out", str(tmp_path / "2"))
    assert (tmp_path / "2" / "report.json").read_bytes() != a, other.output
    assert json.loads(a)["meta"]["seed"] == 3


# ------------------------------------------------------------------------------------------- checkpoints
def _official_style_checkpoint(path, state, key="state_dict"):
    """A checkpoint as timm-style training scripts save it: weights beside run arguments and metrics."""
    torch.save({key: state, "epoch": 299, "arch": SMALL, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]},
                "args": argparse.Namespace(lr=0.1, model=SMALL, output=None), "metric": np.float64(91.25),
                "version": 2}, path)


def test_checkpoint_with_argparse_namespace_loads_by_default_and_is_not_calibrated(tmp_path):
    state = create_model(SMALL, seed=7).state_dict()
    state = {k: (v + 0.5 if k.endswith("running_mean") else v) for k, v in state.items()}
    _official_style_checkpoint(tmp_path / "ckpt.pth", state)
    res = run("profile", "--model", SMALL, "--checkpoint", str(tmp_path / "ckpt.pth"), "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    assert "weights: checkpoint" in res.output and "calibrated" not in res.output
    # what was profiled kept the checkpoint's statistics: the same counts as that state dict through the API
    from snnenergy import profile
    from snnenergy.data import sample_images

    model = create_model(SMALL)
    model.load_state_dict(state)
    by_hand = profile(model, sample_images(32, normalize="cifar10"))
    assert Report.from_json(tmp_path / "o" / "report.json").totals()["ac"] == pytest.approx(by_hand.totals()["ac"])


def test_calibrating_over_a_checkpoint_warns(tmp_path):
    _official_style_checkpoint(tmp_path / "ckpt.pth", create_model(SMALL).state_dict(), key="model")
    res = run("profile", "--model", SMALL, "--checkpoint", str(tmp_path / "ckpt.pth"), "--calibrate-bn",
              "--rates-only")
    assert res.exit_code == 0, res.output
    assert "warning: --calibrate-bn overwrites the checkpoint's trained BatchNorm statistics" in flat(res.output)


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"this is a text file, not a checkpoint\n", "is not a PyTorch checkpoint"),
    ("truncated", "is not a PyTorch checkpoint, or is truncated or corrupted"),
    ("tensor", "must hold a state dict"),
    ("no-weights", "holds no weights"),
    ("mismatch", "checkpoint does not match snn-cnn-residual"),
])
def test_bad_checkpoints_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.pth"
    if content == "truncated":
        torch.save(create_model(SMALL).state_dict(), path)
        path.write_bytes(path.read_bytes()[:5000])
    elif content == "tensor":
        torch.save(torch.zeros(3), path)
    elif content == "no-weights":
        torch.save({"epoch": 3, "args": argparse.Namespace(lr=1)}, path)
    elif content == "mismatch":
        torch.save(create_model("spikformer-4-384-cifar10").state_dict(), path)
    else:
        path.write_bytes(content)
    res = run("profile", "--model", SMALL, "--checkpoint", str(path))
    assert res.exit_code == 2  # a bad --checkpoint is a usage error
    assert res.output.count("\n") == 1 and res.output.startswith("Error: "), res.output
    assert message in res.output and "Traceback" not in res.output


class NotWeights:  # a pickled object that weights_only loading refuses
    pass


def test_checkpoints_with_other_objects_need_trust_checkpoint(tmp_path):
    sys.modules["__main__"].NotWeights = NotWeights
    NotWeights.__module__ = "__main__"
    path = tmp_path / "odd.pth"
    torch.save({"state_dict": create_model(SMALL).state_dict(), "extra": NotWeights()}, path)
    refused = run("profile", "--model", SMALL, "--checkpoint", str(path), "--rates-only")
    assert refused.exit_code == 2 and "--trust-checkpoint" in refused.output and "NotWeights" in refused.output
    trusted = run("profile", "--model", SMALL, "--checkpoint", str(path), "--rates-only", "--trust-checkpoint")
    assert trusted.exit_code == 0, trusted.output


# ----------------------------------------------------------------------------------------- console output
def test_console_fits_100_columns_through_the_installed_command():
    env = dict(os.environ, COLUMNS="100")
    res = subprocess.run([sys.executable, "-m", "snnenergy", "profile", "--model", "spikformer-4-384-cifar10",
                          "--detail", "--level", "2"], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert width(res.stdout) <= 100, max(res.stdout.splitlines(), key=len)
    assert "Per block" in res.stdout and "Every synaptic site" in res.stdout and "Neuron layers" in res.stdout


def test_default_view_fits_100_columns():
    res = run("profile", "--model", "spikformer-4-384-cifar10", columns=100)
    assert res.exit_code == 0 and width(res.output) <= 100


def test_narrow_terminal_shortens_names_in_the_middle_and_keeps_them_distinct():
    res = run("profile", "--model", "spikformer-4-384-cifar10", "--detail", columns=72)
    assert res.exit_code == 0, res.output
    assert width(res.output) <= 72
    table = res.output.split("Every synaptic site")[1].split("\n\n")[0].splitlines()[3:]
    sites = [re.split(r"\s{2,}", row.strip())[:2] for row in table]
    assert any("…" in s[0] for s in sites)
    assert len({tuple(s) for s in sites}) == len(sites)  # no two sites look the same


def test_sites_with_the_same_layer_and_op_are_told_apart():
    res = run("profile", "--model", "spikformer-4-384-cifar10", "--detail", columns=160)
    rows = [line for line in res.output.splitlines() if line.startswith("block.0.attn ")]
    ops = [re.split(r"\s{2,}", r)[1] for r in rows]
    assert len(ops) == 2 and len(set(ops)) == 2 and all("matmul(" in o for o in ops)


def test_default_view_is_per_block_and_top_sites_detail_lists_everything(tmp_path):
    short = run("profile", "--model", "spikformer-4-384-cifar10", "--out", str(tmp_path), columns=160)
    rep = Report.from_json(tmp_path / "report.json")
    blocks = short.output.split("Per block")[1].split("\n\n")[0].splitlines()[3:]
    assert [b.split()[0] for b in blocks] == ["patch_embed", "block.0", "block.1", "block.2", "block.3", "head"]
    assert f"Top 10 of {len(rep.layers)} synaptic sites" in short.output
    assert "Neuron layers" not in short.output
    detail = run("profile", "--model", "spikformer-4-384-cifar10", "--detail", columns=160).output
    assert "Neuron layers" in detail
    assert all(layer in detail for layer in rep.neurons["layer"])
    # the block rows add up to the totals
    total_ac = sum(float(b.split()[2].replace(",", "")) for b in blocks)
    assert total_ac == pytest.approx(rep.totals()["ac"], rel=1e-6)


def test_preset_line_once_and_level_2_splits_synaptic_and_neuron_energy():
    res = run("profile", "--model", SMALL, "--level", "2", "--detail", columns=200)
    assert res.output.count("E_MAC 4.6 pJ, E_AC 0.9 pJ") == 1
    assert re.search(r"synaptic [\d.e-]+ mJ \+ neuron [\d.e-]+ mJ", flat(res.output))
    assert "E_cmp 0.9 pJ" in res.output


def test_an_ann_is_labelled_as_such(tmp_path):
    src = tmp_path / "ann.py"
    src.write_text("from torch import nn\n"
                   "def build():\n"
                   "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3600, 2))\n")
    res = run("profile", "--module", f"{src}:build", "--input-shape", "3,32,32")
    assert res.exit_code == 0, res.output
    assert "ANN: no spiking neurons" in res.output and "SNN " not in res.output
    assert "5 samples" in res.output  # the shipped photographs at the given shape


def test_rates_only_prints_rates_not_zero_op_counts():
    res = run("profile", "--model", SMALL, "--rates-only")
    assert res.exit_code == 0, res.output
    assert "firing_rate" in res.output and "stem.lif" in res.output
    assert "Per block" not in res.output and "ACs" not in res.output and "energy per sample" not in res.output


def test_markdown_uses_one_number_format_per_column_and_records_inputs_and_energy(tmp_path):
    res = run("profile", "--model", SMALL, "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    md = (tmp_path / "report.md").read_text()
    table = md.split("## Synaptic sites (per sample)")[1].split("\n\n")[1].splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    rows = [[c.strip() for c in r.strip("|").split("|")] for r in table[2:]]
    for j, name in enumerate(header):
        cells = [r[j] for r in rows if re.fullmatch(r"[\d,.]+", r[j])]
        shapes = {re.sub(r"\d", "9", c.replace(",", "")).split(".")[-1] if "." in c else "" for c in cells}
        assert len(shapes) <= 1, (name, cells)
        assert not any("e+" in r[j] for r in rows)
    assert "inputs: 5 shipped sample photographs" in md
    meta = json.loads((tmp_path / "report.json").read_text())["meta"]
    assert meta["inputs"].startswith("5 shipped sample photographs") and meta["input_source"] == "samples"
    assert meta["energy"]["preset"] == "fp32" and meta["energy"]["totals"]["snn_mJ"] > 0


def test_unsupported_ops_are_said_to_be_left_out_of_the_energy(tmp_path):
    src = tmp_path / "odd.py"
    src.write_text(UNCOUNTED_OP_MODEL)
    torch.save(torch.randn(3, 4), tmp_path / "x.pt")
    res = run("profile", "--module", f"{src}:build", "--input", str(tmp_path / "x.pt"))
    assert res.exit_code == 0, res.output
    rep_line = [x for x in res.output.splitlines() if "NOT COUNTED" in x]
    assert rep_line and "leaves them out" in flat(res.output.split("NOT COUNTED")[1])


# ------------------------------------------------------------------------------------------ files, inputs
def test_profile_writes_files_that_from_json_reads(tmp_path):
    out = tmp_path / "out"
    res = run("profile", "--model", SMALL, "--out", str(out), "--level", "2")
    assert res.exit_code == 0, res.output
    assert "stem.conv" in res.output and "ANN/SNN" in res.output
    rep = Report.from_json(out / "report.json")
    assert rep.meta["model"] == SMALL and rep.meta["samples"] == 5  # the five shipped photographs
    assert rep.meta["weights"].startswith("untrained")
    assert pd.read_csv(out / "layers.csv").layer.tolist() == rep.layers.layer.tolist()
    assert (out / "report.md").read_text().startswith("# snnenergy report")


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_output_files_respect_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        res = run("profile", "--model", SMALL, "--rates-only", "--out", str(tmp_path))
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    for f in ("report.json", "layers.csv", "neurons.csv", "report.md"):
        assert stat.S_IMODE(os.stat(tmp_path / f).st_mode) == 0o666 & ~mask


def test_unwritable_out_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    start = time.perf_counter()
    res = run("profile", "--model", "spikingformer", "--out", str(blocker / "sub"))
    assert res.exit_code == 2 and "--out" in res.output and "Traceback" not in res.output
    assert time.perf_counter() - start < 5  # the 224-pixel default model was never run
    assert "Per block" not in res.output


def test_profile_user_module_and_tensor_input(tmp_path):
    src = tmp_path / "mymodel.py"
    src.write_text(
        "import torch\nfrom torch import nn\nfrom snnenergy.neurons import LIF\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.time_steps = 2; self.fc = nn.Linear(4, 3); self.lif = LIF()\n"
        "    def forward(self, x):\n"
        "        return self.lif(self.fc(x.unsqueeze(0).repeat(self.time_steps, 1, 1)))\n"
        "def build():\n    return M()\n"
    )
    x = tmp_path / "x.pt"
    torch.save(torch.randn(3, 4), x)
    res = run("profile", "--module", f"{src}:build", "--input", str(x), "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    rep = Report.from_json(tmp_path / "o" / "report.json")
    assert rep.layers.op.tolist() == ["linear"] and rep.meta["samples"] == 3
    assert rep.meta["inputs"].startswith(f"file {x}")
    again = run("profile", "--module", f"{src}:build", "--input", str(x), "--time-steps", "3")
    assert again.exit_code == 0, again.output
    assert "T = 3" in again.output and "create_model" not in again.output


def test_module_without_card_needs_input_shape_and_says_so(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("from torch import nn\ndef build():\n    return nn.Conv2d(3, 2, 3)\n")
    res = run("profile", "--module", f"{src}:build")
    assert res.exit_code == 2 and "--input-shape" in res.output


def test_integer_images_and_unbatched_tensors_are_read_with_a_warning(tmp_path):
    img = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    torch.save(img, tmp_path / "img.pt")
    res = run("profile", "--model", SMALL, "--input", str(tmp_path / "img.pt"), "--rates-only",
              "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    assert "read as 8-bit images, divided by 255 and normalised with the cifar10 mean/std" in flat(res.output)
    assert "without a batch dimension: read as a batch of 1" in flat(res.output)
    assert Report.from_json(tmp_path / "o" / "report.json").meta["samples"] == 1


@pytest.mark.parametrize("args,message", [
    (["profile", "--model", "spikingformr-8-512"], "unknown model"),
    (["profile"], "exactly one of --model"),
    (["profile", "--model", SMALL, "--preset", "7nm"], "unknown energy preset"),
    (["profile", "--module", "nofile.py:f"], "file not found"),
    (["profile", "--model", SMALL, "--fuse"], "has no fuse()"),
    (["profile", "--model", SMALL, "--input-shape", "3,x"], "--input-shape"),
])
def test_bad_invocations_explain_themselves(args, message):
    res = run(*args)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_fuse_profiles_a_fused_meta_spikeformer_binary_after_the_encoder(tmp_path):
    x = torch.load(_one_photo(tmp_path, 224))
    torch.save(x, tmp_path / "x.pt")
    res = run("profile", "--model", "meta-spikeformer-15m-t1", "--fuse", "--input", str(tmp_path / "x.pt"),
              "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    layers = Report.from_json(tmp_path / "o" / "report.json").layers
    convs = layers[layers.op == "conv2d"]
    assert convs.input_kind.iloc[0] == "real"
    assert (convs.input_kind.iloc[1:] == "binary").all()
    assert "fused for inference" in flat(res.output)


def _one_photo(tmp_path, size):
    from snnenergy.data import sample_images

    path = tmp_path / "photo.pt"
    torch.save(sample_images(size, n=1), path)
    return path


# ----------------------------------------------------------------------------------------------- models
def test_models_lists_the_zoo_with_a_header_and_one_spelling_per_dataset():
    from snnenergy.models import DATASETS

    res = run("models", columns=200)  # wide enough for every column
    assert res.exit_code == 0 and SMALL in res.output
    lines = res.output.splitlines()
    assert lines[0].split()[:4] == ["name", "family", "dataset", "T"]
    datasets = {line.split()[2] for line in lines[2:] if line and not line.startswith((" ", "aliases"))
                and len(line.split()) > 4 and line.split()[3].isdigit()}
    assert datasets and datasets <= set(DATASETS)
    assert width(run("models").output) <= 100


def test_model_cards_are_readable_and_patterns_select():
    one = run("models", "--cards", "spikingformer")  # an alias
    assert one.exit_code == 0
    assert one.output.startswith("spikingformer-8-512")
    assert "published:" in one.output and "reference values" in one.output
    assert width(one.output) <= 100 and "{" not in one.output and "[(" not in one.output
    several = run("models", "--cards", "sdt-*")
    assert several.output.count("\n\n") >= 2
    none = run("models", "--cards", "no-such-*")
    assert none.exit_code == 2 and "no model matches" in none.output


def test_help_starts_fast_without_torch():
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "snnenergy", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "profile" in res.stdout
    assert time.perf_counter() - start < 3  # ~0.2 s idle; generous for a loaded CI machine
    probe = subprocess.run([sys.executable, "-c", "import sys, snnenergy.cli; print('torch' in sys.modules)"],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "False"
