"""snnenergy.distributed: 2 gloo processes under torchrun give the report of 1 process on the same data."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from snnenergy import Report, create_model, profile
from snnenergy.distributed import ShardSampler, distributed_env, is_distributed, profile_distributed, shard_inputs

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "report"))
from test_merge import assert_same_report  # noqa: E402

# The worker builds the same model and data in each process: a seeded model and seeded inputs.
WORKER = textwrap.dedent('''
    import sys, torch
    from torch.utils.data import DataLoader, TensorDataset
    from snnenergy import create_model
    from snnenergy.distributed import profile_distributed, distributed_env

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = create_model("snn-attention-block").double().eval()
    x = torch.randn(7, 3, 32, 32, dtype=torch.float64)
    out = sys.argv[1]
    rank = distributed_env()[0]
    # a tensor split into 4 batches (3 + 1 per rank's stride), a DataLoader sharded by samples, one batch
    r1 = profile_distributed(model, x, batch_size=2)
    r2 = profile_distributed(model, DataLoader(TensorDataset(x), batch_size=3))
    r3 = profile_distributed(model, x[:2])
    try:
        profile_distributed(model, [x[:1], torch.full((1, 3, 32, 32), float("nan"), dtype=torch.float64)])
    except ValueError as e:
        err = str(e)
    else:
        err = "no error"
    if rank == 0:
        r1.to_json(out + ".tensor.json"); r2.to_json(out + ".loader.json"); r3.to_json(out + ".one.json")
        open(out + ".err", "w").write(err)
    else:
        assert r1 is None and r2 is None and r3 is None
''')


@pytest.fixture(scope="module")
def torchrun_reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    script = d / "worker.py"
    script.write_text(WORKER)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                                "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
           str(d / "out")]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return d / "out"


@pytest.fixture(scope="module")
def single():
    torch.manual_seed(0)
    model = create_model("snn-attention-block").double().eval()
    x = torch.randn(7, 3, 32, 32, dtype=torch.float64)
    return model, x


def test_two_processes_equal_one_on_a_tensor(torchrun_reports, single):
    model, x = single
    merged = Report.from_json(f"{torchrun_reports}.tensor.json")
    assert merged.meta["merge"]["samples"] == [4, 3]  # batches 0, 2 and 1, 3 of sizes 2, 2, 2, 1
    assert not merged.meta["merge"]["bounds"]  # dead / saturated summed over ranks: exact, not bounded
    assert_same_report(profile(model, x, batch_size=2), merged)


def test_two_processes_equal_one_on_a_dataloader(torchrun_reports, single):
    model, x = single
    merged = Report.from_json(f"{torchrun_reports}.loader.json")
    assert merged.meta["merge"]["samples"] == [4, 3]  # batches [0, 1, 2] + [6] and [3, 4, 5]
    whole = profile(model, DataLoader(TensorDataset(x), batch_size=3))
    assert_same_report(whole, merged)


def test_a_rank_without_data_and_errors_on_one_rank(torchrun_reports, single):
    model, x = single
    merged = Report.from_json(f"{torchrun_reports}.one.json")
    assert "merge" not in merged.meta  # rank 1 had nothing to profile
    assert_same_report(profile(model, x[:2]), merged)
    err = open(f"{torchrun_reports}.err").read()
    assert err.startswith("rank 1: ValueError:") and "NaN" in err


def test_shard_sampler_covers_every_index_once():
    parts = [list(ShardSampler(10, r, 3)) for r in range(3)]
    assert sorted(i for p in parts for i in p) == list(range(10))
    assert [len(ShardSampler(10, r, 3)) for r in range(3)] == [4, 3, 3]
    with pytest.raises(ValueError, match="rank 3 is outside world size 3"):
        ShardSampler(10, 3, 3)


def test_shard_inputs_sources():
    x = torch.arange(10.0).reshape(10, 1)
    assert [b[:, 0].tolist() for b in shard_inputs(x, 1, 2, batch_size=3)] == [[3.0, 4.0, 5.0], [9.0]]
    assert shard_inputs([x[:1]], 1, 2) == []
    loader = shard_inputs(DataLoader(TensorDataset(x), batch_size=2), 0, 3)  # batches 0 and 3 of 5
    assert [b[0][:, 0].tolist() for b in loader] == [[0.0, 1.0], [6.0, 7.0]]
    assert len(loader.dataset) == 4  # what a progress bar counts: this rank's share
    last = shard_inputs(DataLoader(TensorDataset(x), batch_size=3), 1, 2)  # batches [3, 4, 5] and [9]
    assert [b[0][:, 0].tolist() for b in last] == [[3.0, 4.0, 5.0], [9.0]]
    dropped = shard_inputs(DataLoader(TensorDataset(x), batch_size=3, drop_last=True), 1, 2)
    assert [b[0][:, 0].tolist() for b in dropped] == [[3.0, 4.0, 5.0]]
    # a shuffling loader: every rank shards the same (sorted) indices, so the shards still cover each sample once
    shuffled = [shard_inputs(DataLoader(TensorDataset(x), batch_size=3, shuffle=True), r, 2) for r in range(2)]
    assert sorted(v for part in shuffled for b in part for v in b[0][:, 0].tolist()) == x[:, 0].tolist()
    drawn = DataLoader(TensorDataset(x), batch_size=3, sampler=torch.utils.data.RandomSampler(x, replacement=True))
    with pytest.raises(ValueError, match="draws a random selection of samples"):
        shard_inputs(drawn, 0, 2)
    gen = shard_inputs((x[i:i + 1] for i in range(5)), 1, 2)
    assert [float(b) for b in gen] == [1.0, 3.0]
    with pytest.raises(TypeError, match="got int"):
        shard_inputs(3, 0, 1)


def test_outside_torchrun_it_is_a_plain_profile(single, monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert distributed_env() is None and not is_distributed()
    model, x = single
    assert_same_report(profile(model, x[:2]), profile_distributed(model, x[:2]))
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK=2 is outside WORLD_SIZE=2"):
        distributed_env()
