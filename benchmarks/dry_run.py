"""Dry-run time on the meta device for the large zoo models (goal: under 1 s each for the 66M ImageNet models).

    python3 benchmarks/dry_run.py                       # the default models
    python3 benchmarks/dry_run.py sdt-8-768 sew-resnet34
    python3 benchmarks/dry_run.py --help

Each model is dry-run twice (the first run also imports the model family's module); the figure is the second
run's wall time: building the model on meta, running it and making the tables. The resident memory growth
of the process over the run is printed too (the weights would take params x 4 bytes if they were real).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from snnenergy.profiler.dry_run import dry_run  # noqa: E402

DEFAULT = ["sdt-8-768", "spikformer-8-768", "spikingformer-8-768", "qkformer-10-768", "meta-spikeformer-55m",
           "sew-resnet152", "ms-resnet104"]


def rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def main(names: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    print(f"{'model':24s} {'params':>12s} {'dense GMAC':>11s} {'seconds':>8s} {'RSS +MiB':>9s} {'weights MiB':>12s}")
    for name in names:
        dry_run(name)
        before = rss_mib()
        start = time.perf_counter()
        d = dry_run(name, assume_rate=0.15)
        seconds = time.perf_counter() - start
        grown = rss_mib() - before
        print(f"{name:24s} {d.params:12,d} {d.totals()['dense_ops'] / 1e9:11.2f} {seconds:8.2f} {grown:9.1f} "
              f"{d.params * 4 / 2**20:12.0f}")


def parse_names(argv: list[str] | None = None) -> list[str]:
    """The zoo names to time (the default set when none is given); an unknown name is a one-line error."""
    from snnenergy.models import list_models
    from snnenergy.models.registry import resolve_name

    p = argparse.ArgumentParser(description="Dry-run time on the meta device of large zoo models (the second of "
                                            "two runs each, with the process's memory growth).")
    p.add_argument("names", nargs="*", default=DEFAULT, metavar="MODEL",
                   help=f"zoo model names (default: {' '.join(DEFAULT)}); `snnenergy models` lists them")
    names = p.parse_args(argv).names
    unknown = []
    for n in names:
        try:
            resolve_name(n)
        except KeyError:
            unknown.append(n)
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; `snnenergy models` lists the {len(list_models())} zoo "
                "models")
    return names


if __name__ == "__main__":
    main(parse_names())
