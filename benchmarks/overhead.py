"""Profiling time over plain-forward time of the same model and input, in the same process (CPU).

Each repeat times a plain ``torch.no_grad()`` forward (with the neuron reset the model needs between samples)
and then one tool, back to back, round-robin over every tool so that machine drift hits all alike; a figure
is the median of the per-repeat ratios, printed with its spread (min..max and the interquartile range).

snnenergy is timed as users call it, ``snnenergy.profile(model, x)``: every count, kind, provenance and
firing rate is computed and on the host when it returns; the pandas tables are built lazily. "+ layers"
also builds ``report.layers``, "+ neurons" ``report.neurons`` (with the dead/saturated fractions); the
"layers build" line times building ``report.layers`` alone, over the plain forward.

Peers run on the same models in the same process: SpikingJelly's op_counter (``DispatchCounterMode``) and
NeuroBench's ``SynapticOperations`` (when installed; its hooks stay on the model, so its plain forward runs on
an un-hooked copy). ``--baseline DIR`` also times another copy of snnenergy (e.g. HEAD exported to
``DIR/snnenergy``) on models built from that copy, so that a change is measured against it in the same run.

    python3 benchmarks/overhead.py                               # B = 8, every model, peers included
    python3 benchmarks/overhead.py --batch 8 32 --rep 31 --model snntorch
    python3 benchmarks/overhead.py --baseline /tmp/head --no-peers
    python3 benchmarks/overhead.py --clock cpu                   # CPU time of this thread (a shared machine)
    python3 benchmarks/overhead.py --batches 10                  # ten batches per profile, as a DataLoader run
    python3 benchmarks/overhead.py --help

Targets (issue 7): full profile ≤ 1.25×, rates-only with ``report.neurons`` ≤ 1.1×, ``report.layers``
≤ 0.1× of a forward.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import io
import os
import statistics
import sys
import time
import types
import warnings
from typing import Callable

import torch
from torch import nn

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import snnenergy  # noqa: E402

T = 4


# ------------------------------------------------------------------------------------------- models
def spiking_cnn(pkg: types.ModuleType) -> nn.Module:
    """conv-BN-LIF x3 (3→16→32→64 on 32x32, max-pools) + linear, T = 4, our LIF."""
    LIF = pkg.neurons.LIF

    class SpikingCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.time_steps = T
            chans = [3, 16, 32, 64]
            self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1, bias=False) for a, b in zip(chans, chans[1:]))
            self.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in chans[1:])
            self.lifs = nn.ModuleList(LIF(detach_reset=True) for _ in chans[1:])
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(64 * 8 * 8, 10)

        def forward(self, img: torch.Tensor) -> torch.Tensor:
            x = img.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
            T_, B = x.shape[:2]
            for i, (conv, bn, lif) in enumerate(zip(self.convs, self.bns, self.lifs)):
                y = bn(conv(x.flatten(0, 1)))
                x = lif(y.reshape(T_, B, *y.shape[1:]))
                if i > 0:
                    x = self.pool(x.flatten(0, 1)).reshape(T_, B, x.shape[2], x.shape[3] // 2, x.shape[4] // 2)
            return self.fc(x.flatten(2)).mean(0)

    return SpikingCNN()


def snntorch_cnn(pkg: types.ModuleType) -> nn.Module:
    """snnTorch's tutorial conv net (conv 5x5 → pool → Leaky, twice, then linear → Leaky) on 1x28x28, stepped
    in a Python loop over T = 4 steps with hidden state kept in the neurons (``init_hidden``)."""
    import snntorch as snn

    class SnnTorchCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.time_steps = T
            self.conv1, self.conv2 = nn.Conv2d(1, 12, 5), nn.Conv2d(12, 64, 5)
            self.fc = nn.Linear(64 * 4 * 4, 10)
            self.lif1, self.lif2, self.lif3 = (snn.Leaky(beta=0.5, init_hidden=True) for _ in range(3))
            self.pool = nn.MaxPool2d(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for lif in (self.lif1, self.lif2, self.lif3):
                lif.reset_mem()
            out = 0
            for _ in range(self.time_steps):
                s = self.lif1(self.pool(self.conv1(x)))
                s = self.lif2(self.pool(self.conv2(s)))
                out = out + self.lif3(self.fc(s.flatten(1)))
            return out

    return SnnTorchCNN()


def spikformer_block(pkg: types.ModuleType) -> nn.Module:
    """A Spikformer-style self-attention block on tokens ``[T, B, N=16, D=64]`` with SpikingJelly multi-step
    LIF neurons: spike Q, K, V (linear + LIF), Q·Kᵀ·V of spikes, a spike-sum residual into a linear."""
    from spikingjelly.activation_based import neuron

    def lif(th: float = 1.0) -> nn.Module:
        return neuron.LIFNode(tau=2.0, v_threshold=th, step_mode="m", detach_reset=True)

    class SpikformerBlock(nn.Module):
        def __init__(self, d: int = 64) -> None:
            super().__init__()
            self.time_steps = T
            self.in_lif, self.q_lif, self.k_lif, self.v_lif = lif(), lif(), lif(), lif()
            self.q, self.k, self.v = (nn.Linear(d, d, bias=False) for _ in range(3))
            self.attn_lif, self.proj_lif = lif(0.5), lif()
            self.proj, self.mlp = nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = self.in_lif(x)
            q, k, v = self.q_lif(self.q(s)), self.k_lif(self.k(s)), self.v_lif(self.v(s))
            o = self.attn_lif(q @ k.transpose(-2, -1) @ v * 0.125)
            return self.mlp(s + self.proj_lif(self.proj(o)))

    return SpikformerBlock()


def attention_block(pkg: types.ModuleType) -> nn.Module:
    return pkg.create_model("snn-attention-block")


# name -> (label, builder, input maker, batch_dim)
MODELS: dict[str, tuple[str, Callable, Callable[[int], torch.Tensor], int]] = {
    "cnn": ("spiking CNN (ours)", spiking_cnn, lambda b: torch.randn(b, 3, 32, 32), 0),
    "snntorch": ("snnTorch conv net", snntorch_cnn, lambda b: torch.rand(b, 1, 28, 28) * 2, 0),
    "spikformer": ("Spikformer-style block", spikformer_block, lambda b: torch.randn(T, b, 16, 64) * 2, 1),
    "attention": ("snn-attention-block", attention_block, lambda b: torch.randn(b, 3, 32, 32), 0),
}


def reset(model: nn.Module) -> None:
    """Reset every neuron (ours, SpikingJelly's; snnTorch's reset in their forward)."""
    for m in model.modules():
        if hasattr(m, "reset") and callable(m.reset) and m is not model and not isinstance(m, nn.Linear):
            try:
                m.reset()
            except TypeError:
                pass


def calibrate(model: nn.Module, x: torch.Tensor) -> None:
    """Set BN running statistics from data (train-mode passes), as a trained model has; BN scaled so that
    layers fire at a few tens of percent."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    model.train()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    with torch.no_grad():
        for _ in range(3):
            model(x)
            reset(model)
    model.eval()


def build(pkg: types.ModuleType, key: str, x: torch.Tensor) -> nn.Module:
    torch.manual_seed(0)
    model = MODELS[key][1](pkg)
    calibrate(model, x)
    return model.eval()


# -------------------------------------------------------------------------------------------- tools
def plain(model: nn.Module, x: torch.Tensor, batches: int = 1) -> Callable[[], None]:
    def run() -> None:
        for _ in range(batches):
            with torch.no_grad():
                model(x)
            reset(model)
    return run


def snnenergy_tools(pkg, model, x, batch_dim: int, tag: str = "", batches: int = 1
                    ) -> dict[str, tuple[Callable, Callable]]:
    kw = {"batch_dim": batch_dim, "time_steps": T}
    base = plain(model, x, batches)
    held: list = []
    x = x if batches == 1 else [x] * batches  # a list of batches: one profile over all of them

    def full():
        pkg.profile(model, x, **kw)

    def full_layers():
        pkg.profile(model, x, **kw).layers

    def rates():
        pkg.profile(model, x, rates_only=True, **kw)

    def rates_neurons():
        pkg.profile(model, x, rates_only=True, **kw).neurons

    def layers_only():  # the report is made outside the timing (by the plain run's slot)
        held.pop().layers

    def plain_then_report():
        base()
        held.append(pkg.profile(model, x, **kw))

    def plain_only_timed():
        base()

    tools = {
        f"full{tag}": (full, base),
        f"full + layers{tag}": (full_layers, base),
        f"rates-only{tag}": (rates, base),
        f"rates + neurons{tag}": (rates_neurons, base),
    }
    if not tag:
        tools["layers build"] = (layers_only, _PrepThenTime(plain_then_report, plain_only_timed))
    return tools


class _PrepThenTime:
    """A plain-forward slot that first makes a report (untimed) for the next ``layers build`` timing."""

    def __init__(self, prep: Callable, timed: Callable) -> None:
        self.prep, self.timed = prep, timed


def peer_tools(model: nn.Module, x: torch.Tensor, batch_dim: int, batches: int = 1
               ) -> dict[str, tuple[Callable, Callable]]:
    tools: dict[str, tuple[Callable, Callable]] = {}
    base = plain(model, x, batches)
    try:
        from spikingjelly.activation_based import op_counter as oc

        def sj_synop():
            c = oc.SynOpCounter()
            with oc.DispatchCounterMode([c]), torch.no_grad():
                for _ in range(batches):
                    model(x)
                    reset(model)
            c.get_total()

        def sj_acmac():
            cs = [oc.ACCounter(), oc.MACCounter()]
            with oc.DispatchCounterMode(cs), torch.no_grad():
                for _ in range(batches):
                    model(x)
                    reset(model)

        tools["SpikingJelly op_counter [SynOp]"] = (sj_synop, base)
        tools["SpikingJelly op_counter [AC+MAC]"] = (sj_acmac, base)
    except Exception:  # noqa: BLE001 - not installed or incompatible
        pass
    try:
        from neurobench.benchmarks import Benchmark
        from neurobench.metrics.workload import SynapticOperations
        from neurobench.models import TorchModel

        hooked = copy.deepcopy(model)  # NeuroBench leaves its hooks on the model it measured
        net = hooked if batch_dim == 0 else _BatchFirst(hooked)
        xb = x if batch_dim == 0 else x.transpose(0, 1).contiguous()
        xs = torch.cat([xb] * batches)  # ``batches`` batches of the same samples
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xs, torch.zeros(xs.shape[0])),
                                             batch_size=xb.shape[0])
        bench_ = Benchmark(TorchModel(net), loader, [], [], [[], [SynapticOperations]])

        def nb():
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                bench_.run(quiet=True)
            reset(hooked)

        tools["NeuroBench SynapticOperations"] = (nb, base)
    except Exception:  # noqa: BLE001
        pass
    return tools


class _BatchFirst(nn.Module):
    """``[B, T, ...]`` in, the wrapped ``[T, B, ...]`` model's output out (NeuroBench feeds batch first)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.transpose(0, 1))


def load_baseline(path: str) -> types.ModuleType:
    """Import the snnenergy package under ``path/snnenergy`` as ``snnenergy_baseline``."""
    init = os.path.join(path, "snnenergy", "__init__.py")
    spec = importlib.util.spec_from_file_location("snnenergy_baseline", init,
                                                  submodule_search_locations=[os.path.dirname(init)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["snnenergy_baseline"] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------- timing
def bench(tools: dict[str, tuple[Callable, Callable]], rep: int, clock: Callable[[], float] = time.perf_counter
          ) -> dict[str, dict[str, float]]:
    """Median (and spread) of the per-repeat ratio tool / plain forward, round-robin over ``tools``; ``clock``
    is wall time, or this thread's CPU time (``--clock cpu``: on a shared machine, time the process spent
    waiting for a core is not counted)."""
    for tool, base in tools.values():  # warm-up (fan-out caches, allocator, lazy imports)
        for _ in range(2):
            _run_base(base)
            tool()
    ratios: dict[str, list[float]] = {k: [] for k in tools}
    plain_ms: dict[str, list[float]] = {k: [] for k in tools}
    for _ in range(rep):
        for k, (tool, base) in tools.items():
            if isinstance(base, _PrepThenTime):
                base.prep()
                base = base.timed
            t0 = clock()
            base()
            t1 = clock()
            tool()
            t2 = clock()
            ratios[k].append((t2 - t1) / (t1 - t0))
            plain_ms[k].append((t1 - t0) * 1e3)
    out = {}
    for k, r in ratios.items():
        q = statistics.quantiles(r, n=4) if len(r) >= 2 else [r[0]] * 3
        out[k] = {"plain_ms": statistics.median(plain_ms[k]), "median": statistics.median(r), "min": min(r),
                  "max": max(r), "q1": q[0], "q3": q[2]}
    return out


def _run_base(base) -> None:
    if isinstance(base, _PrepThenTime):
        base.prep()
    else:
        base()


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Profiling time over plain-forward time (medians of per-repeat "
                                            "ratios with their spread), snnenergy and its peers, in one process.")
    p.add_argument("--batch", type=int, nargs="+", default=[8], help="batch sizes (default: 8)")
    p.add_argument("--batches", type=int, default=1,
                   help="batches per profile (default 1): a list of that many batches against as many plain forwards, "
                        "as a DataLoader run sees it (the per-profile costs spread over the batches)")
    p.add_argument("--rep", type=int, default=int(os.environ.get("REP", 15)), help="repeats (default 15; env REP)")
    p.add_argument("--model", choices=(*MODELS, "all"), nargs="+", default=["all"], help="which model(s)")
    p.add_argument("--no-peers", action="store_true", help="time snnenergy only (no SpikingJelly/NeuroBench)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time (default) or this thread's CPU time (steadier on a shared machine)")
    p.add_argument("--baseline", default=None, metavar="DIR",
                   help="also time the snnenergy copy in DIR/snnenergy (e.g. HEAD exported there)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    args = p.parse_args()
    if args.baseline and not os.path.isfile(os.path.join(args.baseline, "snnenergy", "__init__.py")):
        p.error(f"--baseline {args.baseline}: no snnenergy package there (DIR/snnenergy/__init__.py); export one "
                "first, e.g. mkdir -p DIR && git archive HEAD snnenergy | tar -x -C DIR")
    for name in ("rep", "batches", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if min(args.batch) < 1:
        p.error(f"--batch sizes must be at least 1, got {min(args.batch)}")
    return args


def main() -> None:
    args = _args()
    torch.set_num_threads(args.threads)
    baseline = load_baseline(args.baseline) if args.baseline else None
    keys = list(MODELS) if "all" in args.model else args.model
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {args.rep}, T = {T}, CPU, "
          f"{args.batches} batch(es) per profile")
    print(f"{'model':24s} {'B':>3s} {'tool':34s} {'plain ms':>8s} {'ratio':>6s}  [q1..q3]  [min..max]")
    table = []
    for b in args.batch:
        for key in keys:
            label, _, make_input, batch_dim = MODELS[key]
            torch.manual_seed(1)
            x = make_input(b)
            try:
                model = build(snnenergy, key, x)
            except ImportError as e:
                print(f"{label:24s} {b:3d} skipped ({e})")
                continue
            tools = snnenergy_tools(snnenergy, model, x, batch_dim, batches=args.batches)
            if baseline is not None:
                tools.update(snnenergy_tools(baseline, build(baseline, key, x), x, batch_dim, tag=" [baseline]",
                                             batches=args.batches))
            if not args.no_peers:
                tools.update(peer_tools(build(snnenergy, key, x), x, batch_dim, args.batches))
            res = bench(tools, args.rep, time.thread_time if args.clock == "cpu" else time.perf_counter)
            for tool, r in res.items():
                print(f"{label:24s} {b:3d} {tool:34s} {r['plain_ms']:8.1f} {r['median']:6.2f}  "
                      f"[{r['q1']:.2f}..{r['q3']:.2f}]  [{r['min']:.2f}..{r['max']:.2f}]")
            table.append((label, b, res))
            sys.stdout.flush()
    _closing_table(table)


def _closing_table(table) -> None:
    """The summary table: model, B, full, full + layers, rates-only, rates + neurons, layers build, peers."""
    cols = ["full", "full + layers", "rates-only", "rates + neurons", "layers build"]
    print("\n| model | B | " + " | ".join(cols) + " | peers |")
    print("|" + "---|" * (len(cols) + 3))
    for label, b, res in table:
        cells = [f"{res[c]['median']:.2f}" if c in res else "-" for c in cols]
        peers = [f"{k.split(' [')[0].replace('SynapticOperations', 'SynOps')}{_bracket(k)} {r['median']:.2f}"
                 for k, r in res.items() if k.startswith(("SpikingJelly", "NeuroBench"))]
        base = [f"baseline {c} {res[c + ' [baseline]']['median']:.2f}" for c in ("full", "rates + neurons")
                if c + " [baseline]" in res]
        print(f"| {label} | {b} | " + " | ".join(cells) + " | " + "; ".join(peers + base) + " |")


def _bracket(k: str) -> str:
    return " [" + k.split(" [")[1] if " [" in k else ""


if __name__ == "__main__":
    main()
