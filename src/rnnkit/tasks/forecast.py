"""The ``forecast`` task (seed §5.2.1, time-series forecasting on the user's series): from the last
``window`` steps of one or more series, predict the next ``horizon`` steps of the ``targets`` columns.

The split is chronological: the first part of the series trains, the next ``val_fraction`` validates,
the last ``test_fraction`` tests (or ``--test FILE``, a later stretch of the same series). Every
window's targets lie inside its part; a validation or test window's inputs may reach back into the
part before it, as they would in use. Each window is read relative to its last value (x - x_T) and
the model predicts the change from it (y - x_T): the network sees shapes, not levels, so a series
that trends beyond the range of its training part (prices, CO2) is read as well as one that stays
inside it. Both are standardised per column with statistics of the training windows only. The model
reads a window and outputs all ``horizon x targets`` changes at once (direct multi-step).
The baseline is persistence: each target's last observed value, repeated over the horizon.
"""
from __future__ import annotations

import numpy as np

from ..apps.common import AppResult
from ..data import files
from . import training
from .predict import Predictor
from .training import Scaler


def prepare(config):
    _, values, names = files.read_series(config["data"], time_col=config["time_col"],
                                         value_cols=config["features"])
    targets = config["targets"] or names
    missing = [t for t in targets if t not in names]
    if missing:
        raise ValueError(f"targets: {missing} are not value columns of {config['data']} ({', '.join(names)})")
    tidx = [names.index(t) for t in targets]
    W, H = config["window"], config["horizon"]
    T = len(values)
    n_test = 0 if config["test"] else int(round(config["test_fraction"] * T))
    n_val = int(round(config["val_fraction"] * T))
    a, b = T - n_val - n_test, T - n_test
    for part, size in (("training", a), ("validation", n_val), ("test", n_test)):
        if size and (size < W + H if part == "training" else size < H):
            raise ValueError(f"{config['data']}: {T} rows leave {size} for the {part} part, too few for "
                             f"windows of {W} steps and a horizon of {H}; lower --window / --horizon or "
                             "give a longer series")
    raw = {"train": values[:a], "val": values[max(0, a - W):b] if n_val else None,
           "test": values[b - W:] if n_test else None}
    if config["test"]:
        raw["test"] = files.read_series(config["test"], time_col=config["time_col"], value_cols=names)[1]
    windows = {k: None if v is None else files.make_windows(v, W, H, targets=tidx) for k, v in raw.items()}
    rel = {k: None if w is None else relative(w[0], w[1], tidx) for k, w in windows.items()}
    x_scaler, y_scaler = Scaler.fit(rel["train"][0]), Scaler.fit(rel["train"][1])
    ready = {k: None if r is None else (x_scaler.transform(r[0]), y_scaler.transform(r[1]).reshape(len(r[1]), -1))
             for k, r in rel.items()}
    meta = {"task": "forecast", "encoding": {"time": config["time_col"]}, "columns": names, "targets": targets,
            "target_index": tidx, "window": W, "horizon": H, "x_scaler": x_scaler.to_dict(),
            "y_scaler": y_scaler.to_dict(), "features": names, "target": targets}
    desc = (f"{config['data']}: {T} steps of {len(names)} series, windows of {W} -> {H} ahead; "
            f"chronological split {a}/{n_val}/{n_test if not config['test'] else 'file'}")
    return ready, meta, desc, windows


def relative(X, Y, tidx):
    """Windows and targets measured from each window's last value: (X - x_T, Y - x_T[targets])."""
    last = X[:, -1:, :]
    return X - last, None if Y is None else Y - last[:, :, tidx]


def run(config, run_dir, verbose=0, resumed=None):
    ready, meta, desc, windows = prepare(config)
    n_out = config["horizon"] * len(meta["targets"])
    model = training.compile_model(training.build_model(config, n_out), config, "mse") \
        if resumed is None else resumed[0]
    history = training.train(model, config, ready["train"], ready["val"], run_dir, meta, verbose, resumed)
    model.metadata = meta
    if windows["test"] is None:
        raise ValueError("no test data: give --test FILE or --test-fraction > 0")
    X, Y = windows["test"]
    pred = Predictor(model).predict(X)
    persist = np.repeat(X[:, -1:, [meta["columns"].index(t) for t in meta["targets"]]], config["horizon"], axis=1)
    rmse = lambda p: float(np.sqrt(np.mean((p - Y) ** 2)))
    metrics = {"rmse": rmse(pred), "mae": float(np.mean(np.abs(pred - Y))), "baseline": rmse(persist),
               "baseline_name": "persistence (last value)", "persistence_mae": float(np.mean(np.abs(persist - Y))),
               "rmse_by_step": [float(np.sqrt(np.mean((pred[:, h] - Y[:, h]) ** 2))) for h in range(config["horizon"])],
               "n_test_windows": len(X)}
    return AppResult(task=f"forecast ({config['data']})", data=desc, metric="test RMSE", value=metrics["rmse"],
                     baseline=metrics["baseline"], baseline_name=metrics["baseline_name"], model=model,
                     history=history, metrics=metrics, metadata=meta)
