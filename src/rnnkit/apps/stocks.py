"""S&P 500: next-day log return from past daily returns (seed §5.2.1), against simple forecasts.

The seed writes x_t = [P_{t-3}, P_{t-2}, P_{t-1}] -> y_t = P_t. Prices are not stationary (the test
years lie far above every training price), so the model reads the same days as log returns,
r_t = log P_t - log P_{t-1}: x_t = [r_{t-w}, ..., r_{t-1}] -> y_t = r_t, with the seed's window
w = 3 and a longer one (``window``, default 20); one model is trained per window. A return forecast
is a price forecast: P_hat_t = P_{t-1} exp(r_hat_t).

Data: ``timeseries.load_sp500`` (daily closes 1999-01-04 .. 2018-12-31, 5,031 days, 5,030 returns).
The returns are split chronologically 70/15/15 (targets: train 1999-02-03 .. 2013-01-02, 3,501 days;
validation 2013-2015; test 2015-12-31 .. 2018-12-31, 755 days: ``AppResult.data``, counted from the
data); every model and baseline is scored on the same test days.
Returns are standardised with training statistics. Baselines, fitted on training days only:

- zero return ("price persistence": tomorrow's price = today's), the random-walk forecast;
- return persistence (tomorrow's return = today's);
- the training mean return (random walk with drift);
- linear autoregression AR(w) by least squares on the same windows (w = 3 and ``window``).

Be warned: daily index returns are close to unpredictable (weak-form market efficiency). The
honest expectation, and the usual outcome of this app, is that no model beats the zero-return
forecast by a meaningful margin. ``metrics["beats_zero_forecast"]`` says whether a model's test RMSE
was lower at all, ``metrics["significantly_beats_zero_forecast"]`` whether a one-sided Diebold-Mariano
test (squared error) finds the gain significant at 5% (``rnn_w*_dm_pvalue``); ``metrics["verdict"]``
says it in words.
"""
from __future__ import annotations

import math

import numpy as np

from ..callbacks import EarlyStopping
from ..data import timeseries
from ..layers import Dense, Dropout
from ..model import Sequential
from .common import AppResult, Standardizer, Timer, mae, recurrent_layer, rmse, settings

NAME = "stocks"
DESCRIPTION = ("S&P 500 next-day log return from past returns vs zero/persistence/AR forecasts "
               "(seed §5.2.1; daily returns are nearly unpredictable)")


def default_config(quick=False):
    """Settings of the app. ``window``: the long input window (days); ``short_window``: the seed's 3;
    ``fractions``: the chronological train/validation/test split of the return series."""
    return {"cell": "gru", "hidden": 8 if quick else 16, "layers": 1, "bidirectional": False,
            "window": 20, "short_window": 3, "dropout": 0.0, "l2": 1e-4,
            "epochs": 5 if quick else 60, "batch_size": 64, "lr": 1e-3, "seed": 0, "patience": 8,
            "fractions": [0.7, 0.15, 0.15]}


SETTINGS = settings(
    "cell", "hidden", "layers", "bidirectional", "dropout", "l2", "batch_size", "lr", "seed", "patience",
    window="the long input window: days of past log returns a forecast reads, an integer >= 1",
    short_window="the seed's short window in days (a second model is trained on it), an integer >= 1",
    epochs="most training epochs (early stopping on the validation days, see patience), an integer >= 1",
    fractions="[train, validation, test]: the chronological split of the return series, three fractions")


def build(config):
    layers = [recurrent_layer(config)]
    if config.get("dropout"):
        layers.append(Dropout(config["dropout"]))
    layers.append(Dense(1))
    return Sequential(layers, seed=config["seed"])


def log_returns(close):
    """r[j] = log P[j+1] - log P[j] (float64): the return of day j+1, len(close) - 1 values."""
    return np.diff(np.log(np.asarray(close, dtype=np.float64)))


def windows(returns, window, first):
    """Windows of seed §5.2.1 over the return series.

    Returns ``(X (n, window, 1), y (n,), idx (n,))`` for the targets ``returns[idx]``,
    ``idx = first, first+1, ..., len(returns)-1`` (``first >= window``), with
    ``X[k, :, 0] = returns[idx[k] - window : idx[k]]`` (the ``window`` days just before).
    """
    if first < window:
        raise ValueError(f"first: must be >= window={window}, got {first}")
    X, y = timeseries.make_windows(np.asarray(returns), int(window))   # X[i] -> target returns[i + window]
    X, y = X[first - window:], y[first - window:]
    return X, y, np.arange(first, len(returns))


def prepare(config):
    """Everything the models and baselines need, from the data and ``config`` (no look-ahead)."""
    data = timeseries.load_sp500()
    r = log_returns(data.close)
    fractions = config["fractions"]
    if not (isinstance(fractions, (list, tuple)) and len(fractions) == 3):
        raise ValueError(f"fractions: expected [train, validation, test], three fractions, got {fractions!r}")
    parts = timeseries.chronological_split(len(r), tuple(fractions))
    scaler = Standardizer(r[parts[0]])
    first = max(int(config["window"]), int(config["short_window"]))
    return data, r, parts, scaler, first


def _mask(idx, part):
    return (idx >= part.start) & (idx < part.stop)


def describe_data(data, parts, first):
    """What a run trains on and holds out: the days whose returns are the targets of each
    chronological part (``parts``: slices of the return series; targets start at ``first``)."""
    idx = np.arange(first, len(data.close) - 1)          # r[j] is the return of day j + 1

    def span(part):
        days = data.dates[idx[_mask(idx, part)] + 1]
        return f"{days[0]}..{days[-1]} ({len(days):,} days)"
    tr, va, te = parts
    return (f"S&P 500 daily log returns: trained on {span(tr)}, validation the next "
            f"{int(_mask(idx, va).sum()):,} days, held out {span(te)}")


def ar_fit_predict(X_train, y_train, X_test):
    """Linear autoregression with intercept, least squares on the training windows."""
    A = np.column_stack([np.ones(len(X_train)), X_train.reshape(len(X_train), -1)])
    coef, *_ = np.linalg.lstsq(A, y_train, rcond=None)
    return np.column_stack([np.ones(len(X_test)), X_test.reshape(len(X_test), -1)]) @ coef, coef


def _fit_window(config, w, r, parts, scaler, first, verbose):
    """Train the RNN on windows of ``w`` days; its test forecasts (log returns) and the AR(w) ones."""
    tr, va, te = parts
    X, y, idx = windows(r, w, first)
    Xs, ys = scaler.transform(X), scaler.transform(y)
    mtr, mva, mte = _mask(idx, tr), _mask(idx, va), _mask(idx, te)
    model = build(config).compile("mse", "adam", lr=config["lr"], clip_norm=1.0, l2=config["l2"])
    hist = model.fit(Xs[mtr], ys[mtr], epochs=config["epochs"], batch_size=config["batch_size"],
                     validation_data=(Xs[mva], ys[mva]), verbose=verbose,
                     callbacks=[EarlyStopping(patience=config["patience"])])
    pred = scaler.inverse(model.predict(Xs[mte])[:, 0])
    ar, coef = ar_fit_predict(X[mtr, :, 0], y[mtr], X[mte, :, 0])
    return model, hist, pred, ar, coef, idx[mte], y[mte], X[mte, -1, 0]


def diebold_mariano(truth, pred, ref):
    """One-sided Diebold-Mariano test (squared error, one-step horizon) of "``pred`` beats ``ref``".

    d_t = (truth - ref)^2 - (truth - pred)^2; statistic = mean(d) / sqrt(var(d) / n), normal
    approximation. Returns ``(statistic, p_value)``; a small p-value means ``pred`` is really better.
    """
    d = (np.asarray(truth, float) - ref) ** 2 - (np.asarray(truth, float) - pred) ** 2
    sd = float(np.std(d, ddof=1))
    if sd == 0.0:
        return 0.0, 0.5
    stat = float(d.mean() / (sd / math.sqrt(len(d))))
    return stat, 0.5 * math.erfc(stat / math.sqrt(2))


def _scores(pred, truth, prefix):
    return {f"{prefix}_rmse": rmse(pred, truth), f"{prefix}_mae": mae(pred, truth)}


def run(config, verbose=0):
    with Timer() as timer:
        data, r, (tr, va, te), scaler, first = prepare(config)
        w_long, w_short = int(config["window"]), int(config["short_window"])
        fits = {}
        for w in dict.fromkeys([w_short, w_long]):        # one model per distinct window
            fits[w] = _fit_window(config, w, r, (tr, va, te), scaler, first, verbose)
        model, hist, pred, ar, coef, test_idx, truth, last = fits[w_long]
        zero = np.zeros_like(truth)
        persistence = last                                 # r_{t-1}: yesterday's return
        drift = np.full_like(truth, r[first:tr.stop].mean())
    metrics = {"n_train": int(tr.stop - first), "n_val": int(va.stop - va.start), "n_test": int(len(truth)),
               "test_dates": [str(data.dates[test_idx[0] + 1]), str(data.dates[test_idx[-1] + 1])],
               "windows": sorted(fits), "target": "next-day log return",
               **_scores(zero, truth, "zero"), **_scores(persistence, truth, "persistence"),
               **_scores(drift, truth, "mean")}
    preds = {}
    for w, (_, h, p, a, c, *_rest) in fits.items():
        preds[w] = (p, a)
        metrics.update(_scores(p, truth, f"rnn_w{w}"))
        metrics.update(_scores(a, truth, f"ar_w{w}"))
        metrics[f"rnn_w{w}_direction_accuracy"] = float(np.mean(np.sign(p) == np.sign(truth)))
        metrics[f"rnn_w{w}_epochs_run"] = len(h.history.get("loss", []))
        metrics[f"rnn_w{w}_pred_std"] = float(np.std(p))
        metrics[f"ar_w{w}_coef"] = [float(x) for x in c]
        stat, pval = diebold_mariano(truth, p, zero)
        metrics[f"rnn_w{w}_dm_vs_zero"], metrics[f"rnn_w{w}_dm_pvalue"] = stat, pval
    metrics["up_day_fraction"] = float(np.mean(truth > 0))
    metrics["rmse"], metrics["mae"] = metrics[f"rnn_w{w_long}_rmse"], metrics[f"rnn_w{w_long}_mae"]
    baselines = {"zero return (price persistence)": metrics["zero_rmse"],
                 "return persistence": metrics["persistence_rmse"], "train mean return": metrics["mean_rmse"],
                 **{f"AR({w})": metrics[f"ar_w{w}_rmse"] for w in fits}}
    best_name = min(baselines, key=baselines.get)
    metrics["strongest_baseline"] = best_name
    metrics["beats_zero_forecast"] = {f"w{w}": bool(metrics[f"rnn_w{w}_rmse"] < metrics["zero_rmse"])
                                      for w in fits}
    metrics["beats_strongest_baseline"] = {f"w{w}": bool(metrics[f"rnn_w{w}_rmse"] < baselines[best_name])
                                           for w in fits}
    metrics["rmse_vs_zero_percent"] = {f"w{w}": 100 * (metrics[f"rnn_w{w}_rmse"] / metrics["zero_rmse"] - 1)
                                       for w in fits}
    metrics["significantly_beats_zero_forecast"] = {f"w{w}": bool(metrics[f"rnn_w{w}_dm_pvalue"] < 0.05)
                                                    for w in fits}
    any_beats = any(metrics["significantly_beats_zero_forecast"].values())
    if any_beats:
        verdict = "an RNN beat the zero-return forecast significantly (Diebold-Mariano p < 0.05)"
    elif any(metrics["beats_zero_forecast"].values()):
        gain = -min(metrics["rmse_vs_zero_percent"].values())
        verdict = (f"no RNN beat the zero-return forecast significantly: the best RMSE gain is {gain:.3f}% "
                   "(Diebold-Mariano p >= 0.05), i.e. noise")
    else:
        verdict = "no RNN beat the zero-return forecast: daily returns were not predictable here"
    metrics["verdict"] = verdict
    dates = data.dates[test_idx + 1].astype("datetime64[D]")   # r[j] is the return of day j+1

    def plot(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(16, 4.5), gridspec_kw={"width_ratios": [2.2, 1, 1.3]})
        a1.plot(dates, truth, color="0.6", lw=0.7, label="actual log return")
        for k, (w, (p, _)) in enumerate(sorted(preds.items())):
            a1.plot(dates, p, lw=1.1, color=f"C{k}",
                    label=f"rnnkit {config['cell'].upper()} w={w} (RMSE {metrics[f'rnn_w{w}_rmse']:.5f})")
        a1.plot(dates, preds[w_long][1], "--", lw=0.9, color="C3",
                label=f"AR({w_long}) (RMSE {metrics[f'ar_w{w_long}_rmse']:.5f})")
        a1.axhline(0, color="k", lw=0.8, label=f"zero forecast (RMSE {metrics['zero_rmse']:.5f})")
        a1.set_ylabel("daily log return")
        a1.legend(fontsize=8, loc="lower left")
        a1.grid(alpha=0.3)
        a1.set_title("S&P 500 test period: one-day-ahead forecasts")
        for k, (w, (p, _)) in enumerate(sorted(preds.items())):
            a2.scatter(truth, p, s=5, alpha=0.5, color=f"C{k}", label=f"rnnkit w={w}")
        a2.axhline(0, color="k", lw=0.8)
        a2.set_xlabel("actual return")
        a2.set_ylabel("predicted return (note the scale)")
        a2.set_title("predicted vs actual")
        a2.legend(fontsize=8)
        a2.grid(alpha=0.3)
        # cumulative squared-error advantage over the zero forecast: rising = the model is winning
        for k, (w, (p, _)) in enumerate(sorted(preds.items())):
            a3.plot(dates, np.cumsum(truth ** 2 - (truth - p) ** 2), color=f"C{k}", label=f"rnnkit w={w}")
        a3.plot(dates, np.cumsum(truth ** 2 - (truth - preds[w_long][1]) ** 2), "--", color="C3",
                label=f"AR({w_long})")
        a3.axhline(0, color="k", lw=0.8)
        a3.set_ylabel("cum. (zero SE - model SE)")
        a3.legend(fontsize=8)
        a3.grid(alpha=0.3)
        a3.set_title("gain over the zero forecast" + ("" if any_beats else "\n(no model beat it)"))
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)

    note = "an RNN beats the zero forecast" if any_beats else "no model significantly beats the zero forecast"
    return AppResult(task="stocks (§5.2.1)",
                     data=f"{describe_data(data, (tr, va, te), first)}; {note}",
                     metric=f"test RMSE (w={w_long})", value=metrics["rmse"], baseline=baselines[best_name],
                     baseline_name=best_name, model=model, history=hist.history, metrics=metrics,
                     plots={"returns.png": plot},
                     metadata={"scaler": scaler.to_dict(), "window": w_long, "target": "next-day log return",
                               "inputs": "standardised daily log returns of the previous `window` days"},
                     seconds=timer.seconds)


def evaluate(model, config):
    """Test RMSE/MAE of a (loaded) model on the app's held-out days, with the zero forecast's."""
    meta = getattr(model, "metadata", None) or {}
    w = int(meta.get("window", config["window"]))
    data, r, (tr, va, te), scaler, first = prepare({**config, "window": w})
    if "scaler" in meta:
        scaler.mean, scaler.std = float(meta["scaler"]["mean"]), float(meta["scaler"]["std"])
    X, y, idx = windows(r, w, first)
    m = _mask(idx, te)
    pred = scaler.inverse(model.predict(scaler.transform(X[m]))[:, 0])
    truth = y[m]
    return {"metric": f"test RMSE (w={w})", "rmse": rmse(pred, truth), "mae": mae(pred, truth),
            "zero_rmse": rmse(0 * truth, truth), "zero_mae": mae(0 * truth, truth),
            "beats_zero_forecast": bool(rmse(pred, truth) < rmse(0 * truth, truth)), "n_test": int(m.sum())}
