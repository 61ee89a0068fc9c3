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
    pred, true = _labels(out, y, loss)
    return float(np.mean(_select(pred, mask) == _select(true, mask)))


def mae(out, y, mask=None, loss="mse"):
    return float(np.mean(np.abs(_select(out - y, mask))))


def rmse(out, y, mask=None, loss="mse"):
    return float(np.sqrt(np.mean(_select(out - y, mask) ** 2)))


def precision_recall(pred, true, num_classes=None):
    """Per-class precision and recall (arrays indexed by class; 0 where undefined)."""
    pred, true = np.asarray(pred).ravel(), np.asarray(true).ravel()
    K = num_classes or int(max(pred.max(), true.max()) + 1)
    cm = confusion_matrix(pred, true, K)
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
    return precision, recall


def confusion_matrix(pred, true, num_classes):
    """cm[true, pred] counts."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(true).ravel(), np.asarray(pred).ravel()), 1)
    return cm


def macro_recall(out, y, mask=None, loss="crossentropy"):
    pred, true = _labels(out, y, loss)
    _, r = precision_recall(_select(pred, mask), _select(true, mask))
    return float(r.mean())


def macro_precision(out, y, mask=None, loss="crossentropy"):
    pred, true = _labels(out, y, loss)
    p, _ = precision_recall(_select(pred, mask), _select(true, mask))
    return float(p.mean())


METRICS = {"accuracy": accuracy, "mae": mae, "rmse": rmse,
           "macro_precision": macro_precision, "macro_recall": macro_recall}


def get(name):
    if callable(name):
        return name
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"metrics: expected names from {sorted(METRICS)}, got {name!r}") from None


def as_symbols(seq) -> list:
    """A sequence of symbols as a list: a string by character, an array or list by element."""
    return list(seq) if isinstance(seq, str) else np.asarray(seq).reshape(-1).tolist()


def edit_distance(ref, hyp) -> int:
    """Levenshtein distance between two sequences (unit cost substitution, insertion, deletion).

    ``ref`` and ``hyp`` are 1-D sequences of symbols (int arrays, lists, or strings, compared
    character by character)."""
    ref, hyp = as_symbols(ref), as_symbols(hyp)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]
