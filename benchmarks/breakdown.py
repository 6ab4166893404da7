"""Where a profile's extra time goes, per model: inside the model's forward (interception, per-op summaries,
neuron recording) or outside it (state save and restore, wrappers, the host copy, building the report and its
neuron table), and how many tensor ops of its own the profiler runs.

The forward's span inside a profile is timed by wrapping the model in a module that reads the clock when its
forward starts and ends (nothing in snnenergy is patched). The profiler's own ops are the aten ops that run
beyond the plain forward's, counted with a ``TorchDispatchMode`` around the whole call (on a small CPU model
each costs some 5-20 us in context, which is what bounds a profile from below). The plain run is a forward
and the neuron reset; the profile's reset (before its forward) is not counted as extra. Times are this
thread's CPU time, medians over repeats, one thread; on a shared machine, repeat the run.

    python3 benchmarks/breakdown.py
    python3 benchmarks/breakdown.py --model spikformer --rep 41
    python3 benchmarks/breakdown.py --context     # how much slower the same small work runs after a forward

``--context`` times a fixed piece of work of the kind a profile does per call (some dict and attribute
bookkeeping in Python, and one small reduction: a spike tensor summed over its batch) twice: in a warm loop,
and once right after each forward of the model, as it runs inside a profile. The ratio is what the model's own
ops, by evicting the caches, add to every microsecond of the profiler's work.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import overhead  # noqa: E402  (the same models and inputs as the overhead benchmark)
import snnenergy  # noqa: E402

_clock = time.thread_time_ns


class _Span:
    """Start and end of the last forward (a plain object: a profile restores the model's attributes and
    containers as it found them, but not the inside of other objects they hold)."""

    start = end = 0


class _TimedForward(nn.Module):
    """The model, with the start and end of each of its forwards recorded."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.span = _Span()

    def forward(self, *args):
        self.span.start = _clock()
        try:
            return self.model(*args)
        finally:
            self.span.end = _clock()


class _OpCounter(TorchDispatchMode):
    """Counts the aten ops that run under it."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def _aten_ops(fn) -> int:
    with _OpCounter() as counter:
        fn()
    return counter.count


def breakdown(key: str, batch: int, rep: int) -> dict[str, dict[str, float]]:
    """Median times (ms) of the plain run and of each profile, the extra inside its forward and outside it,
    and the profiler's own aten ops, for one model of :data:`overhead.MODELS`."""
    _, _, make_input, batch_dim = overhead.MODELS[key]
    torch.manual_seed(1)
    x = make_input(batch)
    model = overhead.build(snnenergy, key, x)
    timed = _TimedForward(model).eval()
    plain = overhead.plain(model, x)
    kw = {"batch_dim": batch_dim, "time_steps": overhead.T}
    tools = {"full": lambda: snnenergy.profile(timed, x, **kw),
             "rates + neurons": lambda: snnenergy.profile(timed, x, rates_only=True, **kw).neurons}
    plain_ops = _aten_ops(plain)
    out = {}
    def forward_only() -> None:
        with torch.no_grad():
            model(x)

    for name, tool in tools.items():
        for _ in range(3):
            plain()
            tool()
        fwd, resets, total, inside = [], [], [], []
        for _ in range(rep):
            t0 = _clock()
            forward_only()
            t1 = _clock()
            overhead.reset(model)
            t2 = _clock()
            tool()
            t3 = _clock()
            fwd.append(t1 - t0)
            resets.append(t2 - t1)
            total.append(t3 - t2)
            inside.append(timed.span.end - timed.span.start)
        ms = lambda v: statistics.median(v) / 1e6  # noqa: E731
        # the plain run is a forward and a reset; a profile resets before its forward, outside the span
        out[name] = {"plain": ms(fwd) + ms(resets), "total": ms(total), "inside": ms(inside) - ms(fwd),
                     "outside": ms(total) - ms(inside) - ms(resets), "ops": _aten_ops(tool) - plain_ops}
    return out


class _Bookkeeping:
    """Stands in for a profiler's per-call Python: attribute reads, dict lookups and updates, tuple keys."""

    def __init__(self) -> None:
        self.sites = {("layer", "op", i): [0, 0] for i in range(64)}
        self.T, self.B = 4, 8

    def run(self, shape: tuple) -> int:
        total = 0
        for i in range(16):
            st = self.sites[("layer", "op", i)]
            st[0] += 1
            st[1] += shape[0] * self.T
            total += st[1] if shape[1] == self.B else 0
        return total


def context_factor(key: str, batch: int, rep: int) -> dict[str, tuple[float, float]]:
    """``{piece: (warm us, after-a-forward us)}``, medians, for the bookkeeping and the reduction of
    :class:`_Bookkeeping`'s docstring, on one model of :data:`overhead.MODELS`."""
    _, _, make_input, _ = overhead.MODELS[key]
    torch.manual_seed(1)
    x = make_input(batch)
    model = overhead.build(snnenergy, key, x).eval()
    plain = overhead.plain(model, x)
    spikes = (torch.rand(overhead.T, batch, 16, 64) < 0.2).float()
    book = _Bookkeeping()
    pieces = {"bookkeeping (Python)": lambda: book.run(tuple(spikes.shape)),
              "one reduction (aten op)": lambda: spikes.sum(1)}
    clock = time.perf_counter_ns
    out = {}
    for name, piece in pieces.items():
        warm, after = [], []
        for _ in range(rep):
            piece()
            t0 = clock()
            piece()
            warm.append(clock() - t0)
            plain()
            t0 = clock()
            piece()
            after.append(clock() - t0)
        out[name] = (statistics.median(warm) / 1e3, statistics.median(after) / 1e3)
    return out


def _print_context(keys: list[str], batch: int, rep: int) -> None:
    print("| model | work | warm us | right after a forward us | factor |")
    print("|---|---|---|---|---|")
    for key in keys:
        try:
            res = context_factor(key, batch, rep)
        except ImportError as e:
            print(f"| {overhead.MODELS[key][0]} | skipped ({e}) |")
            continue
        for name, (warm, after) in res.items():
            print(f"| {overhead.MODELS[key][0]} | {name} | {warm:.1f} | {after:.1f} | {after / warm:.1f}x |")
        sys.stdout.flush()


def main() -> None:
    p = argparse.ArgumentParser(description="Where a profile's extra time goes: inside the forward or outside "
                                            "it, and the profiler's own aten ops.")
    p.add_argument("--model", choices=(*overhead.MODELS, "all"), nargs="+", default=["all"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rep", type=int, default=31, help="repeats (default 31)")
    p.add_argument("--context", action="store_true",
                   help="time a fixed piece of per-call work warm and right after each forward instead")
    args = p.parse_args()
    for name in ("batch", "rep"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    torch.set_num_threads(1)
    keys = list(overhead.MODELS) if "all" in args.model else args.model
    if args.context:
        print(f"torch {torch.__version__}, 1 thread, B = {args.batch}, wall time, medians of {args.rep}")
        _print_context(keys, args.batch, args.rep)
        return
    print(f"torch {torch.__version__}, 1 thread, B = {args.batch}, T = {overhead.T}, CPU time, medians of {args.rep}")
    print("| model | profile | plain ms | profile ms | extra in the forward ms | extra outside it ms "
          "| own aten ops |")
    print("|---|---|---|---|---|---|---|")
    for key in keys:
        try:
            res = breakdown(key, args.batch, args.rep)
        except ImportError as e:
            print(f"| {overhead.MODELS[key][0]} | skipped ({e}) |")
            continue
        for name, r in res.items():
            print(f"| {overhead.MODELS[key][0]} | {name} | {r['plain']:.2f} | {r['total']:.2f} | "
                  f"{r['inside']:.2f} | {r['outside']:.2f} | {r['ops']} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
