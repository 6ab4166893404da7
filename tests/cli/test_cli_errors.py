"""What the command line says when something is wrong, and how wide its listings are: one-line errors with one
exit-code rule across commands (2 usage, 1 the model or the user's code failing), did-you-mean suggestions,
the user's --module file, and the listings of models, estimate and reproduce within 100 columns."""
import re

import pytest
import torch
from click.testing import CliRunner

from snnenergy.cli import main

SMALL = "snn-cnn-residual"


def run(*args, columns=100):
    return CliRunner(env={"COLUMNS": str(columns)}).invoke(main, list(args))


def width(text: str) -> int:
    return max(map(len, text.splitlines()), default=0)


def error_line(res) -> str:
    """The output's one line, which must be an ``Error:`` line (no usage block, no traceback)."""
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    return lines[0]


# ------------------------------------------------------------------------------------------ --module files
@pytest.mark.parametrize("source, message", [
    ("def build(:\n", "SyntaxError at line 1: invalid syntax"),
    ("import nonexistent_pkg_xyz\ndef build():\n    pass\n",
     "ModuleNotFoundError: No module named 'nonexistent_pkg_xyz'"),
    ("x = 1\nraise ValueError('bad\\nconfig')\ndef build():\n    pass\n", "ValueError: bad"),
])
@pytest.mark.parametrize("command, code", [("profile", 1), ("audit", 2)])
def test_a_module_that_cannot_be_imported_is_one_line_naming_the_file(tmp_path, source, message, command, code):
    src = tmp_path / "user_net.py"
    src.write_text(source)
    res = run(command, "--module", f"{src}:build", "--input-shape", "3,32,32")
    assert res.exit_code == code
    assert error_line(res) == f"Error: could not import {src}: {message}"


@pytest.mark.parametrize("args", [("profile",), ("profile", "--dry-run"), ("audit",)])
def test_a_failing_factory_is_reported_as_the_factorys_not_the_models(tmp_path, args):
    src = tmp_path / "raising.py"
    src.write_text("def build():\n    raise RuntimeError('boom')\n")
    res = run(*args, "--module", f"{src}:build", "--input-shape", "3,32,32")
    assert res.exit_code == (2 if args[0] == "audit" else 1)
    assert error_line(res) == f"Error: the factory `build` in {src} raised RuntimeError: boom"


def test_a_module_attribute_that_is_not_a_function_is_a_usage_error(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("build = 3\n")
    res = run("profile", "--module", f"{src}:build", "--input-shape", "3,32,32")
    assert res.exit_code == 2 and "not a function" in error_line(res)


# ------------------------------------------------------------------------------------------ exit codes
@pytest.mark.parametrize("args, message", [
    (["profile", "--model", "spikingformr-8-512"], "unknown model 'spikingformr-8-512'"),
    (["profile", "--model", SMALL, "--preset", "fp23"], "unknown energy preset 'fp23'; did you mean fp32?"),
    (["profile", "--model", SMALL, "--device", "gpu"], "unknown device 'gpu'"),
    (["profile", "--model", SMALL, "--convention", "spikformr"], "did you mean spikformer"),
    (["profile", "--model", SMALL, "--preset", "loihi", "--level", "3"], "use level 1 or 2"),
    (["profile", "--model", SMALL, "--input", "no-such-input.pt"], "does not exist"),
    (["audit", "--model", "spikingformr-8-512"], "unknown model"),
    (["compare", "--models", f"{SMALL},snn-cnn-resdual"], "did you mean snn-cnn-residual?"),
    (["compare", "--models", SMALL, "--convention", "excel"], "unknown convention 'excel'"),
    (["estimate", "--model", "spikingformer-8-512", "--convention", "excel"], "unknown convention 'excel'"),
    (["estimate", "--model", "nosuchnet"], "unknown model 'nosuchnet'"),
    (["estimate", "--model", SMALL], "no published firing rates ship"),
    (["plot", "rates-heatmap", "--model", "nosuchnet"], "unknown model 'nosuchnet'"),
    (["plot", "rates-heatmap", "--model", SMALL, "--preset", "7nm"], "unknown energy preset '7nm'"),
    (["models", "nosuchmodel"], "no model matches 'nosuchmodel'"),
    (["reproduce", "--only", "plotz", "--out", "unused"], "unknown artefact(s) plotz"),
])
def test_usage_errors_exit_2_with_one_line_in_every_command(args, message):
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert message in error_line(res)


def test_a_models_forward_failure_still_exits_1(tmp_path):
    src = tmp_path / "fwd.py"
    src.write_text("from torch import nn\ndef build():\n    return nn.Linear(10, 2)\n")
    res = run("profile", "--module", f"{src}:build", "--input-shape", "3,32,32")
    assert res.exit_code == 1 and "the model failed on the inputs" in error_line(res)


# ------------------------------------------------------------------------------------------ wording
def test_name_lists_in_errors_are_short_close_matches_and_a_pointer():
    line = error_line(run("profile", "--model", "spikingformer-8-51"))
    guesses = re.search(r"did you mean (.*)\?", line).group(1)
    assert len(re.split(r", | or ", guesses)) <= 3 and "(see `snnenergy models`)" in line
    assert len(line) < 200
    assert "[" not in error_line(run("profile", "--model", SMALL, "--preset", "7nm"))  # no Python list


def test_the_api_names_presets_comma_separated():
    from snnenergy.energy.presets import get_preset

    with pytest.raises(ValueError) as e:
        get_preset("fp23")
    assert "'fp32'" in str(e.value) and "fp16, fp32, int32, int8" in str(e.value) and "[" not in str(e.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_the_cuda_error_reads_right_from_the_cli():
    line = error_line(run("profile", "--model", SMALL, "--device", "cuda"))
    assert "Invalid value for '--device'" in line and "CUDA, which is not available here" in line
    assert "device='cpu'" not in line and line.endswith("use 'cpu'")


def test_an_unknown_command_suggests_the_close_one():
    res = run("modles")
    assert res.exit_code == 2 and "No such command 'modles'. Did you mean 'models'?" in res.output


def test_an_unknown_plot_kind_is_one_short_line_with_a_suggestion():
    line = error_line(run("plot", "rates-heatmp", "--model", SMALL))
    assert "did you mean rates-heatmap" in line and len(line) <= 120
    line = error_line(run("plot", "nothing-like-it", "--model", SMALL))
    assert line.count("energy-layers") == 1  # every kind, once


def test_plot_help_never_splits_a_kind():
    from snnenergy.cli.plot import KINDS

    res = run("plot", "--help")
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert lines[0].endswith(" plot [OPTIONS] KIND")
    firsts = [ln.split()[0] for ln in lines if ln.startswith("  ") and ln.split()]
    assert set(KINDS) | {"all"} <= set(firsts)  # each kind whole, at the start of its own help line
    assert not any(ln.rstrip().endswith("-") for ln in lines)


# ------------------------------------------------------------------------------------------ listings
def test_models_never_shortens_a_name_and_shows_what_its_note_says():
    from snnenergy.models import list_models

    res = run("models")
    assert res.exit_code == 0 and width(res.output) <= 100 and "…" not in res.output
    lines = res.output.splitlines()
    assert lines[0].split()[:3] == ["name", "dataset", "T"] and lines[0].endswith("energy mJ")
    rows = {ln.split()[0] for ln in lines[2:] if ln and not ln.startswith(" ")}
    assert set(list_models()) <= rows
    note = " ".join(res.output.split("\n95 models")[1].split()) if "\n95 models" in res.output else ""
    assert "params, top-1 and energy are published reference values" in note
    assert "not shown at this width: family" in note


def test_models_on_a_wide_terminal_shows_every_column_and_a_narrow_one_says_what_is_left_out():
    wide = run("models", columns=200).output
    assert wide.splitlines()[0].split()[:2] == ["name", "family"] and "not shown" not in wide
    narrow = run("models", columns=60).output
    flat = " ".join(narrow.split())
    assert width(narrow) <= 60 and "energy mJ" not in narrow.splitlines()[0]
    assert "and energy" not in flat and "energy mJ" in flat.split("not shown at this width:")[1]


def test_estimate_fits_the_terminal_and_heads_its_difference_table():
    res = run("estimate", "--model", "spikingformer-8-512")
    assert res.exit_code == 0, res.output
    assert width(res.output) <= 100
    lines = res.output.splitlines()
    head = next(ln for ln in lines if ln.strip().startswith("part"))
    assert head.split() == ["part", "spikingformer", "snnenergy", "difference", "why"]
    assert "difference = spikingformer - snnenergy" in res.output
    flat = " ".join(res.output.split())
    assert "a term counts only where both operands are nonzero" in flat  # wrapped, not cut
    assert width(run("estimate", "--model", "spikingformer-8-512", columns=60).output) <= 60


def test_reproduce_list_fits_with_a_header_and_says_what_quick_and_full_mean():
    from snnenergy.report.reproduce import ARTEFACTS

    res = run("reproduce", "--list")
    assert res.exit_code == 0 and width(res.output) <= 100
    lines = res.output.splitlines()
    assert lines[0].split() == ["artefact", "set", "files"]
    flat = " ".join(res.output.split())
    for a in ARTEFACTS.values():
        assert all(f in flat for f in a.files)
    assert "quick artefacts are regenerated by `--quick`" in flat and "full ones only by a full run" in flat


@pytest.mark.parametrize("args", [("profile", "--model", SMALL, "--limit", "0"), ("profile", "--modle", SMALL),
                                  ("models", "--no-such-option"), ("modles",), ("audit", "--level", "4")])
def test_a_parsing_error_is_one_line_too(args):
    res = run(*args)
    assert res.exit_code == 2
    line = error_line(res)  # click's usage block and "Try ... --help" are folded into the one line
    assert line.endswith("--help')")
