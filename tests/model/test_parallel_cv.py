"""Parallel cross-validation and grid search (seed §3.3 over seed §3.1's parallelism): joblib worker
processes and a Dask cluster give exactly the serial results."""
import functools
import logging
import sys

import joblib
import numpy as np
import pytest
from dask.distributed import Client, LocalCluster, get_task_stream

from rnnkit import _parallel
from rnnkit.layers import GRU, Dense
from rnnkit.model import Sequential
from rnnkit.model_selection import KFold, cross_validate, grid_search

FIT = {"epochs": 2, "batch_size": 8}


def _problem(n=40, seed=0):
    r = np.random.default_rng(seed)
    X = [r.standard_normal((int(t), 2)).astype(np.float32) for t in r.integers(3, 9, n)]
    y = np.array([int(x[:, 0].sum() > 0) for x in X])
    return X, y


def build(units=4, lr=1e-2):
    """Module-level (picklable by reference): GRU(units) + Dense(1), a binary classifier."""
    return Sequential([GRU(units), Dense(1)], seed=0).compile("binary_crossentropy", "adam", lr=lr,
                                                              metrics=["accuracy"])


def _same(a, b):
    """Two cross_validate results are identical: every score, size and history value with ==."""
    assert a["folds"] == b["folds"]
    assert a["scores"] == b["scores"] and a["mean"] == b["mean"] and a["std"] == b["std"]
    assert a["history"] == b["history"]


@pytest.fixture(scope="module")
def data():
    return _problem()


@pytest.fixture(scope="module")
def serial(data):
    X, y = data
    return cross_validate(build, X, y, KFold(3, seed=0), fit_kwargs=FIT)


def test_n_jobs_2_equals_serial_bit_for_bit(data, serial):
    X, y = data
    assert len(serial["folds"]) == 3 and set(serial["scores"]) == {"loss", "accuracy"}
    # a lambda and a functools.partial travel to the loky workers too (cloudpickle)
    lam = lambda: build(4)
    par = cross_validate(lam, X, y, KFold(3, seed=0), fit_kwargs=FIT, n_jobs=2)
    _same(serial, par)
    par = cross_validate(functools.partial(build, units=4), X, y, KFold(3, seed=0), fit_kwargs=FIT,
                         n_jobs=-1, backend="loky")
    _same(serial, par)


def test_dask_cluster_equals_serial(data, serial):
    X, y = data
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        with joblib.parallel_backend("dask"), get_task_stream(client) as stream:
            par = cross_validate(build, X, y, KFold(3, seed=0), fit_kwargs=FIT, n_jobs=2)
        workers = set(client.scheduler_info()["workers"])
        par_named = cross_validate(lambda: build(4), X, y, KFold(3, seed=0), fit_kwargs=FIT, backend="dask")
    ran_on = {task["worker"] for task in stream.data}
    assert len(workers) == 2 and ran_on and ran_on <= workers  # the folds ran on the cluster's workers
    assert any("_run_fold" in task["key"] for task in stream.data)
    _same(serial, par)
    _same(serial, par_named)


def test_grid_search_parallel_equals_serial_and_picks_the_best(data):
    X, y = data
    grid = {"units": [2, 4], "lr": [1e-3, 3e-2]}
    gs = grid_search(build, grid, X, y, cv=KFold(3, seed=0), fit_kwargs=FIT)
    gp = grid_search(build, grid, X, y, cv=KFold(3, seed=0), fit_kwargs=FIT, n_jobs=2)
    assert gs["params"] == [{"units": 2, "lr": 1e-3}, {"units": 2, "lr": 3e-2},
                            {"units": 4, "lr": 1e-3}, {"units": 4, "lr": 3e-2}]  # the last key fastest
    for a, b in zip(gs["results"], gp["results"]):
        _same(a, b)
        assert a["params"] == b["params"] and a["rank"] == b["rank"]
    for key in ("params", "metric", "greater_is_better", "best_index", "best_params", "best_score"):
        assert gs[key] == gp[key]
    assert gs["metric"] == "loss" and gs["greater_is_better"] is False
    losses = [r["mean"]["loss"] for r in gs["results"]]
    assert gs["best_index"] == int(np.argmin(losses)) and gs["best_score"] == min(losses)
    assert gs["best_params"] == gs["params"][gs["best_index"]] == gs["results"][gs["best_index"]]["params"]
    assert sorted(r["rank"] for r in gs["results"]) == [1, 2, 3, 4]
    assert [losses[i] for i in sorted(range(4), key=lambda i: gs["results"][i]["rank"])] == sorted(losses)
    # a point equals cross_validate on the model it builds
    _same(cross_validate(functools.partial(build, units=4, lr=1e-3), X, y, KFold(3, seed=0), fit_kwargs=FIT),
          gs["results"][2])


def test_grid_search_ranks_by_the_first_scoring_metric_greater_is_better():
    X, y = _problem(12, seed=1)

    def neg_units(model, Xte, yte, lte):  # a score that depends only on the point: -units
        return {"neg_units": -model.layers[0].hidden_size, "zero": 0.0}

    gs = grid_search(lambda units: build(units), {"units": [3, 1, 2]}, X, y, cv=2, fit_kwargs={"epochs": 1},
                     scoring=neg_units)
    assert gs["metric"] == "neg_units" and gs["greater_is_better"] is True
    assert gs["best_params"] == {"units": 1} and gs["best_score"] == -1.0
    assert [r["rank"] for r in gs["results"]] == [3, 1, 2]
    assert set(gs["results"][0]["scores"]) == {"loss", "accuracy", "neg_units", "zero"}


def test_grid_search_argument_checks():
    X, y = _problem(6)
    with pytest.raises(TypeError, match="param_grid: expected a dict"):
        grid_search(build, [("units", [1])], X, y, cv=2)
    with pytest.raises(TypeError, match="expected a list of values"):
        grid_search(build, {"units": 4}, X, y, cv=2)
    with pytest.raises(ValueError, match="at least one value"):
        grid_search(build, {"units": []}, X, y, cv=2)
    with pytest.raises(TypeError, match="build_model"):
        grid_search(None, {"units": [1]}, X, y, cv=2)


def test_n_jobs_and_backend_checks():
    X, y = _problem(6)
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs"):
            cross_validate(build, X, y, 2, n_jobs=bad)
    with pytest.raises(TypeError, match="backend"):
        cross_validate(build, X, y, 2, n_jobs=2, backend=3)


def test_a_failing_fold_raises_its_error_from_a_worker():
    X, y = _problem(6)
    with pytest.raises(TypeError, match="not compiled"):
        cross_validate(lambda: Sequential([GRU(2), Dense(1)]), X, y, 2, n_jobs=2)


def test_missing_joblib_or_dask_names_the_install_command(monkeypatch):
    X, y = _problem(6)
    monkeypatch.setitem(sys.modules, "joblib", None)  # `import joblib` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'rnnkit\[parallel\]'"):
        cross_validate(build, X, y, 2, n_jobs=2)
    with pytest.raises(ImportError, match=r"pip install 'rnnkit\[parallel\]'"):
        grid_search(build, {"units": [1]}, X, y, cv=2, backend="loky")
    assert len(cross_validate(build, X, y, 2, fit_kwargs={"epochs": 1})["folds"]) == 2  # serial: no joblib
    monkeypatch.delitem(sys.modules, "joblib")
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"dask.*pip install 'rnnkit\[parallel\]'"):
        _parallel.parallel_map(abs, [(-1,)], n_jobs=2, backend="dask")
