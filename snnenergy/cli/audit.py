"""``snnenergy audit``: is every synaptic op driven by binary spikes? A verdict that can gate a CI job.

Exit codes: 0 spike-driven (with ``--strict``: and no exception on a synaptic op other than the encoder),
1 not, 2 no verdict (a usage error, or a model / input that could not be built or run). ``--all`` audits the
zoo table (one small configuration per family) and exits 0 once it is written.
"""
from __future__ import annotations

import os
import sys

import click

from ..energy.presets import PRESETS
from .common import DeviceName, ModelName, PresetName, as_click_error, load_factory, parse_shape

EXIT_PASS, EXIT_FAIL, EXIT_NO_VERDICT = 0, 1, 2


def _no_verdict(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_NO_VERDICT)


def _audit_one(opts: dict):
    from ..api import profile
    from ..audit.api import audit_report
    from ..prepare import prepare

    spec = opts["module_spec"]
    prep = prepare(model_name=opts["model_name"], factory=load_factory(spec) if spec else None,
                   checkpoint=opts["checkpoint"], input_spec=opts["input_spec"], batch_size=opts["batch_size"],
                   time_steps=opts["time_steps"], calibrate_bn=opts["calibrate_bn"], seed=opts["seed"],
                   fuse=opts["fuse"], input_shape=parse_shape(opts["input_shape"]),
                   trust_checkpoint=opts["trust_checkpoint"])
    report = profile(prep.model, prep.batches, device=opts["device"], model_name=prep.label, weights=prep.weights)
    result = audit_report(report, preset=opts["preset"], integer_as=opts["integer_as"])
    result.notes.append(f"weights: {prep.weights}; inputs: {prep.inputs}")
    return result


def _write_one(audit, out_dir: str) -> list[str]:
    from ..report.report import atomic_write

    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, f) for f in ("audit.json", "audit.md", "violations.csv", "exceptions.csv")]
    audit.to_json(paths[0])
    atomic_write(paths[1], audit.to_markdown())
    atomic_write(paths[2], audit.violations.to_csv(index=False))
    atomic_write(paths[3], audit.exceptions.to_csv(index=False))
    return paths


@click.command()
@click.option("--model", "model_name", type=ModelName(), help="Zoo model name or alias (see `snnenergy models`).")
@click.option("--module", "module_spec", help="Your own model: path/to/file.py:factory (called with no arguments).")
@click.option("--all", "all_models", is_flag=True, help="Audit the zoo table (one small configuration per family).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Weights to load (official or your own).")
@click.option("--trust-checkpoint", is_flag=True,
              help="Load a checkpoint holding objects other than weights (runs its pickled code: trusted files only).")
@click.option("--input", "input_spec",
              help="A .pt/.npy tensor file, an image folder or a dataset folder; default: the shipped sample images.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Samples per forward pass.")
@click.option("--time-steps", type=click.IntRange(min=1), default=None, help="T (zoo models are built with it).")
@click.option("--preset", type=PresetName(), default="fp32", show_default=True,
              help=f"Energy preset for the energy at stake ({', '.join(PRESETS)}) or a .toml/.json table.")
@click.option("--integer-as", type=click.Choice(["mac", "ac", "spikes"]), default="mac", show_default=True,
              help="How integer inputs into weight layers are priced now (MACs, ACs, or one AC per spike they sum).")
@click.option("--device", type=DeviceName(), default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@click.option("--input-shape", help="For --module models without a model card: one sample's shape, e.g. 3,32,32.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the untrained weights.")
@click.option("--fuse", is_flag=True, help="Audit the inference-fused model (families with a fuse()).")
@click.option("--calibrate-bn/--no-calibrate", "calibrate_bn", default=None,
              help="Set BatchNorm statistics from the inputs first so that an untrained network fires (default: on "
                   "for untrained zoo models, off with --checkpoint).")
@click.option("--strict", is_flag=True, help="Also fail on exceptions other than the encoder (chains, pooled heads).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write audit.json, audit.md and CSVs here "
              "(with --all: audit.md and audit.csv).")
def audit(strict: bool, out_dir: str | None, all_models: bool, **opts) -> None:
    """Audit a model: is every synaptic op driven by binary spikes? Violations with causes and fixes."""
    if sum(map(bool, (opts["model_name"], opts["module_spec"], all_models))) != 1:
        _no_verdict("give exactly one of --model NAME, --module FILE.py:FACTORY or --all")
    if opts["checkpoint"] and not os.path.isfile(opts["checkpoint"]):
        _no_verdict(f"checkpoint not found: {opts['checkpoint']}")
    if out_dir and os.path.exists(out_dir) and not os.path.isdir(out_dir):
        _no_verdict(f"--out {out_dir} exists and is not a directory")
    if all_models:
        _audit_zoo(opts["preset"], out_dir)
        return
    try:
        result = _audit_one(opts)
    except click.ClickException as e:
        _no_verdict(e.format_message())
    except Exception as e:  # noqa: BLE001 - as_click_error re-raises what is not bad input or a model failure
        _no_verdict(as_click_error(e).format_message())
    click.echo(str(result))
    if out_dir:
        click.echo("wrote " + ", ".join(_write_one(result, out_dir)))
    sys.exit(EXIT_PASS if result.passes(strict=strict) else EXIT_FAIL)


def _audit_zoo(preset: str, out_dir: str | None) -> None:
    from ..audit.zoo import write_zoo, zoo_table

    def progress(label: str) -> None:
        click.echo(f"auditing {label} ...", err=True)

    try:
        if out_dir:
            table, _, paths = write_zoo(out_dir, preset=preset, progress=progress)
        else:
            (table, _), paths = zoo_table(preset=preset, progress=progress), {}
    except Exception as e:  # noqa: BLE001 - as_click_error re-raises what is not bad input or a model failure
        _no_verdict(as_click_error(e).format_message())
    cols = ["model", "config", "level", "violations", "violation_rules", "exceptions", "exception_kinds"]
    click.echo(table[cols].to_string(index=False))
    if paths:
        click.echo("wrote " + ", ".join(paths.values()))
