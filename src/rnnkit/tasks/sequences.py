"""Tasks on a set of sequences (seed §5): ``classify`` (a label per sequence, e.g. an action or a
gesture), ``regress`` (one or more values per sequence) and ``tag`` (a label per step).

The data: a long table or an NPZ (``rnnkit.data.files``). The split is by sequence, never by row:
stratified by label for ``classify`` (every class in every part), random otherwise; ``--test FILE``
replaces the test part. Features are standardised per column with statistics of the training part
only; regression targets too (predictions come back in the original units). Labels of any kind
(strings, numbers) are encoded as the sorted unique labels of the training file (``classes``).
The model: one recurrent block (cell, hidden, layers, bidirectional) reading the whole sequence,
then ``Dense``: from the last state for classify/regress, at every step for tag.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..apps.common import AppResult
from ..data import files
from . import training
from .predict import Predictor
from .training import Scaler


def read(config, path=None, encoding=None):
    """The task's data file (``path`` default: the training data) as ``files.SequenceData``."""
    return files.read_sequences(
        path or config["data"], id_col=config["id_col"], time_col=config["time_col"],
        label_col=config["label_col"], feature_cols=config["features"], categorical=config["categorical"],
        per_step=config["task"] == "tag", channels_first=config["channels_first"], encoding=encoding)


def _encode(labels, classes, where):
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in labels if v not in index})
    if unknown:
        raise ValueError(f"{where}: labels not seen in the training data: {unknown[:10]} "
                         f"(the classes: {[str(c) for c in classes][:20]})")
    return np.array([index[v] for v in labels], dtype=np.int64)


def _py(values):
    """Labels as plain Python values (JSON data) in the order given."""
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def prepare(config):
    """Everything before training: (parts {"train","val","test"} of (X, y) ready for the model,
    metadata for the model file, a description of the data)."""
    task = config["task"]
    data = read(config)
    n = len(data.X)
    if data.y is None:
        raise ValueError(f"{config['data']}: no labels or targets (--label-col)")
    test_fraction = 0.0 if config["test"] else config["test_fraction"]
    frac = (1 - config["val_fraction"] - test_fraction, config["val_fraction"], test_fraction)
    if task == "classify":
        classes = sorted(set(_py(data.y)), key=lambda v: (str(type(v)), v))
        parts = files.stratified_split(np.asarray(data.y, dtype=object), frac, seed=config["seed"])
    else:
        classes = sorted(set(_py(np.concatenate(data.y)))) if task == "tag" else None
        parts = training.random_split(n, frac, config["seed"])
    sets = {name: ([data.X[i] for i in idx], _take(data.y, idx)) for name, idx in zip(("train", "val", "test"), parts)}
    if config["test"]:
        test = read(config, config["test"], encoding=data.encoding)
        if test.y is None:
            raise ValueError(f"{config['test']}: no labels or targets to score the model on")
        sets["test"] = (test.X, test.y)
    x_scaler = Scaler.fit(sets["train"][0])
    meta = {"task": task, "channels_first": bool(config["channels_first"]), "encoding": data.encoding,
            "features": data.features, "target": data.target,
            "x_scaler": x_scaler.to_dict(), "classes": classes}
    y_scaler = None
    if task == "regress":
        _numeric_targets(data, config["data"])
        y_scaler = Scaler.fit(_as_2d(sets["train"][1]))
        meta["y_scaler"], meta["n_targets"] = y_scaler.to_dict(), _as_2d(sets["train"][1]).shape[1]
    ready = {}
    for name, (X, y) in sets.items():
        if not len(X):
            ready[name] = None
            continue
        X = x_scaler.transform(X)
        if task == "classify":
            y = _encode(_py(y), classes, name)
        elif task == "tag":
            y = _pad([_encode(_py(s), classes, name) for s in y])
        else:
            y = y_scaler.transform(_as_2d(y))
        ready[name] = (X, y)
    desc = (f"{config['data']}: {n} sequences, {len(data.features)} features"
            + (f", {len(classes)} classes" if classes else ""))
    return ready, meta, desc, sets


def _numeric_targets(data, path):
    try:
        np.asarray(data.y, dtype=np.float64)
    except (TypeError, ValueError):
        bad = next(v for v in np.asarray(data.y, dtype=object).ravel() if not _is_number(v))
        raise ValueError(f"{path}: the target column {data.target} holds values that are not numbers (e.g. "
                         f"{bad!r}); regress predicts numbers; for labels use --task classify") from None


def _is_number(v):
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _take(y, idx):
    return [y[i] for i in idx] if isinstance(y, list) else np.asarray(y)[idx]


def _as_2d(y):
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y


def _pad(seqs):
    out = np.zeros((len(seqs), max(len(s) for s in seqs)), dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


def model_for(config, meta):
    per_step = config["task"] == "tag"
    n_out = len(meta["classes"]) if meta["classes"] else meta["n_targets"]
    model = training.build_model(config, n_out, per_step)
    if config["task"] == "regress":
        return training.compile_model(model, config, "mse")
    return training.compile_model(model, config, "crossentropy", ["accuracy"])


def run(config, run_dir, verbose=0, resumed=None):
    """Train and score on the test part; returns an ``AppResult`` (the run folder's contents)."""
    ready, meta, desc, raw = prepare(config)
    model = model_for(config, meta) if resumed is None else resumed[0]
    history = training.train(model, config, ready["train"], ready["val"], run_dir, meta, verbose, resumed)
    model.metadata = meta
    metrics = score(model, config, meta, raw)
    task = config["task"]
    name = {"classify": "test accuracy", "regress": "test RMSE", "tag": "test per-step accuracy"}[task]
    key = {"classify": "accuracy", "regress": "rmse", "tag": "accuracy"}[task]
    return AppResult(task=f"{task} ({config['data']})", data=desc, metric=name, value=metrics[key],
                     baseline=metrics["baseline"], baseline_name=metrics["baseline_name"], model=model,
                     history=history, metrics=metrics, metadata=meta)


def score(model, config, meta, raw):
    """Held-out figures on the raw test part, through the same path as ``rnnkit predict``."""
    X, y = raw["test"]
    if not len(X):
        raise ValueError("no test data: give --test FILE or --test-fraction > 0")
    pred = Predictor(model).predict(X)
    train_y = raw["train"][1]
    task = config["task"]
    if task == "regress":
        y2, p2, base = _as_2d(y), _as_2d(pred), _as_2d(train_y).mean(0)
        return {"rmse": float(np.sqrt(np.mean((p2 - y2) ** 2))), "mae": float(np.mean(np.abs(p2 - y2))),
                "baseline": float(np.sqrt(np.mean((base - y2) ** 2))), "baseline_name": "training mean",
                "n_test": len(X)}
    if task == "tag":
        truth, guess = np.concatenate([np.asarray(_py(s), object) for s in y]), np.concatenate(pred)
        seen = Counter(_py(np.concatenate(train_y)))
    else:
        truth, guess = np.asarray(_py(y), object), np.asarray(pred, object)
        seen = Counter(_py(train_y))
    classes = meta["classes"]
    common = max(classes, key=lambda c: seen[c])      # a tie goes to the first class in sorted order
    confusion = [[int(np.sum((truth == a) & (guess == b))) for b in classes] for a in classes]
    return {"accuracy": float(np.mean(truth == guess)), "baseline": float(np.mean(truth == common)),
            "baseline_name": f"majority class ({common})", "confusion": confusion,
            "classes": [str(c) for c in classes], "n_test": len(X)}
