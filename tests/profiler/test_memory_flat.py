"""Memory stays flat over batches (issue 11, item 3): the full profile and rates-only keep no per-batch record.

Memory is measured independently of the profiler's own bookkeeping: ``tracemalloc`` (every Python object,
torch tensor objects included) over windows of batches of one run, and the live tensors the device queue
holds at the end of each forward. The fold thresholds are made small here so that a few hundred batches go
through many fold cycles; the mechanism is the same at the default thresholds (a constant, not a count of
batches). The counts of many small batches must equal one big batch of the same samples, exactly.
"""
import gc
import tracemalloc

import pandas as pd
import pytest
import torch
from torch import nn

from snnenergy import profile
from snnenergy.neurons import LIF
from snnenergy.profiler import api, device_queue, provenance

T, N = 2, 150  # time steps; batches in the first window (the run has 3N)


class TinySNN(nn.Module):
    """conv → LIF → linear → LIF over T steps, time folded into the batch for the weight layers."""

    def __init__(self) -> None:
        super().__init__()
        self.time_steps = T
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.lif1, self.lif2 = LIF(), LIF()
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        x = x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        if isinstance(self, LoopedSNN):
            return torch.stack([self.lif2(self.fc(self.lif1(self.conv(x[t])).flatten(1))) for t in range(T)])
        s = self.lif1(self.conv(x.flatten(0, 1)).unflatten(0, (T, -1)))
        return self.lif2(self.fc(s.flatten(2)))


class LoopedSNN(TinySNN):
    """The same layers stepped in a Python loop, with single-step neurons (slots by call order)."""

    def __init__(self) -> None:
        super().__init__()
        self.lif1, self.lif2 = LIF(step_mode="s"), LIF(step_mode="s")


def _samples(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.rand(n, 1, 6, 6, generator=g, dtype=torch.float64) * 3


@pytest.fixture
def small_folds(monkeypatch):
    monkeypatch.setattr(device_queue, "FOLD_AFTER_FORWARD", 64, raising=False)
    monkeypatch.setattr(provenance, "_PRUNE_MIN", 128, raising=False)


def _window_peaks(model, rates_only: bool):
    """Run 3N one-sample batches from a generator; return the tracemalloc peak of batches N..2N and of
    2N..3N, and the most tensors the device queue held at the start of any batch."""
    x = _samples(3 * N)
    peaks, queued = {}, []
    holder = {}
    orig_begin = api.ProfileSession.begin_forward

    def begin(self, inputs):
        holder["s"] = self
        queued.append(len(self.queue))
        orig_begin(self, inputs)

    def batches():
        for i in range(3 * N):
            if i in (N, 2 * N, 3 * N - 1):
                gc.collect()
                peaks[i] = tracemalloc.get_traced_memory()[1]
                tracemalloc.reset_peak()
            yield x[i:i + 1]

    api.ProfileSession.begin_forward = begin
    tracemalloc.start()
    try:
        run = api.run_profile(model, batches(), rates_only=rates_only)
    finally:
        tracemalloc.stop()
        api.ProfileSession.begin_forward = orig_begin
    session = holder["s"]
    per_call_dicts = max(len(st.forward_calls) for st in [*session.sites.values(), *session.neurons.values()])
    return peaks[2 * N], peaks[3 * N - 1], max(queued), per_call_dicts, run


@pytest.mark.parametrize("rates_only", [False, True], ids=["full", "rates-only"])
@pytest.mark.parametrize("cls", [TinySNN, LoopedSNN])
def test_peak_memory_does_not_grow_with_batches(small_folds, rates_only, cls):
    torch.manual_seed(0)
    model = cls().double()
    first, second, most_queued, per_call_dicts, _ = _window_peaks(model, rates_only)
    # before the fix the full profile kept ~1 KB per batch here (≥ 150 KB over a window of N batches); the
    # peak of a full profile's window varies by 5-17 KB from run to run (dict resizes, collector timing)
    assert second - first < 48_000, (first, second)
    assert most_queued <= 64 + 60  # the fold bound plus one forward's queued tensors
    assert per_call_dicts <= 1  # only the current forward's call count is kept per site


@pytest.mark.parametrize("rates_only", [False, True], ids=["full", "rates-only"])
@pytest.mark.parametrize("cls", [TinySNN, LoopedSNN])
def test_many_small_batches_count_as_one_big_batch(small_folds, rates_only, cls):
    torch.manual_seed(0)
    model = cls().double()
    x = _samples(90)
    big = profile(model, x, rates_only=rates_only)
    small = profile(model, (x[i:i + 1] for i in range(90)), rates_only=rates_only)
    pd.testing.assert_frame_equal(big.neurons, small.neurons)
    if not rates_only:
        pd.testing.assert_frame_equal(big.layers, small.layers)
        pd.testing.assert_frame_equal(big.per_step, small.per_step)
        assert big.totals() == small.totals()
