"""Forecasting windows and train/validation/test splits (rnnkit.data.splits, re-exported by files)."""
from collections import Counter

import numpy as np
import pytest

from rnnkit.data import files


def test_make_windows_matches_a_loop():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(12, 3))
    X, Y = files.make_windows(values, 4, 3, targets=[2, 0])
    n = 12 - 4 - 3 + 1
    assert X.shape == (n, 4, 3) and Y.shape == (n, 3, 2)
    for i in range(n):
        np.testing.assert_array_equal(X[i], values[i:i + 4])
        np.testing.assert_array_equal(Y[i], values[i + 4:i + 7][:, [2, 0]])
    X, Y = files.make_windows(np.arange(5), 2, 3)  # one column, integers become float64
    assert X.dtype == np.float64 and X[:, :, 0].tolist() == [[0, 1]] and Y[:, :, 0].tolist() == [[2, 3, 4]]
    X, _ = files.make_windows(values.astype(np.float32), 1, 1)
    assert X.dtype == np.float32 and X.shape == (11, 1, 3)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.ones((5, 1)), 0, 1), {}, ValueError, r"window: expected an integer in >= 1, got 0"),
    ((np.ones((5, 1)), 2, 0), {}, ValueError, r"horizon: expected an integer in >= 1, got 0"),
    ((np.ones((5, 1)), 2.0, 1), {}, TypeError, r"window: expected an integer"),
    ((np.ones((6, 1)), 4, 3), {}, ValueError, r"values: 6 rows are too few for windows of 4 steps and a horizon of "
                                              r"3: at least window \+ horizon = 7 rows are needed"),
    ((np.ones((5, 2)), 2, 1), {"targets": [2]}, ValueError, r"targets: expected an integer in \[0, 1\], got 2"),
    ((np.array([1.0, np.nan, 2.0]), 1, 1), {}, ValueError, r"values: row 1 has a NaN or inf value"),
    ((np.ones((2, 2, 2)), 1, 1), {}, ValueError, r"values: expected a \(T, K\) or \(T,\) array"),
])
def test_make_windows_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        files.make_windows(*args, **kwargs)


def test_chronological_split():
    parts = files.chronological_split(100)
    for part, (a, b) in zip(parts, [(0, 70), (70, 85), (85, 100)]):
        assert part.dtype == np.int64 and part.tolist() == list(range(a, b))
    train, val, test = files.chronological_split(10, (0.8, 0.2, 0.0))
    assert train.tolist() == list(range(8)) and val.tolist() == [8, 9] and test.size == 0
    # three items, three parts: one each, whatever the fractions
    assert [p.tolist() for p in files.chronological_split(3, (0.8, 0.1, 0.1))] == [[0], [1], [2]]


@pytest.mark.parametrize("n, fractions, match", [
    (2, (0.8, 0.1, 0.1), r"n=2 items are too few to give every part of fractions \(0\.8, 0\.1, 0\.1\) at least one"),
    (10, (0.8, 0.3), r"fractions: must sum to 1"),
    (10, (0.0, 1.0), r"fractions: expected two or more numbers >= 0, the first > 0"),
    (10, (1.0,), r"fractions: expected two or more numbers"),
])
def test_split_argument_errors(n, fractions, match):
    with pytest.raises(ValueError, match=match):
        files.chronological_split(n, fractions)


def test_stratified_split_keeps_class_shares():
    rng = np.random.default_rng(1)
    labels = np.array(["a"] * 30 + ["b"] * 10 + ["c"] * 3 + ["d"])[rng.permutation(44)]
    parts = files.stratified_split(labels, (0.8, 0.1, 0.1), seed=3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(44))
    counts = [Counter(labels[p].tolist()) for p in parts]
    assert counts[0] == {"a": 24, "b": 8, "c": 1, "d": 1}
    assert counts[1] == counts[2] == {"a": 3, "b": 1, "c": 1}
    same = files.stratified_split(list(labels), (0.8, 0.1, 0.1), seed=3)
    assert all(np.array_equal(p, q) for p, q in zip(parts, same))
    other = files.stratified_split(labels, (0.8, 0.1, 0.1), seed=4)
    assert not np.array_equal(parts[0], other[0])
    train, val, test = files.stratified_split([1, 2] * 10, (0.9, 0.1, 0.0))
    assert test.size == 0 and Counter(np.array([1, 2] * 10)[val].tolist()) == {1: 1, 2: 1}
    with pytest.raises(ValueError, match=r"4 items in 4 classes are too few .* part\(s\) \[1, 2\] would be empty"):
        files.stratified_split(["a", "b", "c", "d"])
    with pytest.raises(ValueError, match=r"labels: expected a non-empty 1-D array"):
        files.stratified_split(np.ones((3, 2)))


def test_group_split_keeps_groups_whole():
    groups = np.repeat(np.arange(10), 4)[np.random.default_rng(2).permutation(40)]
    parts = files.group_split(groups, (0.6, 0.2, 0.2), seed=5)
    assert sorted(np.concatenate(parts).tolist()) == list(range(40))
    in_part = [set(groups[p].tolist()) for p in parts]
    assert [len(s) for s in in_part] == [6, 2, 2] and not (in_part[0] & in_part[1] or in_part[1] & in_part[2])
    again = files.group_split(groups.tolist(), (0.6, 0.2, 0.2), seed=5)
    assert all(np.array_equal(p, q) for p, q in zip(parts, again))
    with pytest.raises(ValueError, match=r"2 groups are too few"):
        files.group_split(["s1", "s1", "s2"], (0.8, 0.1, 0.1))
