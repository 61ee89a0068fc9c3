"""Reading your own data files: sequences, series and text.

Everything here needs NumPy alone, except Parquet, which needs pyarrow
(``pip install 'rnnkit[parquet]'``). The format follows the extension (``.csv``, ``.tsv``,
``.parquet`` or ``.pq``, ``.npz``) unless ``fmt=`` names it. Text files are UTF-8 (a byte-order
mark is fine); CSV quoting is the usual one (as written by spreadsheets and Python's ``csv``).

Sequences in a long table (CSV, TSV, Parquet): :func:`read_sequences`
--------------------------------------------------------------------
One row per time step, with these columns (any order; every other column is a feature):

- the sequence id (``--id-col``). When it is not given, the column named ``id``, ``sequence``,
  ``sequence_id``, ``seq``, ``series``, ``series_id``, ``case``, ``case_id``, ``sample``,
  ``sample_id`` or ``instance`` (any case). Sequences come out in the order their ids first appear;
  ids that are all integers are returned as ints, others as the strings written. A sequence's rows
  need not be adjacent.
- optionally the time (``--time-col``; found by the names ``time``, ``t``, ``timestamp``, ``step``,
  ``date``, ``timepoint``, ``frame``). Each sequence's rows are sorted by it (a stable sort: ties
  keep the file's order). Values are numbers or ISO dates (``2024-01-31``, ``2024-01-31T12:00``).
  Without a time column the rows keep the file's order.
- the label (``--label-col``; found by the names ``label``, ``y``, ``target``, ``class``,
  ``category``). One label per sequence: repeat it on all the sequence's rows, or write it on the
  first row and leave the others empty; different values in one sequence are an error. With
  ``per_step=True`` (tagging) every row has its own label. Labels that are all integers come out
  as int64, other numbers as float64, anything else as strings. Several label columns (a list) are
  numeric regression targets: ``y`` is ``(N, K)``.
- the features (``--features``; default: all the other columns). Numeric columns are used as they
  are. A column with any value that is not a number, or listed in ``--categorical``, is one-hot
  encoded: one feature per category seen in the (training) file, named ``col=value``, the
  categories sorted (numbers in numeric order first, then text alphabetically). Read new data with
  the training data's ``encoding=``: its columns and categories are used exactly, and a category
  never seen in training gives all zeros and a warning.

Missing values (an empty field, ``NA``, ``N/A``, ``NaN``, ``null``, ``None``, any case) are errors
in the id, time and feature columns, naming the column and the line. Values are stripped of spaces.
Example (``--id-col id --time-col t --label-col label``, found without them too)::

    id,t,speed,gear,label
    a,1,1.7,high,
    a,0,1.5,low,walk
    b,0,0.2,low,rest

gives the features ``speed, gear=high, gear=low`` and two sequences: ``a`` with
``X = [[1.5, 0, 1], [1.7, 1, 0]]`` (sorted by ``t``) and ``b`` with ``X = [[0.2, 0, 1]]``;
``y = ["walk", "rest"]``. Parquet files hold the same columns (numbers, strings, dates or timestamps).

Sequences in NumPy's ``.npz``: :func:`read_sequences`
-----------------------------------------------------
Arrays saved with ``np.savez``, read with ``allow_pickle=False`` (an object array is refused):

- padded: ``X`` ``(N, T, F)``, or ``(N, T)`` for one feature, with optional ``lengths`` ``(N,)``,
  each in ``[1, T]``: sequence ``i`` is ``X[i, :lengths[i]]`` (default: all ``T`` steps)::

      np.savez("train.npz", X=X, lengths=lengths, y=y)

- ragged (sequences of different lengths, no padding): the sequences concatenated along time,
  their lengths, and ``ragged=True``. A list of unequal arrays saved as ``X=seqs`` would become an
  object array, which is refused::

      np.savez("train.npz", X=np.concatenate(seqs), lengths=[len(s) for s in seqs], ragged=True, y=y)

- ``channels_first=True`` reads ``X`` as ``(N, C, T)`` (aeon's and sktime's layout); ragged, as
  ``(C, sum of lengths)``.
- ``y`` (optional): ``(N,)`` labels (integers, floats or strings) or ``(N, K)`` targets; with
  ``per_step=True``, ``(N, T)`` padded like ``X`` (ragged: concatenated like ``X``).
  ``ids`` (optional): ``(N,)`` integers or strings (default ``0 .. N-1``).
  The features are named ``x0, x1, ...``.

Series: :func:`read_series` and :func:`make_windows`
---------------------------------------------------
A time column (optional; found by the time names above; rows are sorted by it) and one or more
numeric value columns::

    date,temp,rain
    2024-01-01,3.5,0.0
    2024-01-02,4.1,2.5

``make_windows(values, window, horizon)`` cuts it into inputs of ``window`` steps and targets of
the next ``horizon`` steps.

Text: :func:`read_text`
-----------------------
Any text file, UTF-8 by default (``encoding="latin-1"``, ``--encoding latin-1`` otherwise); line
endings become ``"\\n"``.

Splits: :func:`chronological_split`, :func:`stratified_split`, :func:`group_split` (see
:mod:`rnnkit.data.splits`).
"""
from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..ops._checks import check_int_vector, check_lengths
from .long_format import SequenceData, check_encoding, sequences_from_table
from .splits import chronological_split, group_split, make_windows, stratified_split
from .tables import decode_text, file_format, read_series, read_table

__all__ = ["SequenceData", "read_sequences", "read_series", "read_text", "make_windows", "chronological_split",
           "stratified_split", "group_split"]

_RAGGED = "np.savez(path, X=np.concatenate(seqs), lengths=[len(s) for s in seqs], ragged=True, y=y)"


def read_sequences(path, *, id_col=None, time_col=None, label_col=None, feature_cols=None, categorical=None,
                   per_step=False, channels_first=False, encoding=None, require_label=True,
                   fmt=None) -> SequenceData:
    r"""Sequences (and their labels) from a long CSV / TSV / Parquet table or an ``.npz`` file.

    A table has one row per time step; the id, time and label columns are detected by name when not
    given, every other column is a feature, and text columns are one-hot encoded. An ``.npz`` file holds
    ``X`` (padded or ragged), ``y``, ``lengths``, ``ragged`` and ``ids`` arrays. The module docstring
    describes both layouts in full.

    Parameters
    ----------
    path : str or path-like
        The file to read.
    id_col : str, optional
        The table's sequence id column. Default: detected by name (``id``, ``sequence``, ...).
    time_col : str, optional
        The table's time column (numbers or ISO dates); each sequence's rows are sorted by it.
        Default: detected by name (``time``, ``t``, ...); without one the rows keep the file's order.
    label_col : str or list of str, optional
        The table's label column, or a list of columns for several numeric regression targets.
        Default: detected by name (``label``, ``y``, ``target``, ...).
    feature_cols : list of str, optional
        The table's feature columns. Default: all the other columns.
    categorical : list of str, optional
        Columns to one-hot encode even though they hold numbers (text columns always are).
    per_step : bool, default False
        One label per step (tagging) instead of one per sequence.
    channels_first : bool, default False
        An ``.npz`` ``X`` is ``(N, C, T)`` (ragged: ``(C, sum of lengths)``) rather than ``(N, T, C)``.
    encoding : dict, optional
        The training data's ``SequenceData.encoding``, to read new data with the same features and
        categories.
    require_label : bool, default True
        Without a label column (or ``y`` array): raise (True) or return ``y=None`` (False).
    fmt : {"csv", "tsv", "parquet", "npz"}, optional
        The file format. Default: from the extension.

    Returns
    -------
    SequenceData
        ``X``: a list of ``N`` float64 arrays ``(T_i, F)``; ``y``: the labels (``(N,)`` or ``(N, K)``,
        a list of per-step arrays when ``per_step``, or None); ``ids``, ``features`` (the ``F`` feature
        names), ``target``, ``per_step`` and ``encoding``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be read as sequences: a missing or inconsistent column or array, a
        missing value, a table option given for an ``.npz`` file, ``channels_first`` for a table, ...
        The message names the file, the line or array and the option to give.
    ImportError
        If a Parquet file is read without pyarrow.

    Examples
    --------
    >>> from pathlib import Path
    >>> from rnnkit.data.files import read_sequences
    >>> rows = ["id,t,speed,gear,label", "a,1,1.7,high,", "a,0,1.5,low,walk", "b,0,0.2,low,rest"]
    >>> _ = Path("walks.csv").write_text("\n".join(rows) + "\n")
    >>> data = read_sequences("walks.csv")
    >>> data.features, data.ids, data.y.tolist()
    (['speed', 'gear=high', 'gear=low'], ['a', 'b'], ['walk', 'rest'])
    >>> data.X[0]
    array([[1.5, 0. , 1. ],
           [1.7, 1. , 0. ]])
    """
    fmt = file_format(path, fmt)
    if fmt == "npz":
        given = [name for name, v in (("id_col", id_col), ("time_col", time_col), ("label_col", label_col),
                                      ("feature_cols", feature_cols), ("categorical", categorical)) if v]
        if given:
            raise ValueError(f"{path}: {', '.join(given)} name columns of a table; an .npz file has the arrays "
                             "X, y, lengths, ragged and ids instead")
        return _read_npz(Path(path), per_step, channels_first, encoding, require_label)
    if channels_first:
        raise ValueError(f"{path}: channels_first applies to the X array of an .npz file, not to a table")
    return sequences_from_table(read_table(path, fmt), id_col=id_col, time_col=time_col, label_col=label_col,
                                feature_cols=feature_cols, categorical=categorical, per_step=per_step,
                                encoding=encoding, require_label=require_label)


def read_text(path, encoding: str = "utf-8") -> str:
    r"""The text of ``path`` decoded with ``encoding``, line endings as ``"\n"``.

    Parameters
    ----------
    path : str or path-like
        The text file to read.
    encoding : str, default "utf-8"
        The file's encoding (e.g. ``"latin-1"``); a UTF-8 byte-order mark is fine.

    Returns
    -------
    str
        The decoded text, with ``"\r\n"`` and ``"\r"`` line endings turned into ``"\n"``.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        For an empty (or blank) file and for bytes that are not valid in ``encoding`` (naming the line
        and byte offset, and suggesting ``--encoding``).

    Examples
    --------
    >>> from pathlib import Path
    >>> from rnnkit.data.files import read_text
    >>> _ = Path("poem.txt").write_bytes(b"line one\r\nline two\r\n")
    >>> read_text("poem.txt")
    'line one\nline two\n'
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    text = decode_text(path.read_bytes(), path, encoding,
                       "give the file's encoding with --encoding (encoding=), e.g. --encoding latin-1")
    if not text.strip():
        raise ValueError(f"{path}: the file is empty (no text to read)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_npz(path: Path, per_step, channels_first, encoding, require_label) -> SequenceData:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    arrays = _load_npz(path)
    try:
        return _npz_sequences(arrays, per_step, channels_first, encoding, require_label)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{path}: {e}") from None


def _load_npz(path: Path) -> dict:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a NumPy .npz archive ({e}); save the arrays with np.savez") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: holds a single array, not an .npz archive; save with np.savez(path, X=X, y=y)")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:  # an object array: loading it would unpickle
                raise ValueError(f"{path}: the array {key!r} holds Python objects (e.g. a list of sequences of "
                                 f"different lengths), which rnnkit never unpickles; save ragged sequences as "
                                 f"{_RAGGED}") from None
    return arrays


def _npz_sequences(arrays, per_step, channels_first, encoding, require_label) -> SequenceData:
    if "X" not in arrays:
        raise ValueError(f"no array 'X' (the arrays are {sorted(arrays)}); save with np.savez(path, X=X, y=y)")
    extra = sorted(set(arrays) - {"X", "y", "lengths", "ragged", "ids"})
    if extra:
        warnings.warn(f"ignoring the arrays {extra} (rnnkit reads X, y, lengths, ragged, ids)", stacklevel=4)
    X = arrays["X"]
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X: expected numbers, got dtype {X.dtype}")
    ragged = arrays.get("ragged", np.array(False))
    if ragged.size != 1 or ragged.dtype.kind not in "biu":
        raise ValueError(f"ragged: expected True or False, got {ragged!r}")
    ragged = bool(ragged.reshape(()))
    if ragged:
        seqs, lengths = _ragged(X.astype(np.float64), arrays.get("lengths"), channels_first)
        T = None
    else:
        seqs, lengths, T = _padded(X.astype(np.float64), arrays.get("lengths"), channels_first)
    for i, s in enumerate(seqs):
        if not np.isfinite(s).all():
            raise ValueError(f"X: sequence {i} has a NaN or inf value at step {np.argwhere(~np.isfinite(s))[0][0]}")
    F = seqs[0].shape[1]
    if encoding is not None and len(check_encoding(encoding)["columns"]) != F:
        raise ValueError(f"X has {F} features per step but the training data had {len(encoding['columns'])} "
                         f"({encoding['columns']})")
    y = arrays.get("y")
    if y is None and require_label:
        raise ValueError(f"no array 'y' of labels or targets (the arrays are {sorted(arrays)}); save with "
                         "np.savez(path, X=X, y=y)")
    y = None if y is None else _npz_labels(y, lengths, T, per_step)
    features = [str(c) for c in encoding["columns"]] if encoding is not None else [f"x{j}" for j in range(F)]
    label = "y" if y is not None else encoding["label"] if encoding is not None else None
    return SequenceData(X=seqs, y=y, ids=_npz_ids(arrays.get("ids"), len(seqs)), features=features,
                        target="y" if y is not None else None, per_step=bool(per_step),
                        encoding={"columns": features, "categorical": {}, "id": None, "time": None, "label": label})


def _padded(X, lengths, channels_first):
    if X.ndim == 2:
        X = X[:, :, None]
    elif X.ndim == 3 and channels_first:
        X = X.transpose(0, 2, 1)
    elif X.ndim != 3:
        raise ValueError(f"X: expected a padded (N, T, F) or (N, T) array, got shape {X.shape} (sequences of "
                         f"different lengths: {_RAGGED})")
    N, T = X.shape[:2]
    if N == 0 or T == 0 or X.shape[2] == 0:
        raise ValueError(f"X: empty array (shape {X.shape} as (N, T, F))")
    lengths = np.full(N, T, dtype=np.int64) if lengths is None else check_lengths(lengths, N, T)
    return [X[i, :n] for i, n in enumerate(lengths)], lengths, T


def _ragged(X, lengths, channels_first):
    if lengths is None:
        raise ValueError(f"ragged=True needs the array 'lengths' (N,), each sequence's length: {_RAGGED}")
    if X.ndim == 1:
        X = X[:, None]
    elif X.ndim == 2 and channels_first:
        X = X.T
    elif X.ndim != 2:
        raise ValueError(f"X: ragged data is the sequences concatenated along time, (sum of lengths, F); got shape "
                         f"{X.shape}: {_RAGGED}")
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or X.shape[1] == 0:
        raise ValueError(f"lengths: expected a non-empty 1-D array, got shape {lengths.shape} (X {X.shape})")
    lengths = check_int_vector(lengths, "lengths", lengths.size, minimum=1)
    if lengths.sum() != X.shape[0]:
        raise ValueError(f"lengths: they sum to {lengths.sum()} but X has {X.shape[0]} steps; the lengths of "
                         f"the concatenated sequences must add up to X's steps: {_RAGGED}")
    return np.split(X, np.cumsum(lengths)[:-1]), lengths


def _npz_labels(y, lengths, T, per_step):
    """y per sequence: (N,) or (N, K); per step: padded (N, T[, K]) or, ragged (T is None), concatenated."""
    if y.dtype.kind not in "biufU":
        raise ValueError(f"y: expected numbers or strings, got dtype {y.dtype}")
    y = y.astype(np.int64) if y.dtype.kind in "biu" else y.astype(np.float64) if y.dtype.kind == "f" else y
    N = len(lengths)
    if per_step and T is None:
        if y.ndim not in (1, 2) or y.shape[0] != lengths.sum():
            raise ValueError(f"y: per-step targets of ragged data are concatenated like X: expected "
                             f"{lengths.sum()} rows, got shape {y.shape}")
        return np.split(y, np.cumsum(lengths)[:-1])
    if per_step:
        if y.ndim not in (2, 3) or y.shape[:2] != (N, T):
            raise ValueError(f"y: per-step targets are padded like X: expected shape ({N}, {T}), got {y.shape}")
        return [y[i, :n] for i, n in enumerate(lengths)]
    if y.ndim not in (1, 2) or y.shape[0] != N or (y.ndim == 2 and y.dtype.kind == "U"):
        raise ValueError(f"y: expected one label per sequence, shape ({N},), or numeric targets ({N}, K); got "
                         f"{y.shape} {y.dtype} (one label per step: per_step=True)")
    return y.astype(np.float64) if y.ndim == 2 else y


def _npz_ids(ids, n):
    if ids is None:
        return list(range(n))
    if ids.shape != (n,) or ids.dtype.kind not in "iuU":
        raise ValueError(f"ids: expected {n} integers or strings, got shape {ids.shape} dtype {ids.dtype}")
    return ids.tolist()
