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

    Parameters: those of ``RNNClassifier`` (the same names and defaults, passed on unchanged).
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
