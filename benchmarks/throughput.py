"""Dataset throughput: images per second through a profile vs a plain forward, over a folder of images.

    python3 benchmarks/throughput.py                         # 48 generated 256x320 JPEGs, snn-attention-block
    python3 benchmarks/throughput.py --folder ~/imagenet/val --model sdt-8-384 --limit 64 --batch-size 16
    python3 benchmarks/throughput.py --procs 2               # also: 2 processes (torchrun, gloo) vs 1

Both paths read the same folder through the same ``resolve_input`` DataLoader (decode, the card's eval
resize / crop / normalisation, batching), so the figures compare whole pipelines: ``plain`` is loading plus
``model(x)`` under ``torch.no_grad()`` (neurons reset per batch), ``profile`` is ``snnenergy.profile`` on
the same loader. Each is run ``--repeat`` times and the best is kept. With ``--procs N`` the profile is
also run under ``torchrun --nproc_per_node N`` (one thread each) and timed from a barrier after start-up to
a barrier after the merged report (sharding, profiling, gathering, merging; not the launch and imports).
Keep runs short on shared machines.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_images(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        d = folder / f"c{i % 4}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (256, 320, 3), dtype=np.uint8)).save(d / f"{i}.jpg", quality=90)


def best_rate(fn, samples: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return samples / min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, help="image folder (default: generate 48 JPEGs in a temporary folder)")
    ap.add_argument("--model", default="snn-attention-block")
    ap.add_argument("--limit", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--procs", type=int, default=0, help="also time N processes under torchrun")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from snnenergy import create_model, model_card, profile
    from snnenergy.data import resolve_input
    from snnenergy.neurons import reset_net

    tmp = None
    if args.folder is None:
        tmp = tempfile.TemporaryDirectory()
        args.folder = Path(tmp.name) / "val"
        write_images(args.folder, args.limit)
    card = model_card(args.model)
    torch.manual_seed(0)
    model = create_model(args.model).eval()

    def loader():
        return resolve_input(args.folder, card, args.batch_size, limit=args.limit, num_workers=args.num_workers)

    if args.worker:  # one rank of the --procs run: time the profile itself, between two barriers
        import torch.distributed as dist

        from snnenergy.distributed import profile_distributed

        dist.init_process_group("gloo")
        dist.barrier()
        start = time.perf_counter()
        profile_distributed(model, loader())
        dist.barrier()
        if dist.get_rank() == 0:
            print(f"PROFILE_SECONDS {time.perf_counter() - start}")
        return
    samples = len(loader().dataset)

    def plain():
        with torch.no_grad():
            for x in loader():  # resolve_input yields input batches (labels=False)
                reset_net(model)
                model(x)

    def profiled():
        profile(model, loader())

    def load_only():
        for _ in loader():
            pass

    print(f"{args.model}, {samples} images from {args.folder} (batch {args.batch_size}, "
          f"{args.num_workers} workers, 1 thread)")
    rates = {"loading only": best_rate(load_only, samples, args.repeat),
             "plain forward": best_rate(plain, samples, args.repeat),
             "profile": best_rate(profiled, samples, args.repeat)}
    for k, v in rates.items():
        print(f"  {k:14s} {v:8.1f} images/s")
    print(f"  profile / plain time: {rates['plain forward'] / rates['profile']:.2f}x")
    if args.procs:
        times = {}
        for n in (1, args.procs):
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
                   os.path.abspath(__file__), "--worker", "--folder", str(args.folder), "--model", args.model,
                   "--limit", str(args.limit), "--batch-size", str(args.batch_size)]
            env = dict(os.environ, OMP_NUM_THREADS="1")
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            times[n] = float(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("PROFILE_SECONDS")))
            print(f"  torchrun x{n}: {times[n]:.2f} s ({samples / times[n]:.1f} images/s; launch and imports not timed)")
        print(f"  speed-up of {args.procs} processes over 1: {times[1] / times[args.procs]:.2f}x")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
