"""Accuracy after quantization, and model file sizes: fp32 vs fp16 vs int8 (issue 14, "Measure").

For each application (sentiment, actions, speech-vowels, speech-digits) the recipe is trained as
``rnnkit train APP`` trains it: ``app.run(app.default_config())``, one seed per run (``--seeds``; for
speech-vowels ``seeds = [seed]``, the recipe's default being 5 models). The trained model is then
scored on the app's held-out test set by the app's own ``evaluate(model, config)`` (its data
loading, test split, scaler / vocabulary from the model's metadata, decision rule and metric), in
six forms:

- ``numpy``       the trained ``Sequential`` (float32, rnnkit's NumPy forward): the reference;
- ``npz_int8``    ``model.save(path, quantize="int8")`` loaded back with ``Sequential.load``;
- ``npz_float16`` ``model.save(path, quantize="float16")`` loaded back;
- ``onnx_fp32``, ``onnx_fp16``, ``onnx_int8``: ``model.export_onnx(path, quantize=None | "fp16" |
  "int8")`` run in onnxruntime through ``rnnkit.runtime.OnnxModel`` (speech-digits: its per-step
  outputs go through the app's own CTC decoders, ``speech_digits.decode``).

Drop = (reference - variant) in points (x100) for accuracies, (variant - reference) for the digit
error rate; the issue's target is a drop <= 0.5 points. One test item is worth 100 / n points
(``item`` column): on a small test set (actions: 40 series, 2.5 points each) the target means "no
decision changes". File sizes in KB (1024 bytes): the ``.npz`` without optimiser state (what the
quantized files hold too; the file ``rnnkit train`` writes, with it, is in the JSON) and the ``.onnx``.

    python benchmarks/bench_quantized.py                        # all four apps, seed 0 (~15-25 min)
    python benchmarks/bench_quantized.py --apps sentiment actions --seeds 0,1 --json out.json
    python benchmarks/bench_quantized.py --quick                # smoke test: the apps' quick configs

Accuracy does not depend on the machine's load; the run time does (the recipes train for minutes
each; this 2-core machine is shared with other work). The load average is printed before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from typing import NamedTuple

import numpy as np

from rnnkit._version import __version__
from rnnkit.apps import actions, sentiment, speech_digits, speech_vowels
from rnnkit.model import Sequential
from rnnkit.runtime import OnnxModel


class App(NamedTuple):
    module: object
    metric: str                 # the headline key of app.evaluate()
    label: str
    higher_is_better: bool
    extra: tuple                # further keys of app.evaluate() shown (no target)


APPS = {
    "sentiment": App(sentiment, "accuracy", "accuracy", True, ()),
    "actions": App(actions, "seq_accuracy", "seq. accuracy", True, ("per_step_accuracy", "last_step_accuracy")),
    "speech-vowels": App(speech_vowels, "accuracy", "accuracy", True, ()),
    "speech-digits": App(speech_digits, "der_beam", "DER (beam)", False, ("der_greedy", "string_acc_beam")),
}
LOWER_IS_BETTER = ("der_beam", "der_greedy")
VARIANTS = ("numpy", "npz_int8", "npz_float16", "onnx_fp32", "onnx_fp16", "onnx_int8")
HEADS = {"numpy": "NumPy fp32", "npz_int8": ".npz int8", "npz_float16": ".npz fp16", "onnx_fp32": "ONNX fp32",
         "onnx_fp16": "ONNX fp16", "onnx_int8": "ONNX int8"}
SIZES = ("npz_fp32", "npz_float16", "npz_int8", "onnx_fp32", "onnx_fp16", "onnx_int8")
SIZE_HEADS = {"npz_fp32": ".npz fp32", "npz_float16": ".npz fp16", "npz_int8": ".npz int8",
              "onnx_fp32": ".onnx fp32", "onnx_fp16": ".onnx fp16", "onnx_int8": ".onnx int8"}
TARGET = 0.5                    # points


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--apps", nargs="+", choices=list(APPS), default=list(APPS))
    p.add_argument("--seeds", default="0", help="comma-separated training seeds (default: 0)")
    p.add_argument("--quick", action="store_true", help="the apps' quick configs (smoke test, figures meaningless)")
    p.add_argument("--keep", metavar="DIR", help="keep the model files here (default: a temporary folder)")
    p.add_argument("--json", metavar="PATH", help="also write every figure and the environment here")
    p.add_argument("--verbose", type=int, default=0, help="the recipes' training verbosity (0, 1, 2)")
    args = p.parse_args(argv)
    try:
        args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds: expected comma-separated integers, got {args.seeds!r}")
    if not args.seeds:
        p.error("--seeds: give at least one seed")
    return args


def config_for(module, seed, quick):
    """The recipe's default settings (as ``rnnkit train APP``), with one training seed."""
    config = module.default_config(quick=quick)
    config["seed"] = seed
    if "seeds" in config:                 # speech-vowels: one model per run here
        config["seeds"] = [seed]
    return config


def drop_points(metric, ref, value):
    """How much worse ``value`` is than ``ref``, in points (x100): positive = worse."""
    return 100.0 * ((value - ref) if metric in LOWER_IS_BETTER else (ref - value))


def kb(path):
    return os.path.getsize(path) / 1024.0


def variants(model, meta, folder):
    """``{variant: (model to evaluate, file size or None)}`` and ``{size key: KB}``: files written and
    loaded back."""
    model.metadata = meta
    sizes = {}
    fp32 = model.save(os.path.join(folder, "fp32.npz"), metadata=meta, include_optimizer=False)
    sizes["npz_fp32"] = kb(fp32)
    sizes["npz_fp32_with_optimizer"] = kb(model.save(os.path.join(folder, "train.npz"), metadata=meta))
    out = {"numpy": model}
    for mode in ("int8", "float16"):
        path = model.save(os.path.join(folder, f"{mode}.npz"), metadata=meta, quantize=mode)
        sizes[f"npz_{mode}"] = kb(path)
        loaded = Sequential.load(path)
        assert loaded.quantized == mode, loaded.quantized
        out[f"npz_{mode}"] = loaded
    for mode in (None, "fp16", "int8"):
        name = f"onnx_{mode or 'fp32'}"
        path = model.export_onnx(os.path.join(folder, f"{name}.onnx"), quantize=mode)
        sizes[name] = kb(path)
        out[name] = OnnxModel(path, threads=1)
    return out, sizes


def run_app(name, seed, args, folder):
    spec = APPS[name]
    app = spec.module
    config = config_for(app, seed, args.quick)
    print(f"\n== {name}, seed {seed}: training ({'quick' if args.quick else 'default'} config) ...", flush=True)
    t0 = time.perf_counter()
    result = app.run(config, verbose=args.verbose)
    train_s = time.perf_counter() - t0
    print(f"   trained in {train_s:.0f} s; the recipe's own figure: {result.metric} = {result.value:.4f}", flush=True)
    meta = {"app": app.NAME, "config": config, **result.metadata}      # what `rnnkit train` saves
    t0 = time.perf_counter()
    models, sizes = variants(result.model, meta, folder)
    scores, seconds = {}, {}
    for v, m in models.items():
        t1 = time.perf_counter()
        scores[v] = app.evaluate(m, config)
        seconds[v] = time.perf_counter() - t1
        print(f"   {v:<12} {spec.metric} = {scores[v][spec.metric]:.4f}  ({seconds[v]:.1f} s)", flush=True)
    ref = scores["numpy"][spec.metric]
    if abs(ref - result.value) > 1e-12:   # evaluate() must reproduce the recipe's own test figure
        print(f"   WARNING: evaluate() gives {ref} for the trained model, the recipe reported {result.value}")
    n_items = result.metrics.get("test_digits") or result.metrics["n_test"]
    keys = (spec.metric, *spec.extra)
    return {"app": name, "seed": seed, "metric": spec.metric, "label": spec.label, "recipe_value": result.value,
            "values": {k: {v: float(scores[v][k]) for v in VARIANTS} for k in keys},
            "drops": {k: {v: drop_points(k, scores["numpy"][k], scores[v][k]) for v in VARIANTS} for k in keys},
            "item_points": 100.0 / n_items, "n_items": int(n_items), "sizes_kb": sizes,
            "train_seconds": train_s, "eval_seconds": seconds, "files_seconds": time.perf_counter() - t0,
            "evaluate": {v: _jsonable(s) for v, s in scores.items()}, "parameters": int(result.model.num_params()),
            "recipe_metrics": _jsonable(result.metrics),
            "history": _jsonable({k: v for k, v in result.history.items() if "loss" in k})}


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def table(head, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)])


def metric_rows(results):
    rows = []
    for r in results:
        for k, vals in r["values"].items():
            head = k == r["metric"]
            worst = max(r["drops"][k][v] for v in VARIANTS[1:])
            cells = [f"{vals[v]:.4f}" if v == "numpy" else f"{vals[v]:.4f} ({r['drops'][k][v]:+.2f})" for v in VARIANTS]
            verdict = ("yes" if worst <= TARGET + 1e-9 else "NO") if head else "-"
            rows.append([r["app"], r["seed"], r["label"] if head else k, *cells, f"{worst:+.2f}",
                         f"{r['item_points']:.2f}" if head else "-", verdict])
    return rows


def summary_rows(results, names):
    """Mean over seeds of the headline drop per app and variant (with several seeds)."""
    rows = []
    for name in names:
        rs = [r for r in results if r["app"] == name]
        if len(rs) < 2:
            continue
        m = rs[0]["metric"]
        means = {v: float(np.mean([r["drops"][m][v] for r in rs])) for v in VARIANTS[1:]}
        ref = float(np.mean([r["values"][m]["numpy"] for r in rs]))
        rows.append([name, f"mean of {len(rs)}", rs[0]["label"], f"{ref:.4f}",
                     *(f"({means[v]:+.2f})" for v in VARIANTS[1:]), f"{max(means.values()):+.2f}",
                     f"{rs[0]['item_points']:.2f}", "yes" if max(means.values()) <= TARGET + 1e-9 else "NO"])
    return rows


def environment(load_start):
    import onnx  # noqa: PLC0415  (optional dependency, only for its version)
    import onnxruntime  # noqa: PLC0415
    return {"rnnkit": __version__, "numpy": np.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "loadavg_start": load_start, "loadavg_end": list(os.getloadavg())}


def main(argv=None):
    args = parse_args(argv)
    load_start = list(os.getloadavg())
    print(f"bench_quantized: apps {' '.join(args.apps)}, seeds {args.seeds}, "
          f"{'quick' if args.quick else 'default'} configs; rnnkit {__version__}, {os.cpu_count()} cpus")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in load_start)}"
          + ("  (other work is running: run times, not accuracies, suffer)" if load_start[0] > 0.5 else ""))
    t0 = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="rnnkit-bench-q-") as tmp:
        for name in args.apps:
            for seed in args.seeds:
                folder = os.path.join(args.keep or tmp, f"{name}-seed{seed}")
                os.makedirs(folder, exist_ok=True)
                results.append(run_app(name, seed, args, folder))
    total = time.perf_counter() - t0
    env = environment(load_start)
    print("\nTest metric per variant; (drop vs the NumPy float32 model, points; DER: increase). "
          f"Target: drop <= {TARGET} points. item = points one test item is worth.")
    head = ["app", "seed", "metric", *(HEADS[v] for v in VARIANTS), "worst", "item", "<= 0.5"]
    print(table(head, metric_rows(results) + summary_rows(results, args.apps)))
    print("\nModel file sizes, KB (1024 bytes); .npz without optimiser state")
    size_rows = [[r["app"], r["seed"], r["parameters"], *(f"{r['sizes_kb'][s]:.1f}" for s in SIZES),
                  f"{r['sizes_kb']['npz_fp32'] / r['sizes_kb']['npz_int8']:.2f}x",
                  f"{r['sizes_kb']['onnx_fp32'] / r['sizes_kb']['onnx_int8']:.2f}x"] for r in results]
    print(table(["app", "seed", "params", *(SIZE_HEADS[s] for s in SIZES), "npz fp32/int8", "onnx fp32/int8"],
                size_rows))
    print("\nTimes: " + ", ".join(f"{r['app']} s{r['seed']} train {r['train_seconds']:.0f} s + eval "
                                  f"{sum(r['eval_seconds'].values()):.0f} s" for r in results)
          + f"; total {total / 60:.1f} min")
    print(f"load average: start {' '.join(f'{x:.2f}' for x in load_start)}, "
          f"end {' '.join(f'{x:.2f}' for x in env['loadavg_end'])} ({os.cpu_count()} cpus)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(_jsonable({"command": " ".join(sys.argv), "quick": args.quick, "seeds": args.seeds,
                                 "target_points": TARGET, "total_seconds": total, "environment": env,
                                 "results": results}), fh, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
