"""Predictions of a model trained by ``rnnkit fit``, in the user's terms: class names and
probabilities, values in the original units, a label per step, the next steps of a series.

    p = Predictor.load("runs/gestures")          # a run folder or its model.npz
    p.predict(X)                                  # X: a list of (T_i, F) arrays of raw features
    p.predict_file("new.csv")                     # read with the training data's columns and encoding

Everything needed is in the model file's metadata (``model.metadata``): the task, the feature
encoding, the feature scaler, the classes or the target scaler, the forecast window. ``rnnkit
predict`` is this class plus an output format.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import runtime
from ..data import files
from ..model import Sequential
from .training import Scaler


class Predictor:
    def __init__(self, model):
        meta = getattr(model, "metadata", None) or {}
        if meta.get("task") not in ("classify", "regress", "tag", "forecast"):
            why = f"its task is {meta['task']!r}" if "task" in meta else "its metadata names no task"
            raise ValueError(f"not a model trained by `rnnkit fit` for classify, regress, tag or forecast "
                             f"({why}); for raw outputs use Sequential.predict"
                             + ("; for a language model use `rnnkit generate`" if meta.get("task") == "lm" else ""))
        self.model, self.meta, self.task = model, meta, meta["task"]
        self.x_scaler = Scaler.from_dict(meta["x_scaler"])
        self.y_scaler = Scaler.from_dict(meta["y_scaler"]) if "y_scaler" in meta else None
        self.classes = meta.get("classes")

    @classmethod
    def load(cls, path):
        """From a run folder (its ``model.npz``), a model file or an ONNX file of ``rnnkit export``."""
        path = Path(path)
        if path.suffix.lower() == ".onnx":              # an export of ``rnnkit export``, run in onnxruntime
            return cls(runtime.OnnxModel(path))
        return cls(Sequential.load(path / "model.npz" if path.is_dir() else path))

    # -- raw arrays ----------------------------------------------------------------------------
    def _outputs(self, X):
        if isinstance(X, np.ndarray) and X.ndim == 3:
            X = list(X)
        if not isinstance(X, list):
            raise TypeError("X: expected a list of (time, features) arrays or a (N, T, F) array")
        return self.model.predict(self.x_scaler.transform(X))

    def predict_proba(self, X):
        """Class probabilities, columns in ``classes`` order: (N, K) per sequence, or for tag a list
        of (T_i, K) arrays."""
        if self.classes is None:
            raise ValueError(f"predict_proba: the model's task is {self.task}, not a classification")
        p = self.model.predict_proba(self.x_scaler.transform(list(X)))
        return [p[i, :len(x)] for i, x in enumerate(X)] if self.task == "tag" else p

    def predict(self, X):
        """Labels (classify: one per sequence; tag: an array per sequence), values in original units
        (regress: (N,) or (N, K)), or for forecast the next ``horizon`` steps after each window:
        (N, horizon, K_targets)."""
        if self.task == "forecast":
            X = np.asarray(X, dtype=np.float64)
            if X.ndim != 3 or X.shape[1:] != (self.meta["window"], len(self.meta["columns"])):
                raise ValueError(f"X: expected windows of shape (N, {self.meta['window']}, "
                                 f"{len(self.meta['columns'])}), got {X.shape}")
            last = X[:, -1:, :]             # the model reads the window from its last value (tasks.forecast)
            out = self.model.predict(self.x_scaler.transform(X - last))
            out = out.reshape(len(X), self.meta["horizon"], len(self.meta["targets"]))
            return self.y_scaler.inverse(out) + last[:, :, self.meta["target_index"]]
        out = self._outputs(list(X))
        if self.task == "regress":
            values = self.y_scaler.inverse(out)
            return values[:, 0] if self.meta.get("n_targets", 1) == 1 else values
        ids = out.argmax(-1)
        classes = np.asarray(self.classes, dtype=object)
        if self.task == "tag":
            return [classes[ids[i, :len(x)]] for i, x in enumerate(X)]
        return classes[ids]

    # -- files -------------------------------------------------------------------------------
    def read_file(self, path, channels_first=None):
        """The sequences of a data file, read with the training data's columns and encoding
        (labels optional), or for forecast a series' last window. ``channels_first`` None: as the
        training data was read."""
        if channels_first is None:
            channels_first = bool(self.meta.get("channels_first", False))
        if self.task == "forecast":
            _, values, names = files.read_series(path, time_col=self.meta["encoding"].get("time"),
                                                 value_cols=self.meta["columns"])
            window = self.meta["window"]
            if len(values) < window:
                raise ValueError(f"{path}: {len(values)} rows; the model reads windows of {window} steps")
            return values[None, -window:]
        return files.read_sequences(path, encoding=self.meta["encoding"], per_step=self.task == "tag",
                                    channels_first=channels_first, require_label=False)

    def predict_file(self, path, channels_first=None):
        """``predict`` on a data file (read by ``read_file``): labels or values, one per sequence (an
        array per sequence for tag), or for forecast the ``(horizon, targets)`` steps after its end."""
        if self.task == "forecast":
            return self.predict(self.read_file(path))[0]
        return self.predict(self.read_file(path, channels_first).X)

    def table(self, path, proba=False, channels_first=None):
        """(header, rows) of the predictions for a data file, as ``rnnkit predict`` writes them:
        one row per sequence (per step for tag; per forecast step for forecast)."""
        if self.task == "forecast":
            pred = self.predict(self.read_file(path))[0]
            return ["step", *self.meta["targets"]], [[h + 1, *map(float, row)] for h, row in enumerate(pred)]
        data = self.read_file(path, channels_first)
        pred = self.predict(data.X)
        probs = self.predict_proba(data.X) if proba else None
        names = [f"p({c})" for c in self.classes] if proba else []
        if self.task == "regress":
            target = self.meta["target"]
            values = np.asarray(pred).reshape(len(pred), -1)
            cols = target if isinstance(target, list) else [target or "prediction"]
            if len(cols) != values.shape[1]:            # an NPZ's y has no column names
                cols = [f"y{j}" for j in range(values.shape[1])]
            return ["id", *cols], [[i, *map(float, v)] for i, v in zip(data.ids, values)]
        if self.task == "tag":
            rows = [[i, t + 1, _plain(lab), *(map(float, probs[k][t]) if proba else ())]
                    for k, (i, labs) in enumerate(zip(data.ids, pred)) for t, lab in enumerate(labs)]
            return ["id", "step", "label", *names], rows
        rows = [[i, _plain(lab), *(map(float, probs[k]) if proba else ())]
                for k, (i, lab) in enumerate(zip(data.ids, pred))]
        return ["id", "label", *names], rows


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v
