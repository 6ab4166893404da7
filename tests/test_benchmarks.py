"""The benchmark scripts run as documented (README, Speed): their ``--help``, a short run of each timing tool,
and a one-line error for a bad argument. No timing is asserted here (timings belong to the benchmarks)."""
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = ("overhead", "breakdown", "throughput", "dry_run")


def _run(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCHMARKS / f"{script}.py"), *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script):
    done = _run(script, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:") and "Traceback" not in done.stderr


@pytest.mark.parametrize("script, args, message", [
    ("dry_run", ["no-such-model"], "dry_run.py: error: unknown model(s) no-such-model; `snnenergy models` lists the "
                                   "{zoo} zoo models"),
    ("overhead", ["--baseline", "/no/such/dir"],
     "overhead.py: error: --baseline /no/such/dir: no snnenergy package there (DIR/snnenergy/__init__.py); export "
     "one first, e.g. mkdir -p DIR && git archive HEAD snnenergy | tar -x -C DIR"),
    ("overhead", ["--rep", "0"], "overhead.py: error: --rep must be at least 1, got 0"),
    ("overhead", ["--batch", "0"], "overhead.py: error: --batch sizes must be at least 1, got 0"),
    ("breakdown", ["--batch", "0"], "breakdown.py: error: --batch must be at least 1, got 0"),
    ("throughput", ["--folder", "/no/such/dir"], "throughput.py: error: --folder /no/such/dir: not a folder; give a "
                                                 "folder of images (one subfolder per class, as ImageNet's val), or "
                                                 "leave it out to time generated JPEGs"),
    ("throughput", ["--model", "no-such-model"], "throughput.py: error: unknown model 'no-such-model'. `snnenergy "
                                                 "models` lists all {zoo} models."),
])
def test_a_bad_argument_is_a_one_line_error(script, args, message):
    done = _run(script, *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == message.format(zoo=_zoo_size())


def _zoo_size() -> int:
    from snnenergy.models import list_models

    return len(list_models())


def test_overhead_and_breakdown_run_on_our_spiking_cnn():
    done = _run("overhead", "--rep", "1", "--no-peers", "--model", "cnn")
    assert done.returncode == 0, done.stderr
    row = [line for line in done.stdout.splitlines() if line.startswith("| spiking CNN (ours) | 8 |")]
    assert len(row) == 1 and len(row[0].split("|")) == 10  # model, B, five ratios, peers
    done = _run("breakdown", "--rep", "2", "--model", "cnn")
    assert done.returncode == 0, done.stderr
    assert [line.split("|")[2].strip() for line in done.stdout.splitlines() if "spiking CNN" in line] == [
        "full", "rates + neurons"]
    done = _run("breakdown", "--context", "--rep", "2", "--model", "cnn")
    assert done.returncode == 0, done.stderr
    assert sum("spiking CNN" in line for line in done.stdout.splitlines()) == 2
