"""``rnnkit fit`` and ``rnnkit predict``: training on the user's own data and predicting with the
result (the engine is :mod:`rnnkit.tasks`).

    rnnkit fit gestures.csv --task classify --out runs/gestures        # a run folder
    rnnkit fit --resume runs/gestures --epochs 200                     # continue it
    rnnkit fit --config runs/gestures/config.toml --out runs/again      # repeat it
    rnnkit predict runs/gestures new.csv --proba --output pred.csv

Every setting of :data:`rnnkit.tasks.options.OPTIONS` is an option (``hidden`` -> ``--hidden``) and a
key of the TOML file; the command line wins over the file.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import _toml, runtime, tasks
from ._atomic import atomic_write
from .cli_args import (
    EXIT_USAGE,
    CliError,
    check_inputs_fit,
    check_out_dir,
    existing_file,
    load_inputs,
    load_model,
)
from .cli_export import model_path
from .cli_runs import write_config_toml
from .data import files
from .model import Sequential
from .ops import CELLS
from .tasks.options import OPTIONS, TASKS

METAVARS = {"test": "FILE", "id_col": "COL", "time_col": "COL", "label_col": "COL", "encoding": "NAME",
            "cell": "{" + ",".join(sorted(CELLS)) + "}"}


def _type(name, kind):
    lo = tasks.options.INT_MIN.get(name, 0)

    def parse(text):
        try:
            value = int(text) if kind == "int" else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind == 'int' else 'a number'}, "
                                             f"got {text!r}") from None
        if kind == "int" and value < lo:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {value}")
        return value
    parse.__name__ = kind
    return parse


def add_commands(command):
    """Add ``fit`` and ``predict`` to the parser; ``command(name, help)`` makes a sub-parser."""
    f = command("fit", "train on your own data (CSV, Parquet, NPZ, a series, a text) and write a run folder")
    f.add_argument("data", nargs="?", metavar="DATA", help=OPTIONS["data"][2])
    f.add_argument("--task", choices=TASKS, help=OPTIONS["task"][2])
    for name, (default, kind, text, only) in OPTIONS.items():
        if name in ("data", "task"):
            continue
        flag = "--" + name.replace("_", "-")
        where = "" if only is None else f" [{', '.join(only)}]"
        shown = f" (default: {default})" if default is not None else ""
        if kind == "bool":
            f.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text + shown + where)
        else:
            metavar = {"list": "COL[,COL...]", "int": "N", "float": "X"}.get(kind) or METAVARS.get(name, "TEXT")
            f.add_argument(flag, default=None, type=_type(name, kind) if kind in ("int", "float") else str,
                           metavar=metavar, help=text + shown + where)
    f.add_argument("--config", metavar="FILE.toml",
                   help="read settings from a TOML file (a run folder's config.toml repeats that run); "
                        "options given on the command line win")
    f.add_argument("--resume", metavar="RUN",
                   help="continue the run in this folder from its last checkpoint (same data and settings; "
                        "--epochs may raise the total)")
    f.add_argument("--out", metavar="DIR", help="run folder (default runs/TASK-TIMESTAMP); must not exist or "
                                                "be empty, unless --overwrite")
    f.add_argument("--overwrite", action="store_true", help="write into an existing, non-empty --out folder")
    f.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                   help="progress: 0 none, 1 a bar and a line per epoch, 2 a line per epoch "
                        "(default: 1 on a terminal, 2 otherwise)")

    p = command("predict", "predictions of a model for a data file (class names, original units)")
    p.add_argument("model", metavar="RUN_OR_MODEL",
                   help="a run folder of `rnnkit fit`, a model file (.npz) or an ONNX file of `rnnkit export` "
                        "(.onnx: run in onnxruntime)")
    p.add_argument("inputs", metavar="DATA",
                   help="data in the layout the model was trained on (CSV, TSV, Parquet, NPZ, a series); "
                        "for a model without task metadata also a .npy array (raw outputs)")
    p.add_argument("--output", metavar="FILE",
                   help="write to FILE instead of stdout: CSV for a .csv name, JSON for .json, else a NumPy .npy "
                        "array under the name as given; its folder must exist")
    p.add_argument("--proba", action="store_true", help="classify/tag: add a probability column per class")
    p.add_argument("--channels-first", action=argparse.BooleanOptionalAction, default=None,
                   help="an NPZ's X is (N, channels, time) (default: as the model's training data was read)")


# -- fit ---------------------------------------------------------------------------------------------

def read_toml(path):
    p = existing_file(path, "a TOML file of settings")
    try:
        with open(p, "rb") as fh:
            data = _toml.load(fh)
    except (_toml.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CliError(f"{path}: not valid TOML ({e})", EXIT_USAGE) from None
    unknown = sorted(set(data) - set(OPTIONS))
    if unknown:
        raise CliError(f"{path}: unknown settings {unknown}; the settings are: {', '.join(OPTIONS)}", EXIT_USAGE)
    return data


def _config(args):
    if args.resume:
        run = Path(args.resume)
        if not (run / "config.json").is_file() or not (run / "checkpoint.npz").is_file():
            raise CliError(f"--resume {run}: not a run folder of `rnnkit fit` with a checkpoint "
                           "(config.json and checkpoint.npz)")
        config = {k: v for k, v in json.loads((run / "config.json").read_text("utf-8")).items() if k in OPTIONS}
        given = {k for k in OPTIONS if getattr(args, k, None) is not None} - {"epochs"}
        if given:
            raise CliError(f"--resume: only --epochs may change when resuming (given: "
                           f"{', '.join('--' + k.replace('_', '-') for k in sorted(given))})", EXIT_USAGE)
    else:
        config = read_toml(args.config) if args.config else {}
    for name in OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            config[name] = value
    for name in ("data", "test"):          # relative paths in a TOML file are relative to the file
        if args.config and name in config and not os.path.isabs(config[name]) and getattr(args, name) is None:
            config[name] = str(Path(args.config).parent / config[name])
    if not config.get("task"):
        raise CliError("fit: give --task (one of " + ", ".join(TASKS) + ")", EXIT_USAGE)
    if not config.get("data"):
        raise CliError("fit: give the training DATA file", EXIT_USAGE)
    try:
        return tasks.check(config)
    except ValueError as e:
        raise CliError(f"fit: {e}", EXIT_USAGE) from None


def cmd_fit(args, write_run, format_table):
    config = _config(args)
    existing_file(config["data"], "a data file")
    if config["test"]:
        existing_file(config["test"], "a data file")
    if args.resume:
        out = Path(args.resume)
    else:
        out = Path(args.out or os.path.join("runs", f"{config['task']}-{time.strftime('%Y%m%d-%H%M%S')}"))
        check_out_dir(out, args.overwrite)
    verbose = args.verbose if args.verbose is not None else (1 if sys.stderr.isatty() else 2)
    created = not out.exists()
    before = _snapshot(out)
    if not args.resume:
        write_config(out, config)
    try:
        result = tasks.fit(config, out, verbose=verbose, resume=bool(args.resume))
    except BaseException:
        if not args.resume and _mtime(out / "checkpoint.npz") == before["checkpoint"]:
            _restore_config(out, created, before)   # nothing trained: the folder is as it was
        raise
    write_run(result, config, None, out, kind="task")
    print(format_table([result.row()]))
    print(f"run folder: {out}")


FIT_NULL_NOTE = "TOML has no null, so the key is left out: it takes its default (detected from the data)"


def write_config(out, config):
    """The run's settings, written before training so that an interrupted run can be resumed
    (config.json, read by --resume) and repeated (config.toml, read by --config). The data paths are
    absolute: the files work from any folder."""
    saved = {**config, **{k: str(Path(config[k]).resolve()) for k in ("data", "test") if config[k]}}
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "config.json", "w") as fh:
        fh.write(json.dumps(saved, indent=1) + "\n")
    write_config_toml(out / "config.toml", saved, command="rnnkit fit", null_note=FIT_NULL_NOTE)


CONFIG_FILES = ("config.json", "config.toml")


def _mtime(path):
    return path.stat().st_mtime_ns if path.is_file() else None


def _snapshot(out):
    """What a failed start must put back: the settings files of a run folder given with --overwrite
    (their bytes), and when its checkpoint was written."""
    return {"checkpoint": _mtime(out / "checkpoint.npz"),
            **{n: (out / n).read_bytes() if (out / n).is_file() else None for n in CONFIG_FILES}}


def _restore_config(out, created, before):
    for name in CONFIG_FILES:
        if before[name] is None:
            (out / name).unlink(missing_ok=True)
        else:
            with atomic_write(out / name) as fh:
                fh.write(before[name])
    if created and out.is_dir() and not any(out.iterdir()):
        out.rmdir()


# -- predict -----------------------------------------------------------------------------------------

def _write(header, rows, output):
    if output is None:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        return
    suffix = Path(output).suffix.lower()
    if suffix == ".json":
        text = json.dumps([dict(zip(header, r)) for r in rows], indent=1) + "\n"
    elif suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        text = buf.getvalue()
    else:
        keep = ([j for j, h in enumerate(header) if h.startswith("p(")]
                or [j for j, h in enumerate(header) if h not in ("id", "step")])
        numeric = [[r[j] for j in keep] for r in rows]
        try:
            arr = np.asarray(numeric, dtype=np.float64)
        except (TypeError, ValueError):
            arr = np.asarray(numeric).astype(str)
        with atomic_write(output) as fh:
            np.save(fh, arr)
        return
    with atomic_write(output, "w") as fh:
        fh.write(text)


def _check_output(output):
    if output is None:
        return
    out = Path(output)
    if out.is_dir():
        raise CliError(f"--output {out}: is a folder; give a file name (.csv, .json or .npy)")
    if not out.absolute().parent.is_dir():
        raise CliError(f"--output {out}: the folder {out.absolute().parent} does not exist")


def _load(path):
    """A model file: rnnkit's .npz, or an ONNX file of ``rnnkit export`` (an ``OnnxModel``)."""
    if path.suffix.lower() != ".onnx":
        return load_model(path)
    existing_file(path, "an ONNX file")
    try:
        return runtime.OnnxModel(path)
    except ImportError as e:
        raise CliError(str(e)) from None
    except Exception as e:                      # onnxruntime's own errors for a file that is not ONNX
        raise CliError(f"{path}: not an ONNX model written by `rnnkit export` ({str(e).strip()[:300]})") from None


def cmd_predict(args):
    _check_output(args.output)
    model = _load(model_path(args.model))
    existing_file(args.inputs, "a data file")
    if "task" in model.metadata:
        try:
            predictor = tasks.Predictor(model)
        except ValueError as e:
            raise CliError(f"{args.model}: {e}") from None
        header, rows = predictor.table(args.inputs, proba=args.proba, channels_first=args.channels_first)
        return _write(header, rows, args.output)
    if args.proba:
        raise CliError(f"{args.model}: --proba needs a model trained by `rnnkit fit` (class names in its "
                       "metadata); this one gives raw outputs", EXIT_USAGE)
    if Path(args.inputs).suffix.lower() not in (".csv", ".tsv", ".parquet", ".pq", ".npz"):
        X = load_inputs(args.inputs)
        if isinstance(model, Sequential):
            check_inputs_fit(model, X, args.inputs)
    else:                                      # a table or an NPZ: ragged sequences, lengths honoured
        X = files.read_sequences(args.inputs, channels_first=args.channels_first, require_label=False).X
    try:
        out = model.predict(X)
    except ValueError as e:
        raise CliError(f"{args.inputs}: {e}") from e
    if args.output is None:                    # raw outputs, one row per sequence
        np.savetxt(sys.stdout, out.reshape(len(out), -1), fmt="%.6g")
    elif Path(args.output).suffix.lower() not in (".csv", ".json"):
        with atomic_write(args.output) as fh:  # the name as given (np.save would add ".npy")
            np.save(fh, out)
    else:
        flat = out.reshape(len(out), -1)
        _write(["row", *(f"out{j}" for j in range(flat.shape[1]))],
               [[i, *map(float, r)] for i, r in enumerate(flat)], args.output)
