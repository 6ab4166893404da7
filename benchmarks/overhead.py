"""Profiling time over plain-forward time of the same model and input, in the same run (CPU).

Each repeat times a plain ``torch.no_grad()`` forward (with the neuron reset the model needs between samples)
and then the tool, back to back, round-robin over every tool so that machine drift hits all alike; the figure
is the median of the per-repeat ratios.

What is timed for snnenergy is the user-facing call, ``snnenergy.profile(model, x)``, with the
:class:`~snnenergy.report.Report` it returns: every count, operand kind, provenance and firing rate is computed
and copied to the host by then. The report's pandas tables are built lazily, on first access; the
"+ tables" lines also build the layer and neuron tables (``report.layers``, ``report.neurons``, which include
the dead/saturated neuron fractions), so both figures are visible.

    python3 benchmarks/overhead.py                 # B = 8 and 32, both models
    REP=15 B=8 python3 benchmarks/overhead.py

Targets (DESIGN §7): full profile ≤ 1.25×, rates-only ≤ 1.1× (the profile call). Peers (SpikingJelly
op_counter, NeuroBench) are timed on the same model when installed.
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import time
import warnings

import torch
from torch import nn

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import snnenergy  # noqa: E402
from snnenergy.neurons import LIF, reset_net  # noqa: E402

T = 4


class SpikingCNN(nn.Module):
    """conv-BN-LIF ×3 (3→16→32→64, 32×32, max-pools) + linear, T = 4; BN tuned so layers fire ~20-30 %."""

    def __init__(self) -> None:
        super().__init__()
        self.time_steps = T
        chans = [3, 16, 32, 64]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1, bias=False) for a, b in zip(chans, chans[1:]))
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in chans[1:])
        self.lifs = nn.ModuleList(LIF(detach_reset=True) for _ in chans[1:])
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(64 * 8 * 8, 10)
        for bn in self.bns:
            nn.init.constant_(bn.weight, 1.5)
            nn.init.constant_(bn.bias, 0.3)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = img.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        T_, B = x.shape[:2]
        for i, (conv, bn, lif) in enumerate(zip(self.convs, self.bns, self.lifs)):
            y = bn(conv(x.flatten(0, 1)))
            x = lif(y.reshape(T_, B, *y.shape[1:]))
            if i > 0:
                x = self.pool(x.flatten(0, 1)).reshape(T_, B, x.shape[2], x.shape[3] // 2, x.shape[4] // 2)
        return self.fc(x.flatten(2)).mean(0)


def _calibrate(model: nn.Module, x: torch.Tensor) -> None:
    """Set BN running statistics from data (train-mode passes), as a trained model would have."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        for _ in range(3):
            model(x)
            reset_net(model)
    model.eval()


def _plain(model, x):
    def run():
        with torch.no_grad():
            model(x)
        reset_net(model)
    return run


def _tools(model, x):
    def with_tables(rates_only: bool):
        def run():
            report = snnenergy.profile(model, x, rates_only=rates_only)
            report.layers, report.neurons
        return run

    tools = {
        "snnenergy full profile": lambda: snnenergy.profile(model, x),
        "snnenergy full profile + tables": with_tables(False),
        "snnenergy rates-only": lambda: snnenergy.profile(model, x, rates_only=True),
        "snnenergy rates-only + tables": with_tables(True),
    }
    try:
        from spikingjelly.activation_based import op_counter as oc

        def sj_synop():
            c = oc.SynOpCounter()
            with oc.DispatchCounterMode([c]), torch.no_grad():
                model(x)
            c.get_total()
            reset_net(model)

        def sj_acmac():
            cs = [oc.ACCounter(), oc.MACCounter()]
            with oc.DispatchCounterMode(cs), torch.no_grad():
                model(x)
            reset_net(model)

        tools["SpikingJelly op_counter [SynOp]"] = sj_synop
        tools["SpikingJelly op_counter [AC+MAC]"] = sj_acmac
    except Exception:  # noqa: BLE001 - peer not installed or incompatible
        pass
    try:
        from neurobench.benchmarks import Benchmark
        from neurobench.metrics.workload import SynapticOperations
        from neurobench.models import TorchModel

        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(len(x))),
                                             batch_size=len(x))
        bench = Benchmark(TorchModel(model), loader, [], [], [[], [SynapticOperations]])

        def nb():
            with contextlib.redirect_stdout(io.StringIO()):
                bench.run(quiet=True)
            reset_net(model)

        tools["NeuroBench SynapticOperations"] = nb
    except Exception:  # noqa: BLE001
        pass
    return tools


def bench(name: str, model: nn.Module, x: torch.Tensor, rep: int) -> list[tuple[str, float, float, float, float, float]]:
    base = _plain(model, x)
    tools = _tools(model, x)
    for tool in tools.values():  # warm-up (fan-out caches, allocator)
        base(), tool()
    ratios: dict[str, list[float]] = {k: [] for k in tools}
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in tools}
    for _ in range(rep):
        for k, tool in tools.items():
            t0 = time.perf_counter()
            base()
            t1 = time.perf_counter()
            tool()
            t2 = time.perf_counter()
            ratios[k].append((t2 - t1) / (t1 - t0))
            times[k][0].append(t1 - t0)
            times[k][1].append(t2 - t1)
    return [(k, statistics.median(times[k][0]) * 1e3, statistics.median(times[k][1]) * 1e3,
             statistics.median(ratios[k]), min(ratios[k]), max(ratios[k])) for k in tools]


def main() -> None:
    rep = int(os.environ.get("REP", 9))
    sizes = [int(os.environ["B"])] if "B" in os.environ else [8, 32]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {rep}, CPU")
    print(f"{'model':28s} {'B':>3s} {'tool':34s} {'plain ms':>9s} {'tool ms':>9s} {'ratio':>6s}  [min..max]")
    for b in sizes:
        torch.manual_seed(0)
        cnn = SpikingCNN()
        x_img = torch.randn(b, 3, 32, 32)
        _calibrate(cnn, x_img)
        block = snnenergy.create_model("snn-attention-block")
        _calibrate(block, x_img)
        for name, model in (("spiking CNN (3 conv, T=4)", cnn), ("spiking attention block", block)):
            for row in bench(name, model, x_img, rep):
                tool, plain_ms, tool_ms, med, lo, hi = row
                print(f"{name:28s} {b:3d} {tool:34s} {plain_ms:9.1f} {tool_ms:9.1f} {med:6.2f}  [{lo:.2f}..{hi:.2f}]")


if __name__ == "__main__":
    main()
