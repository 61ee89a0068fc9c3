"""Cross-validation (seed §3.3): k-fold, stratified k-fold, expanding-window time-series splits.

    cv = StratifiedKFold(n_splits=5, seed=0)
    res = cross_validate(lambda: Sequential([Embedding(V, 32), LSTM(32), Dense(1)])
                                 .compile("binary_crossentropy", metrics=["accuracy"]),
                         X, y, cv, fit_kwargs={"epochs": 5})
    res["mean"]["accuracy"], res["std"]["accuracy"]

Every splitter's ``split(n_or_y)`` takes a sample count or anything with a length (the targets;
``StratifiedKFold`` needs the class labels) and yields ``(train_idx, test_idx)`` pairs of sorted
int64 index arrays that do not overlap. K-fold test blocks cover every sample exactly once; fold
sizes differ by at most one. Randomness goes through ``seed`` (an explicit generator, no global state).

Time series need ``TimeSeriesSplit``: shuffled folds would train on the future and test on the past,
which flatters a forecaster. Each of its folds trains on everything before its test block (an
expanding window), optionally leaving a ``gap`` of samples out between them (so that windows that
overlap the test block's start cannot leak it).
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .model import Sequential

__all__ = ["KFold", "StratifiedKFold", "TimeSeriesSplit", "cross_validate"]


def _num_samples(n_or_y, name="n_or_y"):
    if isinstance(n_or_y, numbers.Integral) and not isinstance(n_or_y, (bool, np.bool_)):
        n = int(n_or_y)
    else:
        try:
            n = len(n_or_y)
        except TypeError:
            raise TypeError(f"{name}: expected a number of samples or a sequence of samples, "
                            f"got {type(n_or_y).__name__}") from None
    if n < 1:
        raise ValueError(f"{name}: expected at least one sample, got {n}")
    return n


def _check_n_splits(n_splits):
    if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool) or n_splits < 2:
        raise ValueError(f"n_splits: expected an integer >= 2, got {n_splits!r}")
    return int(n_splits)


def _fold_bounds(n, k):
    """Start/stop of k contiguous blocks over n items; the first n % k blocks get one more."""
    sizes = np.full(k, n // k, dtype=np.int64)
    sizes[: n % k] += 1
    stops = np.cumsum(sizes)
    return stops - sizes, stops


class KFold:
    """k folds; each sample is in exactly one test block. ``shuffle`` permutes first (with ``seed``)."""

    def __init__(self, n_splits=5, shuffle=True, seed=0):
        self.n_splits = _check_n_splits(n_splits)
        self.shuffle, self.seed = bool(shuffle), seed

    def get_n_splits(self, n_or_y=None):
        return self.n_splits

    def _test_folds(self, n):
        if self.n_splits > n:
            raise ValueError(f"n_splits: {self.n_splits} folds need at least {self.n_splits} samples, got {n}")
        order = np.random.default_rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        starts, stops = _fold_bounds(n, self.n_splits)
        return [order[a:b] for a, b in zip(starts, stops)]

    def split(self, n_or_y):
        n = _num_samples(n_or_y)
        fold = np.empty(n, dtype=np.int64)
        for f, idx in enumerate(self._test_folds(n)):
            fold[idx] = f
        for f in range(self.n_splits):
            yield np.flatnonzero(fold != f), np.flatnonzero(fold == f)

    def __repr__(self):
        return f"{type(self).__name__}(n_splits={self.n_splits}, shuffle={self.shuffle}, seed={self.seed!r})"


class StratifiedKFold(KFold):
    """k folds that keep each class's share in every fold (within one sample per class).

    ``split(y)``: class labels (1-D ints or strings), or one-hot / probability rows (argmax taken).
    Samples of each class are (optionally shuffled, then) dealt to the folds in turn, classes one
    after another, so both each class's count and the fold sizes differ by at most one between folds.
    """

    def _labels(self, y):
        if isinstance(y, numbers.Integral):
            raise TypeError("y: StratifiedKFold.split needs the class labels, not a sample count")
        if isinstance(y, (list, tuple)) and any(np.ndim(v) > 0 for v in y):
            y_arr = None
        else:
            y_arr = np.asarray(y)
        if y_arr is None or y_arr.ndim > 2 or y_arr.dtype.kind not in "iubUSf":
            raise TypeError("y: StratifiedKFold needs one class label per sample (1-D labels or one-hot "
                            "rows); sequences of labels cannot be stratified, use KFold")
        if y_arr.ndim == 2:  # a (n, 1) column of labels, or one-hot / probability rows
            y_arr = y_arr[:, 0] if y_arr.shape[1] == 1 else y_arr.argmax(axis=1)
        return y_arr.reshape(-1)

    def split(self, y):
        labels = self._labels(y)
        n = _num_samples(labels, "y")
        if self.n_splits > n:
            raise ValueError(f"n_splits: {self.n_splits} folds need at least {self.n_splits} samples, got {n}")
        classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if counts.min() < self.n_splits:
            warnings.warn(f"StratifiedKFold: the smallest class ({classes[counts.argmin()]!r}) has only "
                          f"{counts.min()} samples, fewer than n_splits={self.n_splits}; some test folds "
                          "will lack it", stacklevel=2)
        rng = np.random.default_rng(self.seed)
        order = []
        for c in range(len(classes)):
            idx = np.flatnonzero(inverse == c)
            order.append(rng.permutation(idx) if self.shuffle else idx)
        order = np.concatenate(order)
        fold = np.empty(n, dtype=np.int64)
        fold[order] = np.arange(n) % self.n_splits
        for f in range(self.n_splits):
            yield np.flatnonzero(fold != f), np.flatnonzero(fold == f)


class TimeSeriesSplit:
    """Expanding-window splits for ordered samples: fold k trains on [0, s_k - gap), tests on [s_k, s_k + m).

    The ``n_splits`` test blocks of ``test_size`` samples each are the last ``n_splits * test_size``
    samples, in time order. ``test_size`` defaults to ``n // (n_splits + 1)`` or, with ``min_train``,
    to ``(n - gap - min_train) // n_splits`` so that the first fold trains on at least ``min_train``
    samples. ``gap`` samples between each training set and its test block are left out of both.
    """

    def __init__(self, n_splits=5, min_train=None, gap=0, test_size=None):
        self.n_splits = _check_n_splits(n_splits)
        for name, v, lo in (("min_train", min_train, 1), ("test_size", test_size, 1)):
            if v is not None and (not isinstance(v, numbers.Integral) or v < lo):
                raise ValueError(f"{name}: expected an integer >= {lo} or None, got {v!r}")
        if not isinstance(gap, numbers.Integral) or gap < 0:
            raise ValueError(f"gap: expected an integer >= 0, got {gap!r}")
        self.min_train, self.gap, self.test_size = min_train, int(gap), test_size

    def get_n_splits(self, n_or_y=None):
        return self.n_splits

    def split(self, n_or_y):
        n = _num_samples(n_or_y)
        k, gap = self.n_splits, self.gap
        if self.test_size is not None:
            m = int(self.test_size)
        elif self.min_train is not None:
            m = (n - gap - int(self.min_train)) // k
        else:
            m = n // (k + 1)
        first_train = n - k * m - gap
        need = max(1, self.min_train or 1)
        if m < 1 or first_train < need:
            raise ValueError(f"TimeSeriesSplit: {n} samples are too few for n_splits={k}, gap={gap}, "
                             f"min_train={self.min_train}, test_size={self.test_size} (the first fold "
                             f"would train on {first_train} samples and test on {m})")
        for start in range(n - k * m, n, m):
            yield np.arange(start - gap, dtype=np.int64), np.arange(start, start + m, dtype=np.int64)

    def __repr__(self):
        return (f"TimeSeriesSplit(n_splits={self.n_splits}, min_train={self.min_train}, gap={self.gap}, "
                f"test_size={self.test_size})")


def _take(data, idx):
    """Rows ``idx`` of an array, or items of a (ragged) list or tuple."""
    if data is None:
        return None
    if isinstance(data, (list, tuple)):
        return [data[i] for i in idx]
    return np.asarray(data)[idx]


def _splits(cv, y, n):
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        return list(KFold(int(cv)).split(n))
    if isinstance(cv, (KFold, TimeSeriesSplit)):
        return list(cv.split(y))
    if hasattr(cv, "split"):  # a scikit-learn style splitter: split(X, y)
        return list(cv.split(np.zeros((n, 1)), y))
    try:
        return [(np.asarray(tr), np.asarray(te)) for tr, te in cv]
    except TypeError:
        raise TypeError(f"cv: expected a number of folds, a splitter with split(), or (train, test) index "
                        f"pairs, got {type(cv).__name__}") from None


def cross_validate(build_model, X, y, cv=5, fit_kwargs=None, lengths=None, scoring=None):
    """Train a fresh model per fold and score it on the fold's test part (seed §3.3).

    ``build_model``: a zero-argument callable returning a new compiled ``Sequential``.
    ``X``: a padded array (with optional ``lengths``) or a ragged list of sequences; ``y``: an array
    or a list (e.g. CTC label sequences), one entry per sample. ``cv``: a number of folds (``KFold``),
    a splitter from this module (``split(y)`` is called), a scikit-learn style splitter, or an
    iterable of ``(train_idx, test_idx)``. ``fit_kwargs`` go to ``fit`` (``verbose`` defaults to 0).
    ``scoring``: optional ``fn(model, X_test, y_test, lengths_test) -> float | dict``, or a dict
    ``{name: fn}``, adding scores to each fold's ``evaluate()`` logs (a bare float is named "score").

    Returns ``{"folds": [per-fold dict with train_size, test_size and every score], "scores":
    {name: [per-fold values]}, "mean": {name: float}, "std": {name: float} (population std, ddof=0),
    "train_size": [...], "test_size": [...], "history": [each fold's History.history]}``.
    """
    if not callable(build_model):
        raise TypeError(f"build_model: expected a zero-argument callable returning a compiled Sequential, "
                        f"got {type(build_model).__name__}")
    n = len(X)
    if len(y) != n:
        raise ValueError(f"y: expected {n} targets (one per sample of X), got {len(y)}")
    if lengths is not None:
        if isinstance(X, (list, tuple)):
            raise ValueError("lengths: give lengths only with a padded array, not with a ragged list")
        lengths = np.asarray(lengths)
        if lengths.shape != (n,):
            raise ValueError(f"lengths: expected shape ({n},), got {lengths.shape}")
    fit_kwargs = {"verbose": 0, **(fit_kwargs or {})}
    for key in ("lengths",):
        if key in fit_kwargs:
            raise ValueError(f"fit_kwargs: pass {key!r} to cross_validate itself, it is split per fold")
    if scoring is not None and not (callable(scoring) or isinstance(scoring, dict)):
        raise TypeError(f"scoring: expected a callable or a dict of callables, got {type(scoring).__name__}")

    folds, histories = [], []
    for f, (tr, te) in enumerate(_splits(cv, y, n)):
        tr, te = np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)
        if len(tr) == 0 or len(te) == 0:
            raise ValueError(f"cv: fold {f} has an empty training or test part")
        model = build_model()
        if not isinstance(model, Sequential) or getattr(model, "loss", None) is None:
            raise TypeError(f"build_model: expected a new compiled Sequential, got {model!r:.100}"
                            + (" (not compiled)" if isinstance(model, Sequential) else ""))
        model.fit(_take(X, tr), _take(y, tr), lengths=_take(lengths, tr), **fit_kwargs)
        Xte, yte, lte = _take(X, te), _take(y, te), _take(lengths, te)
        logs = {k: float(v) for k, v in model.evaluate(Xte, yte, lengths=lte).items()}
        if scoring is not None:
            fns = scoring if isinstance(scoring, dict) else {"score": scoring}
            for name, fn in fns.items():
                s = fn(model, Xte, yte, lte)
                if isinstance(s, dict):
                    logs.update({k: float(v) for k, v in s.items()})
                else:
                    logs[name] = float(s)
        folds.append({"fold": f, "train_size": int(len(tr)), "test_size": int(len(te)), **logs})
        histories.append(dict(model.history.history) if model.history is not None else {})
    if not folds:
        raise ValueError("cv: produced no folds")
    names = [k for k in folds[0] if k not in ("fold", "train_size", "test_size")]
    scores = {k: [fold[k] for fold in folds] for k in names}
    return {
        "folds": folds,
        "scores": scores,
        "mean": {k: float(np.mean(v)) for k, v in scores.items()},
        "std": {k: float(np.std(v)) for k, v in scores.items()},
        "train_size": [fold["train_size"] for fold in folds],
        "test_size": [fold["test_size"] for fold in folds],
        "history": histories,
    }
