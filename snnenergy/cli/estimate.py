"""``snnenergy estimate``: energy of a zoo model from per-layer firing rates (published or your own CSV)."""
from __future__ import annotations

import click

from ..energy.conventions import CONVENTIONS
from .common import ModelName, NamedChoice, PresetName, one_line_errors, wrap_lines


@click.command()
@click.option("--model", "model_name", required=True, type=ModelName(),
              help="Zoo model name or alias (see `snnenergy models`).")
@click.option("--rates", default="published", show_default=True,
              help="'published' (the rate table shipped for the model) or a CSV: layer,measure,rate.")
@click.option("--convention", type=NamedChoice(CONVENTIONS, "convention"), default="spikingformer",
              show_default=True, help="The paper's bookkeeping to price the rates under.")
@click.option("--preset", type=PresetName(), default="fp32", show_default=True,
              help="Energy preset or a .toml/.json table.")
@click.option("--missing", type=click.Choice(["error", "skip"]), default="error", show_default=True,
              help="Sites the rate table has no rate for: stop, or leave them out (listed).")
@click.option("--ssa-heads", type=click.IntRange(min=1), default=None,
              help="spikingformer convention: head count of its analytic attention term (default: the script's).")
@click.option("--all-conventions", is_flag=True, help="Also print every convention on the same rates.")
def estimate(model_name, rates, convention, preset, missing, ssa_heads, all_conventions) -> None:
    """Energy per sample from firing rates instead of a forward pass, next to our exact convention."""
    from ..energy.conventions import convention_table
    from ..energy.replay import estimate as run_estimate, replay_sites
    from ..report.render import terminal_width

    options = {"ssa_heads": ssa_heads} if ssa_heads is not None else {}
    if options and convention != "spikingformer":
        raise click.UsageError("--ssa-heads applies to --convention spikingformer only")
    width = terminal_width()
    with one_line_errors():
        replay = run_estimate(model_name, rates=rates, convention=convention, preset=preset, missing=missing,
                              **options)
        click.echo(wrap_lines(replay.text(width), width))
        if all_conventions:
            table = convention_table(replay_sites(model_name, rates, missing), preset=preset)
            click.echo("\nevery convention on the same rates:")
            click.echo(wrap_lines(table.to_string(index=False, float_format=lambda v: f"{v:.6g}"), width))
