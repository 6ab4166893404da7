"""``snnenergy compare --models a,b,c``: one table of counts, energies and audit verdicts across zoo models."""
from __future__ import annotations

import os

import click

from ..energy.presets import PRESETS
from .common import DeviceName, ModelName, NamedChoice, PresetName, check_level, check_out_dir, one_line_errors


def _conventions() -> list[str]:
    try:
        from ..energy.conventions import CONVENTIONS
    except ImportError:  # conventions not installed with this version: only our own bookkeeping
        return ["snnenergy"]
    return list(CONVENTIONS)


@click.command()
@click.option("--models", "models", required=True, type=ModelName(many=True, reports=True),
              help="Zoo model names or aliases separated by commas (see `snnenergy models`); a report.json written "
                   "by `snnenergy profile --out` may stand in for a model (e.g. a trained checkpoint).")
@click.option("--preset", type=PresetName(), default="fp32", show_default=True,
              help=f"Energy preset ({', '.join(PRESETS)}) or a .toml/.json table.")
@click.option("--level", type=click.Choice(["1", "2", "3"]), default="1", show_default=True,
              help="Energy level: 1 synaptic ops, 2 + neuron updates, 3 + memory access.")
@click.option("--convention", type=NamedChoice(_conventions(), "convention"), default="snnenergy", show_default=True,
              help="Also price the SNN under a paper's bookkeeping.")
@click.option("--integer-as", type=click.Choice(["mac", "ac", "spikes"]), default="mac", show_default=True,
              help="Price integer (multi-bit) inputs to weight layers as MACs, ACs, or one AC per spike they sum.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Samples per forward pass.")
@click.option("--time-steps", type=click.IntRange(min=1), default=None,
              help="T for every model (default: each card's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the untrained weights.")
@click.option("--device", type=DeviceName(), default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write compare.csv and compare.md here.")
def compare(models, preset, level, convention, integer_as, batch_size, time_steps, seed, device, out_dir) -> None:
    """Profile each zoo model (untrained, BatchNorm calibrated on the shipped samples) and print one table."""
    names = [n.strip() for n in models.split(",")]
    check_out_dir(out_dir)
    check_level(preset, level)
    from ..report.compare import compare_markdown, compare_models, compare_text
    from ..report.render import terminal_width

    with one_line_errors():
        table = compare_models(names, preset=preset, level=int(level), integer_as=integer_as, convention=convention,
                               batch_size=batch_size, time_steps=time_steps, seed=seed, device=device)
    click.echo(compare_text(table, width=terminal_width()), nl=False)
    if out_dir:
        from ..report.report import atomic_write

        paths = [os.path.join(out_dir, "compare.csv"), os.path.join(out_dir, "compare.md")]
        atomic_write(paths[0], table.to_csv(index=False))
        atomic_write(paths[1], compare_markdown(table))
        for path in paths:  # one per line: a path is not wrapped to the terminal
            click.echo(f"wrote {path}")
