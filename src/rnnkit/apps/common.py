"""What every application shares: the result record, scaling, and the run-folder plots.

An application module exposes ``NAME``, ``DESCRIPTION``, ``default_config(quick=False) -> dict``,
``SETTINGS`` (each key of ``default_config()`` -> one line of help: what it is, units, allowed values;
``rnnkit train APP --help`` prints it) and ``run(config, verbose=0) -> AppResult``. The CLI
(``rnnkit train APP``) writes the run folder.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..layers import Recurrent

#: The help of the settings that several applications share (an app's ``SETTINGS`` takes those it has).
SHARED_SETTINGS = {
    "cell": "the recurrent cell: gru, lstm or rnn (tanh)",
    "hidden": "hidden units per recurrent layer (per direction when bidirectional), an integer >= 1",
    "layers": "stacked recurrent layers, an integer >= 1",
    "bidirectional": "true: each recurrent layer also reads the sequence backwards (true/false)",
    "epochs": "training epochs (passes over the training data), an integer >= 1",
    "batch_size": "sequences per training batch, an integer >= 1",
    "lr": "learning rate of the Adam optimizer, a number > 0",
    "seed": "random seed of the weight initialisation and the batch order, an integer >= 0",
    "clip_norm": "gradient clipping: the largest global gradient norm of a step, a number > 0",
    "dropout": "dropout rate, a number in [0, 1) (0: no dropout)",
    "l2": "L2 penalty on the weight matrices (added to the loss), a number >= 0",
    "patience": "early stopping: epochs without a lower validation loss before training stops (the best "
                "epoch's weights are kept), an integer >= 1",
}


def settings(*shared, **own):
    """An app's ``SETTINGS``: the ``shared`` keys' help from ``SHARED_SETTINGS``, then ``own``
    (key -> help), which may also replace a shared text."""
    return {**{key: SHARED_SETTINGS[key] for key in shared}, **own}


@dataclass
class AppResult:
    task: str                  # e.g. "sunspots forecasting (seed §5.2.1)"
    data: str                  # e.g. "yearly sunspots 1700-2008, last 15% held out"
    metric: str                # e.g. "test RMSE"
    value: float               # rnnkit's figure on held-out data
    baseline: float | None     # the baseline's figure on the same data
    baseline_name: str
    model: object = None       # the trained Sequential
    history: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)   # everything measured, for metrics.json
    plots: dict = field(default_factory=dict)     # file name -> callable(path) drawing the app's own plot
    metadata: dict = field(default_factory=dict)  # saved with the model (e.g. a vocabulary, a scaler)
    seconds: float = 0.0

    def row(self):
        return {"task": self.task, "data": self.data, "metric": self.metric,
                "rnnkit": self.value, "baseline": self.baseline, "baseline_name": self.baseline_name,
                "seconds": self.seconds}


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


class Standardizer:
    """x -> (x - mean) / std with statistics from the training part only (no look-ahead)."""

    def __init__(self, values):
        v = np.asarray(values, dtype=np.float64)
        self.mean, self.std = float(v.mean()), float(v.std() or 1.0)

    def transform(self, x):
        x = np.asarray(x)
        return ((x - self.mean) / self.std).astype(np.float32)

    def inverse(self, z):
        return np.asarray(z, dtype=np.float64) * self.std + self.mean

    def to_dict(self):
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d):
        new = cls.__new__(cls)
        new.mean, new.std = float(d["mean"]), float(d["std"])
        return new


class ChannelStandardizer:
    """x[..., c] -> (x[..., c] - mean_c) / std_c, statistics over every training step of every series."""

    def __init__(self, series=None, mean=None, std=None):
        if series is not None:
            allsteps = np.concatenate([np.asarray(s, np.float64).reshape(-1, np.shape(s)[-1]) for s in series])
            mean, std = allsteps.mean(0), allsteps.std(0)
        self.mean = np.asarray(mean, np.float64)
        std = np.asarray(std, np.float64)
        self.std = np.where(std > 0, std, 1.0)

    def transform(self, x):
        return ((np.asarray(x, np.float64) - self.mean) / self.std).astype(np.float32)

    def to_dict(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d):
        return cls(mean=d["mean"], std=d["std"])

    @classmethod
    def of_model(cls, model, X_train):
        """The scaler saved in a model's metadata, else one fitted on ``X_train``."""
        meta = getattr(model, "metadata", None) or {}
        return cls.from_dict(meta["scaler"]) if "scaler" in meta else cls(X_train)


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def mae(a, b):
    return float(np.mean(np.abs(np.asarray(a, float) - np.asarray(b, float))))


def plot_history(history: dict, path, curves=None, ylabel="loss"):
    """The loss curves of a run, as a PNG: against the epoch, or against the optimizer step where the
    history logs one (``history["step"]``, e.g. the charlm recipe). ``curves``: {history key: legend
    label} (default: train and validation loss)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    by_step = len(history.get("step", ())) == len(history.get("loss", ())) > 0
    for key, label in (curves or {"loss": "loss", "val_loss": "val_loss"}).items():
        if key in history:
            x = history["step"] if by_step and len(history[key]) == len(history["step"]) \
                else np.arange(1, len(history[key]) + 1)
            ax.plot(x, history[key], label=label)
    ax.set_xlabel("optimizer step" if by_step else "epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def recurrent_layer(config, **kwargs) -> Recurrent:
    """The recurrent layer a recipe's config names: ``cell`` (any cell of ``rnnkit.ops.CELLS``),
    ``hidden``, ``layers`` and ``bidirectional``; ``kwargs`` go to ``Recurrent`` (e.g.
    ``return_sequences=True``)."""
    return Recurrent(config["hidden"], num_layers=config.get("layers", 1),
                     bidirectional=bool(config.get("bidirectional", False)), cell=config["cell"], **kwargs)
