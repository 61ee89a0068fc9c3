"""The adding problem (Hochreiter & Schmidhuber, 1997): vanishing/exploding gradients in practice
(seed §3.2) and the gated cells that mitigate them (§4.1 LSTM, §4.2 GRU).

Data. A sequence has T steps of two channels: a random number in [0, 1] and a marker that is 1 at
exactly two steps (one uniformly in the first half, one in the second half) and 0 elsewhere. The
target is the sum of the two marked numbers, read from the final state. Predicting the constant 1
scores MSE 1/6 ~ 0.167 (the variance of the sum of two U[0, 1]); beating it means carrying a number
across up to T steps.

What runs (``default_config``):
1. For every T in ``lengths``: a vanilla (tanh) RNN, an LSTM and a GRU of about the same number of
   parameters (``hidden`` per cell: 64 / 32 / 37 units give 4417 / 4641 / 4589 parameters with the
   Dense(1) head) and the same training budget (the same training sequences, epochs, batch size,
   optimizer, learning rate, clipping); test MSE on fresh sequences.
2. The gradient through time: for each model, ``diagnostics.measure`` at initialisation and after
   training gives the batch-mean ||dL/dh_t|| for every t; its ratio first/last step is the
   attenuation (< 1: vanishing) or growth (> 1: exploding) of the gradient over T steps.
3. Clipping: a vanilla RNN with a large recurrent matrix (scaled orthogonal, spectral radius
   ``radius``) trained by plain SGD with and without ``clip_norm``: the global gradient norm per step
   (before and after clipping) and whether training stops on NaN (``TrainingError``) or proceeds.

Plots: ``mse_by_length.png`` (test MSE against T per cell), ``dh_norms.png`` (||dL/dh_t|| against t at
T = ``probe_length``, at initialisation and after training), ``clipping.png``. ``docs/gradients.md``
reads the results against the seed.
"""
from __future__ import annotations

import time

import numpy as np

from .._threads import blas_threads
from ..diagnostics import GradientRecorder, measure, plot_dh_norms, plot_grad_norms
from ..layers import RNN, Dense, Recurrent
from ..layers.base import orthogonal
from ..model import Sequential, TrainingError
from ..ops import CELLS
from ..optim import SGD
from .common import AppResult, Timer, settings

NAME = "adding"
DESCRIPTION = "adding problem: RNN vs LSTM vs GRU over T, gradients through time, clipping (seed §3.2, §4)"
PREDICT_1 = 1.0 / 6.0


def default_config(quick=False):
    config = {
        "cells": ["rnn", "lstm", "gru"],
        "lengths": [10, 50, 100, 200],
        "hidden": {"rnn": 64, "lstm": 32, "gru": 37},     # ~4.4-4.6k parameters each (within 5%)
        "n_train": 10000, "n_test": 1000, "epochs": 8, "batch_size": 32,
        "optimizer": "adam", "lr": 1e-2, "clip_norm": 1.0,
        "probe_length": 200, "probe_size": 256,           # the dL/dh_t plot: T and number of sequences
        # clipping experiment: vanilla RNN, W_h = radius * orthogonal, plain SGD, with and without clipping
        "clip_runs": [{"nonlinearity": "relu", "radius": 1.5}, {"nonlinearity": "tanh", "radius": 2.0}],
        "clip_length": 50, "clip_hidden": 64, "clip_lr": 0.01, "clip_threshold": 1.0,
        "clip_n_train": 2000, "clip_epochs": 3,
        "blas_threads": 1,                                 # small products: BLAS threads only cost time
        "seed": 0, "quick": bool(quick),
    }
    if quick:
        config.update({"lengths": [10, 30], "n_train": 384, "n_test": 200, "epochs": 2,
                       "probe_length": 30, "probe_size": 64, "clip_length": 30, "clip_n_train": 256,
                       "clip_epochs": 2})
    return config


SETTINGS = settings(
    "seed",
    cells="the cells compared, a list of names from gru, lstm, rnn",
    lengths="the sequence lengths T trained at, a list of integers >= 2",
    hidden="hidden units per cell, a table cell -> integer >= 1 (--hidden N: N for every cell)",
    n_train="training sequences per length (drawn fresh), an integer >= 1",
    n_test="test sequences per length (drawn fresh), an integer >= 1",
    epochs="training epochs of each model, an integer >= 1",
    batch_size="sequences per batch (the clipping runs too), an integer >= 1",
    optimizer="the optimizer of the comparison: adam, sgd, ... (a name of rnnkit.optim)",
    lr="learning rate of the comparison, a number > 0",
    clip_norm="gradient clipping of the comparison: the largest global gradient norm of a step, a number > 0",
    probe_length="T of the gradient-through-time plot (dh_norms.png), an integer >= 2",
    probe_size="sequences the gradient norms are averaged over, an integer >= 1",
    clip_runs="the clipping experiment's vanilla RNNs: a list of tables {nonlinearity = tanh or relu, "
              "radius = spectral radius of W_h}",
    clip_length="T of the clipping experiment, an integer >= 2",
    clip_hidden="hidden units of the clipping experiment's RNN, an integer >= 1",
    clip_lr="learning rate of the clipping experiment's plain SGD, a number > 0",
    clip_threshold="clip_norm of the clipped runs of the clipping experiment, a number > 0",
    clip_n_train="training sequences of the clipping experiment, an integer >= 1",
    clip_epochs="training epochs of the clipping experiment, an integer >= 1",
    blas_threads="BLAS threads during the run (small products: 1 is fastest), an integer >= 1",
    quick="whether the run uses the --quick sizes (a record; --quick sets it), true/false")


# -- data --------------------------------------------------------------------------------------------

def make_adding(n, T, rng):
    """``n`` adding-problem sequences of length ``T``: X (n, T, 2) float32, y (n, 1) float32.

    Channel 0: uniform [0, 1] numbers; channel 1: markers, one at a uniform step in [0, T//2) and one in
    [T//2, T). y = the sum of the two marked numbers.
    """
    T = int(T)
    if T < 2:
        raise ValueError(f"T: the adding problem needs at least 2 steps, got {T}")
    X = np.zeros((n, T, 2), dtype=np.float32)
    X[:, :, 0] = rng.random((n, T))
    half = T // 2
    i = rng.integers(0, half, n)
    j = rng.integers(half, T, n)
    rows = np.arange(n)
    X[rows, i, 1] = 1.0
    X[rows, j, 1] = 1.0
    y = X[rows, i, 0] + X[rows, j, 0]
    return X, y[:, None].astype(np.float32)


def _data(config, T):
    rng = np.random.default_rng([int(config["seed"]), int(T)])   # the same data for every cell at this T
    X, y = make_adding(int(config["n_train"]), T, rng)
    Xt, yt = make_adding(int(config["n_test"]), T, rng)
    return X, y, Xt, yt


def describe_data(sizes):
    """What a run trains on and holds out: ``sizes`` maps each T to the (training, test) sequence
    counts of its data sets (both drawn fresh, from one seeded generator per T)."""
    counts = set(sizes.values())
    if len(counts) == 1:
        n_tr, n_te = counts.pop()
        return (f"synthetic adding problem: trained on {n_tr:,} sequences per T in {list(sizes)}, "
                f"held out {n_te:,} fresh test sequences per T")
    per_T = lambda k: ", ".join(f"{n[k]:,} (T={T})" for T, n in sizes.items())
    return f"synthetic adding problem: trained on {per_T(0)} sequences, held out {per_T(1)} fresh test sequences"


def _hidden(config, cell):
    h = config["hidden"]
    return int(h[cell]) if isinstance(h, dict) else int(h)


def build(config, cell, seed=None):
    if cell not in CELLS:
        raise ValueError(f"cells: expected names from {sorted(CELLS)}, got {cell!r}")
    return Sequential([Recurrent(_hidden(config, cell), cell=cell), Dense(1)],
                      seed=config["seed"] if seed is None else seed)


def param_counts(config, cells=None):
    """{cell: number of parameters} of the models compared (input 2 features, Dense(1) head)."""
    out = {}
    for cell in cells or config["cells"]:
        m = build(config, cell)
        m.build(2)
        out[cell] = m.num_params()
    return out


# -- the experiments ---------------------------------------------------------------------------------

def _dh(record):
    """The first recurrent layer's dL/dh_t norms from a ``measure`` record."""
    layer = next(iter(record["layers"].values()))
    return np.asarray(layer["_l0"]["dh_norms"], dtype=float)


def _num(v):
    return float("nan") if v is None else v


def _ratio(dh):
    return float(dh[0] / dh[-1]) if dh[-1] > 0 else float("nan")


def train_one(config, cell, T, data, verbose=0):
    """Train one cell at one length; returns a dict of results (and the model)."""
    X, y, Xt, yt = data
    probe = slice(0, min(int(config["probe_size"]), len(Xt)))
    model = build(config, cell).compile("mse", config["optimizer"], lr=config["lr"],
                                        clip_norm=config.get("clip_norm"))
    model.build(2)
    init = measure(model, Xt[probe], yt[probe])
    t0 = time.perf_counter()
    status = "ok"
    try:
        hist = model.fit(X, y, epochs=int(config["epochs"]), batch_size=int(config["batch_size"]),
                         verbose=1 if verbose >= 2 else 0).history
    except TrainingError:
        status, hist = "stopped: NaN/inf (TrainingError)", {}
    seconds = time.perf_counter() - t0
    mse = float(model.evaluate(Xt, yt)["loss"]) if status == "ok" else float("nan")
    trained = measure(model, Xt[probe], yt[probe]) if status == "ok" else None
    dh0 = _dh(init)
    dh1 = _dh(trained) if trained is not None else None
    return {"cell": cell, "T": int(T), "test_mse": mse, "status": status, "seconds": seconds,
            "history": hist, "model": model, "dh_init": dh0, "dh_trained": dh1,
            "dh_ratio_init": _ratio(dh0), "dh_ratio_trained": _ratio(dh1) if dh1 is not None else None,
            "sigma_init": next(iter(init["layers"].values()))["_l0"]["sigma_max"],
            "sigma_trained": (next(iter(trained["layers"].values()))["_l0"]["sigma_max"]
                              if trained is not None else None)}


def clipping_experiment(config, verbose=0):
    """Vanilla RNN, W_h = radius * orthogonal, plain SGD: {label: summary} and {label: recorder}."""
    T = int(config["clip_length"])
    rng = np.random.default_rng([int(config["seed"]), T, 1])
    X, y = make_adding(int(config["clip_n_train"]), T, rng)
    Xt, yt = make_adding(int(config["n_test"]), T, rng)
    H = int(config["clip_hidden"])
    summaries, recorders = {}, {}
    for run in config["clip_runs"]:
        nl, radius = run["nonlinearity"], float(run["radius"])
        for clip in (None, float(config["clip_threshold"])):
            label = f"{nl}, radius {radius:g}, " + ("no clipping" if clip is None else f"clip_norm={clip:g}")
            model = Sequential([RNN(H, nonlinearity=nl), Dense(1)], seed=config["seed"])
            model.compile("mse", SGD(float(config["clip_lr"])), clip_norm=clip)
            model.build(2)
            W = orthogonal(np.random.default_rng([int(config["seed"]), 7]), H, model.dtype)
            model.layers[0].params["W_h_l0"][...] = radius * W   # spectral radius (and norm) = radius
            rec = GradientRecorder(every="epoch", sigma=False)
            try:
                model.fit(X, y, epochs=int(config["clip_epochs"]), batch_size=int(config["batch_size"]),
                          verbose=0, callbacks=[rec])
                status = f"finished {int(config['clip_epochs'])} epochs"
                mse = float(model.evaluate(Xt, yt)["loss"])
                if not np.isfinite(mse):
                    status += ", non-finite test loss"
            except TrainingError:
                status, mse = (f"stopped by TrainingError: NaN/inf at step {rec.failed} (after {rec.failed} "
                               f"update{'s' if rec.failed != 1 else ''})"), float("nan")
            g = rec.series("grad_norm")
            loss = rec.series("loss")
            finite = np.isfinite(loss)
            g_finite = np.where(np.isfinite(g), g, np.nan)
            summaries[label] = {
                "nonlinearity": nl, "radius": radius, "clip_norm": clip, "status": status,
                "steps": int(finite.sum()), "failed_step": rec.failed,
                "grad_norm_first": float(g[0]) if len(g) else float("nan"),
                "grad_norm_max": float(np.nanmax(g_finite)) if np.isfinite(g).any() else float("nan"),
                "grad_norm_median": float(np.nanmedian(g_finite)) if np.isfinite(g).any() else float("nan"),
                "loss_first": float(loss[0]) if len(loss) else float("nan"),
                "loss_last": float(loss[finite][-1]) if finite.any() else float("nan"),
                "loss_last_epoch_mean": float(np.mean(loss[finite][-(len(X) // int(config["batch_size"])):]))
                if finite.any() else float("nan"),
                "test_mse": mse, "predict_1_mse": float(np.mean((yt - 1.0) ** 2)),
            }
            recorders[label] = rec
            if verbose:
                print(f"clipping: {label}: {status}; max gradient norm {summaries[label]['grad_norm_max']:.3g}; "
                      f"test MSE {mse:.4f}", flush=True)
    return summaries, recorders


def run(config, verbose=0):
    cells = [config["cell"]] if config.get("cell") else list(config["cells"])
    lengths = [int(T) for T in config["lengths"]]
    probe_T = int(config.get("probe_length") or max(lengths))
    with Timer() as timer, blas_threads(config.get("blas_threads")):
        params = param_counts(config, cells)
        results, baseline, sizes = {}, {}, {}
        for T in lengths:
            data = _data(config, T)
            sizes[T] = (len(data[0]), len(data[2]))
            baseline[T] = float(np.mean((data[3] - 1.0) ** 2))     # predict 1, on the same test set
            for cell in cells:
                r = train_one(config, cell, T, data, verbose)
                results[(cell, T)] = r
                if verbose:
                    print(f"adding T={T:<4d} {cell:<5s} ({params[cell]} params): test MSE {r['test_mse']:.4f} "
                          f"(predict-1 {baseline[T]:.4f}); dh ratio first/last step "
                          f"{r['dh_ratio_init']:.2e} -> {_num(r['dh_ratio_trained']):.2e}; "
                          f"{r['seconds']:.0f} s", flush=True)
        if probe_T not in lengths:                                 # a probe-only length: measure at init
            data = _data({**config, "n_train": 1}, probe_T)
            for cell in cells:
                m = build(config, cell).compile("mse", config["optimizer"], lr=config["lr"])
                m.build(2)
                p = slice(0, int(config["probe_size"]))
                results[(cell, probe_T)] = {"dh_init": _dh(measure(m, data[2][p], data[3][p])),
                                            "dh_trained": None, "probe_only": True}
        clip_summary, clip_recorders = clipping_experiment(config, verbose)

    T_max = max(lengths)
    finite = {c: results[(c, T_max)]["test_mse"] for c in cells
              if np.isfinite(results[(c, T_max)]["test_mse"])}
    best = min(finite, key=finite.get) if finite else cells[0]
    best_run = results[(best, T_max)]
    trained = [r for r in results.values() if not r.get("probe_only")]
    metrics = {
        "params": params,
        "hidden": {c: _hidden(config, c) for c in cells},
        "test_mse": {c: {str(T): results[(c, T)]["test_mse"] for T in lengths} for c in cells},
        "predict_1_mse": {str(T): baseline[T] for T in lengths},
        "status": {c: {str(T): results[(c, T)]["status"] for T in lengths} for c in cells},
        "seconds": {c: {str(T): round(results[(c, T)]["seconds"], 1) for T in lengths} for c in cells},
        "dh_ratio_init": {c: {str(T): results[(c, T)]["dh_ratio_init"] for T in lengths} for c in cells},
        "dh_ratio_trained": {c: {str(T): results[(c, T)]["dh_ratio_trained"] for T in lengths} for c in cells},
        "sigma_max_W_h_init": {c: {str(T): results[(c, T)]["sigma_init"] for T in lengths} for c in cells},
        "sigma_max_W_h_trained": {c: {str(T): results[(c, T)]["sigma_trained"] for T in lengths} for c in cells},
        "probe_length": probe_T,
        "dh_norms_probe": {c: {"init": results[(c, probe_T)]["dh_init"].tolist(),
                               "trained": (None if results[(c, probe_T)]["dh_trained"] is None
                                           else results[(c, probe_T)]["dh_trained"].tolist())}
                           for c in cells},
        "clipping": clip_summary,
        "best_cell_longest_T": best,
        "train_seconds_total": round(sum(r["seconds"] for r in trained), 1),
    }

    def plot_mse(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for i, c in enumerate(cells):
            ax.plot(lengths, [results[(c, T)]["test_mse"] for T in lengths], "-o", color=f"C{i}",
                    label=f"{c.upper()} (H={_hidden(config, c)}, {params[c]} params)")
        ax.plot(lengths, [baseline[T] for T in lengths], "k--", lw=1, label="predict 1 (≈0.167)")
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_ylabel("test MSE")
        ax.set_title(f"Adding problem: {config['n_train']} sequences x {config['epochs']} epochs each")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)

    def plot_dh(path):
        curves = {}
        for c in cells:
            r = results[(c, probe_T)]
            curves[c.upper()] = {"init": r["dh_init"]} if r["dh_trained"] is None else \
                {"init": r["dh_init"], "trained": r["dh_trained"]}
        plot_dh_norms(curves, path, title=f"||dL/dh_t|| through time, adding problem T={probe_T}")

    def plot_clip(path):
        plot_grad_norms(clip_recorders, path,
                        title=f"Vanilla RNN, W_h = radius x orthogonal, SGD lr={config['clip_lr']}, "
                              f"T={config['clip_length']}")

    return AppResult(
        task="adding problem (seed §3.2, §4)",
        data=describe_data(sizes),
        metric=f"test MSE, best cell ({best.upper()}) at T={T_max}", value=best_run["test_mse"],
        baseline=baseline[T_max], baseline_name="predict 1", model=best_run["model"],
        history=best_run["history"], metrics=metrics,
        plots={"mse_by_length.png": plot_mse, "dh_norms.png": plot_dh, "clipping.png": plot_clip},
        metadata={"cell": best, "T": T_max}, seconds=timer.seconds)


def format_table(metrics) -> str:
    """The test-MSE table of a run's metrics as Markdown (cells as rows, lengths as columns)."""
    lengths = list(metrics["predict_1_mse"])
    head = "| cell (hidden, params) | " + " | ".join(f"T={T}" for T in lengths) + " |"
    sep = "|---|" + "---:|" * len(lengths)
    rows = [head, sep]
    for c, row in metrics["test_mse"].items():
        rows.append(f"| {c.upper()} ({metrics['hidden'][c]}, {metrics['params'][c]}) | "
                    + " | ".join("NaN-stop" if not np.isfinite(row[T]) else f"{row[T]:.4f}" for T in lengths)
                    + " |")
    rows.append("| predict 1 | " + " | ".join(f"{metrics['predict_1_mse'][T]:.4f}" for T in lengths) + " |")
    return "\n".join(rows)
