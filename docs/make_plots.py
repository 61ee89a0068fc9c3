"""The figures of the course pages, from small real runs: ``python docs/make_plots.py [NAME ...]``.

One function per figure; each trains what it shows (seconds, one BLAS thread is plenty) and writes a
PNG into ``docs/img/``. With no argument every figure is made; with names, only those
(``python docs/make_plots.py overfitting_curves``). Needs matplotlib.

- ``overfitting_curves`` -> ``img/overfitting_curves.png`` (docs/course/cost-and-overfitting.md):
  training and held-out loss per epoch of the same GRU without regularisation, with L2 and with
  dropout, on the page's small noisy task, and the epoch early stopping keeps.
- ``attention_weights`` -> ``img/attention_weights.png`` (docs/course/future.md): the weights an
  ``AttentionPooling`` layer learns on a task whose answer sits at one marked step.
- ``adding`` -> ``img/adding_mse_by_length.png``, ``img/adding_dh_norms.png``,
  ``img/adding_clipping.png`` (docs/gradients.md): the adding-problem recipe's own figures, from a
  full ``rnnkit train adding`` run with its default settings (the run the page's tables report; the
  longest figure to remake, minutes).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

IMG = Path(__file__).resolve().parent / "img"


def sign_task(n, rng, T=10, D=2, noise=0.0):
    """As on the page: is the sum of the first channel positive? A fraction ``noise`` of the labels flipped."""
    X = rng.standard_normal((n, T, D)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(np.float32)
    flip = rng.random(n) < noise
    y[flip] = 1 - y[flip]
    return X, y


def overfitting_curves(epochs=60):
    """Train and held-out loss per epoch: no regularisation, L2 0.03, dropout; the early-stopping epoch."""
    from rnnkit import GRU, Dense, Dropout, EarlyStopping, Sequential

    data_rng = np.random.default_rng(1)                   # the page's data
    X_train, y_train = sign_task(80, data_rng, noise=0.15)
    X_val, y_val = sign_task(200, data_rng, noise=0.15)

    def train(layers, callbacks=(), **regularisation):
        model = Sequential(layers, seed=0)
        model.compile("binary_crossentropy", "adam", lr=0.003, metrics=["accuracy"], **regularisation)
        return model.fit(X_train, y_train, epochs=epochs, batch_size=16, validation_data=(X_val, y_val),
                         callbacks=callbacks, verbose=0).history

    runs = {"no regularisation": train([GRU(32), Dense(1)]),
            "L2, $\\lambda_2 = 0.03$": train([GRU(32), Dense(1)], l2=0.03),
            "dropout 0.5 + recurrent 0.3": train([GRU(32, recurrent_dropout=0.3), Dropout(0.5), Dense(1)])}
    stop = EarlyStopping(monitor="val_loss", patience=5)
    train([GRU(32), Dense(1)], callbacks=[stop])          # the same run as the first, stopped early

    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, h), colour in zip(runs.items(), ("C3", "C0", "C2")):
        e = np.arange(1, len(h["loss"]) + 1)
        ax.plot(e, h["val_loss"], color=colour, label=f"{name}: held-out")
        ax.plot(e, h["loss"], color=colour, linestyle="--", alpha=0.7, label=f"{name}: training")
        print(f"{name}: held-out loss min {min(h['val_loss']):.3f} (epoch {int(np.argmin(h['val_loss'])) + 1}), "
              f"last {h['val_loss'][-1]:.3f}; training loss last {h['loss'][-1]:.3f}")
    best = stop.best_epoch
    ax.plot(best + 1, runs["no regularisation"]["val_loss"][best], "o", color="k", zorder=5,
            label=f"early stopping keeps epoch {best + 1}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy")
    ax.set_ylim(0, 1.5)
    ax.set_title("GRU(32), 80 training sequences, 15% of labels flipped")
    ax.legend(fontsize=7.5, ncol=2)
    fig.tight_layout()
    fig.savefig(IMG / "overfitting_curves.png", dpi=110)
    plt.close(fig)


def attention_weights(epochs=10):
    """AttentionPooling on a task whose answer is the value at one marked step: the learned weights
    (the page's model, data and budget; the first six of its test sequences)."""
    from rnnkit import GRU, Dense, Sequential
    from rnnkit.layers import AttentionPooling

    def marked(n, rng, T=20):
        X = np.zeros((n, T, 2), dtype=np.float32)
        X[:, :, 0] = rng.uniform(-1, 1, (n, T))
        where = rng.integers(0, T, n)
        X[np.arange(n), where, 1] = 1.0                     # the marker channel
        return X, X[np.arange(n), where, 0], where

    data_rng = np.random.default_rng(0)
    X, y, _ = marked(300, data_rng)
    X_test, y_test, where = marked(200, data_rng)
    model = Sequential([GRU(8, bidirectional=True, return_sequences=True), AttentionPooling(), Dense(1)], seed=0)
    model.compile("mse", "adam", lr=0.01)
    model.fit(X, y, epochs=epochs, batch_size=32, verbose=0)
    a = model.layers[1].attention(model.layers[0].forward(X_test))
    print(f"test MSE {model.evaluate(X_test, y_test)['loss']:.4f}; mean weight on the marked step "
          f"{a[np.arange(len(a)), where].mean():.3f}")
    a, where = a[:6], where[:6]

    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.imshow(a, aspect="auto", cmap="Blues", vmin=0, vmax=1)
    ax.plot(where, np.arange(6), "x", color="C3", label="marked step")
    ax.set_xticks(range(0, a.shape[1], 2))
    ax.set_xlabel("time step")
    ax.set_ylabel("test sequence")
    ax.set_title("attention weights of AttentionPooling after a bidirectional GRU")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "attention_weights.png", dpi=110)
    plt.close(fig)


def adding():
    """The adding-problem recipe (seed §3.2), default settings; the run's own three plots are drawn to
    ``img/adding_*.png``."""
    from rnnkit.apps import adding as recipe

    result = recipe.run(recipe.default_config(), verbose=1)
    for name, draw in result.plots.items():                  # mse_by_length.png, dh_norms.png, clipping.png
        draw(str(IMG / f"adding_{name}"))


FIGURES = {"overfitting_curves": overfitting_curves, "attention_weights": attention_weights, "adding": adding}

if __name__ == "__main__":
    names = sys.argv[1:] or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        sys.exit(f"make_plots.py: unknown figure(s) {unknown}; choose from {list(FIGURES)}")
    IMG.mkdir(exist_ok=True)
    for name in names:
        print(f"--- {name}")
        FIGURES[name]()
