"""Reading users' tables: CSV, TSV and Parquet files into columns, and series files (:func:`read_series`).

The layouts are documented in :mod:`rnnkit.data.files` (which re-exports :func:`read_series`);
:mod:`rnnkit.data.long_format` turns a long table into sequences.
A table is read into :class:`Table`: the column names and, per column, one value per row. Values
are stripped strings from CSV/TSV and Python objects from Parquet; missing values (an empty field,
``NA``, ``N/A``, ``NaN``, ``null``, ``None``, any case; a Parquet null or NaN) are ``None``.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np

__all__ = ["Table", "read_table", "read_series", "file_format", "decode_text", "ID_NAMES", "TIME_NAMES",
           "LABEL_NAMES", "MISSING"]

# Column names recognised when a column is not given (compared case-insensitively).
ID_NAMES = ("id", "sequence", "sequence_id", "seq", "series", "series_id", "case", "case_id", "sample",
            "sample_id", "instance")
TIME_NAMES = ("time", "t", "timestamp", "step", "date", "timepoint", "frame")
LABEL_NAMES = ("label", "y", "target", "class", "category")
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none"})
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}
_INT = re.compile(r"[+-]?\d+\Z")
_PLAIN = {bool, int, float, str, Decimal, type(None)}  # the types float() reads as numbers
_PARQUET_HINT = "reading Parquet needs pyarrow: pip install 'rnnkit[parquet]'"


@dataclass
class Table:
    """A table read from ``source``: ``columns[name]`` = one value per row (``None`` = missing);
    ``lines`` = each row's first line in a CSV/TSV file, or ``None`` for Parquet (rows counted from 1)."""

    source: str
    names: list
    columns: dict
    lines: list | None
    _floats: dict = field(default_factory=dict, repr=False)  # column -> floats(column), computed once

    def where(self, row: int) -> str:
        """Where row ``row`` (0-based) is in the file, for messages: ``line 7`` or ``row 6``."""
        return f"line {self.lines[row]}" if self.lines is not None else f"row {row + 1}"

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def require(self, cols, option: str, arg: str) -> None:
        """Raise ``ValueError`` unless every column of ``cols`` is in the table."""
        missing = [c for c in cols if c not in self.columns]
        if missing:
            raise ValueError(f"{self.source}: no column {', '.join(map(repr, missing))} (given with {option} / "
                             f"{arg}=); the columns are {self.names}")

    def detect(self, candidates, what: str, option: str, arg: str, required: bool, taken=()) -> str | None:
        """The one column (not in ``taken``) whose name is in ``candidates``, case-insensitively; ``None``
        when there is none and it is optional. Raises ``ValueError`` naming the columns and the option."""
        found = [n for n in self.names if n not in taken and n.lower() in candidates]
        if len(found) > 1:
            raise ValueError(f"{self.source}: several columns could be the {what}: {found}; choose one with "
                             f"{option} ({arg}=)")
        if not found and required:
            raise ValueError(f"{self.source}: cannot tell which column is the {what}: none of the columns "
                             f"{self.names} is named {', '.join(candidates)}; give it with {option} ({arg}=)")
        return found[0] if found else None

    def floats(self, col: str) -> np.ndarray | None:
        """Column ``col`` as float64 (NaN where missing), or ``None`` when a value is not a number."""
        if col not in self._floats:
            self._floats[col] = floats(self.columns[col])
        return self._floats[col]

    def numbers(self, col: str, hint: str) -> np.ndarray:
        """Column ``col`` as float64; a missing, non-numeric or infinite value is a ``ValueError`` that
        names the column and the line and ends with ``hint``."""
        out = self.floats(col)
        if out is not None and np.isfinite(out).all():
            return out
        for i, v in enumerate(self.columns[col]):
            x = None if v is None else number(v)
            if x is None or not math.isfinite(x):
                problem = ("a missing value" if v is None else f"{v!r}, which is not a number" if x is None
                           else f"{v!r}, which is not finite")
                raise ValueError(f"{self.source}: column {col!r} has {problem} at {self.where(i)}; {hint}")
        raise AssertionError("unreachable: a non-finite value was not found")

    def time_keys(self, col: str) -> list:
        """Sort keys of the time column: numbers, or ISO dates / times as naive UTC datetimes."""
        values = self.columns[col]
        first = next((v for v in values if v is not None), None)
        # the first value decides between numbers and dates, so the message points at the odd one out
        numeric = number(first) is not None
        fast = self.floats(col) if numeric else None
        if fast is not None and not np.isnan(fast).any():
            return fast.tolist()
        keys = [None if v is None else number(v) if numeric else _moment(v) for v in values]
        for i, (v, k) in enumerate(zip(values, keys)):
            if k is None:
                what = ("a missing value" if v is None else f"{v!r}, which is not a number (like {first!r})"
                        if numeric else f"{v!r}, which is neither a number nor an ISO date")
                raise ValueError(f"{self.source}: the time column {col!r} has {what} at {self.where(i)} "
                                 "(dates look like 2024-01-31 or 2024-01-31T12:00); fix it, or give another "
                                 "column with --time-col (time_col=)")
        return keys


def file_format(path, fmt=None, allowed=("csv", "tsv", "parquet", "npz")) -> str:
    """The format of ``path``: ``fmt`` when given, else from the extension (.csv, .tsv, .parquet/.pq, .npz)."""
    if fmt is None:
        suffix = Path(path).suffix.lower()
        fmt = EXTENSIONS.get(suffix)
        if fmt not in allowed:
            raise ValueError(f"{path}: cannot tell the format from the extension {suffix!r}; name the file "
                             f"{' / '.join('.' + a for a in allowed)} or give fmt= (one of {list(allowed)})")
    if fmt not in allowed:
        raise ValueError(f"fmt: expected one of {list(allowed)}, got {fmt!r}")
    return fmt


def decode_text(data: bytes, source, encoding: str = "utf-8", hint: str = "save the file as UTF-8") -> str:
    """``data`` decoded (a leading byte-order mark dropped); undecodable bytes are a ``ValueError`` with
    the line, the byte offset and ``hint``."""
    try:
        text = data.decode(encoding)
    except LookupError:
        raise ValueError(f"encoding: unknown text encoding {encoding!r} (try utf-8 or latin-1)") from None
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{source}: line {line}: the byte 0x{data[e.start]:02x} at byte offset {e.start} is "
                         f"not valid {encoding} text; {hint}") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_table(path, fmt=None) -> Table:
    """A CSV, TSV or Parquet file as a :class:`Table`.

    Raises ``FileNotFoundError``; ``ValueError`` for an empty file, a header without rows, bytes that are
    not UTF-8, rows with the wrong number of fields, or duplicate or empty column names (each message
    names the file and the line); ``ImportError`` for Parquet without pyarrow.
    """
    fmt = file_format(path, fmt, ("csv", "tsv", "parquet"))
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    names, columns, lines = _read_parquet(path) if fmt == "parquet" else _read_csv(path, ",\t"[fmt == "tsv"])
    for i, name in enumerate(names):
        if not name:
            raise ValueError(f"{path}: column {i + 1} of the header has no name")
        if name in names[:i]:
            raise ValueError(f"{path}: the column name {name!r} appears twice in the header")
    return Table(str(path), names, dict(zip(names, columns)), lines)


def _read_csv(path: Path, delimiter: str):
    text = decode_text(path.read_bytes(), path)
    if not text.strip():
        raise ValueError(f"{path}: the file is empty")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, rows, lines, previous = None, [], [], 0
    try:
        for row in reader:
            start, previous = previous + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            if header is None:
                header = [name.strip() for name in row]
                _check_delimiter(path, header, delimiter)
            elif len(row) != len(header):
                raise ValueError(f"{path}: line {start} has {len(row)} fields but the header has {len(header)}; "
                                 "every row needs one field per column (check the delimiter and the quoting)")
            else:
                rows.append(row)
                lines.append(start)
    except csv.Error as e:
        raise ValueError(f"{path}: line {reader.line_num}: {e}") from None
    if not rows:
        raise ValueError(f"{path}: the file has a header but no data rows")
    # _clean inlined: this runs once per cell
    columns = [[None if (v := row[j].strip()).lower() in MISSING else v for row in rows] for j in range(len(header))]
    return header, columns, lines


def _check_delimiter(path, header, delimiter):
    others = [d for d in ";,\t|" if d != delimiter and d in header[0]]
    if len(header) == 1 and others:
        raise ValueError(f"{path}: the header has a single column {header[0]!r}: the fields seem to be separated "
                         f"by {others[0]!r}, not {delimiter!r}; use commas in .csv files and tabs in .tsv files")


def _read_parquet(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(_PARQUET_HINT) from None
    try:
        table = pq.read_table(path)
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError
        raise ValueError(f"{path}: cannot read it as Parquet ({e})") from None
    if table.num_columns == 0 or table.num_rows == 0:
        raise ValueError(f"{path}: the file has no {'columns' if table.num_columns == 0 else 'data rows'}")
    columns = [[_clean(v) for v in table.column(j).to_pylist()] for j in range(table.num_columns)]
    return [str(n).strip() for n in table.column_names], columns, None


def _clean(value):
    """A value as read, stripped when a string; ``None`` when it is missing."""
    if isinstance(value, str):
        value = value.strip()
        return None if value.lower() in MISSING else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def number(value) -> float | None:
    """``value`` as a float when it is a number (or a string that Python's ``float`` reads), else ``None``."""
    if isinstance(value, (bool, int, float, str, Decimal)):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def floats(values) -> np.ndarray | None:
    """The values as float64 (NaN for ``None``), or ``None`` when one of them is not a number."""
    if not set(map(type, values)) <= _PLAIN:
        return None  # dates, lists...: float() would refuse them or, for a few types, misread them
    try:
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None


def text(value) -> str:
    """A non-missing value as a string: dates in ISO form, numbers as Python prints them."""
    if isinstance(value, str):
        return value
    return value.isoformat() if isinstance(value, date) else str(value)


def typed(values) -> tuple[list, type]:
    """The values (``None`` kept) as ints when all present ones are integers, floats when all are
    numbers, else strings; and the NumPy dtype for them (int64, float64 or str)."""
    present = [v for v in values if v is not None]
    nums = floats(present)
    if nums is not None:
        if all(isinstance(v, (bool, int)) or (isinstance(v, str) and _INT.match(v)) for v in present):
            return [None if v is None else int(v) for v in values], np.int64
        it = iter(nums.tolist())
        return [None if v is None else next(it) for v in values], np.float64
    return [None if v is None else text(v) for v in values], str


def _moment(value) -> datetime | None:
    """An ISO date / time string, a date or a datetime as a naive UTC datetime; ``None`` otherwise."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return None


def read_series(path, *, time_col=None, value_cols=None, fmt=None):
    """A series from a CSV, TSV or Parquet file: an optional time column and numeric value columns.

    ``time_col``: the time column (default: the one named like ``time``/``date``/..., or none); the rows
    are sorted by it (stably; numbers or ISO dates). ``value_cols``: the value columns (default: all others).
    Returns ``(times, values, names)``: ``times`` = the time values in order (ints or floats when
    numeric, else ISO strings as written) or ``None`` without a time column, ``values`` = float64
    ``(T, K)``, ``names`` = the K value columns. Raises ``ValueError`` for a missing or non-numeric value
    (naming the column and the line) and for the table errors of :func:`read_table`.
    """
    table = read_table(path, fmt)
    if time_col is None:
        time_col = table.detect(TIME_NAMES, "time", "--time-col", "time_col", required=False)
    else:
        table.require([time_col], "--time-col", "time_col")
    names = _names(value_cols)
    if names is None:
        names = [n for n in table.names if n != time_col]
    table.require(names, "--features", "value_cols")
    if not names or time_col in names:
        raise ValueError(f"{table.source}: value_cols must name columns other than the time column "
                         f"{time_col!r}; the columns are {table.names}")
    hint = "fill it in, or choose the value columns with --features (value_cols=)"
    values = np.stack([table.numbers(c, hint) for c in names], axis=1)
    if time_col is None:
        return None, values, names
    keys = table.time_keys(time_col)
    order = sorted(range(len(table)), key=keys.__getitem__)
    times = typed(table.columns[time_col])[0]
    return [times[i] for i in order], values[order], names


def _names(cols) -> list | None:
    """A column option as a list of names: ``None`` stays ``None``, one string is one column."""
    if cols is None:
        return None
    return [cols] if isinstance(cols, str) else [str(c) for c in cols]
