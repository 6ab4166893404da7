"""The ``snnenergy`` command line: a thin layer over the Python API.

Each command lives in its own module of this package and is imported only when it runs, so that
``snnenergy --help`` starts without importing torch. A command is registered by one line in ``COMMANDS``.
"""
from __future__ import annotations

import importlib
import sys

import click

# command name -> (module of this package, function name, one-line help shown by ``snnenergy --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "profile": ("profile", "profile", "Profile a model on inputs: per-block and per-layer counts, firing rates and energy."),
    "models": ("models", "models", "List the model zoo, or show model cards."),
    "audit": ("audit", "audit", "Spike-driven audit: violations with their causes, energy at stake and fixes."),
    "plot": ("plot", "plot", "Plots (PNG + SVG): firing rates, energy per layer, SNN/ANN/QNN, conventions, zoo."),
    "compare": ("compare", "compare", "One table across models: params, ops, SNN/ANN/QNN energy, audit verdict."),
    "estimate": ("estimate", "estimate", "Energy of a zoo model from per-layer firing rates (published or a CSV) under a paper's convention."),
    "reproduce": ("reproduce", "reproduce", "Regenerate reports/ from scratch: tables, plots and index.md (--quick: a fast subset)."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        module, attr, _ = entry
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """click's, with a did-you-mean for an unknown command (click suggests from ``self.commands``, which a lazy
        group leaves empty)."""
        name = args[0]
        if name not in COMMANDS and not name.startswith("-") and not ctx.resilient_parsing:
            raise click.exceptions.NoSuchCommand(name, possibilities=COMMANDS, ctx=ctx)
        return super().resolve_command(ctx, args)

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        """click's, except that a usage error is one line (``Error: ... (see 'snnenergy CMD --help')``, exit 2)
        instead of the usage block, the hint and the error."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)  # an int when a command exits with one
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else "snnenergy"
            click.echo(f"Error: {e.format_message()} (see '{where} --help')", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="snnenergy")
def main() -> None:
    """Exact AC/MAC counts, firing rates and theoretical energy of spiking neural networks."""


if __name__ == "__main__":  # pragma: no cover
    main()
