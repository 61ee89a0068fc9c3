"""``RNNClassifier`` and ``RNNRegressor``: scikit-learn estimators over ``Sequential`` (docs/sklearn.md).

The network is one recurrent layer stack (seed §4: ``cell``, ``hidden``, ``layers``, ``bidirectional``),
a summary of each sequence (``pooling``: the last state, or the mean / max over every valid step,
``layers.TemporalPooling``), dropout, and a ``Dense`` output: softmax cross-entropy over the classes,
or mean squared error. Training is ``Sequential.fit`` with Adam, a held-out ``validation_fraction``
(stratified for classifiers) and early stopping after ``patience`` epochs without improvement,
restoring the best weights.

Every option is a constructor parameter stored as given (scikit-learn's convention: checked in
``fit``), so ``clone``, ``GridSearchCV``, ``Pipeline`` and pickling work. X may be a 3-D array
(samples, time, channels), a list of (time_i, channels) arrays of different lengths, or a 2-D array
(samples, time) of univariate series; see ``fit``.
"""
from __future__ import annotations

import numpy as np

from ..callbacks import EarlyStopping
from ..layers import AttentionPooling, Dense, Dropout, Recurrent, TemporalPooling
from ..model import Sequential
from ..ops import activations as A
from . import _data

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_consistent_length, check_is_fitted, column_or_1d
except ImportError as e:                # pragma: no cover - the extra is installed wherever tests run
    raise ImportError("rnnkit.estimators needs scikit-learn: pip install 'rnnkit[sklearn]'") from e

POOLINGS = ("last", "mean", "max", "attention")


class _RNNEstimator(BaseEstimator):
    """What the classifier and the regressor share: the network, the inputs, training and pickling."""

    _loss = None

    def __init__(self, cell="lstm", hidden=64, layers=1, bidirectional=False, pooling="last", dropout=0.0,
                 epochs=100, batch_size=32, lr=1e-3, clip_norm=1.0, validation_fraction=0.1, patience=10,
                 standardize=True, max_steps=None, warm_start=False, dtype="float32", random_state=None, verbose=0):
        self.cell = cell
        self.hidden = hidden
        self.layers = layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.clip_norm = clip_norm
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.standardize = standardize
        self.max_steps = max_steps
        self.warm_start = warm_start
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # -- the network ---------------------------------------------------------------------------
    def _build(self, outputs):
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling: expected one of {POOLINGS}, got {self.pooling!r:.50}")
        stack = [Recurrent(self.hidden, num_layers=self.layers, bidirectional=self.bidirectional,
                           return_sequences=self.pooling != "last", dropout=self.dropout, cell=self.cell)]
        if self.pooling == "attention":             # a learned query over the valid steps (seed §6)
            stack.append(AttentionPooling())
        elif self.pooling != "last":
            stack.append(TemporalPooling(self.pooling))
        if self.dropout:
            stack.append(Dropout(self.dropout))
        model = Sequential(stack + [Dense(outputs)], seed=_data.seed(self.random_state), dtype=self.dtype)
        return model.compile(self._loss, optimizer="adam", lr=self.lr, clip_norm=self.clip_norm)

    # -- inputs --------------------------------------------------------------------------------
    def _inputs(self, X, fitting=False):
        """X -> (scaled padded array, lengths); in ``fit`` (not warm) it fixes the input attributes."""
        Xp, lengths, table = _data.as_sequences(X, np.dtype(self.dtype))
        if fitting:
            self.n_features_in_ = Xp.shape[1] if table else Xp.shape[2]
            self.n_channels_, self._table = Xp.shape[2], table
            if self.standardize:
                self.mean_, self.scale_ = _data.mean_and_scale(_data.valid_steps(Xp, lengths))
            else:
                self.mean_ = self.scale_ = None
            self.chunk_ = _data.chunk_factor(Xp.shape[1], self.max_steps)
        else:
            name = type(self).__name__
            if table and self._table and Xp.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {Xp.shape[1]} features, but {name} is expecting {self.n_features_in_} "
                                 "features as input (a 2-D X is a table of univariate series, one time step per "
                                 "column; pass series of another length as a list or a 3-D array)")
            if Xp.shape[2] != self.n_channels_:
                raise ValueError(f"X has {Xp.shape[2]} channel(s), but {name} was fit on {self.n_channels_} "
                                 "(X is (samples, time, channels), a list of (time, channels) arrays, or "
                                 "(samples, time) for univariate series)")
        if self.mean_ is not None:
            Xp = ((Xp - self.mean_) / self.scale_).astype(Xp.dtype)
            if lengths is not None:     # padding back to 0: a chunk may hold real and padded steps side by side
                Xp[np.arange(Xp.shape[1])[None, :] >= lengths[:, None]] = 0
        return _data.chunk(Xp, lengths, self.chunk_)

    def _outputs(self, X):
        """The network's raw outputs (N, K) for X, in float64."""
        check_is_fitted(self, "model_")
        Xp, lengths = self._inputs(X)
        return self.model_.predict(Xp, lengths, channels_first=False).astype(np.float64)

    # -- training ------------------------------------------------------------------------------
    def _class_weights(self):
        return None

    def _train(self, X, y, sample_weight):
        """Fit (or, with ``warm_start``, continue fitting) on X and the targets ``_encode`` makes of y."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        frac = self.validation_fraction
        if not 0 <= frac < 1:
            raise ValueError(f"validation_fraction: expected a fraction in [0, 1), got {frac!r:.50}")
        warm = self.warm_start and hasattr(self, "model_")
        if not warm:                    # a refit that fails leaves no network fitted to other data
            self.__dict__.pop("model_", None)
        Xp, lengths = self._inputs(X, fitting=not warm)
        targets, outputs = self._encode(y, len(Xp), warm)
        sw = _data.sample_weight(sample_weight, len(Xp))
        if not warm:
            self.model_ = self._build(outputs)
            self.n_epochs_ = 0
        held_out = frac > 0 and round(frac * len(Xp)) >= 1       # too few samples to hold one out: none
        callbacks = []
        if self.patience is not None:
            callbacks.append(EarlyStopping(monitor="val_loss" if held_out else "loss", patience=self.patience,
                                           restore_best_weights=True))
        history = self.model_.fit(Xp, targets, epochs=self.n_epochs_ + self.epochs, batch_size=self.batch_size,
                                  lengths=lengths, validation_split=frac if held_out else 0.0, callbacks=callbacks,
                                  verbose=self.verbose, initial_epoch=self.n_epochs_, sample_weight=sw,
                                  class_weight=self._class_weights(), channels_first=False)
        self.history_ = {k: list(v) for k, v in history.history.items()}
        # model_ reads prepared input; its metadata says how to prepare it (a saved model_ alone has it)
        self.model_.metadata = {"estimator": type(self).__name__, "chunk": int(self.chunk_),
                                "channels": int(self.n_channels_),
                                "mean": None if self.mean_ is None else np.asarray(self.mean_).tolist(),
                                "scale": None if self.scale_ is None else np.asarray(self.scale_).tolist()}
        self.n_epochs_ += len(history.epochs)
        return self

    # -- pickling: a Sequential holds its cells' op modules, which pickle cannot store -------------
    def __getstate__(self):
        state = dict(super().__getstate__())          # (on Python 3.11+ the base returns __dict__ itself)
        model = state.pop("model_", None)
        if model is not None:
            state["_model_state"] = (model.get_config(), model.get_weights(), model.optimizer.get_state())
        return state

    def __setstate__(self, state):
        saved = state.pop("_model_state", None)
        super().__setstate__(state)
        if saved is not None:
            config, weights, optimizer = saved
            self.model_ = Sequential.from_config(config)
            self.model_.set_weights(weights)
            self.model_.optimizer.set_state(optimizer)


class RNNClassifier(ClassifierMixin, _RNNEstimator):
    """A recurrent network that labels sequences; scikit-learn's classifier API.

    ``fit(X, y, sample_weight=None)``: X as (samples, time, channels), a list of (time_i, channels)
    arrays, or (samples, time) univariate series; y one label per sequence (any comparable kind);
    ``class_weight`` a dict {label: weight} or "balanced". After fit: ``classes_``, ``n_features_in_``
    (a 2-D X's time steps, else the channels), ``n_channels_``, ``model_`` (the ``Sequential``),
    ``history_`` (per-epoch "loss", "val_loss"), ``n_epochs_``; ``mean_`` / ``scale_`` per channel
    with ``standardize``. With ``warm_start``, a new ``fit`` trains the same network ``epochs`` more.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, optional
        The recurrent cell (seed §4). Default ``"gru"``.
    hidden : int, optional
        Hidden size of each recurrent layer (and direction). Default 32.
    layers : int, optional
        Number of stacked recurrent layers (seed §4.3). Default 1.
    bidirectional : bool, optional
        Run each layer in both directions (seed §4.4). Default True.
    pooling : {"last", "mean", "max", "attention"}, optional
        The sequence's summary: the last state, the mean / max over every valid step
        (``layers.TemporalPooling``), or a learned query attending over the valid steps
        (``layers.AttentionPooling``, seed §6). Default ``"max"``.
    dropout : float, optional
        Dropout rate between stacked layers and before the output layer. Default 0.0.
    epochs : int, optional
        Most training epochs (early stopping may end sooner). Default 200.
    batch_size : int, optional
        Sequences per Adam step. Default 8.
    lr : float, optional
        Adam's learning rate. Default 3e-3.
    clip_norm : float, optional
        Maximum global gradient norm. Default 1.0.
    validation_fraction : float, optional
        Held-out fraction in [0, 1) (stratified by class), watched by early stopping; with too few
        samples to hold one out, early stopping watches the training loss. Default 0.2.
    patience : int or None, optional
        Epochs without improvement before stopping, restoring the best epoch's weights; None turns early
        stopping off. Default 30.
    standardize : bool, optional
        Scale each input channel by the training data's mean and std (over valid steps). Default True.
    max_steps : int or None, optional
        Longer series are read in chunks: ``k = ceil(T / max_steps)`` consecutive steps of every channel
        side by side form one model step, so the recurrence runs at most ``max_steps`` steps; None: every
        step. Default 100.
    class_weight : dict or "balanced", optional
        ``{label: weight}`` or ``"balanced"``. Default None (equal weights).
    warm_start : bool, optional
        A new ``fit`` continues training the fitted network for ``epochs`` more. Default False.
    dtype : {"float32", "float64"}, optional
        The network's dtype; ``"float64"`` for exact reproducibility across batch orders. Default ``"float32"``.
    random_state : int or None, optional
        An int makes ``fit`` reproducible (initialisation, shuffling, the validation split, dropout).
        Default None.
    verbose : int, optional
        0: silent; 1: a progress bar and a line per epoch; 2: the lines. Default 0.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.estimators import RNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((8, 5, 2)), np.array(["a", "b"] * 4)
    >>> clf = RNNClassifier(hidden=4, epochs=2, random_state=0).fit(X, y)
    >>> clf.classes_, clf.predict_proba(X[:3]).shape, set(clf.predict(X)) <= {"a", "b"}
    (array(['a', 'b'], dtype='<U1'), (3, 2), True)
    """

    _loss = "crossentropy"

    def __init__(self, cell="gru", hidden=32, layers=1, bidirectional=True, pooling="max", dropout=0.0,
                 epochs=200, batch_size=8, lr=3e-3, clip_norm=1.0, validation_fraction=0.2, patience=30,
                 standardize=True, max_steps=100, class_weight=None, warm_start=False, dtype="float32",
                 random_state=None, verbose=0):
        super().__init__(cell=cell, hidden=hidden, layers=layers, bidirectional=bidirectional, pooling=pooling,
                         dropout=dropout, epochs=epochs, batch_size=batch_size, lr=lr, clip_norm=clip_norm,
                         validation_fraction=validation_fraction, patience=patience, standardize=standardize,
                         max_steps=max_steps, warm_start=warm_start, dtype=dtype, random_state=random_state,
                         verbose=verbose)
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Train on sequences X and their labels y.

        Parameters
        ----------
        X : array_like or list of array_like
            Sequences: (samples, time, channels), a list of (time_i, channels) arrays of different lengths,
            or (samples, time) univariate series; float.
        y : array_like
            One label per sequence, (samples,), any comparable kind; at least 2 classes.
        sample_weight : array_like, optional
            (samples,) non-negative weights. Default None (equal weights).

        Returns
        -------
        RNNClassifier
            ``self``, fitted.

        Raises
        ------
        ValueError
            If y is None or malformed, an option is out of range (e.g. ``pooling``,
            ``validation_fraction``, ``max_steps``), or X is malformed.
        """
        return self._train(X, y, sample_weight)

    def _encode(self, y, n, warm):
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n), y)
        check_classification_targets(y)
        if warm:
            unknown = ~np.isin(y, self.classes_)
            if unknown.any():
                raise ValueError(f"y: label(s) {np.unique(y[unknown])[:5].tolist()} are not among the classes "
                                 f"{self.classes_.tolist()} of the first fit (warm_start continues that fit)")
        else:
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"y: needs samples of at least 2 classes, got 1 class ({self.classes_[0]!r})")
        return np.searchsorted(self.classes_, y), len(self.classes_)

    def _class_weights(self):
        """``class_weight`` keyed by class id (``Sequential`` receives the labels encoded)."""
        if not isinstance(self.class_weight, dict):
            return self.class_weight          # None, "balanced", or a mistake Sequential names
        ids = {}
        for label, w in self.class_weight.items():
            i = np.flatnonzero(self.classes_ == label)
            if len(i) != 1:
                raise ValueError(f"class_weight: {label!r:.80} is not a class; the classes are "
                                 f"{self.classes_.tolist()!r:.200}")
            ids[int(i[0])] = w
        return ids

    def predict_proba(self, X):
        """Class probabilities, columns in ``classes_`` order.

        Parameters
        ----------
        X : array_like or list of array_like
            Sequences: (samples, time, channels), a list of (time_i, channels) arrays of different lengths,
            or (samples, time) univariate series; float.

        Returns
        -------
        numpy.ndarray
            (samples, classes) float64 probabilities; each row sums to 1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X has another number of channels (or time steps, for a 2-D table) than in ``fit``.
        """
        return A.softmax(self._outputs(X))

    def predict(self, X):
        """Predicted labels: the most probable class of each sequence.

        Parameters
        ----------
        X : array_like or list of array_like
            Sequences: (samples, time, channels), a list of (time_i, channels) arrays of different lengths,
            or (samples, time) univariate series; float.

        Returns
        -------
        numpy.ndarray
            (samples,) labels, taken from ``classes_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X has another number of channels (or time steps, for a 2-D table) than in ``fit``.
        """
        check_is_fitted(self, "model_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class RNNRegressor(RegressorMixin, _RNNEstimator):
    """A recurrent network that maps each sequence to one value (or a vector); scikit-learn's regressor API.

    X as for ``RNNClassifier``; y (samples,) or (samples, outputs). With ``standardize`` the targets
    are scaled too (``y_mean_``, ``y_scale_``), and predictions come back in y's units: a network
    trained by mean squared error learns badly on targets in the thousands. Attributes as for the
    classifier, plus ``n_outputs_``.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, optional
        The recurrent cell (seed §4). Default ``"lstm"``.
    hidden : int, optional
        Hidden size of each recurrent layer (and direction). Default 64.
    layers : int, optional
        Number of stacked recurrent layers (seed §4.3). Default 1.
    bidirectional : bool, optional
        Run each layer in both directions (seed §4.4). Default False.
    pooling : {"last", "mean", "max", "attention"}, optional
        The sequence's summary: the last state, the mean / max over every valid step
        (``layers.TemporalPooling``), or a learned query attending over the valid steps
        (``layers.AttentionPooling``, seed §6). Default ``"last"``.
    dropout : float, optional
        Dropout rate between stacked layers and before the output layer. Default 0.0.
    epochs : int, optional
        Most training epochs (early stopping may end sooner). Default 100.
    batch_size : int, optional
        Sequences per Adam step. Default 32.
    lr : float, optional
        Adam's learning rate. Default 1e-3.
    clip_norm : float, optional
        Maximum global gradient norm. Default 1.0.
    validation_fraction : float, optional
        Held-out fraction in [0, 1), watched by early stopping; with too few samples to hold one out,
        early stopping watches the training loss. Default 0.1.
    patience : int or None, optional
        Epochs without improvement before stopping, restoring the best epoch's weights; None turns early
        stopping off. Default 10.
    standardize : bool, optional
        Scale each input channel by the training data's mean and std (over valid steps); the targets are
        scaled too and predictions come back in their units. Default True.
    max_steps : int or None, optional
        Longer series are read in chunks: ``k = ceil(T / max_steps)`` consecutive steps of every channel
        side by side form one model step, so the recurrence runs at most ``max_steps`` steps; None: every
        step. Default None.
    warm_start : bool, optional
        A new ``fit`` continues training the fitted network for ``epochs`` more. Default False.
    dtype : {"float32", "float64"}, optional
        The network's dtype; ``"float64"`` for exact reproducibility across batch orders. Default ``"float32"``.
    random_state : int or None, optional
        An int makes ``fit`` reproducible (initialisation, shuffling, the validation split, dropout).
        Default None.
    verbose : int, optional
        0: silent; 1: a progress bar and a line per epoch; 2: the lines. Default 0.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.estimators import RNNRegressor
    >>> X = np.random.default_rng(0).standard_normal((8, 5, 2))
    >>> reg = RNNRegressor(hidden=4, epochs=2, random_state=0).fit(X, X.sum(axis=(1, 2)))
    >>> reg.predict(X[:3]).shape, reg.n_outputs_
    ((3,), 1)
    """

    _loss = "mse"

    def fit(self, X, y, sample_weight=None):
        """Train on sequences X and their targets y.

        Parameters
        ----------
        X : array_like or list of array_like
            Sequences: (samples, time, channels), a list of (time_i, channels) arrays of different lengths,
            or (samples, time) univariate series; float.
        y : array_like
            Targets, (samples,) or (samples, outputs), float.
        sample_weight : array_like, optional
            (samples,) non-negative weights. Default None (equal weights).

        Returns
        -------
        RNNRegressor
            ``self``, fitted.

        Raises
        ------
        ValueError
            If y is None or malformed, an option is out of range (e.g. ``pooling``,
            ``validation_fraction``, ``max_steps``), or X is malformed.
        """
        return self._train(X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode(self, y, n, warm):
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim > 2:
            raise ValueError(f"y: expected (samples,) or (samples, outputs), got shape {y.shape}")
        check_consistent_length(np.empty(n), y)
        y2 = y.reshape(n, -1)
        if warm:
            if y2.shape[1] != self.n_outputs_:
                raise ValueError(f"y: {y2.shape[1]} output(s), but the first fit had {self.n_outputs_} "
                                 "(warm_start continues that fit)")
        else:
            self.n_outputs_ = y2.shape[1]
            self.y_mean_, self.y_scale_ = _data.mean_and_scale(y2) if self.standardize else (None, None)
        if self.y_mean_ is not None:
            y2 = (y2 - self.y_mean_) / self.y_scale_
        return y2, self.n_outputs_

    def predict(self, X):
        """Predictions in y's units.

        Parameters
        ----------
        X : array_like or list of array_like
            Sequences: (samples, time, channels), a list of (time_i, channels) arrays of different lengths,
            or (samples, time) univariate series; float.

        Returns
        -------
        numpy.ndarray
            float64, (samples,) for one output, else (samples, outputs).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If X has another number of channels (or time steps, for a 2-D table) than in ``fit``.
        """
        out = self._outputs(X)
        if self.y_mean_ is not None:
            out = out * self.y_scale_ + self.y_mean_
        return out.ravel() if self.n_outputs_ == 1 else out
