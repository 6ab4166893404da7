"""torchrun (2 gloo processes) gives the single-process report exactly, dead / saturated fractions included:
the ranks sum their per-neuron spike counts before the fractions are computed, where a merge of separately
made reports can only bound them."""
from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from snnenergy import Report, create_model, profile
from snnenergy.neurons.lif import LIF

TABLES = ("layers", "per_step", "neurons", "other_ops", "unsupported")

# Models and data shared by the worker (each rank builds them) and the single-process side of the tests.
MODELS = textwrap.dedent('''
    import torch
    from torch import nn
    from snnenergy.neurons.lif import LIF

    T = 3


    class Gated(nn.Module):
        """12 neurons: 4 always fire, 4 never, 4 follow the sign of x[:, 0]; 4 random. A second layer runs only
        for batches with a positive mean of x[:, 0] (seen by one rank only)."""

        time_steps = T

        def __init__(self):
            super().__init__()
            torch.manual_seed(3)
            self.fc = nn.Linear(4, 16).double()
            self.lif = LIF(step_mode="m")
            self.extra = nn.Linear(16, 6).double()
            self.extra_lif = LIF(step_mode="m")
            with torch.no_grad():
                w, b = self.fc.weight, self.fc.bias
                w[:12] = 0.0
                b[:4], b[4:8], b[8:12] = 10.0, -10.0, 0.0
                w[8:12, 0] = 5.0

        def forward(self, x):
            s = self.lif(self.fc(x).unsqueeze(0).repeat(T, 1, 1))
            if float(x[:, 0].mean()) > 0:
                s = self.extra_lif(self.extra(s))
            return s.mean(0)


    class Resizing(nn.Module):
        """A neuron layer whose size follows the input's: no per-neuron counts when it changes."""

        time_steps = 2

        def __init__(self):
            super().__init__()
            torch.manual_seed(4)
            self.conv = nn.Conv2d(1, 2, 3, padding=1).double()
            self.lif = LIF(step_mode="m")

        def forward(self, x):
            return self.lif(self.conv(x).unsqueeze(0).repeat(2, 1, 1, 1, 1)).mean(0)


    def gated_batches():
        g = torch.Generator().manual_seed(5)

        def batch(n, sign):
            x = torch.randn(n, 4, generator=g, dtype=torch.float64)
            x[:, 0] = sign
            return x

        # rank 0 gets batches 0 and 2 (x0 < 0), rank 1 gets 1 and 3 (x0 > 0)
        return [batch(2, -1.0), batch(2, 1.0), batch(1, -1.0), batch(3, 1.0)]


    def mixed_kinds():
        """Binary and integer samples alternating: a call's operand kind is decided on its whole batch, so the
        AC / integer-MAC split depends on which samples share a batch."""
        torch.manual_seed(7)
        x = (torch.rand(8, 4, dtype=torch.float64) > 0.5).double()
        x[1::2] *= 2.0
        return nn.Linear(4, 3).double(), x


    def resizing_batches(sizes):
        g = torch.Generator().manual_seed(6)
        return [torch.randn(2, 1, s, s, generator=g, dtype=torch.float64) for s in sizes]
''')

WORKER = textwrap.dedent('''
    import sys, torch
    from torch.utils.data import DataLoader, TensorDataset
    from snnenergy import create_model
    from snnenergy.distributed import profile_distributed, distributed_env
    from dist_exact_models import Gated, Resizing, gated_batches, mixed_kinds, resizing_batches

    torch.set_num_threads(1)
    out = sys.argv[1]
    rank = distributed_env()[0]
    torch.manual_seed(0)
    attention = create_model("snn-attention-block").double().eval()
    x = torch.randn(7, 3, 32, 32, dtype=torch.float64)
    reports = {
        "loader": profile_distributed(attention, DataLoader(TensorDataset(x), batch_size=3), progress=True),
        "gated": profile_distributed(Gated(), gated_batches()),
        "one_batch": profile_distributed(Gated(), gated_batches()[1]),  # rank 1 has no data
        "sizes_across_ranks": profile_distributed(Resizing(), resizing_batches([6, 8])),
        "sizes_within_rank": profile_distributed(Resizing(), resizing_batches([6, 8, 8])),
        "kinds": profile_distributed(mixed_kinds()[0], DataLoader(TensorDataset(mixed_kinds()[1]), batch_size=2)),
    }
    for name, rep in reports.items():
        if rank == 0:
            rep.to_json(f"{out}.{name}.json")
        else:
            assert rep is None
''')


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist_exact")
    (d / "dist_exact_models.py").write_text(MODELS)
    (d / "worker.py").write_text(WORKER)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                                "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(d), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(d / "worker.py"), str(d / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: a hang is killed with the workers
    try:
        stdout, stderr = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the 2-process run did not finish in 150 s (a rank left waiting in a collective?)")
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    sys.path.insert(0, str(d))
    import dist_exact_models

    yield d / "out", dist_exact_models, stderr
    sys.path.remove(str(d))
    sys.modules.pop("dist_exact_models", None)


def merged(runs, name: str) -> Report:
    return Report.from_json(f"{runs[0]}.{name}.json")


def assert_identical(whole: Report, merged: Report) -> None:
    """Every table equal to the bit, dead / saturated included (NaN only where the whole run has NaN)."""
    for name in TABLES:
        w, m = getattr(whole, name), getattr(merged, name)
        pd.testing.assert_frame_equal(w.reset_index(drop=True), m.reset_index(drop=True), check_exact=True,
                                      check_dtype=not w.empty, obj=name)
    assert merged.meta["samples"] == whole.meta["samples"]
    assert merged.meta["batches"] == whole.meta["batches"]
    assert not merged.meta.get("merge", {}).get("bounds")


def brute_force_fractions(model: nn.Module, batches, T: int) -> dict[str, tuple[float, float]]:
    """Dead / saturated fractions per LIF layer from its outputs, summed per neuron by forward hooks over a
    plain forward of every batch (no profiler)."""
    counts: dict[str, torch.Tensor] = {}
    steps: dict[str, int] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, LIF):
            def hook(mod, args, out, name=name):
                per_neuron = out.reshape(T, out.shape[1], -1).sum((0, 1))
                counts[name] = counts.get(name, 0) + per_neuron
                steps[name] = steps.get(name, 0) + T * out.shape[1]
            hooks.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            for x in batches:
                for m in model.modules():
                    if isinstance(m, LIF):
                        m.reset()
                model(x)
    finally:
        for h in hooks:
            h.remove()
    return {k: (float((c == 0).double().mean()), float((c >= steps[k]).double().mean())) for k, c in counts.items()}


def test_sharded_dataloader_equals_one_process_dead_and_saturated_included(runs):
    torch.manual_seed(0)
    model = create_model("snn-attention-block").double().eval()
    x = torch.randn(7, 3, 32, 32, dtype=torch.float64)
    whole = profile(model, DataLoader(TensorDataset(x), batch_size=3))
    got = merged(runs, "loader")
    assert got.meta["merge"]["samples"] == [4, 3]  # batches [0, 1, 2] + [6] on rank 0, [3, 4, 5] on rank 1
    fractions = whole.neurons[["dead", "saturated"]].to_numpy()
    assert not pd.isna(fractions).any() and ((fractions > 0) & (fractions < 1)).any()
    assert_identical(whole, got)


def test_fractions_are_exact_where_separate_reports_only_bound_them(runs):
    _, models, _ = runs
    batches = models.gated_batches()
    whole = profile(models.Gated(), batches)
    got = merged(runs, "gated")
    assert_identical(whole, got)
    expected = brute_force_fractions(models.Gated(), batches, models.T)
    table = got.neurons.set_index("layer")
    assert min(expected["lif"]) >= 4 / 16  # 4 neurons never fire, 4 always
    for layer, (dead, saturated) in expected.items():
        assert (table.loc[layer, "dead"], table.loc[layer, "saturated"]) == (dead, saturated), layer
    assert set(table.index) == {"lif", "extra_lif"}  # extra_lif ran on rank 1 only: rank 0 sent zeros
    # the same parts made separately: the merge can only bound the first layer's fractions
    separate = Report.merge([profile(models.Gated(), batches[0::2]), profile(models.Gated(), batches[1::2])])
    assert math.isnan(separate.neurons.set_index("layer").loc["lif", "dead"])
    lo, hi = separate.meta["merge"]["bounds"]["lif"]["dead"]
    assert lo <= expected["lif"][0] <= hi and lo < hi


def test_a_dataloader_is_sharded_by_batch_so_every_call_sees_the_same_samples(runs):
    _, models, _ = runs
    model, x = models.mixed_kinds()
    whole = profile(model, DataLoader(TensorDataset(x), batch_size=2))
    assert_identical(whole, merged(runs, "kinds"))
    # sharding by sample would put the binary samples on rank 0 and the integer ones on rank 1: other counts
    by_sample = Report.merge([profile(model, x[0::2], batch_size=2), profile(model, x[1::2], batch_size=2)])
    assert whole.layers.ac[0] == 0 and by_sample.layers.ac[0] > 0


def test_more_ranks_than_batches(runs):
    _, models, _ = runs
    whole = profile(models.Gated(), models.gated_batches()[1])
    got = merged(runs, "one_batch")
    assert "merge" not in got.meta  # rank 1 had nothing to profile, and took part in the all-reduce
    assert_identical(whole, got)
    assert not got.neurons[["dead", "saturated"]].isna().any().any()


@pytest.mark.parametrize("name, sizes", [("sizes_across_ranks", [6, 8]), ("sizes_within_rank", [6, 8, 8])])
def test_layers_of_varying_size_stay_nan_as_in_one_process(runs, name, sizes):
    _, models, _ = runs
    whole = profile(models.Resizing(), models.resizing_batches(sizes))
    got = merged(runs, name)
    assert whole.neurons[["dead", "saturated"]].isna().all().all()
    assert_identical(whole, got)


def test_progress_bar_counts_rank_zeros_shard_only(runs):
    stderr = runs[2]
    bars = re.findall(r"profiling \(rank (\d) of 2\).*?(\d+)/(\d+)", stderr)
    assert bars, stderr[-2000:]
    assert {rank for rank, _, _ in bars} == {"0"}  # only rank 0 shows a bar
    assert bars[-1][1:] == ("4", "4")  # rank 0's 4 of the 7 samples
