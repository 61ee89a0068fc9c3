"""scikit-learn estimators over ``Sequential``: ``RNNClassifier`` and ``RNNRegressor`` (docs/sklearn.md).

    from rnnkit.estimators import RNNClassifier
    clf = RNNClassifier(cell="gru", hidden=32, pooling="mean", random_state=0).fit(X, y)

Importing this package needs scikit-learn (``pip install 'rnnkit[sklearn]'``); ``import rnnkit`` does
not import it. The aeon classifier is ``rnnkit.estimators.aeon.AeonRNNClassifier`` (needs aeon).
"""
from ._rnn import POOLINGS, RNNClassifier, RNNRegressor

__all__ = ["RNNClassifier", "RNNRegressor", "POOLINGS"]
