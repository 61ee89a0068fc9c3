"""What the epoch-trained tasks share: the model, the scalers, the split by sequence, and a fit that
keeps the run folder resumable.

During training the run folder holds ``checkpoint.npz`` (the last epoch's weights and optimiser
state, with the epoch count and the early-stopping state in its metadata), ``model.npz`` (the best
weights so far, by validation loss) and ``history.csv`` (a row per epoch, ``callbacks.CSVLogger``).
``rnnkit fit --resume RUN`` reloads the checkpoint and continues: with the same seed the weights
and the history are those of an uninterrupted run (the batches, dropout masks and Adam moments
are functions of the seed and the epoch).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..callbacks import Callback, CSVLogger
from ..layers import Dense, Recurrent
from ..model import Sequential


class Scaler:
    """Per-column standardisation, x -> (x - mean) / std, statistics from the training part only.
    Works on (..., K) arrays and on lists of (T_i, K) arrays (every step counts)."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float64)
        std = np.asarray(std, np.float64)
        self.std = np.where(std > 0, std, 1.0)

    @classmethod
    def fit(cls, values):
        rows = np.concatenate([np.asarray(v, np.float64).reshape(-1, np.shape(v)[-1]) for v in values]) \
            if isinstance(values, list) else np.asarray(values, np.float64).reshape(-1, np.shape(values)[-1])
        return cls(rows.mean(0), rows.std(0))

    def transform(self, x, dtype=np.float32):
        if isinstance(x, list):
            return [self.transform(v, dtype) for v in x]
        return ((np.asarray(x, np.float64) - self.mean) / self.std).astype(dtype)

    def inverse(self, z):
        return np.asarray(z, np.float64) * self.std + self.mean

    def to_dict(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d):
        return cls(d["mean"], d["std"])


def build_model(config, n_out, per_step=False):
    """Recurrent (the config's cell, size, depth, direction) -> Dense(n_out)."""
    layer = Recurrent(config["hidden"], num_layers=config["layers"], bidirectional=config["bidirectional"],
                      dropout=config["dropout"], return_sequences=per_step, cell=config["cell"])
    return Sequential([layer, Dense(n_out)], seed=config["seed"])


def compile_model(model, config, loss, metrics=()):
    clip = config["clip_norm"] or None
    return model.compile(loss=loss, optimizer="adam", lr=config["lr"], metrics=list(metrics), clip_norm=clip)


def random_split(n, fractions, seed):
    """Index arrays (train, validation, test) of a seeded random split of ``n`` sequences."""
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = (int(round(f * n)) for f in fractions[1:])
    if n - n_val - n_test < 1 or (fractions[1] and n_val < 1) or (fractions[2] and n_test < 1):
        raise ValueError(f"{n} sequences are too few to split into training, validation and test parts; "
                         "give more data or --test FILE, or lower --val-fraction / --test-fraction")
    parts = order[:n - n_val - n_test], order[n - n_val - n_test:n - n_test], order[n - n_test:]
    return tuple(np.sort(p) for p in parts)


class RunState(Callback):
    """Early stopping on the validation loss that survives a restart: after every epoch the run
    folder's ``checkpoint.npz`` gets the weights, the optimiser state, the epoch count and this
    callback's own state; ``model.npz`` gets the best weights so far. ``patience`` 0: never stop
    early, and keep the last weights."""

    def __init__(self, run_dir, patience, metadata, resumed=None):
        self.run_dir, self.patience, self.metadata = Path(run_dir), patience, metadata
        self.resumed = resumed                      # (state dict, best weights) of a checkpoint

    def on_train_begin(self):
        if self.resumed is not None:
            state, self.best_weights = self.resumed
            self.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
        else:
            self.best, self.wait, self.best_epoch, self.best_weights = np.inf, 0, None, None

    def on_epoch_end(self, epoch, logs):
        current = logs.get("val_loss", logs["loss"])
        if current < self.best:
            self.best, self.wait, self.best_epoch = float(current), 0, epoch
            self.best_weights = self.model.get_weights()
            self.model.save(self.run_dir / "model.npz", metadata=self.metadata, include_optimizer=False)
        else:
            self.wait += 1
            if self.patience and self.wait >= self.patience:
                self.model.stop_training = True
        state = {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch}
        self.model.save(self.run_dir / "checkpoint.npz",
                        metadata={**self.metadata, "epoch": epoch + 1, "early_stopping": state})

    def on_train_end(self):
        if self.patience and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def resume_state(run_dir):
    """(checkpoint model, epochs done, early-stopping state and best weights) of a run folder."""
    run = Path(run_dir)
    ckpt = Sequential.load(run / "checkpoint.npz")
    meta = ckpt.metadata
    if not isinstance(meta.get("epoch"), int) or "early_stopping" not in meta:
        raise ValueError(f"{run / 'checkpoint.npz'}: not a checkpoint of `rnnkit fit` (no epoch count)")
    best = Sequential.load(run / "model.npz").get_weights() if (run / "model.npz").is_file() else None
    return ckpt, meta["epoch"], (meta["early_stopping"], best)


def read_history(path, epochs=None):
    """A history.csv as {column: [values]} (the first ``epochs`` rows)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:epochs]
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r[k]) for r in rows] for k in keys}


def truncate_history(path, epochs):
    """Keep the header and the first ``epochs`` rows of a history.csv (a run killed after writing an
    epoch's row but before its checkpoint repeats that epoch)."""
    with open(path, newline="", encoding="utf-8") as fh:
        lines = fh.readlines()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.writelines(lines[:epochs + 1])


def train(model, config, train, val, run_dir, metadata, verbose, resumed=None):
    """Fit ``model`` on ``train`` = (X, y) with validation ``val`` (or None) and the run folder's
    callbacks; ``resumed`` = ``resume_state(run_dir)`` continues a run. Returns the full history."""
    run_dir = Path(run_dir)
    initial = 0 if resumed is None else resumed[1]
    if resumed is not None and config["patience"] and resumed[2][0]["wait"] >= config["patience"]:
        raise ValueError(f"--resume: {run_dir} stopped early after epoch {initial} (no better validation loss "
                         f"for {config['patience']} epochs); there is nothing to continue. Start a new run, "
                         "e.g. with a larger --patience")
    if resumed is not None:
        truncate_history(run_dir / "history.csv", initial)
    callbacks = [CSVLogger(run_dir / "history.csv", append=resumed is not None),
                 RunState(run_dir, config["patience"], metadata, None if resumed is None else resumed[2])]
    model.fit(train[0], train[1], epochs=config["epochs"], batch_size=config["batch_size"],
              validation_data=val, callbacks=callbacks, verbose=verbose, initial_epoch=initial)
    return read_history(run_dir / "history.csv")
