"""Class labels of any hashable kind for the classification losses (``Sequential.classes_``).

With loss "crossentropy" or "binary_crossentropy", targets that are not class ids are labels:
strings, bools, other hashable objects, and floats that are neither class ids nor probabilities
(crossentropy: not whole numbers; binary: outside [0, 1]). The first ``fit`` encodes them by their
sorted unique values, which become ``model.classes_``: label ``classes_[i]`` is class i (output i for
crossentropy; for binary, ``classes_[1]`` is the positive class, output > 0). Integer class ids (and
0/1 or probability targets) keep working as they are, and leave ``classes_`` None. Once a model has
``classes_`` (a second fit, a loaded model, or set by the user before fit), every label is encoded
with them and an unknown label is an error.
"""
from __future__ import annotations

import math

import numpy as np

LABEL_LOSSES = ("crossentropy", "binary_crossentropy")


def _label_values(y, seq_out):
    """``(values, ragged)`` of targets shaped like labels, one per sequence (n,) or per step ((n, T), or
    for per-step outputs a ragged list of 1-D sequences, ``ragged`` True); a trailing axis of 1 of
    non-numbers is dropped. ``(None, False)`` for other shapes (probability rows, or what
    ``_model_data.targets`` reports)."""
    if seq_out and isinstance(y, (list, tuple)) and len(y) and np.ndim(y[0]) >= 1:
        values = [np.asarray(s) for s in y]
        return (values, True) if all(v.ndim == 1 for v in values) else (None, False)
    try:
        a = np.asarray(y)
    except ValueError:                 # a ragged list where the output has no time axis
        return None, False
    if a.dtype.kind == "U" and isinstance(y, (list, tuple)) and len({isinstance(v, str) for v in y}) > 1:
        a = np.empty(len(y), dtype=object)      # [1, "a"]: NumPy would turn 1 into "1"
        a[:] = list(y)
    if a.ndim == 2 + seq_out and a.shape[-1] == 1 and a.dtype.kind in "USOb":
        a = a[..., 0]                  # a column of labels, e.g. df[["label"]].values
    return (a, False) if 1 <= a.ndim <= 1 + seq_out else (None, False)


def _are_labels(a, loss):
    """Whether the values ``a`` (one array) are labels rather than class ids or target values."""
    kind = a.dtype.kind
    if kind in "USOb":
        return True
    if kind != "f" or not np.isfinite(a).all():
        return False                   # ids, or bad values that targets() reports
    if loss == "crossentropy":
        return bool((a != np.round(a)).any())
    return bool(((a < 0) | (a > 1)).any())


def _sorted_unique(a):
    if a.dtype != object:
        return np.unique(a)
    try:
        return as_classes(sorted(set(a.ravel().tolist())))
    except TypeError as e:             # unhashable, or of kinds that do not compare (1 < "a")
        raise TypeError(f"y: labels must be hashable values of one comparable kind (e.g. all strings), "
                        f"got {sorted({type(v).__name__ for v in a.ravel().tolist()})} ({e})") from None


def as_classes(classes):
    """``classes`` (a list or an array, e.g. set by the user) as a 1-D array of unique labels."""
    if classes is None:
        return None
    if isinstance(classes, (str, bytes, dict)):
        raise TypeError(f"classes_: expected a list of labels, got {type(classes).__name__}")
    values = list(classes.tolist() if isinstance(classes, np.ndarray) else classes)
    if len({type(v) for v in values}) > 1:      # keep 1 and "1", or True and 2, apart
        a = np.empty(len(values), dtype=object)
        a[:] = values
    else:
        a = np.asarray(values)
    if a.ndim != 1 or len(a) == 0:
        raise ValueError(f"classes_: expected a non-empty list of labels, got {classes!r:.200}")
    if len(set(a.tolist())) != len(a):
        raise ValueError(f"classes_: labels must be unique, got {a.tolist()!r:.200}")
    return a


def check_fits(classes, loss, K):
    """The classes must fit the output: one output per class (crossentropy), or 2 classes and 1 output
    (binary_crossentropy)."""
    n, shown = len(classes), _show(classes)
    if loss == "crossentropy" and n != K:
        raise ValueError(f"y: {n} classes {shown}, but the model has {K} outputs; crossentropy needs one output "
                         f"per class (a last layer Dense({n})), or set model.classes_ to all {K} labels before fit")
    if loss == "binary_crossentropy" and (n != 2 or K != 1):
        raise ValueError(f"y: binary_crossentropy needs exactly 2 classes and 1 output, got {n} classes {shown} "
                         f"and {K} outputs" + ("; for more classes use loss='crossentropy' and "
                                               f"Dense({n})" if n > 2 else ""))


def _show(values, limit=10):
    values = list(values.tolist() if isinstance(values, np.ndarray) else values)
    return repr(values[:limit])[:-1] + (", ...]" if len(values) > limit else "]")


def _ids(a, classes):
    """Labels ``a`` (any shape) -> int64 class ids; ValueError naming unknown labels."""
    numeric = "biuf"
    same = (a.dtype.kind in numeric and classes.dtype.kind in numeric) or a.dtype.kind == classes.dtype.kind == "U"
    if same:                           # vectorised: a binary search in the sorted classes
        order = np.argsort(classes, kind="stable")
        pos = np.clip(np.searchsorted(classes[order], a), 0, len(classes) - 1)
        ids = order[pos]
        unknown = classes[ids] != a
    else:
        index = {v: i for i, v in enumerate(classes.tolist())}
        flat = [index.get(v, -1) for v in a.ravel().tolist()]
        ids = np.asarray(flat, dtype=np.int64).reshape(a.shape)
        unknown = ids < 0
    if np.any(unknown):
        bad = list(dict.fromkeys(np.asarray(a)[unknown].tolist()))
        raise ValueError(f"y: unknown label(s) {_show(bad, 5)}; the model's classes are {_show(classes, 20)} "
                         "(model.classes_, fixed by its first fit or its file)")
    return ids.astype(np.int64)


def encode(y, loss, K, seq_out, classes=None, learn=False):
    """``(y, classes)``: labels in ``y`` encoded as class ids with ``classes`` (the model's), or with
    the sorted unique labels of ``y`` when ``classes`` is None and ``learn``. Targets that are not
    labels come back unchanged (with ``classes``, or None). Raises ValueError for an unknown label, for
    classes that do not fit the ``K`` outputs, and for labels given to a model without classes."""
    if loss not in LABEL_LOSSES or y is None or isinstance(y, (str, bytes, dict)):
        return y, classes
    classes = as_classes(classes)
    values, ragged = _label_values(y, bool(seq_out))
    if values is None:
        return y, classes              # not shaped like labels: no labels to encode
    flat = np.concatenate([s.ravel() for s in values]) if ragged else values
    if classes is None:
        if not _are_labels(flat, loss):
            return y, None
        if not learn:
            raise ValueError(f"y: labels like {_show(flat.ravel()[:3])} are not class ids, and the model has no "
                             "classes_ to encode them (it was not fit on labels): fit it on these labels first, "
                             "or set model.classes_ (all labels, in output order)")
        classes = _sorted_unique(flat)
    check_fits(classes, loss, K)
    if ragged:
        return [_ids(s, classes) for s in values], classes
    return _ids(values, classes), classes


def decode(ids, classes):
    """Class ids -> the original labels (``ids`` unchanged when ``classes`` is None)."""
    return ids if classes is None else as_classes(classes)[ids]


def to_json(classes):
    """``classes_`` as a JSON list for a model file (None stays None); TypeError for labels a file
    cannot hold (only str, int, float and bool)."""
    if classes is None:
        return None
    out = []
    for v in as_classes(classes).tolist():
        if not isinstance(v, (str, int, float, bool)) or (isinstance(v, float) and not math.isfinite(v)):
            raise TypeError(f"save: model.classes_ holds the label {v!r:.80} ({type(v).__name__}); a model file "
                            "stores only str, int, float or bool labels: fit on y.astype(str) or map the labels")
        out.append(v)
    return out


def strata(yp, loss, seq_out):
    """Each row's class for a stratified split: class ids (crossentropy) or 0/1 (binary with hard
    labels), one per sequence; None when the targets are not one hard label per sequence."""
    if seq_out or loss not in LABEL_LOSSES or isinstance(yp, list):
        return None
    if loss == "crossentropy":
        return yp if yp.ndim == 1 and yp.dtype.kind in "iu" else None
    if yp.ndim == 2 and yp.shape[1] == 1 and np.isin(yp, (0, 1)).all():
        return yp[:, 0].astype(np.int64)
    return None


def class_weights(class_weight, loss, classes, yp, mask, K):
    """Each target's weight from ``class_weight``: a dict {label: weight} (labels as the user gives
    them: classes_ entries, or class ids without classes_; a class not in it weighs 1), or "balanced"
    (n / (n_present * count_c), over the counted targets). Returns an array of yp's label shape
    ((n,) or (n, T)); ``mask`` (n, T) marks the counted steps of per-step targets (None: all)."""
    if loss not in LABEL_LOSSES:
        raise ValueError(f"class_weight: needs a classification loss ('crossentropy' or 'binary_crossentropy'), "
                         f"the model's is {loss!r}; use sample_weight")
    if isinstance(yp, list) or yp.dtype.kind not in "iuf" or (loss == "crossentropy" and yp.dtype.kind == "f"):
        raise ValueError("class_weight: needs hard labels (class ids or labels), not probability targets")
    ids = yp if loss == "crossentropy" else yp[..., 0]
    if loss == "binary_crossentropy":
        if yp.shape[-1] != 1 or not np.isin(ids, (0, 1)).all():
            raise ValueError("class_weight: binary_crossentropy needs hard 0/1 labels (one output), not soft targets")
        ids = ids.astype(np.int64)
    n_classes = K if loss == "crossentropy" else 2
    names = list(range(n_classes)) if classes is None else as_classes(classes).tolist()
    counted = ids if mask is None else ids[mask]
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.bincount(counted.ravel(), minlength=n_classes).astype(np.float64)
        present = counts > 0
        w = np.where(present, counted.size / (present.sum() * np.maximum(counts, 1)), 0.0)
    elif isinstance(class_weight, dict):
        w = np.ones(n_classes)
        index = {v: i for i, v in enumerate(names)}
        for key, value in class_weight.items():
            i = index.get(key.item() if isinstance(key, np.generic) else key) if _hashable(key) else None
            if i is None:
                raise ValueError(f"class_weight: {key!r:.80} is not a class; the classes are {_show(names, 20)}"
                                 + ("" if classes is not None else " (class ids: the model has no classes_)"))
            try:
                w[i] = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"class_weight[{key!r:.80}]: expected a number, got {value!r:.80}") from None
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"class_weight: weights must be finite and >= 0, got {class_weight!r:.200}")
    else:
        raise TypeError(f"class_weight: expected a dict {{label: weight}} or 'balanced', got {class_weight!r:.80}")
    return w[ids]


def _hashable(v):
    try:
        hash(v)
    except TypeError:
        return False
    return True
