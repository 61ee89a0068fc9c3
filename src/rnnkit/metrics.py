"""Metrics computed from model outputs (logits for classifiers) and targets, honouring masks.

Each metric is ``fn(out, y, mask, loss) -> float``: ``mask`` (None, or the batch's boolean mask of
counted steps for per-step outputs) and ``loss`` tells how to read ``out`` (logits for
"binary_crossentropy"/"crossentropy", values for "mse").
"""
from __future__ import annotations

import numpy as np


def _labels(out, y, loss):
    if loss == "binary_crossentropy":
        return (out > 0).astype(np.int64), np.asarray(y).astype(np.int64)
    if loss == "crossentropy":
        y = np.asarray(y)
        true = y if np.issubdtype(y.dtype, np.integer) else y.argmax(-1)
        return out.argmax(-1), true
    raise ValueError(f"metric: classification metrics need a classification loss, got {loss!r}")


def _select(a, mask):
    """Keep the counted positions; ``a`` has the mask's shape (+ any trailing axes)."""
    return a if mask is None else a[mask]


def accuracy(out, y, mask=None, loss="crossentropy"):
    """Fraction of the counted positions whose predicted class is the target class.

    Parameters
    ----------
    out : numpy.ndarray
        The model's outputs: logits (B, K) or, per step, (B, T, K) for "crossentropy"; (B,) or (B, T) logits for
        "binary_crossentropy" (positive when > 0).
    y : array_like
        The targets, integer labels of the shape of ``out`` without its class axis, or one-hot / probability
        rows (argmax taken) for "crossentropy"; 0/1 labels for "binary_crossentropy".
    mask : numpy.ndarray of bool or None, optional
        For per-step outputs, the batch's (B, T) mask of counted steps; None (default) counts every
        position.
    loss : str, optional
        How to read ``out``: "crossentropy" or "binary_crossentropy". Default "crossentropy".

    Returns
    -------
    float
        The accuracy, in [0, 1].

    Raises
    ------
    ValueError
        If ``loss`` is not a classification loss.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.metrics import accuracy
    >>> out = np.array([[2.0, -1.0], [0.5, 1.5], [0.2, 0.1]])
    >>> round(accuracy(out, np.array([0, 1, 1])), 4)
    0.6667
    """
    pred, true = _labels(out, y, loss)
    return float(np.mean(_select(pred, mask) == _select(true, mask)))


def mae(out, y, mask=None, loss="mse"):
    """Mean absolute error over the counted positions: mean |out - y|.

    Parameters
    ----------
    out : numpy.ndarray
        The model's outputs: predicted values, e.g. (B, O) or (B, T, O).
    y : array_like
        The targets, of the shape of ``out``.
    mask : numpy.ndarray of bool or None, optional
        For per-step outputs, the batch's (B, T) mask of counted steps; None (default) counts every
        position.
    loss : str, optional
        How to read ``out``: unused for this metric (values, as for "mse"). Default "mse".

    Returns
    -------
    float
        The mean absolute error.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.metrics import mae
    >>> mae(np.array([1.0, 2.0]), np.array([1.5, 2.0]))
    0.25
    """
    return float(np.mean(np.abs(_select(out - y, mask))))


def rmse(out, y, mask=None, loss="mse"):
    """Root mean squared error over the counted positions: sqrt(mean (out - y)^2).

    Parameters
    ----------
    out : numpy.ndarray
        The model's outputs: predicted values, e.g. (B, O) or (B, T, O).
    y : array_like
        The targets, of the shape of ``out``.
    mask : numpy.ndarray of bool or None, optional
        For per-step outputs, the batch's (B, T) mask of counted steps; None (default) counts every
        position.
    loss : str, optional
        How to read ``out``: unused for this metric (values, as for "mse"). Default "mse".

    Returns
    -------
    float
        The root mean squared error.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.metrics import rmse
    >>> round(rmse(np.array([1.0, 2.0]), np.array([2.0, 2.0])), 4)
    0.7071
    """
    return float(np.sqrt(np.mean(_select(out - y, mask) ** 2)))


def precision_recall(pred, true, num_classes=None):
    """Per-class precision and recall (arrays indexed by class; 0 where undefined).

    Precision of class k: tp_k / (number predicted as k); recall: tp_k / (number whose target is k).

    Parameters
    ----------
    pred : array_like of int
        Predicted class indices, any shape (flattened).
    true : array_like of int
        Target class indices, of the shape of ``pred``.
    num_classes : int or None, optional
        The number of classes K; None (default) takes the largest index seen plus one.

    Returns
    -------
    precision : numpy.ndarray of float64
        (K,) per-class precision.
    recall : numpy.ndarray of float64
        (K,) per-class recall.

    Examples
    --------
    >>> from rnnkit.metrics import precision_recall
    >>> precision, recall = precision_recall([0, 1, 1, 2], [0, 1, 2, 2])
    >>> print(precision, recall)
    [1.  0.5 1. ] [1.  1.  0.5]
    """
    pred, true = np.asarray(pred).ravel(), np.asarray(true).ravel()
    K = num_classes or int(max(pred.max(), true.max()) + 1)
    cm = confusion_matrix(pred, true, K)
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
    return precision, recall


def confusion_matrix(pred, true, num_classes):
    """The confusion matrix: ``cm[true, pred]`` counts.

    Parameters
    ----------
    pred : array_like of int
        Predicted class indices in [0, num_classes), any shape (flattened).
    true : array_like of int
        Target class indices, of the shape of ``pred``.
    num_classes : int
        The number of classes K.

    Returns
    -------
    numpy.ndarray of int64
        (K, K) counts: row = target class, column = predicted class.

    Examples
    --------
    >>> from rnnkit.metrics import confusion_matrix
    >>> print(confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], 3))
    [[1 0 0]
     [0 1 0]
     [0 1 1]]
    """
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(true).ravel(), np.asarray(pred).ravel()), 1)
    return cm


def macro_recall(out, y, mask=None, loss="crossentropy"):
    """Recall averaged over the classes (each class counts alike: balanced accuracy).

    Parameters
    ----------
    out : numpy.ndarray
        The model's outputs: logits (B, K) or, per step, (B, T, K) for "crossentropy"; (B,) or (B, T) logits for
        "binary_crossentropy" (positive when > 0).
    y : array_like
        The targets, integer labels of the shape of ``out`` without its class axis, or one-hot / probability
        rows (argmax taken) for "crossentropy"; 0/1 labels for "binary_crossentropy".
    mask : numpy.ndarray of bool or None, optional
        For per-step outputs, the batch's (B, T) mask of counted steps; None (default) counts every
        position.
    loss : str, optional
        How to read ``out``: "crossentropy" or "binary_crossentropy". Default "crossentropy".

    Returns
    -------
    float
        The mean of the per-class recalls (``precision_recall``), in [0, 1].

    Raises
    ------
    ValueError
        If ``loss`` is not a classification loss.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.metrics import macro_recall
    >>> out = np.array([[2.0, -1.0], [0.5, 1.5], [0.2, 0.1]])
    >>> macro_recall(out, np.array([0, 1, 1]))
    0.75
    """
    pred, true = _labels(out, y, loss)
    _, r = precision_recall(_select(pred, mask), _select(true, mask))
    return float(r.mean())


def macro_precision(out, y, mask=None, loss="crossentropy"):
    """Precision averaged over the classes (each class counts alike).

    Parameters
    ----------
    out : numpy.ndarray
        The model's outputs: logits (B, K) or, per step, (B, T, K) for "crossentropy"; (B,) or (B, T) logits for
        "binary_crossentropy" (positive when > 0).
    y : array_like
        The targets, integer labels of the shape of ``out`` without its class axis, or one-hot / probability
        rows (argmax taken) for "crossentropy"; 0/1 labels for "binary_crossentropy".
    mask : numpy.ndarray of bool or None, optional
        For per-step outputs, the batch's (B, T) mask of counted steps; None (default) counts every
        position.
    loss : str, optional
        How to read ``out``: "crossentropy" or "binary_crossentropy". Default "crossentropy".

    Returns
    -------
    float
        The mean of the per-class precisions (``precision_recall``), in [0, 1].

    Raises
    ------
    ValueError
        If ``loss`` is not a classification loss.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.metrics import macro_precision
    >>> out = np.array([[2.0, -1.0], [0.5, 1.5], [0.2, 0.1]])
    >>> macro_precision(out, np.array([0, 1, 1]))
    0.75
    """
    pred, true = _labels(out, y, loss)
    p, _ = precision_recall(_select(pred, mask), _select(true, mask))
    return float(p.mean())


METRICS = {"accuracy": accuracy, "mae": mae, "rmse": rmse,
           "macro_precision": macro_precision, "macro_recall": macro_recall}


def get(name):
    """A metric function from its name, or a callable as it is.

    Parameters
    ----------
    name : str or callable
        One of "accuracy", "mae", "rmse", "macro_precision", "macro_recall", or a function
        ``fn(out, y, mask, loss) -> float``.

    Returns
    -------
    callable
        The metric ``fn(out, y, mask=None, loss=...) -> float``.

    Raises
    ------
    ValueError
        If ``name`` is neither a known name nor callable.

    Examples
    --------
    >>> from rnnkit import metrics
    >>> metrics.get("accuracy") is metrics.accuracy
    True
    """
    if callable(name):
        return name
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"metrics: expected names from {sorted(METRICS)}, got {name!r}") from None


def as_symbols(seq) -> list:
    """A sequence of symbols as a list: a string by character, an array or list by element.

    Parameters
    ----------
    seq : str or array_like
        A string, or an array or list of symbols (flattened).

    Returns
    -------
    list
        The symbols, in order (Python scalars for arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.metrics import as_symbols
    >>> as_symbols("abc"), as_symbols(np.array([[1, 2], [3, 4]]))
    (['a', 'b', 'c'], [1, 2, 3, 4])
    """
    return list(seq) if isinstance(seq, str) else np.asarray(seq).reshape(-1).tolist()


def edit_distance(ref, hyp) -> int:
    """Levenshtein distance between two sequences (unit cost substitution, insertion, deletion).

    Parameters
    ----------
    ref : str or array_like
        The reference: a 1-D sequence of symbols (int array, list, or string, compared character by
        character).
    hyp : str or array_like
        The hypothesis, of the same kind (its length may differ).

    Returns
    -------
    int
        The smallest number of edits that turns ``ref`` into ``hyp``.

    Examples
    --------
    >>> from rnnkit.metrics import edit_distance
    >>> edit_distance("kitten", "sitting"), edit_distance([1, 2, 3], [1, 3])
    (3, 1)
    """
    ref, hyp = as_symbols(ref), as_symbols(hyp)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]
