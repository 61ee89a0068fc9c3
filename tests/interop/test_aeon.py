"""rnnkit.estimators.aeon.AeonRNNClassifier: aeon's own estimator checks, its channels-first inputs
(equal and unequal lengths) against ``RNNClassifier`` on the transposed series, and BasicMotions."""
import inspect

import numpy as np
from aeon.datasets import load_basic_motions
from aeon.testing.estimator_checking import parametrize_with_checks

from rnnkit.estimators import RNNClassifier
from rnnkit.estimators.aeon import AeonRNNClassifier


@parametrize_with_checks([AeonRNNClassifier])
def test_aeon_estimator_checks(check):
    check()


def test_same_parameters_and_defaults_as_rnn_classifier():
    # the lead tunes RNNClassifier's defaults; the aeon classifier must follow them
    ours = {k: p.default for k, p in inspect.signature(AeonRNNClassifier).parameters.items()}
    theirs = {k: p.default for k, p in inspect.signature(RNNClassifier).parameters.items()}
    assert ours == theirs


def test_channels_first_collections_equal_rnn_classifier_on_transposed_series():
    rng = np.random.default_rng(0)
    lengths = rng.integers(4, 12, size=30)
    X = [rng.standard_normal((3, int(n))) for n in lengths]            # aeon: (channels, length_i)
    y = np.array(["a" if x[1].mean() > 0 else "b" for x in X])
    params = dict(hidden=8, epochs=5, lr=0.05, batch_size=8, random_state=0)
    clf = AeonRNNClassifier(**params).fit(X, y)
    ref = RNNClassifier(**params).fit([x.T for x in X], y)
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba([x.T for x in X]))
    assert list(clf.classes_) == list(ref.classes_) == ["a", "b"]
    assert clf.rnn_.n_channels_ == 3
    equal = rng.standard_normal((10, 3, 6))                           # (cases, channels, length)
    np.testing.assert_array_equal(clf.predict(equal), ref.predict(equal.transpose(0, 2, 1)))


def test_basic_motions():
    X_train, y_train = load_basic_motions(split="train")
    X_test, y_test = load_basic_motions(split="test")
    clf = AeonRNNClassifier(cell="gru", hidden=16, pooling="mean", epochs=15, lr=0.02, batch_size=8, random_state=0)
    assert clf.fit(X_train, y_train).score(X_test, y_test) > 0.8      # 0.975 when written; 1-NN DTW: 0.975
