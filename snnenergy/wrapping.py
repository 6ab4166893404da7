"""Wrapping text for the terminal without parting a number from its unit (``1.034 %``, ``0.9 V``, ``15.1 M``):
shared by the report's console text and the model cards."""
from __future__ import annotations

import re
import textwrap

# the space between a number and its unit, which a wrap must not break
_NUMBER_UNIT = re.compile(r"(?<=\d) (?=(?:%|[mµunp]?J|V|[kMG]|KiB|MiB|GiB|bits?|x)(?![\w/-]))")
KEEP = "\u00a0"  # not a space to textwrap: joins its neighbours while wrapping, printed as a space


def wrap(text: str, width: int, **options) -> list[str]:
    """``textwrap.wrap(text, width, **options)``, never between a number and its unit, nor at a :data:`KEEP`
    (a no-break space: a caller's way to keep a label with its value), which comes out as a plain space."""
    kept = _NUMBER_UNIT.sub(KEEP, text)
    return [line.replace(KEEP, " ") for line in textwrap.wrap(kept, width, **options)]
