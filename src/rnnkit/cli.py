"""The ``rnnkit`` command.

    rnnkit list                         the applications
    rnnkit train APP [options]          train one, writing a run folder
    rnnkit evaluate RUN_DIR             re-score a run's saved model on the app's held-out data
    rnnkit predict MODEL FILE.npy       raw model outputs for an array of inputs
    rnnkit generate MODEL --prompt ...  sample text from a character language model
    rnnkit transcribe MODEL FILE.wav    speech to digit text with a CTC model
    rnnkit demo [--quick]               the seed's worked example and short real-data runs, one table

A run folder holds config.json, metrics.json, model.npz (see ``rnnkit.io``), loss.png and the app's
own plots.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ._atomic import atomic_write
from ._threads import blas_threads
from .apps import worked_example
from .apps.common import plot_history
from .model import Sequential
from .ops import CELLS

APPS = {
    "sunspots": "rnnkit.apps.sunspots",
    "stocks": "rnnkit.apps.stocks",
    "sentiment": "rnnkit.apps.sentiment",
    "actions": "rnnkit.apps.actions",
    "charlm": "rnnkit.apps.charlm",
    "speech-vowels": "rnnkit.apps.speech_vowels",
    "speech-digits": "rnnkit.apps.speech_digits",
    "adding": "rnnkit.apps.adding",
}


def load_app(name):
    if name not in APPS:
        raise SystemExit(f"rnnkit: unknown application {name!r}; choose one of: {', '.join(APPS)}")
    try:
        return importlib.import_module(APPS[name])
    except ModuleNotFoundError as e:
        if e.name == APPS[name]:
            raise SystemExit(f"rnnkit: application {name!r} is not available in this version") from None
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


def write_run(result, config, app_name, out_dir):
    """Write the run folder of one training run; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", {"app": app_name, **config})
    write_json(out / "metrics.json", {"summary": result.row(), "metrics": result.metrics,
                                      "history": result.history})
    if result.model is not None:
        result.model.save(out / "model.npz", metadata={"app": app_name, "config": _jsonable(config),
                                                       **_jsonable(result.metadata)})
    if result.history:
        plot_history(result.history, out / "loss.png")
    for name, draw in result.plots.items():
        draw(out / name)
    return out


def _config_from_args(app, args):
    config = app.default_config(quick=args.quick)
    overrides = {"cell": args.cell, "hidden": args.hidden, "layers": args.layers, "epochs": args.epochs,
                 "batch_size": args.batch_size, "seed": args.seed, "lr": args.lr}
    for k, v in overrides.items():
        if v is not None:
            config[k] = v
    if args.bidirectional is not None:
        config["bidirectional"] = args.bidirectional
    for item in args.set or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"rnnkit: --set {item}: expected KEY=VALUE")
        if key not in config:
            raise SystemExit(f"rnnkit: --set {key}: not an option of this app ({', '.join(config)})")
        try:  # numbers, lists, true/false/null as JSON; anything else is a plain string
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    return config


# -- table ---------------------------------------------------------------------------------------

def format_table(rows):
    head = ["task", "data", "metric", "rnnkit", "baseline", "time"]
    body = []
    for r in rows:
        base = "—" if r.get("baseline") is None else f"{r['baseline']:.4g} ({r['baseline_name']})"
        body.append([r["task"], r["data"], r["metric"], f"{r['rnnkit']:.4g}", base, f"{r['seconds']:.0f}s"])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(b) for b in body)])


# -- commands ------------------------------------------------------------------------------------

def cmd_list(args):
    for name, app in available_apps().items():
        print(f"{name:<15} {app.DESCRIPTION}")


def cmd_train(args):
    app = load_app(args.app)
    config = _config_from_args(app, args)
    result = app.run(config, verbose=args.verbose)
    out = args.out or os.path.join("runs", f"{args.app}-{time.strftime('%Y%m%d-%H%M%S')}")
    write_run(result, config, args.app, out)
    print(format_table([result.row()]))
    print(f"run folder: {out}")


def cmd_evaluate(args):
    run = Path(args.run_dir)
    config = json.loads((run / "config.json").read_text())
    app = load_app(config.pop("app"))
    if not hasattr(app, "evaluate"):
        raise SystemExit(f"rnnkit: the {app.NAME} app has no evaluate step")
    model = Sequential.load(run / "model.npz")
    print(json.dumps(_jsonable(app.evaluate(model, config)), indent=2))


def cmd_predict(args):
    model = Sequential.load(args.model)
    X = np.load(args.inputs, allow_pickle=False)
    out = model.predict(X)
    if args.output:
        np.save(args.output, out)
    else:
        np.savetxt(sys.stdout, out.reshape(len(out), -1), fmt="%.6g")


def cmd_generate(args):
    model = Sequential.load(args.model)
    app = load_app("charlm")
    print(app.generate(model, prompt=args.prompt, length=args.length, temperature=args.temperature,
                       seed=args.seed))


def cmd_transcribe(args):
    model = Sequential.load(args.model)
    app = load_app("speech-digits")
    for f in args.files:
        print(f"{f}: {app.transcribe(model, f)}")


def cmd_demo(args):
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


DEMO_APPS = ["sunspots", "stocks", "sentiment", "actions", "speech-vowels", "charlm"]


def main(argv=None):
    p = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks in NumPy.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the applications").set_defaults(fn=cmd_list)

    t = sub.add_parser("train", help="train an application's model and write a run folder")
    t.add_argument("app")
    t.add_argument("--cell", choices=sorted(CELLS))
    t.add_argument("--hidden", type=int)
    t.add_argument("--layers", type=int)
    t.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--quick", action="store_true", help="a short run (smoke test / demo size)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other option of the app")
    t.add_argument("--out", help="run folder (default runs/APP-TIMESTAMP)")
    t.add_argument("--verbose", type=int, default=1)
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("evaluate", help="score a run folder's model on held-out data")
    e.add_argument("run_dir")
    e.set_defaults(fn=cmd_evaluate)

    pr = sub.add_parser("predict", help="model outputs for inputs in a .npy file")
    pr.add_argument("model")
    pr.add_argument("inputs")
    pr.add_argument("--output")
    pr.set_defaults(fn=cmd_predict)

    g = sub.add_parser("generate", help="sample text from a character language model")
    g.add_argument("model")
    g.add_argument("--prompt", default="")
    g.add_argument("--length", type=int, default=300)
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(fn=cmd_generate)

    tr = sub.add_parser("transcribe", help="spoken digits to text with a CTC model")
    tr.add_argument("model")
    tr.add_argument("files", nargs="+")
    tr.set_defaults(fn=cmd_transcribe)

    d = sub.add_parser("demo", help="worked example + short real-data runs, one results table")
    d.add_argument("--apps", nargs="*", help=f"subset of {DEMO_APPS}")
    d.add_argument("--out", help="also write a run folder per app under this folder")
    d.set_defaults(fn=cmd_demo)

    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads for NumPy (default 1: fastest for small recurrent models)")
    args = p.parse_args(argv)
    with blas_threads(args.threads):
        args.fn(args)


if __name__ == "__main__":
    main()
