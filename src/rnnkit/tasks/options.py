"""The settings of ``rnnkit fit`` (and ``rnnkit.tasks.fit``): one table, read by the command line's
parser, by ``--config FILE.toml`` and by the run folder's ``config.json``.

Each entry: name -> (default, kind, help, tasks). ``kind`` is "str", "int", "float", "bool" or
"list" (a list of column names); ``tasks`` is the tuple of tasks the setting applies to (None: all).
"""
from __future__ import annotations

import math

from ..ops import CELLS

TASKS = ("classify", "regress", "tag", "forecast", "lm")
SEQ = ("classify", "regress", "tag")
TRAINED_BY_EPOCH = ("classify", "regress", "tag", "forecast")

OPTIONS = {
    # the data
    "data": (None, "str", "the training data: CSV/TSV/Parquet (long format), NPZ, a series CSV "
                          "(forecast) or a text file (lm)", None),
    "task": (None, "str", "what to learn: classify (a label per sequence), regress (a value per "
                          "sequence), tag (a label per step), forecast (the next steps of a series), "
                          "lm (a character language model)", None),
    "test": (None, "str", "held-out test data in the same layout (default: a split of DATA: stratified "
                          "for classify, by sequence for regress/tag, the end of the series for "
                          "forecast and lm)", None),
    "id_col": (None, "str", "sequence-id column of a long table (default: detected from the names)", SEQ),
    "time_col": (None, "str", "column to order rows by (default: detected; none: file order)",
                 SEQ + ("forecast",)),
    "label_col": (None, "list", "label / target column (default: detected from the names); regress "
                                "takes several, comma-separated, for several targets", SEQ),
    "features": (None, "list", "feature columns, comma-separated (default: every other column)",
                 SEQ + ("forecast",)),
    "categorical": (None, "list", "columns to one-hot encode, comma-separated (non-numeric columns "
                                  "always are)", SEQ),
    "channels_first": (False, "bool", "an NPZ's X is (N, channels, time), as aeon/sktime store it", SEQ),
    "window": (24, "int", "forecast: input steps per window", ("forecast",)),
    "horizon": (1, "int", "forecast: steps ahead to predict (multi-step output)", ("forecast",)),
    "targets": (None, "list", "forecast: the value columns to predict (default: all)", ("forecast",)),
    "encoding": ("utf-8", "str", "lm: the text file's encoding (e.g. latin-1)", ("lm",)),
    # the model
    "cell": ("lstm", "str", "recurrent cell: rnn, lstm or gru", None),
    "hidden": (64, "int", "hidden units per recurrent layer", None),
    "layers": (1, "int", "stacked recurrent layers", None),
    "bidirectional": (False, "bool", "read each sequence in both directions (not for forecast or lm)",
                      ("classify", "regress", "tag")),
    "dropout": (0.0, "float", "dropout between stacked recurrent layers", None),
    "embed_dim": (32, "int", "lm: character embedding size", ("lm",)),
    # training
    "epochs": (100, "int", "the most epochs to train (early stopping may end sooner)", TRAINED_BY_EPOCH),
    "batch_size": (32, "int", "sequences per batch", None),
    "lr": (1e-3, "float", "learning rate (Adam)", None),
    "clip_norm": (1.0, "float", "clip the global gradient norm to this (0: no clipping)", None),
    "patience": (10, "int", "early stopping: epochs without a better validation loss (0: never stop "
                            "early; the last epoch's weights are kept)", TRAINED_BY_EPOCH),
    "val_fraction": (0.1, "float", "fraction of the training data held out for validation", None),
    "test_fraction": (0.1, "float", "fraction held out for the test figures when --test is not given",
                      None),
    "seed": (0, "int", "random seed (splits, initial weights, shuffling, dropout)", None),
    "steps": (1000, "int", "lm: optimizer steps, each on batch_size random chunks", ("lm",)),
    "seq_len": (100, "int", "lm: characters per training chunk", ("lm",)),
}

INT_MIN = {"hidden": 1, "layers": 1, "epochs": 1, "batch_size": 1, "window": 1, "horizon": 1, "patience": 0,
           "seed": 0, "steps": 1, "seq_len": 2, "embed_dim": 1}


def defaults() -> dict:
    return {k: v[0] for k, v in OPTIONS.items()}


def check(config: dict) -> dict:
    """``config`` with every setting present and valid; raises ValueError naming the setting."""
    unknown = sorted(set(config) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; the settings are: {', '.join(OPTIONS)}")
    out = {**defaults(), **{k: v for k, v in config.items() if v is not None}}
    if out["task"] not in TASKS:
        raise ValueError(f"task: expected one of {', '.join(TASKS)}, got {out['task']!r}")
    if not out["data"]:
        raise ValueError("data: no training data given")
    for name, (_, kind, _, _) in OPTIONS.items():
        value = out[name]
        if value is None:
            continue
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) or value < INT_MIN.get(name, 0):
                raise ValueError(f"{name}: expected an integer >= {INT_MIN.get(name, 0)}, got {value!r}")
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name}: expected a number, got {value!r}")
            out[name] = float(value)
        elif kind == "bool" and not isinstance(value, bool):
            raise ValueError(f"{name}: expected true or false, got {value!r}")
        elif kind == "str" and not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r}")
        elif kind == "list":
            if isinstance(value, str):
                value = out[name] = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
                raise ValueError(f"{name}: expected column names, got {value!r}")
    _check_applies(config, out)
    if isinstance(out["label_col"], list):
        if len(out["label_col"]) > 1 and out["task"] != "regress":
            raise ValueError(f"label_col: {out['task']} takes one label column, got {out['label_col']}")
        if len(out["label_col"]) == 1:
            out["label_col"] = out["label_col"][0]
    for name, lo, hi in (("val_fraction", 0, 0.9), ("test_fraction", 0, 0.9), ("dropout", 0, 0.95)):
        if not lo <= out[name] <= hi:
            raise ValueError(f"{name}: expected a number in [{lo}, {hi}], got {out[name]}")
    if out["dropout"] and out["layers"] < 2:
        raise ValueError("dropout: drops the outputs passed between stacked recurrent layers, and with "
                         "layers 1 there are none; give layers >= 2 or no dropout")
    if out["lr"] <= 0 or out["clip_norm"] < 0:
        raise ValueError("lr must be > 0 and clip_norm >= 0")
    if out["cell"] not in CELLS:
        raise ValueError(f"cell: expected one of {', '.join(sorted(CELLS))}, got {out['cell']!r}")
    if out["patience"] and not out["val_fraction"] and out["task"] != "lm":
        raise ValueError("patience: early stopping watches the validation loss; give val_fraction > 0, "
                         "or patience 0")
    if out["bidirectional"] and out["task"] in ("forecast", "lm"):
        raise ValueError(f"bidirectional: not for the {out['task']} task (it predicts what comes next "
                         "from the past only)")
    if not out["test"] and not out["test_fraction"]:
        raise ValueError("test_fraction: 0 leaves no held-out data to score the model on; give a test "
                         "file (--test FILE) or test_fraction > 0")
    if out["val_fraction"] + (0 if out["test"] else out["test_fraction"]) >= 0.9:
        raise ValueError("val_fraction + test_fraction: leave at least 10% of the data for training")
    return out


def _check_applies(given, out):
    """A setting given for a task it does not apply to is a mistake (a --window on classify would
    otherwise be ignored without a word); a value equal to the default is not (a run's saved
    config.json holds every setting)."""
    for name, (default, _, _, only) in OPTIONS.items():
        value = given.get(name)
        if only is None or out["task"] in only or value is None or value == default:
            continue
        raise ValueError(f"{name}: applies to the {', '.join(only)} task{'s' if len(only) > 1 else ''}, "
                         f"not to {out['task']}")
