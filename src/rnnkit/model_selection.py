"""Cross-validation (seed §3.3): k-fold, stratified k-fold, expanding-window time-series splits,
and a grid search over hyper-parameters, serial or in parallel (seed §3.1).

    cv = StratifiedKFold(n_splits=5, seed=0)
    res = cross_validate(lambda: Sequential([Embedding(V, 32), LSTM(32), Dense(1)])
                                 .compile("binary_crossentropy", metrics=["accuracy"]),
                         X, y, cv, fit_kwargs={"epochs": 5}, n_jobs=2)    # 2 worker processes
    res["mean"]["accuracy"], res["std"]["accuracy"]

    gs = grid_search(lambda units, lr: Sequential([LSTM(units), Dense(1)]).compile("mse", lr=lr),
                     {"units": [16, 32], "lr": [1e-3, 1e-2]}, X, y, cv=3, n_jobs=-1)
    gs["best_params"], gs["best_score"]

    with joblib.parallel_backend("dask"):          # on the cluster of the active dask Client
        res = cross_validate(build, X, y, 5, n_jobs=-1)

Folds (and grid points) are independent trainings: ``n_jobs`` > 1 runs them in worker processes
through joblib (``pip install 'rnnkit[parallel]'``), each with one BLAS thread, as the serial run
does, so the results are the same bit for bit (see ``rnnkit._parallel``).

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

import itertools
import numbers
import warnings

import numpy as np

from ._parallel import check_backend, check_n_jobs, parallel_map
from ._threads import blas_threads
from .model import Sequential

__all__ = ["KFold", "StratifiedKFold", "TimeSeriesSplit", "cross_validate", "grid_search"]


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
    """k folds; each sample is in exactly one test block. ``shuffle`` permutes first (with ``seed``).

    The test blocks are contiguous runs of the (shuffled) order, their sizes differing by at most one.

    Parameters
    ----------
    n_splits : int, optional
        The number of folds k, >= 2 (default 5).
    shuffle : bool, optional
        Permute the samples before cutting the blocks (default True).
    seed : int or None, optional
        The seed of the permutation (default 0; None: not reproducible).

    Raises
    ------
    ValueError
        If ``n_splits`` is not an integer >= 2.

    Examples
    --------
    >>> from rnnkit.model_selection import KFold
    >>> for train, test in KFold(n_splits=3, shuffle=False).split(6):
    ...     print(train, test)
    [2 3 4 5] [0 1]
    [0 1 4 5] [2 3]
    [0 1 2 3] [4 5]
    """

    def __init__(self, n_splits=5, shuffle=True, seed=0):
        self.n_splits = _check_n_splits(n_splits)
        self.shuffle, self.seed = bool(shuffle), seed

    def get_n_splits(self, n_or_y=None):
        """The number of folds.

        Parameters
        ----------
        n_or_y : object, optional
            Ignored (for scikit-learn's signature).

        Returns
        -------
        int
            ``n_splits``.
        """
        return self.n_splits

    def _test_folds(self, n):
        if self.n_splits > n:
            raise ValueError(f"n_splits: {self.n_splits} folds need at least {self.n_splits} samples, got {n}")
        order = np.random.default_rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        starts, stops = _fold_bounds(n, self.n_splits)
        return [order[a:b] for a, b in zip(starts, stops)]

    def split(self, n_or_y):
        """The folds of ``n_or_y``'s samples.

        Parameters
        ----------
        n_or_y : int or sized
            The number of samples, or anything with a length (e.g. the targets).

        Yields
        ------
        train_idx : numpy.ndarray of int64
            The sorted indices of the fold's training samples.
        test_idx : numpy.ndarray of int64
            The sorted indices of its test samples (every sample is in exactly one test block).

        Raises
        ------
        ValueError
            If there are no samples, or fewer samples than folds.
        TypeError
            If ``n_or_y`` is neither a number nor sized.
        """
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

    Parameters
    ----------
    n_splits : int, optional
        The number of folds k, >= 2 (default 5).
    shuffle : bool, optional
        Shuffle each class's samples before dealing them (default True).
    seed : int or None, optional
        The seed of the shuffle (default 0; None: not reproducible).

    Raises
    ------
    ValueError
        If ``n_splits`` is not an integer >= 2.

    Examples
    --------
    >>> from rnnkit.model_selection import StratifiedKFold
    >>> for train, test in StratifiedKFold(n_splits=2, shuffle=False).split(["a", "a", "a", "a", "b", "b"]):
    ...     print(train, test)
    [1 3 5] [0 2 4]
    [0 2 4] [1 3 5]
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
        """The stratified folds of the samples labelled ``y``.

        Parameters
        ----------
        y : array_like
            One class label per sample: (n,) ints or strings, an (n, 1) column, or (n, K) one-hot or
            probability rows (argmax taken).

        Yields
        ------
        train_idx : numpy.ndarray of int64
            The sorted indices of the fold's training samples.
        test_idx : numpy.ndarray of int64
            The sorted indices of its test samples.

        Raises
        ------
        TypeError
            If ``y`` is a sample count, or not one label per sample (e.g. label sequences: use ``KFold``).
        ValueError
            If there are fewer samples than folds.

        Warns
        -----
        UserWarning
            If a class has fewer samples than folds (some test folds will lack it).
        """
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

    Parameters
    ----------
    n_splits : int, optional
        The number of folds, >= 2 (default 5).
    min_train : int or None, optional
        The smallest training set of the first fold, >= 1 (default None: no requirement beyond one sample).
    gap : int, optional
        Samples left out between each training set and its test block, >= 0 (default 0).
    test_size : int or None, optional
        Samples per test block, >= 1 (default None: derived as above).

    Raises
    ------
    ValueError
        If a value is not an integer in its range.

    Examples
    --------
    >>> from rnnkit.model_selection import TimeSeriesSplit
    >>> for train, test in TimeSeriesSplit(n_splits=2, gap=1, test_size=2).split(8):
    ...     print(train, test)
    [0 1 2] [4 5]
    [0 1 2 3 4] [6 7]
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
        """The number of folds.

        Parameters
        ----------
        n_or_y : object, optional
            Ignored (for scikit-learn's signature).

        Returns
        -------
        int
            ``n_splits``.
        """
        return self.n_splits

    def split(self, n_or_y):
        """The expanding-window folds of ``n_or_y``'s samples, in time order.

        Parameters
        ----------
        n_or_y : int or sized
            The number of samples, or anything with a length (e.g. the targets).

        Yields
        ------
        train_idx : numpy.ndarray of int64
            ``0 .. s_k - gap - 1``: everything before the test block and its gap.
        test_idx : numpy.ndarray of int64
            ``s_k .. s_k + test_size - 1``.

        Raises
        ------
        ValueError
            If there are too few samples for ``n_splits``, ``gap``, ``min_train`` and ``test_size``.
        TypeError
            If ``n_or_y`` is neither a number nor sized.
        """
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


def _check_data(X, y, lengths, fit_kwargs, scoring):
    """The checked ``(n, lengths, fit_kwargs)`` shared by ``cross_validate`` and ``grid_search``."""
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
    return n, lengths, fit_kwargs


def _fold_indices(cv, y, n):
    """The checked ``(train_idx, test_idx)`` int64 pairs of ``cv``."""
    out = []
    for f, (tr, te) in enumerate(_splits(cv, y, n)):
        tr, te = np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)
        if len(tr) == 0 or len(te) == 0:
            raise ValueError(f"cv: fold {f} has an empty training or test part")
        out.append((tr, te))
    if not out:
        raise ValueError("cv: produced no folds")
    return out


def _run_fold(build_model, params, X, y, lengths, tr, te, fit_kwargs, scoring, f):
    """One fold, in this process or in a worker: build, fit and score a model with one BLAS thread.

    Returns only plain numbers, small to ship back: ``(fold dict, History.history, the names that
    ``scoring`` added in order)``.
    """
    with blas_threads(1):
        model = build_model(**params)
        if not isinstance(model, Sequential) or getattr(model, "loss", None) is None:
            raise TypeError(f"build_model: expected a new compiled Sequential, got {model!r:.100}"
                            + (" (not compiled)" if isinstance(model, Sequential) else ""))
        model.fit(_take(X, tr), _take(y, tr), lengths=_take(lengths, tr), **fit_kwargs)
        Xte, yte, lte = _take(X, te), _take(y, te), _take(lengths, te)
        logs = {k: float(v) for k, v in model.evaluate(Xte, yte, lengths=lte).items()}
        added = []
        if scoring is not None:
            fns = scoring if isinstance(scoring, dict) else {"score": scoring}
            for name, fn in fns.items():
                s = fn(model, Xte, yte, lte)
                extra = {k: float(v) for k, v in s.items()} if isinstance(s, dict) else {name: float(s)}
                logs.update(extra)
                added.extend(k for k in extra if k not in added)
    history = dict(model.history.history) if model.history is not None else {}
    fold = {"fold": f, "train_size": int(len(tr)), "test_size": int(len(te)), **logs}
    return fold, history, added


def _summary(runs):
    """cross_validate's result dict from the ``_run_fold`` results of one model's folds."""
    folds = [fold for fold, _, _ in runs]
    names = [k for k in folds[0] if k not in ("fold", "train_size", "test_size")]
    scores = {k: [fold[k] for fold in folds] for k in names}
    return {
        "folds": folds,
        "scores": scores,
        "mean": {k: float(np.mean(v)) for k, v in scores.items()},
        "std": {k: float(np.std(v)) for k, v in scores.items()},
        "train_size": [fold["train_size"] for fold in folds],
        "test_size": [fold["test_size"] for fold in folds],
        "history": [history for _, history, _ in runs],
    }


def cross_validate(build_model, X, y, cv=5, fit_kwargs=None, lengths=None, scoring=None, n_jobs=None,
                   backend=None):
    """Train a fresh model per fold and score it on the fold's test part (seed §3.3), optionally in
    parallel over the folds (seed §3.1).

    Every fold, serial or not, trains with one BLAS thread (``rnnkit._threads.blas_threads(1)``), so
    results from worker processes (loky, or Dask workers with one thread each) are identical, bit for
    bit, to the serial run's. (Threads share one BLAS setting, so the "threading" backend gives no such
    promise.) ``build_model`` and ``scoring`` travel to the workers pickled: with loky and Dask
    (cloudpickle) lambdas, closures and functools.partial all work; the ``"multiprocessing"`` backend
    needs module-level functions. n_jobs > 1 needs the ``parallel`` extra.

    Parameters
    ----------
    build_model : callable
        A zero-argument callable returning a new compiled ``Sequential``; every call must build the same
        model (the default ``seed=0`` of ``Sequential``: state kept between calls does not reach worker
        processes).
    X : numpy.ndarray or list of numpy.ndarray
        A padded (N, T, D) array (with optional ``lengths``; (N, T) token ids for an ``Embedding``) or a
        ragged list of N (T_i, D) sequences.
    y : numpy.ndarray or list
        An array or a list (e.g. CTC label sequences), one entry per sample.
    cv : int, splitter or iterable, optional
        A number of folds (``KFold``; default 5), a splitter from this module (``split(y)`` is called), a
        scikit-learn style splitter (``split(X, y)``), or an iterable of ``(train_idx, test_idx)``.
    fit_kwargs : dict or None, optional
        Keyword arguments of ``fit`` (``verbose`` defaults to 0); not ``lengths``.
    lengths : array_like of int or None, optional
        (N,) valid lengths of a padded ``X``, split per fold; None: every step counts.
    scoring : callable, dict or None, optional
        ``fn(model, X_test, y_test, lengths_test) -> float | dict``, or a dict ``{name: fn}``, adding
        scores to each fold's ``evaluate()`` logs (a bare float is named "score"). None: the logs only.
    n_jobs : int or None, optional
        None or 1 trains the folds one after another in this process; k > 1 trains them in k worker
        processes through ``joblib.Parallel`` (loky by default), -1 in one per core.
    backend : str or None, optional
        None uses joblib's backend for the context, so that
        ``with joblib.parallel_backend("dask"): cross_validate(..., n_jobs=-1)`` trains on the Dask
        cluster of the active ``dask.distributed.Client``; or a joblib backend name (``"loky"``,
        ``"threading"``, ``"dask"``: with a backend, joblib is used even for n_jobs None).

    Returns
    -------
    dict
        ``{"folds": [per-fold dict with "fold", "train_size", "test_size" and every score], "scores":
        {name: [per-fold values]}, "mean": {name: float}, "std": {name: float} (population std,
        ddof=0), "train_size": [int], "test_size": [int], "history": [each fold's History.history]}``.

    Raises
    ------
    TypeError
        If ``build_model`` is not callable or does not return a compiled ``Sequential``, ``cv`` is of no
        known kind, or ``scoring`` is neither callable nor a dict.
    ValueError
        If ``X``, ``y`` and ``lengths`` disagree, ``fit_kwargs`` holds ``lengths``, a fold is empty, or
        ``n_jobs`` / ``backend`` are invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import LSTM, Dense
    >>> from rnnkit.model import Sequential
    >>> from rnnkit.model_selection import cross_validate
    >>> X = np.random.default_rng(0).normal(size=(12, 4, 2))
    >>> build = lambda: Sequential([LSTM(4), Dense(1)], seed=0).compile("mse", metrics=["mae"])
    >>> res = cross_validate(build, X, X.sum(axis=(1, 2)), cv=3, fit_kwargs={"epochs": 1})
    >>> sorted(res["mean"]), res["train_size"], res["test_size"]
    (['loss', 'mae'], [8, 8, 8], [4, 4, 4])
    """
    if not callable(build_model):
        raise TypeError(f"build_model: expected a zero-argument callable returning a compiled Sequential, "
                        f"got {type(build_model).__name__}")
    n, lengths, fit_kwargs = _check_data(X, y, lengths, fit_kwargs, scoring)
    n_jobs, backend = check_n_jobs(n_jobs), check_backend(backend)
    tasks = [(build_model, {}, X, y, lengths, tr, te, fit_kwargs, scoring, f)
             for f, (tr, te) in enumerate(_fold_indices(cv, y, n))]
    return _summary(parallel_map(_run_fold, tasks, n_jobs, backend))


def _grid_points(param_grid):
    """Every combination of ``param_grid``'s values: keys in the dict's order, the last varying fastest."""
    if not isinstance(param_grid, dict):
        raise TypeError(f"param_grid: expected a dict {{name: [values]}}, got {type(param_grid).__name__}")
    grid = {}
    for name, values in param_grid.items():
        if not isinstance(name, str):
            raise TypeError(f"param_grid: parameter names must be strings, got {name!r}")
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise TypeError(f"param_grid[{name!r}]: expected a list of values, got {values!r:.80}")
        grid[name] = list(values)
        if not grid[name]:
            raise ValueError(f"param_grid[{name!r}]: expected at least one value, got none")
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def grid_search(build_model, param_grid, X, y, cv=5, fit_kwargs=None, lengths=None, scoring=None, n_jobs=None,
                backend=None):
    """Cross-validate every point of a parameter grid (seed §3.3), in parallel over (point, fold)
    pairs (seed §3.1); scikit-learn's ``GridSearchCV`` without the estimator object.

    The points are all combinations, in the order of ``itertools.product`` over the dict's keys as
    given: the first key varies slowest, the last fastest (``{"units": [4, 8], "lr": [1e-3, 1e-2]}`` ->
    (4, 1e-3), (4, 1e-2), (8, 1e-3), (8, 1e-2)). Every point is scored on the same folds, with the
    guarantee of ``cross_validate``: identical results whatever ``n_jobs``.

    The best point has the best mean over the folds of the first score that ``scoring`` adds,
    greater being better (scikit-learn's convention: return a negated error), or, without
    ``scoring``, the lowest mean "loss". Ties go to the earlier point; NaN means rank last.

    Parameters
    ----------
    build_model : callable
        ``build_model(**params)`` returns a new compiled ``Sequential`` for one point ``params``.
    param_grid : dict of str to list
        ``{name: [values]}``: the keyword arguments of ``build_model`` and the values to try (at least one
        each).
    X : numpy.ndarray or list of numpy.ndarray
        As in ``cross_validate``: a padded (N, T, D) array or a ragged list of N sequences.
    y : numpy.ndarray or list
        As in ``cross_validate``: one target per sample.
    cv : int, splitter or iterable, optional
        As in ``cross_validate`` (default 5 folds).
    fit_kwargs : dict or None, optional
        As in ``cross_validate``.
    lengths : array_like of int or None, optional
        As in ``cross_validate``.
    scoring : callable, dict or None, optional
        As in ``cross_validate``; its first score ranks the points.
    n_jobs : int or None, optional
        As in ``cross_validate``, over all (point, fold) pairs.
    backend : str or None, optional
        As in ``cross_validate``.

    Returns
    -------
    dict
        ``{"results": [per point, in grid order: cross_validate's dict plus "params" and "rank"
        (1 = best)], "params": [the points], "metric": the ranking score's name, "greater_is_better":
        bool, "best_index": int, "best_params": dict, "best_score": float (that point's mean)}``.

    Raises
    ------
    TypeError
        If ``build_model`` is not callable, ``param_grid`` is not a dict of lists, or as in
        ``cross_validate``.
    ValueError
        If a parameter has no values, or as in ``cross_validate``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import LSTM, Dense
    >>> from rnnkit.model import Sequential
    >>> from rnnkit.model_selection import grid_search
    >>> X = np.random.default_rng(0).normal(size=(12, 4, 2))
    >>> build = lambda units, lr: Sequential([LSTM(units), Dense(1)], seed=0).compile("mse", lr=lr)
    >>> gs = grid_search(build, {"units": [2, 4], "lr": [0.01, 0.1]}, X, X.sum(axis=(1, 2)), cv=2)
    >>> gs["metric"], len(gs["results"]), gs["best_params"] == gs["params"][gs["best_index"]]
    ('loss', 4, True)
    """
    if not callable(build_model):
        raise TypeError(f"build_model: expected a callable build_model(**params) returning a compiled "
                        f"Sequential, got {type(build_model).__name__}")
    points = _grid_points(param_grid)
    n, lengths, fit_kwargs = _check_data(X, y, lengths, fit_kwargs, scoring)
    n_jobs, backend = check_n_jobs(n_jobs), check_backend(backend)
    folds = _fold_indices(cv, y, n)
    tasks = [(build_model, params, X, y, lengths, tr, te, fit_kwargs, scoring, f)
             for params in points for f, (tr, te) in enumerate(folds)]
    runs = parallel_map(_run_fold, tasks, n_jobs, backend)
    k = len(folds)
    results = [{"params": dict(params), **_summary(runs[i * k:(i + 1) * k])} for i, params in enumerate(points)]
    added = runs[0][2]
    metric, greater = (added[0], True) if added else ("loss", False)
    means = [res["mean"][metric] for res in results]
    order = sorted(range(len(points)),
                   key=lambda i: (bool(np.isnan(means[i])), -means[i] if greater else means[i], i))
    for rank, i in enumerate(order, start=1):
        results[i]["rank"] = rank
    best = order[0]
    return {
        "results": results,
        "params": [dict(p) for p in points],
        "metric": metric,
        "greater_is_better": greater,
        "best_index": best,
        "best_params": dict(points[best]),
        "best_score": means[best],
    }
