"""``snnenergy reproduce``: regenerate ``reports/`` (tables, plots, ``index.md``) from scratch."""
from __future__ import annotations

import click


@click.command()
@click.option("--out", "out_dir", default="reports", show_default=True, type=click.Path(file_okay=False),
              help="Folder to (re)write.")
@click.option("--quick", is_flag=True, help="Only the fast artefacts (about a minute): dry-run tables and the small "
                                            "measured models.")
@click.option("--only", "only", default=None,
              help="Comma-separated artefacts to regenerate (index.md is left as it is); see --list.")
@click.option("--list", "list_only", is_flag=True, help="List the artefacts and exit.")
def reproduce(out_dir, quick, only, list_only) -> None:
    """Regenerate every table and plot of the reports folder, timing each artefact."""
    from ..report.reproduce import ARTEFACTS, reproduce as run, select
    from .profile import _USER_ERRORS, _message, check_out_dir

    if list_only:
        for a in ARTEFACTS.values():
            click.echo(f"{a.name:<16} {'quick' if a.quick else 'full '}  {', '.join(a.files)}")
        return
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    try:
        select(names, quick)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--only") from e
    check_out_dir(out_dir)
    try:
        timings = run(out_dir, quick=quick, only=names, progress=click.echo)
    except _USER_ERRORS as e:
        raise click.ClickException(_message(e)) from e
    total = sum(s for _, s in timings)
    click.echo(f"total            {total:7.1f} s  -> {out_dir}")
