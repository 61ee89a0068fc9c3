"""Long-format tables (one row per time step) as sequences: column choice, one-hot encoding, labels.

The layout is documented in :mod:`rnnkit.data.files`; :func:`sequences_from_table` turns a
:class:`~rnnkit.data.tables.Table` into :class:`SequenceData`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .classification import _label_key
from .tables import ID_NAMES, LABEL_NAMES, TIME_NAMES, Table, _names, number, text, typed

__all__ = ["SequenceData", "sequences_from_table", "check_encoding", "ENCODING_KEYS"]

ENCODING_KEYS = ("columns", "categorical", "id", "time", "label")


@dataclass
class SequenceData:
    """Sequences read by :func:`rnnkit.data.files.read_sequences`.

    ``X``: one float64 array ``(T_i, F)`` per sequence. ``y``: ``None``; or one target per sequence
    (a 1-D array: int64 or float64 when the labels are numbers, else str; or float64 ``(N, K)`` for
    several target columns); or, when ``per_step``, a list of 1-D arrays of length ``T_i`` (``(T_i, K)``
    for several columns). ``ids``: the sequence ids (ints when the id column holds integers, else
    strings; ``0..N-1`` without one). ``features``: the F feature names after one-hot encoding
    (``"col=value"``). ``target``: the label column (a list for several), or ``None``. ``encoding``:
    how the features were encoded (JSON data; pass it back as ``encoding=`` to read new data alike):
    ``{"columns", "categorical": {col: [categories]}, "id", "time", "label"}``.
    """

    X: list
    y: object
    ids: list
    features: list
    target: object
    per_step: bool
    encoding: dict


def check_encoding(encoding) -> dict:
    """``encoding`` when it is a dict with the keys of ``SequenceData.encoding``; ``ValueError`` otherwise."""
    if not isinstance(encoding, dict) or any(k not in encoding for k in ENCODING_KEYS) \
            or not isinstance(encoding["categorical"], dict):
        raise ValueError(f"encoding: expected the training data's SequenceData.encoding, a dict with the keys "
                         f"{list(ENCODING_KEYS)}; got {str(encoding)[:200]}")
    return encoding


def sequences_from_table(table: Table, *, id_col=None, time_col=None, label_col=None, feature_cols=None,
                         categorical=None, per_step=False, encoding=None, require_label=True) -> SequenceData:
    """The sequences of a long-format table (the options are those of ``read_sequences``)."""
    if encoding is not None:
        check_encoding(encoding)
    id_col, time_col, labels, features = _columns(table, id_col, time_col, label_col, feature_cols, encoding,
                                                  require_label)
    if encoding is None:
        cats = _categories(table, features, categorical)
    else:
        cats = {c: [str(v) for v in values] for c, values in encoding["categorical"].items()}
    matrix, names = _encode(table, features, cats)
    groups = _groups(table, id_col)
    if time_col is not None:
        keys = table.time_keys(time_col)
        groups = {k: sorted(rows, key=keys.__getitem__) for k, rows in groups.items()}
    y = _labels(table, labels, groups, per_step, require_label) if labels else None
    target = None if not labels else labels[0] if len(labels) == 1 else labels
    label = target if encoding is None else encoding["label"]
    return SequenceData(
        X=[matrix[rows] for rows in groups.values()], y=y, ids=list(groups), features=names,
        target=target if y is not None else None, per_step=bool(per_step),
        encoding={"columns": features, "categorical": cats, "id": id_col, "time": time_col, "label": label})


def _columns(table, id_col, time_col, label_col, feature_cols, encoding, require_label):
    """The id, time (or None), label (list or None) and feature columns, given or detected."""
    enc = encoding or {}
    id_col = id_col or enc.get("id") or table.detect(ID_NAMES, "sequence id", "--id-col", "id_col", True)
    table.require([id_col], "--id-col", "id_col")
    if time_col is None:
        time_col = enc["time"] if encoding is not None else table.detect(
            TIME_NAMES, "time", "--time-col", "time_col", False, taken=[id_col])
    if time_col is not None:
        table.require([time_col], "--time-col", "time_col")
    labels = _names(label_col)
    if labels is None and encoding is not None:
        model_labels = _names(encoding["label"]) or []
        labels = model_labels if model_labels and all(c in table.columns for c in model_labels) else None
        if labels is None and require_label:
            raise ValueError(f"{table.source}: no label column {model_labels} (the training data's); the columns "
                             f"are {table.names}; give it with --label-col (label_col=)")
    elif labels is None:
        found = table.detect(LABEL_NAMES, "label", "--label-col", "label_col", require_label,
                             taken=[id_col, time_col])
        labels = [found] if found else None
    if labels is not None:
        table.require(labels, "--label-col", "label_col")
    taken = [id_col, time_col, *(labels or [])]
    features = _names(feature_cols)
    if encoding is not None:
        if features is not None and features != list(encoding["columns"]):
            raise ValueError(f"feature_cols: {features} differ from the training data's feature columns "
                             f"{encoding['columns']} (--features)")
        features = [str(c) for c in encoding["columns"]]
        missing = [c for c in features if c not in table.columns]
        if missing:
            raise ValueError(f"{table.source}: the feature column(s) {missing} of the training data are missing; "
                             f"the file has {table.names}, the model reads {features}")
    elif features is None:
        features = [n for n in table.names if n not in taken]
    table.require(features, "--features", "feature_cols")
    used = [c for c in taken if c is not None]
    twice = sorted({c for c in used + features if (used + features).count(c) > 1})
    if twice:
        raise ValueError(f"{table.source}: column(s) {twice} given for two roles (id {id_col!r}, time "
                         f"{time_col!r}, label {labels}, features {features}); each column has one role")
    if not features:
        raise ValueError(f"{table.source}: no feature columns left: the columns are {table.names} (id {id_col!r}, "
                         f"time {time_col!r}, label {labels}); give them with --features (feature_cols=)")
    return id_col, time_col, labels, features


def _categories(table, features, categorical) -> dict:
    """{column: sorted categories} for the columns listed in ``categorical`` and every feature column
    with a value that is not a number. Categories sort numbers first (in numeric order), then text."""
    forced = _names(categorical) or []
    stray = [c for c in forced if c not in features]
    if stray:
        raise ValueError(f"categorical: {stray} are not feature columns (the features: {features}) (--categorical)")
    cats = {}
    for c in features:
        values = table.columns[c]
        if c in forced or table.floats(c) is None:
            cats[c] = sorted({text(v) for v in values if v is not None}, key=_label_key)
    return cats


def _encode(table, features, cats):
    """The (rows, F) float64 feature matrix and the F names: numeric columns as they are, categorical
    ones one-hot (``col=value``); an unknown category gives all zeros and a warning."""
    blocks, names = [], []
    hint = "fill it in, or leave the column out (--features)"
    for c in features:
        if c not in cats:
            blocks.append(table.numbers(c, hint + ", or mark it categorical (--categorical)")[:, None])
            names.append(c)
            continue
        index = {v: j for j, v in enumerate(cats[c])}
        block = np.zeros((len(table), len(cats[c])))
        unseen = {}
        for i, v in enumerate(table.columns[c]):
            if v is None:
                raise ValueError(f"{table.source}: column {c!r} has a missing value at {table.where(i)}; {hint}")
            j = index.get(text(v))
            if j is None:
                unseen.setdefault(text(v), table.where(i))
            else:
                block[i, j] = 1.0
        if unseen:
            shown = ", ".join(f"{v!r} ({w})" for v, w in list(unseen.items())[:5])
            warnings.warn(f"{table.source}: column {c!r} has categories not seen in the training data: {shown}"
                          f"{' ...' if len(unseen) > 5 else ''}; their one-hot columns are all zero", stacklevel=4)
        blocks.append(block)
        names.extend(f"{c}={v}" for v in cats[c])
    return np.concatenate(blocks, axis=1), names


def _groups(table, id_col) -> dict:
    """{sequence id: row indices}, in the order the ids first appear."""
    values = table.columns[id_col]
    for i, v in enumerate(values):
        if v is None:
            raise ValueError(f"{table.source}: the id column {id_col!r} has a missing value at {table.where(i)}; "
                             "every row needs its sequence id (--id-col)")
    keys, dtype = typed(values)
    if dtype is not np.int64:
        keys = [text(v) for v in values]  # ids other than integers stay as written
    groups = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return groups


def _labels(table, labels, groups, per_step, require_label):
    """y for the label columns (see :class:`SequenceData`); ``None`` when they are empty and optional."""
    if not require_label and all(v is None for c in labels for v in table.columns[c]):
        return None
    out = []
    for c in labels:
        values, dtype = typed(table.columns[c])
        if len(labels) > 1 and dtype is str:
            i = next(i for i, v in enumerate(table.columns[c]) if v is not None and number(v) is None)
            raise ValueError(f"{table.source}: several label columns are regression targets, but {c!r} has "
                             f"{table.columns[c][i]!r} at {table.where(i)}, which is not a number")
        if per_step:
            out.append([_step_labels(table, c, rows, values, dtype) for rows in groups.values()])
        else:
            out.append(np.array([_one_label(table, c, k, rows, values) for k, rows in groups.items()], dtype=dtype))
    if len(out) == 1:
        return out[0]
    if per_step:
        return [np.stack([col[s] for col in out], axis=1).astype(np.float64) for s in range(len(groups))]
    return np.stack(out, axis=1).astype(np.float64)


def _step_labels(table, col, rows, values, dtype):
    for i in rows:
        if values[i] is None:
            raise ValueError(f"{table.source}: the label column {col!r} is empty at {table.where(i)}; per-step "
                             "labels (per_step=True) need one on every row")
    return np.array([values[i] for i in rows], dtype=dtype)


def _one_label(table, col, key, rows, values):
    """The label of one sequence: the same on every row where it is given."""
    seen = {}
    for i in sorted(rows):
        if values[i] is not None:
            seen.setdefault(values[i], i)
    if len(seen) > 1:
        shown = ", ".join(f"{v!r} ({table.where(i)})" for v, i in list(seen.items())[:4])
        raise ValueError(f"{table.source}: sequence {key!r} has different values in the label column {col!r}: "
                         f"{shown}; a sequence's label must be the same on all its rows, or given on its first "
                         "row only with the others empty (one label per step: per_step=True)")
    if not seen:
        raise ValueError(f"{table.source}: sequence {key!r} has no value in the label column {col!r} (its first "
                         f"row is at {table.where(min(rows))}); give its label on its first row")
    return next(iter(seen))
