"""``fit(validation_split=...)`` holds out a stratified part for one label per sequence with the
classification losses (each class gives round(fraction * n_c) rows, at least one of a class with two
or more), and a random part otherwise; both are fixed by the model's seed."""
import numpy as np

from rnnkit import GRU, Dense, Sequential
from rnnkit._model_data import split_validation

rng = np.random.default_rng(5)


def test_split_rows_per_class():
    strata = np.repeat(np.arange(10), [30, 20, 20, 12, 10, 8, 6, 5, 3, 2])   # 116 rows, uneven classes
    val, train = split_validation(len(strata), 0.1, seed=0, strata=strata)
    counts = np.bincount(strata[val], minlength=10)
    # round(0.1 * n_c), at least 1: written out by hand
    assert counts.tolist() == [3, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    assert np.array_equal(np.sort(np.r_[val, train]), np.arange(116)) and not set(val) & set(train)
    again, _ = split_validation(len(strata), 0.1, seed=0, strata=strata)
    other, _ = split_validation(len(strata), 0.1, seed=1, strata=strata)
    assert np.array_equal(val, again) and not np.array_equal(val, other)
    val, _ = split_validation(4, 0.9, seed=0, strata=np.array([0, 0, 1, 2]))    # keeps one row per class to train
    assert np.bincount(np.array([0, 0, 1, 2])[val], minlength=3).tolist() == [1, 0, 0]
    val, train = split_validation(20, 0.25, seed=0)                                # no strata: random
    assert len(val) == 5 and len(train) == 15


def recording_metric(seen):
    def metric(out, y, mask, loss):
        seen.append(np.array(y))
        return 0.0
    return metric


def test_fit_holds_out_every_class_of_ten_with_ten_percent():
    y = np.repeat(np.arange(10), 20)[rng.permutation(200)]      # 20 of each class
    X = rng.standard_normal((200, 3, 2))
    seen = []
    model = Sequential([GRU(3), Dense(10)], seed=0).compile("crossentropy", metrics=[recording_metric(seen)])
    model.fit(X, y, epochs=1, batch_size=64, validation_split=0.1, verbose=0)
    val_y = [s for s in seen if len(s) == 20]                   # training batches hold 64, 64, 52 rows
    assert len(val_y) == 1 and np.bincount(val_y[0], minlength=10).tolist() == [2] * 10
    seen.clear()
    labels = np.array(list("abcdefghij"))[y]                     # the same split for labels
    model = Sequential([GRU(3), Dense(10)], seed=0).compile("crossentropy", metrics=[recording_metric(seen)])
    model.fit(X, labels, epochs=1, batch_size=64, validation_split=0.1, verbose=0)
    assert np.bincount([s for s in seen if len(s) == 20][0], minlength=10).tolist() == [2] * 10


def test_regression_keeps_the_random_split():
    X = rng.standard_normal((40, 3, 1))
    model = Sequential([GRU(2), Dense(1)], seed=0).compile("mse")
    h = model.fit(X, X.sum(1), epochs=1, validation_split=0.25, verbose=0)
    val, _ = split_validation(40, 0.25, seed=0)
    assert h.history["val_loss"][0] == model.evaluate(X[val], X.sum(1)[val])["loss"]
