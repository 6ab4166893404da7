"""Dataset throughput: images per second through a profile vs a plain forward, over a folder of images.

    python3 benchmarks/throughput.py                         # 512 generated 64x80 JPEGs, snn-attention-block
    python3 benchmarks/throughput.py --folder ~/imagenet/val --model sdt-8-384 --limit 64 --batch-size 16
    python3 benchmarks/throughput.py --procs 2               # also: 2 processes (torchrun, gloo) vs 1
    python3 benchmarks/throughput.py --procs 2 --procs-only  # only that comparison

Both paths read the same folder through the same ``resolve_input`` DataLoader (decode, the card's eval
resize / crop / normalisation, batching), so the figures compare whole pipelines: ``plain`` is loading plus
``model(x)`` under ``torch.no_grad()`` (neurons reset per batch), ``profile`` is ``snnenergy.profile`` on
the same loader. Each is run ``--repeat`` times and the best is kept.

With ``--procs N`` the profile also runs under ``torchrun --nproc_per_node 1`` and ``--nproc_per_node N``
(one thread each), both the same way: every process first profiles one batch of its own (imports, lazy
initialisation, allocator and caches warm), then the time (best of ``--repeat``) runs from a barrier to a
barrier after rank 0 holds the merged report with every table built (sharding, profiling, gathering,
merging; not the launch, the imports or the warm-up). The same ranks first time the plain forward over their
shards between barriers: the speed-up the machine itself gives N processes of this model (on a VM whose N
cores share caches or memory bandwidth, it is below N, and so is the profile's). A second, instrumented
pass splits the time into
each rank's own profile (its shard, tables built; wall and CPU time: a rank whose CPU time is well
below its wall time was waiting for a core, i.e. the machine was busy), the gather and the merge on rank 0.
Keep runs short on shared machines.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TABLES = ("layers", "per_step", "neurons", "other_ops", "unsupported", "provenance")


def write_images(folder: Path, n: int, size: tuple[int, int] = (64, 80)) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        d = folder / f"c{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(d / f"{i}.jpg", quality=90)


def best_rate(fn, samples: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return samples / min(times)


def plain_forward(model, batches) -> None:
    """``model(x)`` on every batch under ``torch.no_grad()``, neurons reset per batch (what a profile does)."""
    import torch

    from snnenergy.neurons import reset_net

    with torch.no_grad():
        for x in batches:
            reset_net(model)
            model(x)


def worker(model, loader, repeat: int) -> None:
    """One rank of a torchrun run: warm up, then time the distributed profile between two barriers (the best
    of ``repeat``)."""
    import torch.distributed as dist

    from snnenergy import profile
    from snnenergy.distributed import profile_distributed, shard_inputs

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    profile(model, next(iter(loader()))).neurons  # the same warm-up in every process, whatever N
    plain_total = float("inf")  # the plain forward over this rank's shard, all ranks at once: the machine's ceiling
    for _ in range(repeat):
        dist.barrier()
        start = time.perf_counter()
        plain_forward(model, shard_inputs(loader(), rank, world))
        dist.barrier()
        plain_total = min(plain_total, time.perf_counter() - start)
    total = float("inf")
    for _ in range(repeat):
        dist.barrier()
        start = time.perf_counter()
        report = profile_distributed(model, loader())
        if rank == 0:
            for name in TABLES:  # the report as a user gets it: every table built
                getattr(report, name)
        dist.barrier()
        total = min(total, time.perf_counter() - start)
    # the same work in parts: this rank's own profile, the gather, the merge
    from snnenergy.report.merge import merge_reports

    dist.barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    part = shard_inputs(loader(), rank, world)
    payload = profile(model, part).to_dict() if len(part) else None
    t1, cpu = time.perf_counter(), time.process_time() - c0
    gathered = [None] * world
    dist.all_gather_object(gathered, payload)
    t2 = time.perf_counter()
    if rank == 0 and world > 1:
        merge_reports([g for g in gathered if g is not None])
    t3 = time.perf_counter()
    times = [None] * world
    dist.all_gather_object(times, (t1 - t0, t2 - t1, t3 - t2, cpu))
    if rank == 0:
        print("PROFILE_SECONDS " + json.dumps({"total": total, "plain": plain_total, "own": [t[0] for t in times],
                                                "cpu": [t[3] for t in times], "gather": max(t[1] for t in times),
                                                "merge": times[0][2]}))
    dist.destroy_process_group()


def torchrun_times(args, n: int) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
           os.path.abspath(__file__), "--worker", "--folder", str(args.folder), "--model", args.model,
           "--limit", str(args.limit), "--batch-size", str(args.batch_size), "--repeat", str(args.repeat)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(next(ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("PROFILE_SECONDS")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, help="image folder (default: generate --images JPEGs in a temporary one)")
    ap.add_argument("--images", type=int, default=512, help="how many JPEGs to generate without --folder")
    ap.add_argument("--model", default="snn-attention-block")
    ap.add_argument("--limit", type=int, help="profile at most this many images (default: all)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--procs", type=int, default=0, help="also time N processes under torchrun against 1")
    ap.add_argument("--procs-only", action="store_true", help="skip the single-process loading/plain/profile rates")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.folder is not None and not args.folder.is_dir():
        ap.error(f"--folder {args.folder}: not a folder; give a folder of images (one subfolder per class, as "
                 "ImageNet's val), or leave it out to time generated JPEGs")
    for name in ("images", "batch_size", "repeat"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")

    import torch

    torch.set_num_threads(1)
    from snnenergy import create_model, model_card, profile
    from snnenergy.data import resolve_input

    tmp = None
    if args.folder is None:
        tmp = tempfile.TemporaryDirectory()
        args.folder = Path(tmp.name) / "val"
        write_images(args.folder, args.images)
    try:
        card = model_card(args.model)
    except KeyError as e:
        ap.error(str(e).strip("'\""))
    torch.manual_seed(0)
    model = create_model(args.model).eval()

    def loader():
        return resolve_input(args.folder, card, args.batch_size, limit=args.limit, num_workers=args.num_workers)

    if args.worker:
        worker(model, loader, args.repeat)
        return
    samples = len(loader().dataset)
    args.limit = samples
    print(f"{args.model}, {samples} images from {args.folder} (batch {args.batch_size}, "
          f"{args.num_workers} workers, 1 thread)")

    def plain():
        plain_forward(model, loader())  # resolve_input yields input batches (labels=False)

    def profiled():
        profile(model, loader())

    def load_only():
        for _ in loader():
            pass

    if not args.procs_only:
        rates = {"loading only": best_rate(load_only, samples, args.repeat),
                 "plain forward": best_rate(plain, samples, args.repeat),
                 "profile": best_rate(profiled, samples, args.repeat)}
        for k, v in rates.items():
            print(f"  {k:14s} {v:8.1f} images/s")
        print(f"  profile / plain time: {rates['plain forward'] / rates['profile']:.2f}x")
    if args.procs:
        print(f"  load average before the torchrun runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
              "(other work on the machine slows N processes more than 1)")
        times, plains = {}, {}
        for n in (1, args.procs):
            t = torchrun_times(args, n)
            times[n], plains[n] = t["total"], t["plain"]
            print(f"  torchrun x{n}: {t['total']:.2f} s ({samples / t['total']:.1f} images/s; launch, imports and "
                  "warm-up not timed)")
            own = ", ".join(f"{v:.2f} s ({c:.2f} s CPU)" for v, c in zip(t["own"], t["cpu"]))
            print(f"    in parts: each rank's own profile of its shard {own}; gather (incl. waiting for the "
                  f"slowest rank) {t['gather']:.3f} s; merge {t['merge']:.3f} s")
        print(f"  speed-up of {args.procs} processes over 1: {times[1] / times[args.procs]:.2f}x")
        print(f"  the machine's own ceiling, the plain forward sharded the same way: x1 {plains[1]:.2f} s, "
              f"x{args.procs} {plains[args.procs]:.2f} s, speed-up {plains[1] / plains[args.procs]:.2f}x")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
