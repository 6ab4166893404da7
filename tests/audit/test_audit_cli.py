"""``snnenergy audit``: exit codes 0 / 1 / 2, ``--strict``, ``--out``."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from snnenergy.cli import main

DESIGNS = Path(__file__).with_name("audit_designs.py")


def _run(*args):
    return CliRunner().invoke(main, ["audit", *args])


def _module(factory):
    return ["--module", f"{DESIGNS}:{factory}", "--input-shape", "3,16,16"]


def test_not_spike_driven_exits_1_with_the_cause_and_fix():
    r = _run(*_module("sew_net"))
    assert r.exit_code == 1, r.output
    assert "NOT SPIKE-DRIVEN" in r.output and "cause block:add" in r.output and "fix:" in r.output


def test_spike_driven_exits_0_and_strict_fails_on_exceptions_other_than_the_encoder():
    r = _run(*_module("chain_net"))
    assert r.exit_code == 0, r.output
    assert "foldable-chain" in r.output
    strict = _run(*_module("chain_net"), "--strict")
    assert strict.exit_code == 1


@pytest.mark.parametrize("args, message", [
    ((), "give exactly one of"),
    (("--model", "no-such-model"), "unknown model"),
    (("--module", "missing.py:factory"), "file not found"),
    (("--model", "sdt-2-256-cifar10", "--preset", "fp64"), "unknown energy preset"),
    (("--model", "sdt-2-256-cifar10", "--checkpoint", "missing.pth"), "checkpoint not found"),
])
def test_usage_errors_exit_2_with_one_line(args, message):
    r = _run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_out_writes_the_audit(tmp_path):
    r = _run(*_module("sew_net"), "--out", str(tmp_path))
    assert r.exit_code == 1
    data = json.loads((tmp_path / "audit.json").read_text())
    assert data["level"] == "not spike-driven" and data["tables"]["violations"]["data"]
    assert (tmp_path / "audit.md").read_text().startswith("# Spike-driven audit")
    assert "block:add" in (tmp_path / "violations.csv").read_text()


def test_all_writes_the_zoo_table(tmp_path, monkeypatch):
    from snnenergy.audit import zoo

    narrow = zoo.ZooConfig("sdt-2-256-cifar10", 32, overrides={"embed_dim": 64, "num_heads": 4, "time_steps": 1},
                           expected="spike-driven apart from the encoder")
    monkeypatch.setattr(zoo, "ZOO", (narrow,))
    r = _run("--all", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    csv = (tmp_path / "audit.csv").read_text().splitlines()
    assert len(csv) == 2 and csv[1].startswith("sdt-2-256-cifar10,spike-driven,True,0,")
    md = (tmp_path / "audit.md").read_text()
    assert "| sdt-2-256-cifar10" in md and "32x32, batch 2, T=1" in md


@pytest.mark.parametrize("columns", [60, 100])
def test_the_audit_text_fits_the_terminal(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    r = _run(*_module("sew_net"))
    assert r.exit_code == 1, r.output
    widest = max(len(line) for line in r.output.splitlines())
    assert widest <= columns, r.output
    assert "cause block:add" in r.output  # wrapping keeps words whole
