"""``snnenergy`` end to end through the CLI."""
import subprocess
import sys

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from snnenergy import Report
from snnenergy.cli import main


def test_profile_writes_files_that_from_json_reads(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["profile", "--model", "snn-cnn-residual", "--out", str(out), "--level", "2"])
    assert res.exit_code == 0, res.output
    assert "stem.conv" in res.output and "ANN/SNN" in res.output
    rep = Report.from_json(out / "report.json")
    assert rep.meta["model"] == "snn-cnn-residual" and rep.meta["samples"] == 5  # the five shipped photographs
    assert rep.meta["weights"].startswith("untrained")
    assert pd.read_csv(out / "layers.csv").layer.tolist() == rep.layers.layer.tolist()
    assert (out / "report.md").read_text().startswith("# snnenergy report")


def test_profile_user_module_and_tensor_input(tmp_path):
    src = tmp_path / "mymodel.py"
    src.write_text(
        "import torch\nfrom torch import nn\nfrom snnenergy.neurons import LIF\n"
        "class M(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.time_steps = 2; self.fc = nn.Linear(4, 3); self.lif = LIF()\n"
        "    def forward(self, x):\n"
        "        return self.lif(self.fc(x.unsqueeze(0).repeat(2, 1, 1)))\n"
        "def build():\n    return M()\n"
    )
    x = tmp_path / "x.pt"
    torch.save(torch.randn(3, 4), x)
    res = CliRunner().invoke(main, ["profile", "--module", f"{src}:build", "--input", str(x), "--out",
                                    str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    rep = Report.from_json(tmp_path / "o" / "report.json")
    assert rep.layers.op.tolist() == ["linear"] and rep.meta["samples"] == 3


@pytest.mark.parametrize("args,message", [
    (["profile", "--model", "spikingformr-8-512"], "unknown model"),
    (["profile"], "exactly one of --model"),
    (["profile", "--model", "snn-cnn-residual", "--preset", "7nm"], "unknown energy preset"),
    (["profile", "--module", "nofile.py:f"], "file not found"),
])
def test_bad_invocations_explain_themselves(args, message):
    res = CliRunner().invoke(main, args)
    assert res.exit_code != 0
    assert message in res.output


def test_models_lists_the_zoo():
    res = CliRunner().invoke(main, ["models"])
    assert res.exit_code == 0 and "snn-cnn-residual" in res.output


def test_console_script_is_installed():
    res = subprocess.run([sys.executable, "-m", "snnenergy", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "profile" in res.stdout


def test_calibrate_bn_flag_makes_an_untrained_model_fire(tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["profile", "--model", "snn-cnn-residual", "--calibrate-bn", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rep = Report.from_json(out / "report.json")
    assert "calibrated" in rep.meta["weights"] and rep.meta["weights"].startswith("untrained")
    assert rep.totals()["firing_rate"] > 0.01
