"""The ``rnnkit`` command (also ``python -m rnnkit``).

    rnnkit list                         the applications
    rnnkit train APP [options]          train one, writing a run folder (APP --help: its settings)
    rnnkit runs [DIR]                   the run folders under DIR (default runs), oldest first
    rnnkit evaluate RUN_DIR             re-score a run's saved model on the app's held-out data
    rnnkit predict MODEL FILE.npy       raw model outputs for an array of inputs
    rnnkit generate MODEL --prompt ...  sample text from a character language model
    rnnkit transcribe MODEL FILE.wav    speech to digit text with a CTC model
    rnnkit pronounce MODEL WORD ...     words to phonemes with a g2p model
    rnnkit demo [--apps APP ...]        the seed's worked example and short real-data runs, one table

A run folder holds config.json, config.toml (``rnnkit train --config RUN/config.toml`` repeats the
run), metrics.json, history.csv, model.npz (see ``rnnkit.io``), loss.png and the app's own plots.

A user's mistake never ends in a Python traceback: ``main`` reports ``rnnkit: error: <message>`` on
stderr and returns the exit code (0 success, 1 the command failed, 2 usage error, 130 interrupted);
``--debug`` or ``RNNKIT_DEBUG=1`` prints the traceback too. Option values are checked by the
``type=`` functions of ``rnnkit.cli_args`` before any work starts.
"""
from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from . import cli_export, cli_fit, cli_pronounce
from ._atomic import atomic_write
from ._threads import blas_threads
from .apps import worked_example
from .apps.common import plot_history
from .cli_args import (
    APPS,
    DEMO_APPS,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    SET_CHECKS,
    CliError,
    build_parser,
    check_audio,
    check_out_dir,
    check_set_value,
    load_model,
)
from .cli_help import OPTION_KEYS
from .cli_runs import (
    check_config_values,
    list_runs,
    train_app_and_settings,
    write_config_toml,
    write_history_csv,
)
from .distributed import data_parallel
from .model import TrainingError

__all__ = ["APPS", "CliError", "build_parser", "main"]

# Exceptions that describe what went wrong in words a user can act on: their message is reported as
# is. Anything else is a bug in rnnkit and is reported as one.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError, TrainingError, MemoryError)


def load_app(name):
    if name not in APPS:
        raise CliError(f"unknown application {name!r}; choose one of: {', '.join(APPS)}")
    try:
        return importlib.import_module(APPS[name])
    except ModuleNotFoundError as e:
        if e.name == APPS[name]:
            raise CliError(f"application {name!r} is not available in this version") from None
        raise


def available_apps():
    out = {}
    for name, mod in APPS.items():
        try:
            out[name] = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
    return out


# -- run folders ---------------------------------------------------------------------------------

def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def write_json(path, obj):
    """Atomic JSON write (temporary file, then rename)."""
    with atomic_write(path, "w") as fh:
        fh.write(json.dumps(_jsonable(obj), indent=2) + "\n")


def write_run(result, config, app_name, out_dir, kind="app"):
    """Write the run folder of one training run; returns its path. config.json and config.toml hold
    ``{kind: app_name, **config}`` (``app_name`` None: ``config`` alone, e.g. a ``task`` run of
    ``rnnkit fit``), history.csv the history (``rnnkit.cli_runs``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    head = {} if app_name is None else {kind: app_name}
    if kind != "task":                 # rnnkit fit writes its settings before training (cli_fit.write_config)
        write_json(out / "config.json", {**head, **config})
        write_config_toml(out / "config.toml", _jsonable({**head, **config}))
    write_json(out / "metrics.json", {"summary": result.row(), "metrics": result.metrics,
                                      "history": result.history})
    if kind != "task" or not (out / "history.csv").exists():  # fit's epoch-trained tasks have a CSVLogger
        write_history_csv(out / "history.csv", _jsonable(result.history))
    if result.model is not None:
        result.model.save(out / "model.npz", metadata={"app": app_name, "config": _jsonable(config),
                                                       **_jsonable(result.metadata)})
    if result.history:
        plot_history(result.history, out / "loss.png")
    for name, draw in result.plots.items():
        draw(out / name)
    return out


def _config_from_args(app, args, file_values=None):
    """The app's settings: its defaults (``--quick`` ones with ``args.quick``), then ``file_values``
    (a checked ``--config`` file), then the options and ``--set`` of ``args``."""
    config = {**app.default_config(quick=args.quick), **(file_values or {})}
    overrides = {key: getattr(args, key) for key in OPTION_KEYS}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in config:
            raise CliError(f"--{key.replace('_', '-')}: the {app.NAME} app has no {key!r} option "
                           f"(its options: {', '.join(config)})", EXIT_USAGE)
        config[key] = value
    for item in args.set or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise CliError(f"--set {item}: expected KEY=VALUE", EXIT_USAGE)
        if key not in config:
            raise CliError(f"--set {key}: not an option of this app ({', '.join(config)})", EXIT_USAGE)
        try:  # numbers, lists, true/false/null as JSON; anything else is a plain string
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
        default = app.default_config()[key]
        if isinstance(default, (list, dict)) and not isinstance(config[key], type(default)):
            example = json.dumps(default)
            raise CliError(f"--set {key}={value}: expected a JSON {type(default).__name__}, e.g. {key}='{example}'",
                           EXIT_USAGE)
        if key in SET_CHECKS and not isinstance(default, (dict, list)):
            config[key] = check_set_value(key, value, config[key])
    return config


# -- table ---------------------------------------------------------------------------------------

def format_table(rows):
    head = ["task", "data", "metric", "rnnkit", "baseline", "time"]
    body = []
    for r in rows:
        base = "—" if r.get("baseline") is None else f"{r['baseline']:.4g} ({r['baseline_name']})"
        body.append([r["task"], r["data"], r["metric"], f"{r['rnnkit']:.4g}", base, f"{r['seconds']:.0f}s"])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(b) for b in body)])


# -- commands ------------------------------------------------------------------------------------

def cmd_list(args):
    for name, app in available_apps().items():
        print(f"{name:<15} {app.DESCRIPTION}")


def cmd_train(args):
    name, values = train_app_and_settings(args.app, args.config)
    app = load_app(name)
    config = _config_from_args(app, args, check_config_values(args.config, app, values))
    out = args.out or os.path.join("runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    check_out_dir(out, args.overwrite)
    verbose = args.verbose if args.verbose is not None else (1 if sys.stderr.isatty() else 2)
    if args.distributed:
        with data_parallel() as group:      # every fit inside the recipe shares its batches
            result = app.run(config, verbose=verbose if group.is_root else 0)
        if not group.is_root:
            return
    else:
        result = app.run(config, verbose=verbose)
    write_run(result, config, name, out)
    print(format_table([result.row()]))
    print(f"run folder: {out}")


def cmd_runs(args):
    print(list_runs(args.dir, as_json=args.json))


def read_run(run_dir):
    """(app module, config, model path) of a run folder written by ``rnnkit train``."""
    run = Path(run_dir)
    if not run.is_dir():
        raise CliError(f"{run}: " + ("not a folder" if run.exists() else "no such folder")
                       + " (expected a run folder written by `rnnkit train`)")
    path = run / "config.json"
    if not path.is_file():
        raise CliError(f"{run}: no config.json (expected a run folder written by `rnnkit train`)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # bad JSON or bad UTF-8
        raise CliError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise CliError(f"{path}: expected a JSON object of options, got {type(config).__name__} {config!r:.40}")
    name = config.pop("app", None)
    if not isinstance(name, str):
        raise CliError(f"{path}: no \"app\" key naming the application")
    if name not in APPS:
        raise CliError(f"{path}: unknown application {name!r}; choose one of: {', '.join(APPS)}")
    if not (run / "model.npz").is_file():
        raise CliError(f"{run}: no model.npz (the run's saved model)")
    app = load_app(name)
    return app, {**app.default_config(), **config}, run / "model.npz"


def cmd_evaluate(args):
    app, config, model_path = read_run(args.run_dir)
    if not hasattr(app, "evaluate"):
        raise CliError(f"the {app.NAME} app has no evaluate step")
    model = app.load_model(model_path) if hasattr(app, "load_model") else load_model(model_path)
    trained_by = model.metadata.get("app")
    if trained_by != app.NAME:
        raise CliError(f"{model_path}: not a model of the {app.NAME} app (its metadata names "
                       f"{'no app' if trained_by is None else repr(trained_by)})")
    print(json.dumps(_jsonable(app.evaluate(model, config)), indent=2))


def cmd_generate(args):
    model = load_model(args.model)
    trained_by = model.metadata.get("app")
    if "vocab" not in model.metadata or trained_by not in (None, "charlm"):
        why = "its metadata holds no vocabulary" if trained_by in (None, "charlm") else \
            f"its metadata names the {trained_by!r} app"
        raise CliError(f"{args.model}: not a character language model from the charlm recipe ({why}); "
                       "train one with `rnnkit train charlm`")
    app = load_app("charlm")
    vocab = app.vocabulary_of(model)
    unknown = sorted(set(args.prompt) - set(vocab.chars))
    if unknown:
        raise CliError(f"--prompt: characters not in the model's vocabulary: {unknown[:20]} "
                       f"(nearest: {vocab.hints(unknown)}; "
                       f"the vocabulary: {''.join(vocab.chars)!r})")
    print(app.generate(model, prompt=args.prompt, length=args.length, temperature=args.temperature,
                       seed=args.seed))


def cmd_transcribe(args):
    model = load_model(args.model)
    if model.loss != "ctc" or "feature_params" not in model.metadata:
        raise CliError(f"{args.model}: not a CTC speech model from the speech-digits recipe (loss "
                       f"{model.loss!r}, {'with' if 'feature_params' in model.metadata else 'no'} "
                       "feature parameters in its metadata); train one with `rnnkit train speech-digits`")
    for f in args.files:
        check_audio(f, args.sample_rate)
    read = {"raw_rate": args.sample_rate, "raw_format": args.format, "channels": args.channels,
            "trim_db": args.trim_db}
    if not args.stream:
        app = load_app("speech-digits")
        for f in args.files:
            print(f"{f}: {app.transcribe(model, f, **read)}")
        return
    live = load_app("speech-digits").speech_live
    for f in args.files:
        emitted, stats = live.stream_file(model, f, args.chunk_ms, **read)
        for t, d in emitted:
            print(f"{f}: {t:7.2f} s  {d}", flush=True)
        print(f"{f}: {' '.join(str(d) for _, d in emitted)} (streamed in {args.chunk_ms:g} ms chunks: real-time "
              f"factor {stats['real_time_factor']:.3f}, mean delay {stats['mean_delay_seconds'] or 0:.3f} s)")


def cmd_demo(args):
    if args.out is not None:
        check_out_dir(args.out, overwrite=True)
    print(worked_example.report())
    print()
    rows = []
    names = [n for n in (args.apps or DEMO_APPS) if n in available_apps()]
    for name in names:
        app = load_app(name)
        config = app.default_config(quick=True)
        print(f"running {name} ...", flush=True)
        result = app.run(config, verbose=0)
        rows.append(result.row())
        if args.out:
            write_run(result, config, name, Path(args.out) / name)
    print()
    print(format_table(rows))


COMMANDS = {"list": cmd_list, "runs": cmd_runs, "train": cmd_train, "evaluate": cmd_evaluate,
            "predict": cli_fit.cmd_predict, "generate": cmd_generate, "transcribe": cmd_transcribe, "demo": cmd_demo,
            "export": cli_export.cmd_export, "pronounce": cli_pronounce.cmd_pronounce,
            "fit": functools.partial(cli_fit.cmd_fit, write_run=write_run, format_table=format_table)}


# -- main ----------------------------------------------------------------------------------------

def describe_error(e):
    """(message, exit code) of an exception raised while a command ran."""
    if isinstance(e, CliError):
        return str(e), e.code
    if isinstance(e, SystemExit):  # sys.exit(...) inside a command: a message means a failure
        if e.code is None or isinstance(e.code, int):
            return "", e.code or EXIT_OK
        return str(e.code).removeprefix("rnnkit: ").removeprefix("error: "), EXIT_FAILURE
    if isinstance(e, OSError) and e.strerror:
        return (f"{e.filename}: " if e.filename is not None else "") + e.strerror, EXIT_FAILURE
    if isinstance(e, MemoryError):
        return "out of memory" + (f" ({e})" if str(e) else ""), EXIT_FAILURE
    if isinstance(e, USER_ERRORS):
        return str(e) or type(e).__name__, EXIT_FAILURE
    return (f"unexpected {type(e).__name__}: {e}\n(this is a bug in rnnkit; run with --debug for the "
            "traceback)"), EXIT_FAILURE


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:
        args = build_parser(COMMANDS, extra=(cli_fit.add_commands, cli_export.add_commands,
                                                        cli_pronounce.add_commands)).parse_args(argv)
    except SystemExit as e:  # argparse printed a usage error (2), or --help / --version (0)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    debug = args.debug or os.environ.get("RNNKIT_DEBUG", "").strip() not in ("", "0")
    try:
        with blas_threads(args.threads):
            args.fn(args)
        return EXIT_OK
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("rnnkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of stdout went away (rnnkit predict ... | head)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_FAILURE
    except BaseException as e:  # every other failure: one message, no traceback unless --debug
        if debug:
            traceback.print_exc()
        message, code = describe_error(e)
        if message:
            print(f"rnnkit: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
