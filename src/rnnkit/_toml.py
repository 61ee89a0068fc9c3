"""TOML for settings files: the standard reader (``tomllib``; the ``tomli`` package, the same parser,
on Python 3.10) and a small writer for one flat table of settings.

``dumps(table)`` writes one ``key = value`` line per entry. Values: strings, integers, floats
(``inf`` and ``nan`` too), booleans, and lists and tables (written inline) of those. ``None`` has no
TOML form: a top-level ``None`` becomes a comment line (reading the file back leaves the key out),
a nested one raises ``TypeError``. For every table without ``None``, ``loads(dumps(table)) == table``
(lists come back as lists, tuples as lists).
"""
from __future__ import annotations

import math
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is the package tomllib was made from
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError
load = tomllib.load
loads = tomllib.loads

__all__ = ["TOMLDecodeError", "dumps", "format_key", "format_value", "load", "loads"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text):
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest as is."""
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def format_key(key):
    """``key`` as a TOML key: bare when it is letters, digits, ``_`` and ``-`` only, else quoted."""
    key = str(key)
    return key if _BARE_KEY.match(key) else _string(key)


def format_value(value, where="value"):
    """The TOML text of one value; ``where`` names it in the ``TypeError`` for a value TOML cannot
    hold (``None``, or an object of another type)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # a NumPy scalar
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)      # the shortest text that reads back as the same float
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{format_key(k)} = {format_value(v, f'{where}.{k}')}"
                               for k, v in value.items()) + "}"
    why = "TOML has no null" if value is None else f"TOML cannot hold a {type(value).__name__}"
    raise TypeError(f"{where}: {why} ({value!r:.60})")


def dumps(table, header="", null_note="TOML has no null; the key is left out"):
    """The TOML text of ``table`` (a dict of settings), with ``header`` as leading comment lines; a
    ``None`` entry becomes the comment ``# KEY = null: NOTE`` (``null_note``, with ``{key}`` replaced).

    Raises ``TypeError`` naming the entry for a value TOML cannot hold (see the module docstring).
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key, value in table.items():
        if value is None:
            note = null_note.replace("{key}", str(key))
            lines.append(f"# {format_key(key)} = null: {note}")
        else:
            lines.append(f"{format_key(key)} = {format_value(value, str(key))}")
    return "\n".join(lines) + "\n"
