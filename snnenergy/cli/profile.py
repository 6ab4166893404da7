"""``snnenergy profile``: profile a model on inputs and print its per-layer counts, rates and energy."""
from __future__ import annotations

import importlib.util
import os
import sys

import click

from ..energy.presets import PRESETS


def _load_factory(spec: str):
    """``path/to/file.py:factory`` → the callable ``factory`` from that file."""
    path, sep, attr = spec.rpartition(":")
    if not sep or not path or not attr:
        raise click.BadParameter(f"expected FILE.py:FACTORY, got {spec!r}", param_hint="--module")
    if not os.path.exists(path):
        raise click.BadParameter(f"file not found: {path}", param_hint="--module")
    mod_spec = importlib.util.spec_from_file_location(f"snnenergy_user_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[mod_spec.name] = module
    mod_spec.loader.exec_module(module)
    if not hasattr(module, attr):
        raise click.BadParameter(f"{path} has no attribute {attr!r}", param_hint="--module")
    return getattr(module, attr)


@click.command()
@click.option("--model", "model_name", help="Zoo model name or alias (see `snnenergy models`).")
@click.option("--module", "module_spec", help="Your own model: path/to/file.py:factory (called with no arguments).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False), help="Weights to load (official or your own).")
@click.option("--input", "input_spec", help="A .pt/.npy tensor file, an image folder or a dataset folder; default: the shipped sample images.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Samples per forward pass.")
@click.option("--time-steps", type=click.IntRange(min=1), default=None, help="T (zoo models are built with it).")
@click.option("--preset", default="fp32", show_default=True, help=f"Energy preset ({', '.join(PRESETS)}) or a .toml/.json table.")
@click.option("--level", type=click.Choice(["1", "2"]), default="1", show_default=True, help="Energy level: 1 ops, 2 + neuron updates.")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write report.json, CSV and Markdown here.")
@click.option("--rates-only", is_flag=True, help="Record firing rates only (fastest).")
@click.option("--calibrate-bn", is_flag=True,
              help="Untrained models: set BatchNorm statistics from the inputs first so neurons fire (illustrative only).")
def profile(model_name, module_spec, checkpoint, input_spec, batch_size, time_steps, preset, level, device, out_dir,
            rates_only, calibrate_bn) -> None:
    """Profile a model on inputs and print the per-layer table and totals."""
    from ..api_helpers import build_model_and_inputs
    from ..api import profile as run_profile

    if bool(model_name) == bool(module_spec):
        raise click.UsageError("give exactly one of --model NAME or --module FILE.py:FACTORY")
    try:
        from ..energy.presets import get_preset

        get_preset(preset)
        model, batches, label, weights, T = build_model_and_inputs(
            model_name=model_name, factory=_load_factory(module_spec) if module_spec else None,
            checkpoint=checkpoint, input_spec=input_spec, batch_size=batch_size, time_steps=time_steps,
            calibrate_bn=calibrate_bn,
        )
        report = run_profile(model, batches, time_steps=T, device=device, rates_only=rates_only,
                             model_name=label, weights=weights)
    except (KeyError, ValueError, TypeError, FileNotFoundError, NotImplementedError) as e:
        raise click.ClickException(str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)) from e
    from ..report.render import console_text

    click.echo(console_text(report, preset=preset, level=int(level)))
    if out_dir:
        paths = report.save(out_dir, preset=preset, level=int(level))
        click.echo("wrote " + ", ".join(paths.values()))
