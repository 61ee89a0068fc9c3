"""rnnkit.estimators: scikit-learn's own estimator checks, the three input forms, standardisation,
class weights, warm start, pickling, and the tools practitioners reach for (clone, Pipeline,
GridSearchCV, cross_val_score)."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from rnnkit.estimators import RNNClassifier, RNNRegressor
from rnnkit.layers import TemporalPooling

# Small networks that still learn scikit-learn's check problems (blobs: accuracy > 0.83; a regression on
# 10 steps of which one is informative: R^2 > 0.5, which the GRU reaches more reliably than the LSTM, at
# 0.63-0.71 over seeds). float64: check_methods_sample_order_invariance compares predictions to 1e-7
# relative, finer than float32 arithmetic (a batch's row order changes BLAS's rounding at 1 ulp); in
# float32 every other check passes as well.
CHECKED = [RNNClassifier(hidden=8, epochs=10, lr=0.05, batch_size=16, dtype="float64"),
           RNNRegressor(cell="gru", hidden=8, epochs=20, lr=0.05, batch_size=16, dtype="float64")]

# Checks that cannot apply; keep this short.
SGD_WEIGHTS = ("mini-batch training: a sample of weight 2 and two copies of it land in different batches "
               "(and validation rows), so the fits differ, as for scikit-learn's own SGD estimators and MLP")
EXPECTED_FAILURES = {"check_sample_weight_equivalence_on_dense_data": SGD_WEIGHTS}


@parametrize_with_checks(CHECKED, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input(numpy) skips itself unless SCIPY_ARRAY_API is set: set it, so it runs
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


FAST = dict(hidden=8, epochs=15, lr=0.05, batch_size=16, random_state=0)


def sign_data(n=48, T=7, F=2, seed=0):
    """Sequences labelled by the sign of their first channel's mean."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, F))
    return X, np.where(X[:, :, 0].mean(axis=1) > 0, "up", "down")


def ragged_data(n=48, F=2, seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.standard_normal((int(T), F)) for T in rng.integers(3, 12, size=n)]
    return X, np.where(np.array([s[:, 0].mean() for s in X]) > 0, "up", "down")


# ----------------------------------------------------------------------------------------------
# Input forms.

@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_classifier_learns_ragged_sequences(pooling):
    X, y = ragged_data()
    clf = RNNClassifier(pooling=pooling, **FAST).fit(X, y)
    assert clf.score(X, y) > 0.8
    assert list(clf.classes_) == ["down", "up"] and clf.n_features_in_ == clf.n_channels_ == 2
    assert (pooling != "last") == any(isinstance(l, TemporalPooling) for l in clf.model_.layers)
    proba = clf.predict_proba(X)
    assert proba.shape == (48, 2) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_padding_of_a_ragged_batch_never_leaks():
    X, y = ragged_data(n=20)
    clf = RNNClassifier(pooling="mean", **FAST).fit(X, y)
    batch = clf.predict_proba(X)
    alone = np.concatenate([clf.predict_proba([s]) for s in X])    # each sequence without any padding
    np.testing.assert_allclose(alone, batch, rtol=1e-5, atol=1e-6)


def test_two_d_input_is_a_table_of_univariate_series():
    X, y = sign_data(F=1)
    table = X[:, :, 0]
    clf = RNNClassifier(**FAST).fit(table, y)
    assert clf.n_features_in_ == 7 and clf.n_channels_ == 1
    # the same series as (N, T, 1) and as a list: the same predictions; other lengths through a list
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(table), rtol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(list(table)), clf.predict_proba(table), rtol=1e-6)
    assert clf.predict([table[0, :3], table[1]]).shape == (2,)
    with pytest.raises(ValueError, match="X has 5 features, but RNNClassifier is expecting 7"):
        clf.predict(table[:, :5])
    with pytest.raises(ValueError, match="X has 2 channel"):
        clf.predict(np.zeros((3, 7, 2)))


def test_input_errors():
    X, y = sign_data(n=12)
    clf = RNNClassifier(**FAST)
    with pytest.raises(ValueError, match="different numbers of channels"):
        clf.fit([np.zeros((3, 2)), np.zeros((4, 3))], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        clf.fit([np.zeros((3, 2)), np.full((4, 2), np.nan)], [0, 1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, ["a"] * 12)
    with pytest.raises(ValueError, match="pooling"):
        RNNClassifier(pooling="sum", **FAST).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        RNNClassifier(validation_fraction=1.0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="hidden_size"):
        RNNClassifier(**{**FAST, "hidden": 0}).fit(X, y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X[:, :3], ["a"] * 12)
    with pytest.raises(NotFittedError):             # not the old network with the new inputs' attributes
        clf.predict(X)


# ----------------------------------------------------------------------------------------------
# Standardisation, weights, warm start, pickling.

def test_standardize_uses_the_valid_steps_of_the_training_data():
    X, y = ragged_data(n=10)
    X = [s * [1.0, 100.0] + [0.0, 50.0] for s in X]
    clf = RNNClassifier(**{**FAST, "epochs": 1}).fit(X, y)
    steps = np.concatenate(X).astype(np.float32).astype(np.float64)   # the estimator's dtype: float32
    np.testing.assert_allclose(clf.mean_, steps.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(clf.scale_, steps.std(axis=0), rtol=1e-10)
    assert RNNClassifier(standardize=False, **{**FAST, "epochs": 1}).fit(X, y).mean_ is None


def test_regressor_predicts_in_the_targets_units():
    X, _ = sign_data()
    y = np.stack([X[:, :, 0].sum(axis=1), X[:, -1, 1]], axis=1)
    a = RNNRegressor(**FAST).fit(X, y)
    b = RNNRegressor(**FAST).fit(X, 1000.0 * y + 5000.0)
    assert a.n_outputs_ == 2 and a.predict(X).shape == (48, 2)
    # targets are standardised: an affine change of units gives the same network
    np.testing.assert_allclose(b.predict(X), 1000.0 * a.predict(X) + 5000.0, rtol=1e-5)
    assert a.score(X, y) > 0.5
    assert RNNRegressor(**FAST).fit(X, y[:, 0]).predict(X).shape == (48,)


def test_class_weight_by_label():
    X, y = sign_data()
    heavy = RNNClassifier(class_weight={"up": 1000.0, "down": 1e-3}, **FAST).fit(X, y)
    assert (heavy.predict(X) == "up").mean() > 0.9
    with pytest.raises(ValueError, match="'sideways' is not a class"):
        RNNClassifier(class_weight={"sideways": 2.0}, **FAST).fit(X, y)
    balanced = RNNClassifier(class_weight="balanced", **FAST).fit(X, y)
    assert balanced.score(X, y) > 0.8


def test_sample_weight_zero_rows_do_not_train():
    X, y = sign_data()
    w = np.ones(len(y))
    w[y == "up"] = 0.0
    clf = RNNClassifier(**{**FAST, "validation_fraction": 0.0}).fit(X, y, sample_weight=w)
    assert (clf.predict(X) == "down").all()
    with pytest.raises(ValueError, match="all weights are zero"):
        clf.fit(X, y, sample_weight=np.zeros(len(y)))


def test_warm_start_continues_training():
    X, y = sign_data()
    params = {**FAST, "epochs": 3, "patience": None}
    cold = RNNClassifier(**params).fit(X, y)
    warm = RNNClassifier(warm_start=True, **params).fit(X, y)
    first = warm.model_
    warm.fit(X, y)
    assert warm.model_ is first and warm.n_epochs_ == 6 and cold.n_epochs_ == 3
    longer = RNNClassifier(**{**params, "epochs": 6}).fit(X, y)
    # 3 + 3 epochs from the same start are 6 epochs (the shuffles follow the epoch number)
    np.testing.assert_allclose(warm.predict_proba(X), longer.predict_proba(X), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="not among the classes"):
        warm.fit(X, np.where(y == "up", "up", "left"))


def test_pickle_round_trip_then_continue():
    X, y = ragged_data(n=20)
    clf = RNNClassifier(warm_start=True, **{**FAST, "epochs": 2}).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    back.fit(X, y)
    clf.fit(X, y)                         # the optimiser's moments travelled too: the same next epochs
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X), rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# scikit-learn's tools.

def test_clone_pipeline_grid_search_and_cross_val_score():
    X, y = sign_data(n=40, F=1)
    table = X[:, :, 0]
    clf = RNNClassifier(**FAST)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin is not clf
    pipe = make_pipeline(StandardScaler(), RNNClassifier(**FAST)).fit(table, y)
    assert pipe.score(table, y) > 0.8
    scores = cross_val_score(clf, X, y, cv=StratifiedKFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and scores.mean() > 0.6
    grid = GridSearchCV(clf, {"cell": ["lstm", "gru"], "pooling": ["last", "mean"]}, cv=2).fit(X, y)
    assert set(grid.best_params_) == {"cell", "pooling"} and grid.best_estimator_.n_epochs_ > 0


def test_ragged_data_through_cross_val_score():
    X, y = ragged_data(n=30)
    as_objects = np.empty(len(X), dtype=object)
    as_objects[:] = X
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    listed = cross_val_score(RNNClassifier(**FAST), X, y, cv=cv)
    np.testing.assert_array_equal(cross_val_score(RNNClassifier(**FAST), as_objects, y, cv=cv), listed)
    assert listed.mean() > 0.6


def test_max_steps_reads_long_series_in_chunks():
    """A series of 25 steps with max_steps=10 becomes 3 steps of 9 values (3 raw steps x 3 channels,
    the last chunk zero-padded); a ragged length 7 becomes 3 chunks; prediction uses the fit's factor."""
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((25, 3)) for _ in range(8)] + [rng.standard_normal((7, 3)) for _ in range(8)]
    y = np.array([0, 1] * 8)
    clf = RNNClassifier(max_steps=10, standardize=False, **{**FAST, "epochs": 1}).fit(X, y)
    assert clf.chunk_ == 3 and clf.model_.input_size == 9
    Xp, lengths = clf._inputs(X)
    assert Xp.shape == (16, 9, 9) and lengths.tolist() == [9] * 8 + [3] * 8
    np.testing.assert_array_equal(Xp[0, 1], X[0][3:6].ravel().astype(np.float32))   # steps 3, 4, 5 side by side
    np.testing.assert_array_equal(Xp[8, 2], np.r_[X[8][6], np.zeros(6)].astype(np.float32))  # partial chunk
    assert clf.predict(X).shape == (16,)
    with pytest.raises(ValueError, match="max_steps"):
        RNNClassifier(max_steps=0, **FAST).fit(X, y)


def test_attention_pooling_learns_where_the_signal_is():
    """pooling="attention": a pattern at a random place in a long series is found; the weights of
    the AttentionPooling layer peak on it."""
    rng = np.random.default_rng(2)
    X, y = [], []
    for i in range(60):
        x = 0.3 * rng.standard_normal((40, 1))
        at = int(rng.integers(0, 36))
        x[at:at + 4, 0] += 2.0 if i % 2 else -2.0
        X.append(x)
        y.append(i % 2)
    clf = RNNClassifier(pooling="attention", cell="gru", hidden=8, epochs=40, lr=0.02, batch_size=8,
                        max_steps=None, random_state=0).fit(X[:40], y[:40])
    assert clf.score(X[40:], y[40:]) >= 0.9
    pool = clf.model_.layers[1]
    Xp, lengths = clf._inputs(X[40:])
    weights = pool.attention(clf.model_.layers[0].forward(Xp, lengths), lengths)
    assert weights.shape == (20, 40) and np.allclose(weights.sum(1), 1)


def test_a_series_predicts_the_same_alone_or_beside_a_longer_one():
    """With chunking and standardisation, the padding of a ragged batch must not reach a chunk that
    holds real steps: a series' prediction does not depend on what else is in the batch."""
    rng = np.random.default_rng(0)
    X = [rng.normal(5, 2, (int(rng.integers(150, 300)), 2)) for _ in range(20)]
    clf = RNNClassifier(epochs=2, max_steps=100, random_state=0).fit(X, ["a", "b"] * 10)
    assert clf.chunk_ == 3
    A, B = X[0][:155], X[1][:290]
    np.testing.assert_allclose(clf.predict_proba([A]), clf.predict_proba([A, B])[:1], atol=1e-6)
