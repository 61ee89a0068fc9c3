"""Cross-validation splitters and cross_validate (seed §3.3)."""
import numpy as np
import pytest

from rnnkit.layers import GRU, RNN, Dense
from rnnkit.model import Sequential
from rnnkit.model_selection import KFold, StratifiedKFold, TimeSeriesSplit, cross_validate


def check_partition(splits, n):
    seen = []
    for tr, te in splits:
        assert tr.dtype == np.int64 and te.dtype == np.int64
        assert len(np.intersect1d(tr, te)) == 0  # no overlap
        assert np.array_equal(np.union1d(tr, te), np.arange(n))  # train + test = everything
        assert np.all(np.diff(tr) > 0) and np.all(np.diff(te) > 0)
        seen.append(te)
    allte = np.concatenate(seen)
    assert np.array_equal(np.sort(allte), np.arange(n))  # each sample tested exactly once


@pytest.mark.parametrize("n, k", [(10, 5), (11, 3), (7, 7), (100, 4)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_kfold_partitions(n, k, shuffle):
    splits = list(KFold(k, shuffle=shuffle).split(n))
    assert len(splits) == k
    check_partition(splits, n)
    sizes = [len(te) for _, te in splits]
    assert max(sizes) - min(sizes) <= 1
    if not shuffle:
        assert all(np.all(np.diff(te) == 1) for _, te in splits)  # contiguous blocks in order


def test_kfold_accepts_arrays_and_ragged_lists():
    ragged = [np.zeros(t) for t in (3, 1, 4, 1, 5, 9)]
    a = list(KFold(3, seed=1).split(ragged))
    b = list(KFold(3, seed=1).split(6))
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def test_splits_are_deterministic_for_a_seed():
    y = np.repeat([0, 1, 2], 10)
    for cls in (KFold, StratifiedKFold):
        a = [te for _, te in cls(5, seed=3).split(y)]
        b = [te for _, te in cls(5, seed=3).split(y)]
        c = [te for _, te in cls(5, seed=4).split(y)]
        assert all(np.array_equal(x, z) for x, z in zip(a, b))
        assert not all(np.array_equal(x, z) for x, z in zip(a, c))


def test_kfold_argument_checks():
    with pytest.raises(ValueError, match="n_splits"):
        KFold(1)
    with pytest.raises(ValueError, match="at least 5 samples"):
        list(KFold(5).split(3))


def test_stratified_kfold_keeps_class_proportions():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    np.random.default_rng(0).shuffle(y)
    splits = list(StratifiedKFold(5, seed=0).split(y))
    check_partition(splits, len(y))
    for tr, te in splits:
        assert len(te) == 20
        assert np.bincount(y[te], minlength=3).tolist() == [12, 6, 2]  # exactly the overall shares
        assert np.bincount(y[tr], minlength=3).tolist() == [48, 24, 8]


def test_stratified_kfold_uneven_classes_and_label_forms():
    y = np.array(["a"] * 13 + ["b"] * 7)
    splits = list(StratifiedKFold(3, seed=0).split(y))
    check_partition(splits, 20)
    for _, te in splits:
        counts = [np.sum(y[te] == c) for c in "ab"]
        assert counts[0] in (4, 5) and counts[1] in (2, 3)
    sizes = [len(te) for _, te in splits]
    assert max(sizes) - min(sizes) <= 1
    onehot = np.eye(2)[(y == "b").astype(int)]
    column = (y == "b").astype(np.float32)[:, None]
    for other in (onehot, column):
        s2 = list(StratifiedKFold(3, seed=0).split(other))
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, s2))
    with pytest.raises(TypeError, match="class label"):
        list(StratifiedKFold(2).split([np.array([1, 2]), np.array([3])]))
    with pytest.warns(UserWarning, match="smallest class"):
        list(StratifiedKFold(3).split(np.array([0] * 10 + [1] * 2)))


@pytest.mark.parametrize("n, k, min_train, gap", [(20, 4, None, 0), (23, 3, None, 2), (30, 5, 10, 0),
                                                   (31, 4, 7, 3)])
def test_time_series_folds_come_after_their_training_data(n, k, min_train, gap):
    splits = list(TimeSeriesSplit(k, min_train=min_train, gap=gap).split(n))
    assert len(splits) == k
    prev_train = 0
    tests = []
    for tr, te in splits:
        assert len(tr) and len(te)
        assert np.array_equal(tr, np.arange(len(tr)))  # everything before (an expanding window)
        assert tr.max() < te.min()  # strictly after the training data
        assert te.min() - tr.max() - 1 == gap  # exactly `gap` samples left out in between
        assert np.all(np.diff(te) == 1)
        assert len(tr) > prev_train
        prev_train = len(tr)
        tests.append(te)
    assert tests[-1][-1] == n - 1  # the last block ends with the last sample
    alltest = np.concatenate(tests)
    assert len(np.unique(alltest)) == len(alltest)  # test blocks do not overlap
    if min_train:
        assert len(splits[0][0]) >= min_train


def test_time_series_split_refuses_too_few_samples():
    with pytest.raises(ValueError, match="too few"):
        list(TimeSeriesSplit(5).split(4))
    with pytest.raises(ValueError, match="too few"):
        list(TimeSeriesSplit(3, min_train=10).split(12))


def _seq_problem(n=24, seed=0):
    r = np.random.default_rng(seed)
    X = [r.standard_normal((int(t), 2)).astype(np.float32) for t in r.integers(2, 7, n)]
    y = np.array([int(x[:, 0].sum() > 0) for x in X])
    return X, y


def test_cross_validate_on_a_tiny_problem():
    X, y = _seq_problem()
    build = lambda: Sequential([RNN(4), Dense(1)]).compile("binary_crossentropy", "adam", lr=1e-2,
                                                           metrics=["accuracy"])
    res = cross_validate(build, X, y, StratifiedKFold(3, seed=0), fit_kwargs={"epochs": 2, "batch_size": 8})
    assert len(res["folds"]) == 3
    assert set(res["scores"]) == {"loss", "accuracy"}
    assert all(len(v) == 3 for v in res["scores"].values())
    assert res["test_size"] == [8, 8, 8] and res["train_size"] == [16, 16, 16]
    assert np.isclose(res["mean"]["accuracy"], np.mean(res["scores"]["accuracy"]))
    assert np.isclose(res["std"]["loss"], np.std(res["scores"]["loss"]))
    assert all(0 <= a <= 1 for a in res["scores"]["accuracy"])
    assert all(len(h["loss"]) == 2 for h in res["history"])


def test_cross_validate_padded_arrays_lengths_timeseries_and_scoring():
    r = np.random.default_rng(1)
    X = r.standard_normal((20, 5, 1)).astype(np.float32)
    lengths = r.integers(1, 6, 20)
    y = np.array([X[i, :lengths[i], 0].sum() for i in range(20)], np.float32)
    build = lambda: Sequential([GRU(3), Dense(1)]).compile("mse", metrics=["mae"])

    def scoring(model, Xte, yte, lte):
        return float(np.mean(np.abs(model.predict(Xte, lengths=lte)[:, 0] - yte)))

    res = cross_validate(build, X, y, TimeSeriesSplit(3, min_train=5), fit_kwargs={"epochs": 1},
                         lengths=lengths, scoring=scoring)
    assert len(res["scores"]["mae"]) == 3
    assert np.allclose(res["scores"]["score"], res["scores"]["mae"], atol=1e-5)
    assert res["train_size"] == sorted(res["train_size"])
    res2 = cross_validate(build, X, y, 4, fit_kwargs={"epochs": 1}, lengths=lengths)  # an int -> KFold
    assert len(res2["folds"]) == 4 and sum(res2["test_size"]) == 20


def test_cross_validate_argument_checks():
    X, y = _seq_problem(6)
    with pytest.raises(ValueError, match="y: expected 6 targets"):
        cross_validate(lambda: None, X, y[:5], 2)
    with pytest.raises(TypeError, match="not compiled"):
        cross_validate(lambda: Sequential([RNN(2), Dense(1)]), X, y, 2)
