"""What the commands share: one-line errors with one exit-code rule, option types that check names before any
work (with did-you-mean suggestions), the user's ``--module`` file, and text that fits the terminal.

Exit codes: 2 for a usage error (a bad option value, an unknown name, input the API refuses; click's convention),
1 when the model or the user's code fails while running. Errors found here are one line, ``Error: ...``.
"""
from __future__ import annotations

import contextlib
import difflib
import functools
import importlib.util
import os
import sys
import textwrap
from typing import Any, Callable, Iterable, Iterator

import click

EXIT_USAGE = 2
# errors the API raises for bad input: shown as one line, never a traceback, exit code 2
USER_ERRORS = (KeyError, ValueError, TypeError, FileNotFoundError, NotImplementedError, PermissionError)
MAX_LISTED = 8  # an unknown name lists every valid one only when there are at most this many


class BadInput(click.ClickException):
    """A usage error found after parsing or by the API: one line ``Error: ...`` and exit code 2 (click's
    UsageError would add the usage block)."""

    exit_code = EXIT_USAGE


def first_line(e: BaseException) -> str:
    """An exception's message, first line only (a KeyError's without the quotes ``str`` adds); for an error
    re-raised from a DataLoader worker ("Caught ValueError in DataLoader worker process 0. Original
    Traceback ..."), the original error's message, which is the traceback's last line."""
    text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return type(e).__name__
    if lines[0].startswith("Caught ") and "worker" in lines[0] and any(ln.startswith("Original Traceback")
                                                                       for ln in lines):
        original = lines[-1].split(": ", 1)
        return f"in a DataLoader worker: {original[-1]}"
    return lines[0]


def bad_value(hint: str, message: str) -> BadInput:
    """``Invalid value for '--option': message``, click's wording, as a one-line usage error."""
    return BadInput(f"Invalid value for {hint}: {message}")


def _hint(param: click.Parameter | None, ctx: click.Context | None) -> str:
    return param.get_error_hint(ctx) if param is not None else "a value"


def close_matches(word: str, names: Iterable[str]) -> list[str]:
    """Up to three of ``names`` close to ``word`` (difflib), best first."""
    return difflib.get_close_matches(word, list(names), n=3, cutoff=0.6)


def either(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return " or ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def unknown_name(kind: str, value: str, names: Iterable[str], listing: str = "", also: str = "") -> str:
    """``unknown KIND 'value'`` with up to three close matches; when there are few names and none is close,
    every name (then ``also``, e.g. `` or a file``); when there are many, ``listing`` (where to see them)."""
    names = list(names)
    close = close_matches(value, names)
    text = f"unknown {kind} {value!r}" + (f"; did you mean {either(close)}?" if close else "")
    if len(names) > MAX_LISTED:
        return f"{text} ({listing})" if listing else text
    return text if close else f"{text}; use one of {', '.join(names)}{also}"


# ------------------------------------------------------------------------------------------- option types
class NamedChoice(click.Choice):
    """A choice of names whose error is one line with a did-you-mean; ``metavar`` replaces the ``{a|b|...}``
    list in usage lines (so no name is split there); ``descriptions`` ({name: text}) are listed by
    :class:`ChoicesCommand`."""

    def __init__(self, choices: Iterable[str], kind: str, metavar: str | None = None,
                 descriptions: dict[str, str] | None = None) -> None:
        super().__init__(list(choices))
        self.kind, self.metavar, self.descriptions = kind, metavar, descriptions or {}

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str | None:
        return self.metavar or super().get_metavar(param, ctx)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            listing = f"`{ctx.command_path} --help` lists them" if ctx is not None else ""
            raise bad_value(_hint(param, ctx), unknown_name(self.kind, str(value), self.choices, listing)) from None


class ModelName(click.ParamType):
    """A zoo model name or alias (``many``: several, comma-separated; ``reports``: a ``report.json`` may stand
    in), checked against the zoo before any work. The value is passed on as given."""

    name = "NAME"

    def __init__(self, many: bool = False, reports: bool = False) -> None:
        self.many, self.reports = many, reports

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        items = [s.strip() for s in str(value).split(",")] if self.many else [str(value)]
        if any(not s for s in items):
            raise bad_value(_hint(param, ctx), "expected zoo names separated by commas, e.g. "
                                               f"snn-cnn-residual,sdt-2-256-cifar10; got {value!r}")
        for item in items:
            if not (self.reports and item.lower().endswith(".json")):
                check_model_name(item, _hint(param, ctx))
        return value


def check_model_name(name: str, hint: str = "'--model'") -> None:
    """Refuse a name that is neither a zoo model nor an alias, in one line with close matches."""
    from ..models import list_aliases, list_models

    names, aliases = list_models(), list_aliases()
    if name not in names and name not in aliases:
        listing = "see `snnenergy models`"
        raise bad_value(hint, unknown_name("model", name, [*names, *aliases], listing))


class PresetName(click.ParamType):
    """An energy preset name or a ``.toml``/``.json`` table, checked (and the table read) before any work."""

    name = "NAME|FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..energy.presets import PRESETS, get_preset

        if str(value).endswith((".toml", ".json")):
            try:
                get_preset(value)
            except USER_ERRORS as e:
                raise bad_value(_hint(param, ctx), first_line(e)) from None
        elif get_preset_or_none(str(value)) is None:
            raise bad_value(_hint(param, ctx), unknown_name("energy preset", str(value), sorted(PRESETS),
                                                            also=" or a .toml/.json table"))
        return value


def get_preset_or_none(name: str) -> Any:
    """The built-in preset (or alias) ``name``, or None."""
    from ..energy.presets import get_preset

    try:
        return get_preset(name)
    except ValueError:
        return None


class DeviceName(click.ParamType):
    """A torch device that exists here (checked by the profiler's own rule before any work)."""

    name = "DEV"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value == "cpu":
            return value  # the default: no need to import torch for it
        import torch

        from ..profiler.api import resolve_device

        try:
            resolve_device(str(value), torch.device("cpu"))
        except (ValueError, TypeError) as e:
            raise bad_value(_hint(param, ctx), first_line(e)) from None
        return value


class ChoicesCommand(click.Command):
    """A command whose help lists the names of each :class:`NamedChoice` argument, one per line, after the
    description (the usage line shows the argument's metavar, so no name is split)."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help_text(ctx, formatter)
        for p in self.params:
            if isinstance(p, click.Argument) and isinstance(p.type, NamedChoice):
                rows = [(name, p.type.descriptions.get(name, "")) for name in p.type.choices]
                with formatter.section(p.make_metavar(ctx)):
                    formatter.write_dl(rows)


def parse_shape(text: str | None, hint: str = "'--input-shape'") -> tuple[int, ...] | None:
    """``3,32,32`` (or ``3x32x32``) → ``(3, 32, 32)``; None stays None."""
    if text is None:
        return None
    try:
        shape = tuple(int(s) for s in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise bad_value(hint, f"expected positive sizes separated by commas, e.g. 3,32,32; got {text!r}")
    return shape


def check_out_dir(out_dir: str | None, hint: str = "'--out'") -> None:
    """Fail before any work when ``--out`` cannot be written (creating it if needed)."""
    if not out_dir:
        return
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise bad_value(hint, f"{out_dir} exists and is not a directory")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise bad_value(hint, f"cannot create {out_dir}: {e.strerror}") from e
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise bad_value(hint, f"{out_dir} is not writable")


def check_level(preset: str, level: str | int, hint: str = "'--level'") -> None:
    """Refuse level 3 (memory access) with a chip preset, whose per-event figures already include memory."""
    from ..energy.presets import get_preset

    if int(level) == 3 and get_preset(preset).chip:
        raise bad_value(hint, f"3 prices memory access, which the chip preset {preset!r} includes in its per-event "
                              "figures; use level 1 or 2")


# ---------------------------------------------------------------------------------------------- errors
def as_click_error(e: Exception, hint: str = "") -> click.ClickException:
    """The one-line click error for an exception from the API: the model's own failure (the profiler's note on
    the batch it got, or a RuntimeError) exits 1, bad input exits 2; anything else is a bug and is re-raised."""
    notes = [n for n in getattr(e, "__notes__", []) if n.startswith("snnenergy:")]
    if notes or (isinstance(e, RuntimeError) and not isinstance(e, NotImplementedError)):
        return click.ClickException(f"the model failed on the inputs: {first_line(e)}. {' '.join(notes)}{hint}"
                                    .strip())
    if isinstance(e, USER_ERRORS):
        return BadInput(first_line(e))
    raise e


@contextlib.contextmanager
def one_line_errors(hint: str = "") -> Iterator[None]:
    """Run a command's work with the API's exceptions turned into one-line click errors (:func:`as_click_error`);
    ``hint`` is appended to a model failure."""
    try:
        yield
    except click.ClickException:
        raise
    except Exception as e:  # noqa: BLE001 - bad input and the model's own errors: one line, no traceback
        raise as_click_error(e, hint) from e


# ------------------------------------------------------------------------------------------ --module FILE
def load_factory(spec: str, hint: str = "'--module'") -> Callable[..., Any]:
    """``path/to/file.py:factory`` → the callable ``factory`` from that file, wrapped so that an exception it
    raises is reported as the factory's (one line, exit 1)."""
    path, sep, attr = spec.rpartition(":")
    if not sep or not path or not attr:
        raise bad_value(hint, f"expected FILE.py:FACTORY, got {spec!r}")
    if not os.path.isfile(path):
        raise bad_value(hint, f"file not found: {path}")
    module = import_file(path)
    if not hasattr(module, attr):
        raise bad_value(hint, f"{path} has no attribute {attr!r}")
    factory = getattr(module, attr)
    if not callable(factory):
        raise bad_value(hint, f"{attr!r} in {path} is a {type(factory).__name__}, not a function that builds "
                              "the model")
    return _reported(factory, f"`{attr}` in {path}")


def import_file(path: str) -> Any:
    """The module in ``path``; an exception while importing it (a syntax error, a failing import) is one line
    naming the file (exit 1)."""
    name = f"snnenergy_user_{abs(hash(os.path.abspath(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise bad_value("'--module'", f"{path} is not a Python file (expected FILE.py:FACTORY)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - anything the user's file raises while it is imported
        del sys.modules[name]
        raise click.ClickException(f"could not import {path}: {_import_error(e, path)}") from e
    return module


def _import_error(e: Exception, path: str) -> str:
    """``SyntaxError at line 3: invalid syntax`` (naming the file when it is another one), or ``Type: message``."""
    if isinstance(e, SyntaxError):
        where = "" if not e.filename or os.path.abspath(e.filename) == os.path.abspath(path) else f" in {e.filename}"
        return f"{type(e).__name__}{where} at line {e.lineno}: {e.msg}"
    return f"{type(e).__name__}: {first_line(e)}"


def _reported(factory: Callable[..., Any], label: str) -> Callable[..., Any]:
    """``factory``, with any exception it raises turned into ``the factory LABEL raised Type: message``."""

    @functools.wraps(factory)
    def build(*args: Any, **kwargs: Any) -> Any:
        try:
            return factory(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the user's code: whatever it raises
            raise click.ClickException(f"the factory {label} raised {type(e).__name__}: {first_line(e)}") from e

    return build


# ----------------------------------------------------------------------------------------------- text
def wrap_lines(text: str, width: int) -> str:
    """Every line of ``text`` within ``width``, wrapped at spaces onto continuation lines indented four more
    than the line (words are never split at hyphens; only a word longer than the line is cut)."""
    out = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * min(len(line) - len(line.lstrip()) + 4, width // 2)
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False, drop_whitespace=True)
    return "\n".join(out)
