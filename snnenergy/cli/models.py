"""``snnenergy models``: list the model zoo and show model cards."""
from __future__ import annotations

import textwrap

import click

_GLOB = set("*?[")


def select_models(pattern: str | None) -> list[str]:
    """Registered names for ``pattern``: an exact name or alias, a glob, or else a substring."""
    import fnmatch

    from ..models import list_aliases, list_models, resolve_name

    names = list_models()
    if not pattern:
        return names
    if pattern in names or pattern in list_aliases():
        return [resolve_name(pattern)]
    glob = pattern if _GLOB & set(pattern) else f"*{pattern}*"
    return [n for n in names if fnmatch.fnmatch(n, glob)]


def _figure(pub: dict, key: str) -> float | None:
    v = pub.get(key)
    return float(v) if isinstance(v, (int, float)) else None


def zoo_table(names: list[str]):
    """One row per model: name, family, dataset, T, input, published params / top-1 / energy."""
    import pandas as pd

    from ..models import model_card

    rows = []
    for name in names:
        c = model_card(name)
        rows.append({"name": name, "family": c.family, "dataset": c.dataset, "T": c.time_steps,
                     "input": "x".join(map(str, c.input_shape)), "params M": _figure(c.published, "params_M"),
                     "top-1 %": _figure(c.published, "top1"), "energy mJ": _figure(c.published, "energy_mJ")})
    return pd.DataFrame(rows)


def _cells(series) -> list[str]:
    if series.dtype.kind in "fiu":
        return ["–" if v != v else f"{v:g}" for v in series.astype(float)]
    return [str(v) for v in series]


# columns left out, in this order, when the table is wider than the terminal (names are never shortened)
_DROP_ORDER = ("family", "input", "dataset", "T", "energy mJ", "top-1 %", "params M")
_FIGURES = {"params M": "params", "top-1 %": "top-1", "energy mJ": "energy"}  # published values, as the note says


def _fitting(columns: list, width: int) -> list:
    """``columns`` less the fewest of :data:`_DROP_ORDER` (in that order) that make the table fit ``width``."""
    from ..report.text_table import GAP

    cols = list(columns)
    for name in _DROP_ORDER:
        if sum(c.width for c in cols) + len(GAP) * (len(cols) - 1) <= width:
            break
        cols = [c for c in cols if c.name != name]
    return cols


def _note(n: int, shown: list[str], hidden: list[str]) -> str:
    """The line under the table: what its published figures are, and which columns did not fit."""
    note = f"{n} models"
    figures = [label for col, label in _FIGURES.items() if col in shown]
    if figures:
        listed = ", ".join(figures[:-1]) + (" and " if len(figures) > 1 else "") + figures[-1]
        note += (f"; {listed} {'are' if len(figures) > 1 else 'is a'} published reference "
                 f"value{'s' if len(figures) > 1 else ''} from each model's card (`snnenergy models --cards NAME`)")
    if hidden:
        note += f"; not shown at this width: {', '.join(hidden)}"
    return note


@click.command()
@click.argument("pattern", required=False)
@click.option("--cards", is_flag=True, help="Show the model cards (paper, input, T, published numbers, notes).")
def models(pattern, cards) -> None:
    """List the model zoo, or the models matching PATTERN (a name, an alias, a glob such as 'spikingformer-*',
    or a part of a name)."""
    from ..models import list_aliases, list_models
    from ..models.card_text import card_text
    from ..report.render import terminal_width
    from ..report.text_table import Column, fit_table
    from .common import BadInput, close_matches, either

    names = select_models(pattern)
    if not names:
        close = close_matches(pattern, [*list_models(), *list_aliases()])
        guess = f"; did you mean {either(close)}?" if close else ""
        raise BadInput(f"no model matches {pattern!r}{guess} (`snnenergy models` lists all of them)")
    width = terminal_width()
    if cards:
        from ..models import model_card

        click.echo("\n\n".join(card_text(model_card(n), width) for n in names))
        return
    df = zoo_table(names)
    columns = [Column(c, _cells(df[c]), right=df[c].dtype.kind in "fiu") for c in df.columns]
    shown = _fitting(columns, width)
    click.echo("\n".join(fit_table(shown, width)))
    note = _note(len(names), [c.name for c in shown], [c.name for c in columns if c not in shown])
    aliases = {a: t for a, t in list_aliases().items() if t in names}
    if aliases:
        note += "\naliases: " + ", ".join(f"{a} → {t}" for a, t in sorted(aliases.items()))
    for paragraph in note.splitlines():
        click.echo("\n".join(textwrap.wrap(paragraph, width, subsequent_indent="    ", break_on_hyphens=False)))
