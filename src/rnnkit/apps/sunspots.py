"""Yearly sunspots forecasting (seed §5.2.1 applied to another real series) against ARIMA.

x_t = [s_{t-w}, ..., s_{t-1}] -> s_t, one step ahead. Chronological split 70/15/15 of the 309 years
1700-2008 (test: the last 15%, 1962-2008; ``AppResult.data`` names the years of each part). Values
are standardised with training statistics. Baselines on the same test years: persistence
(s_t = s_{t-1}) and ARIMA fitted on the training years (statsmodels; one-step-ahead forecasts that
see the test data only as past observations).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..callbacks import EarlyStopping
from ..data import timeseries
from ..layers import Dense
from ..model import Sequential
from .common import AppResult, Standardizer, Timer, mae, recurrent_layer, rmse, settings

NAME = "sunspots"
DESCRIPTION = "yearly sunspots, one-step forecasts against ARIMA (seed §5.2.1)"


def default_config(quick=False):
    return {"cell": "gru", "hidden": 32, "layers": 1, "bidirectional": False, "window": 20,
            "epochs": 40 if quick else 150, "batch_size": 16, "lr": 3e-3, "seed": 0,
            "arima_order": [9, 0, 0]}


SETTINGS = settings(
    "cell", "hidden", "layers", "bidirectional", "batch_size", "seed",
    window="input window: the years of past values each one-step forecast reads, an integer >= 1",
    epochs="most training epochs (early stopping after 25 epochs without a lower validation loss), an integer >= 1",
    lr="learning rate of the Adam optimizer (gradient norm clipped at 1), a number > 0",
    arima_order="[p, d, q] of the ARIMA baseline fitted on the training years (statsmodels), three integers >= 0")


def build(config):
    return Sequential([recurrent_layer(config), Dense(1)], seed=config["seed"])


def arima_one_step(train, test, order):
    """One-step-ahead ARIMA forecasts for ``test``, parameters fitted on ``train`` only."""

    from statsmodels.tsa.arima.model import ARIMA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ARIMA(np.asarray(train, float), order=tuple(order)).fit()
        full = res.append(np.asarray(test, float), refit=False)
    return np.asarray(full.predict(start=len(train), end=len(train) + len(test) - 1))


def _data(config, scaler=None):
    """Windows over the standardised series and the chronological parts (train stats only)."""
    series = timeseries.load_sunspots()
    values = series.values.astype(np.float64)
    w = config["window"]
    tr, va, te = timeseries.chronological_split(len(values), (0.7, 0.15, 0.15))
    scaler = scaler or Standardizer(values[tr])
    X, y = timeseries.make_windows(scaler.transform(values), w)
    idx = np.arange(w, len(values))            # the year each window predicts
    part = lambda s: (idx >= s.start) & (idx < s.stop)
    return series, values, scaler, X, y, idx, (part(tr), part(va), part(te)), te


def describe_data(series, idx, parts):
    """What a run trains on and holds out: the years of each chronological part's one-step targets
    (``idx``: the index of every window's target year; ``parts``: the train/validation/test masks).
    Training windows read inputs from the first year of the series on."""
    years = series.time[idx]
    span = lambda m: f"{years[m][0]}-{years[m][-1]} ({int(m.sum())} years)"
    tr, va, te = parts
    return (f"yearly sunspots: trained on {series.time[0]}-{years[tr][-1]} ({int(tr.sum())} one-step targets), "
            f"validation {span(va)}, held out {span(te)}")


def evaluate(model, config):
    """Test RMSE/MAE of a saved model, with the scaler stored beside it."""
    scaler = Standardizer.from_dict(model.metadata["scaler"])
    _, values, _, X, _, idx, (_, _, test), _ = _data(config, scaler)
    pred = scaler.inverse(model.predict(X[test])[:, 0])
    truth = values[idx[test]]
    return {"rmse": rmse(pred, truth), "mae": mae(pred, truth), "n_test": int(test.sum())}


def run(config, verbose=0):
    order = config["arima_order"]
    if not (isinstance(order, list) and len(order) == 3
            and all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in order)):
        raise ValueError(f"arima_order: expected [p, d, q], three integers >= 0, got {order!r}")
    with Timer() as timer:
        series, values, scaler, X, y, idx, (train, val, test), te = _data(config)
        w = config["window"]
        model = build(config).compile("mse", "adam", lr=config["lr"], clip_norm=1.0)
        hist = model.fit(X[train], y[train], epochs=config["epochs"], batch_size=config["batch_size"],
                         validation_data=(X[val], y[val]), verbose=verbose,
                         callbacks=[EarlyStopping(patience=25)])
        pred = scaler.inverse(model.predict(X[test])[:, 0])
        truth = values[idx[test]]
        persistence = values[idx[test] - 1]
        arima = arima_one_step(values[:te.start], truth, config["arima_order"])
    years = series.time[idx[test]]
    metrics = {"rmse": rmse(pred, truth), "mae": mae(pred, truth),
               "arima_rmse": rmse(arima, truth), "arima_mae": mae(arima, truth),
               "persistence_rmse": rmse(persistence, truth), "n_test": int(len(truth)),
               "test_years": [int(years[0]), int(years[-1])]}

    def plot(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot(years, truth, "k-", label="observed")
        ax.plot(years, pred, "-o", ms=3, label=f"rnnkit {config['cell'].upper()} (RMSE {metrics['rmse']:.1f})")
        ax.plot(years, arima, "--", label=f"ARIMA{tuple(config['arima_order'])} (RMSE {metrics['arima_rmse']:.1f})")
        ax.set_xlabel("year")
        ax.set_ylabel("sunspot number")
        ax.legend()
        ax.grid(alpha=0.3)
        ax.set_title("One-step-ahead forecasts on held-out years")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    return AppResult(task="sunspots (§5.2.1)", data=describe_data(series, idx, (train, val, test)),
                     metric="test RMSE", value=metrics["rmse"], baseline=metrics["arima_rmse"],
                     baseline_name=f"ARIMA{tuple(config['arima_order'])}", model=model,
                     history=hist.history, metrics=metrics, plots={"forecast.png": plot},
                     metadata={"scaler": scaler.to_dict(), "window": w}, seconds=timer.seconds)
