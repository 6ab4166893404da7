"""``snnenergy models``: list the model zoo and show model cards."""
from __future__ import annotations

import click


@click.command()
@click.argument("pattern", required=False)
@click.option("--cards", is_flag=True, help="Show each model's card (paper, input, T, published numbers).")
def models(pattern, cards) -> None:
    """List the model zoo (optionally filtered by a glob PATTERN, e.g. 'spikingformer-*')."""
    from ..models import list_aliases, list_models, model_card

    names = list_models(pattern)
    for name in names:
        card = model_card(name)
        line = f"{name:40s} {card.family:18s} {card.dataset:12s} T={card.time_steps:<3d} input {tuple(card.input_shape)}"
        click.echo(line)
        if cards:
            for k in ("paper", "neuron", "published", "unused_keys", "notes"):
                v = getattr(card, k)
                if v:
                    click.echo(f"    {k}: {v}")
    aliases = {a: t for a, t in list_aliases().items() if t in names}
    if aliases:
        click.echo("aliases: " + ", ".join(f"{a} → {t}" for a, t in sorted(aliases.items())))
