"""Mixed precision (``amp=True`` / ``--amp``) and CUDA: counts stay exact, nothing syncs per op.

The CUDA tests skip where no GPU is present (as on CI); they are run where a task has one.
"""
import copy

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import snnenergy
from snnenergy.cli import main
from snnenergy.neurons import LIF

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


class SpikeNet(nn.Module):
    """Two linear layers on [T, B, 6] spikes: the first input is exact in any precision."""

    time_steps = 3

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 5, bias=False)
        self.lif = LIF()
        self.fc2 = nn.Linear(5, 4, bias=False)

    def forward(self, x):
        return self.fc2(self.lif(self.fc1(x)))


class ConvSpikeNet(nn.Module):
    """Convolutions (their fan-out maps are made on the first call: copied to the device without a sync), a
    spike product and a linear head, on [T, B, 2, 6, 6] spikes."""

    time_steps = 3

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.lif = LIF()
        self.conv2 = nn.Conv2d(4, 4, 3, stride=2)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        T, B = x.shape[:2]
        s = self.lif(4 * self.conv1(x.flatten(0, 1)).reshape(T, B, 4, 6, 6))
        a = s.flatten(3) @ s.flatten(3).mT  # [T, B, 4, 4]: a product of two spike tensors
        y = self.conv2(s.flatten(0, 1)).flatten(1)  # [T·B, 16]
        return self.fc(y).reshape(T, B, 3) + a.sum((-1, -2))[..., None]


def _spikes(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(3, 2, 6, generator=g) < 0.5).float()


def test_amp_on_cpu_runs_in_bfloat16_and_counts_the_first_layer_exactly():
    torch.manual_seed(0)
    model, x = SpikeNet(), _spikes()
    seen = []
    model.fc2.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    before = copy.deepcopy(model.state_dict())
    r = snnenergy.profile(model, x, batch_dim=1, amp=True)
    assert seen == [torch.bfloat16]  # the forward ran under autocast
    fc1 = r.layers[r.layers.layer == "fc1"].iloc[0]
    assert fc1.input_kind == "binary"
    assert fc1.ac == int((x != 0).sum()) * 5 / 2  # nonzero inputs x 5 outputs, per sample (B = 2): by hand
    assert r.meta["amp"] is True
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].dtype == before[k].dtype for k in before)


def test_cli_amp_flag_reaches_the_profile(tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["profile", "--model", "snn-cnn-residual", "--amp", "--limit", "1",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert snnenergy.Report.from_json(str(out / "report.json")).meta["amp"] is True


class NoSyncInForward(nn.Module):
    """Runs ``inner`` with CUDA host synchronisation an error: the profiler may copy to the host once per batch
    and at the end, never inside the forward (per op)."""

    time_steps = SpikeNet.time_steps

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        torch.cuda.set_sync_debug_mode("error")
        try:
            return self.inner(x)
        finally:
            torch.cuda.set_sync_debug_mode("default")


@cuda
@pytest.mark.parametrize("make", [lambda: (SpikeNet(), _spikes()),
                                  lambda: (ConvSpikeNet(), (torch.rand(3, 2, 2, 6, 6) < 0.5).float())],
                         ids=["linear", "conv"])
def test_cuda_profile_has_no_host_sync_per_op_and_equals_the_cpu_counts(make):
    torch.manual_seed(0)
    model, x = make()
    model, x = model.double(), x.double()
    cpu = snnenergy.profile(NoSyncInForward(copy.deepcopy(model)), x, batch_dim=1)
    gpu = snnenergy.profile(NoSyncInForward(model), x, batch_dim=1, device="cuda")
    cols = ["dense_ops", "effective_ops", "ac", "integer_mac", "mac"]
    assert gpu.layers[cols].equals(cpu.layers[cols])
    assert gpu.neurons["spikes"].equals(cpu.neurons["spikes"])


@cuda
def test_cuda_amp_runs_in_float16():
    model, x = SpikeNet(), _spikes()
    seen = []
    model.fc2.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    snnenergy.profile(model, x, batch_dim=1, device="cuda", amp=True)
    assert seen == [torch.float16]
