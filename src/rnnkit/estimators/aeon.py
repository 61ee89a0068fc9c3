"""``AeonRNNClassifier``: ``RNNClassifier`` as an aeon time-series classifier (docs/sklearn.md).

aeon's collections are channels-first: a (cases, channels, length) array, or a list of
(channels, length_i) arrays of different lengths; aeon checks and converts X (``X_inner_type``) and
encodes the labels, and this class hands the series, transposed to rnnkit's (time, channels), to an
``RNNClassifier`` with the same parameters (``rnn_`` after fit). Needs aeon: ``pip install 'rnnkit[aeon]'``.
"""
from __future__ import annotations

from ._rnn import RNNClassifier

try:
    from aeon.classification.base import BaseClassifier
except ImportError as e:                # pragma: no cover - the extra is installed wherever tests run
    raise ImportError("rnnkit.estimators.aeon needs aeon: pip install 'rnnkit[aeon]'") from e


class AeonRNNClassifier(BaseClassifier):
    """A recurrent network over multivariate series of any length, with aeon's classifier API.

    X is aeon's channels-first collection: (cases, channels, length), or a list of (channels, length_i)
    arrays. The parameters are those of ``RNNClassifier`` (the same names and defaults, passed on
    unchanged to the ``RNNClassifier`` fitted as ``rnn_``).

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
    >>> from rnnkit.estimators.aeon import AeonRNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((8, 2, 5)), np.array(["a", "b"] * 4)
    >>> clf = AeonRNNClassifier(hidden=4, epochs=2, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape, clf.rnn_.n_channels_
    ((3, 2), 2)
    """

    _tags = {
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "X_inner_type": ["np-list", "numpy3D"],
        "algorithm_type": "deeplearning",
    }

    def __init__(self, cell="gru", hidden=32, layers=1, bidirectional=True, pooling="max", dropout=0.0,
                 epochs=200, batch_size=8, lr=3e-3, clip_norm=1.0, validation_fraction=0.2, patience=30,
                 standardize=True, max_steps=100, class_weight=None, warm_start=False, dtype="float32",
                 random_state=None, verbose=0):
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
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        super().__init__()

    def _fit(self, X, y):
        self.rnn_ = RNNClassifier(**self.get_params())
        self.rnn_.fit(_time_major(X), y)
        return self

    def _predict_proba(self, X):
        return self.rnn_.predict_proba(_time_major(X))

    def _predict(self, X):
        return self.rnn_.predict(_time_major(X))

    @classmethod
    def _get_test_params(cls, parameter_set="default"):
        """A small network for aeon's estimator checks."""
        return {"hidden": 4, "epochs": 3, "batch_size": 8, "random_state": 0}


def _time_major(X):
    """aeon's (cases, channels, length) array or list of (channels, length_i) -> rnnkit's (time, channels)."""
    if isinstance(X, list):
        return [x.T for x in X]
    return X.transpose(0, 2, 1)
