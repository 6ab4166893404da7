"""Dry runs on the meta device: dense ops equal to a real run's, the user's model untouched, no real memory."""
from __future__ import annotations

import json
import math
import os
import time

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnenergy import create_model, model_card, profile
from snnenergy.neurons.lif import LIF
from snnenergy.profiler.dry_run import dry_run, load_rates, meta_copy

KEY = ["layer", "op", "index"]


class _ManyOps(nn.Module):
    """One of each synaptic op spelling, on spikes and on real values, over T = 2 steps."""

    time_steps = 2

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.lif = LIF(step_mode="m")
        self.grouped = nn.Conv2d(8, 8, 3, stride=2, groups=4, bias=False)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.fc = nn.Linear(4 * 13 * 13, 16)
        self.lif2 = LIF(step_mode="m")
        self.w = nn.Parameter(torch.randn(4, 5))

    def forward(self, x):
        T = self.time_steps
        s = self.lif(self.conv(x).unsqueeze(0).repeat(T, 1, 1, 1, 1))  # [T, B, 8, H, W]
        y = self.grouped(s.flatten(0, 1))  # spikes into a grouped conv
        y = self.up(y)  # real values into a transposed conv
        z = self.lif2(self.fc(F.max_pool2d(y, 2).flatten(1)).unflatten(0, (T, -1)).unflatten(-1, (4, 4)))
        attn = torch.matmul(z, z.transpose(-1, -2))  # spikes x spikes, [T, B, 4, 4]
        mixed = torch.einsum("tbij,tbjk->tbik", z, z) * z  # einsum, then integers AND spikes
        out = torch.bmm(attn.flatten(0, 1), z.flatten(0, 1)) @ self.w  # integers x spikes, then x a weight
        return out.mean() + mixed.mean() + F.scaled_dot_product_attention(z, z, z).mean()


def _dense_table(rep) -> pd.DataFrame:
    return rep.layers.set_index(KEY)[["dense_ops", "bias_ops", "per_step"]].sort_index()


@pytest.mark.parametrize("build", [
    lambda: create_model("snn-attention-block"),
    lambda: create_model("snn-cnn-residual"),
    lambda: _ManyOps(),
], ids=["attention-block", "cnn-residual", "many-ops"])
def test_dense_ops_equal_a_real_run(build):
    torch.manual_seed(0)
    model = build().double()
    shape = (3, 28, 28) if isinstance(model, _ManyOps) else tuple(model.model_card.input_shape)
    real = profile(model, torch.randn((2,) + shape, dtype=torch.float64))
    dry = dry_run(model, shape)
    pd.testing.assert_frame_equal(_dense_table(real), _dense_table(dry), check_dtype=False)
    neurons = ["layer", "neurons", "per_step"]
    pd.testing.assert_frame_equal(real.neurons[neurons].reset_index(drop=True),
                                  dry.neurons[neurons].reset_index(drop=True), check_dtype=False)
    assert dry.params == sum(p.numel() for p in model.parameters())


def test_the_users_model_is_not_touched():
    torch.manual_seed(0)
    model = _ManyOps().train()
    before = {k: (v.data_ptr(), v.device, v.clone()) for k, v in model.state_dict().items()}
    dry_run(model, (3, 28, 28), assume_rate=0.2)
    after = model.state_dict()
    for k, (ptr, dev, val) in before.items():
        assert after[k].data_ptr() == ptr and after[k].device == dev and torch.equal(after[k], val), k
    assert model.training and all(m.training for m in model.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks and "forward" not in m.__dict__
               for m in model.modules())
    copy = meta_copy(model)
    assert all(t.device.type == "meta" for t in list(copy.parameters()) + list(copy.buffers()))
    assert type(copy.lif) is type(model.lif) and copy.w.requires_grad


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to read the resident memory")
def test_a_66m_model_allocates_no_real_memory_and_is_quick():
    dry_run("snn-attention-block")  # imports and caches warm
    before = _rss_bytes()
    start = time.perf_counter()
    dry = dry_run("sdt-8-768", assume_rate=0.15)
    seconds = time.perf_counter() - start
    grown = _rss_bytes() - before
    assert dry.params == 66_338_632  # the documented count of sdt-8-768 (the official minus unused tensors)
    real_bytes = dry.params * 4
    assert grown < real_bytes / 4, f"resident memory grew {grown / 2**20:.0f} MiB; the weights alone are " \
                                   f"{real_bytes / 2**20:.0f} MiB"
    assert seconds < 1.5, f"dry run took {seconds:.2f} s"  # about 0.3 s on one core
    assert dry.layers.dense_ops.sum() > 7e10


def test_assumed_rate_prices_spike_driven_ops_as_acs():
    torch.manual_seed(0)
    model = create_model("snn-attention-block").double()
    dry = dry_run(model, assume_rate=0.25).layers.set_index(KEY)
    first = dry.loc[("embed.conv", "conv2d", 0)]
    assert first.mac == first.dense_ops and first.ac == 0 and first.input_kind == "real"  # the encoder
    q = dry.loc[("attn.q.fc", "linear", 0)]  # spikes of embed.lif through a max pool
    assert q.input_kind == "binary" and q.ac == 0.25 * q.dense_ops and q.mac == 0
    qk = dry.loc[("attn", "matmul", 0)]  # spikes x spikes: both rates
    assert qk.ac == pytest.approx(0.25 * 0.25 * qk.dense_ops)
    assert dry_run(model, assume_rate=0.25).energy().totals["snn_mJ"] > 0
    with pytest.raises(ValueError, match="energy needs firing rates"):
        dry_run(model).energy()


def test_rates_from_a_real_report_give_the_real_counts_of_linear_layers(tmp_path):
    torch.manual_seed(0)
    model = create_model("snn-attention-block").double()
    real = profile(model, torch.randn(2, 3, 32, 32, dtype=torch.float64) * 4)
    real.to_json(tmp_path / "report.json")
    dry = dry_run(model, rates=tmp_path / "report.json").layers.set_index(KEY)
    rl = real.layers
    linear_spikes = rl[(rl.op == "linear") & (rl.input_kind == "binary") & (rl.other_operand == "weight")
                       ].set_index(KEY)
    linear_spikes = linear_spikes[dry.loc[linear_spikes.index, "input_kind"] == "binary"]  # spikes on meta too
    assert len(linear_spikes) >= 3
    for key, row in linear_spikes.iterrows():  # a linear's effective ops are its input rate x its dense ops
        assert dry.loc[key, "ac"] == pytest.approx(row.ac, rel=1e-12), key
    (tmp_path / "rates.json").write_text(json.dumps({"embed.lif": 0.5}))
    with pytest.raises(ValueError, match=r"no firing rate for the spike inputs of \['attn"):
        dry_run(model, rates=tmp_path / "rates.json")
    partial = dry_run(model, rates=tmp_path / "rates.json", assume_rate=0.1).layers.set_index(KEY)
    assert partial.loc[("attn.q.fc", "linear", 0), "input_rate"] == 0.5
    assert partial.loc[("attn.proj.fc", "linear", 0), "input_rate"] == 0.1
    (tmp_path / "rates.csv").write_text("layer,rate\nembed.lif,0.3\n")
    assert load_rates(tmp_path / "rates.csv") == {"embed.lif": 0.3}


def test_bad_arguments_are_one_line_errors(tmp_path):
    model = create_model("snn-attention-block")
    with pytest.raises(ValueError, match=r"assume_rate must be a firing rate in \[0, 1\], got 1.5"):
        dry_run(model, assume_rate=1.5)
    with pytest.raises(ValueError, match="needs input_shape"):
        dry_run(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="rate of 'x' is 2.0"):
        load_rates({"x": 2})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_rates(tmp_path / "none.json")
    with pytest.raises(KeyError, match="unknown model"):
        dry_run("no-such-model")

    class ReadsValues(nn.Module):
        def forward(self, x):
            return x * 2 if float(x.sum()) > 0 else x

    with pytest.raises(ValueError, match="cannot run without data"):
        dry_run(ReadsValues(), (3,))


def test_dvs_and_zoo_names_use_the_cards_input_shape():
    dry = dry_run("spikingformer-2-256-dvs128")
    assert dry.input_shape == tuple(model_card("spikingformer-2-256-dvs128").input_shape)
    spikes = (dry.layers.input_kind == "binary") | (dry.layers.other_operand == "binary")
    assert not math.isnan(dry.layers.dense_ops.sum()) and spikes.sum() > 10
    assert dry.layers.ac[spikes].isna().all() and (dry.layers.ac[~spikes] == 0).all()  # no rate: spikes unknown
    assert set(dry.modules.columns) == {"module", "type", "params", "output_shape"}


def test_a_real_runs_input_rate_of_an_integer_site_is_used(tmp_path):
    """snn-cnn-residual's down.conv reads a sum of spikes: dense integer MACs without a rate, that fraction of
    them with the input rate a real run recorded."""
    import torch

    import snnenergy
    m = snnenergy.create_model("snn-cnn-residual")
    snnenergy.models.calibrate_batchnorm(m, torch.rand(4, 3, 32, 32))
    real = snnenergy.profile(m, torch.rand(4, 3, 32, 32))
    real.save(tmp_path / "run")
    rate = float(real.layers.set_index("layer").loc["down.conv", "input_rate"])
    assert 0 < rate < 1
    dense = snnenergy.dry_run("snn-cnn-residual", assume_rate=0.1).layers.set_index("layer").loc["down.conv"]
    assert dense.integer_mac == dense.dense_ops
    given = snnenergy.dry_run("snn-cnn-residual", rates=tmp_path / "run" / "report.json").layers.set_index("layer")
    assert given.loc["down.conv", "integer_mac"] == pytest.approx(rate * dense.dense_ops)
