"""Time-series classification: rnnkit's default ``RNNClassifier`` against the distance and kernel
baselines, on the development sets of ``tsc_data.py`` (issue 13).

    .venv/bin/python benchmarks/bench_tsc.py                      # every set, seeds 0 1 2
    .venv/bin/python benchmarks/bench_tsc.py --sets basicmotions watch --seeds 0 --json /tmp/tsc.json

Contenders, each trained on the training part and scored (accuracy) on the test part:

- ``rnnkit``: ``rnnkit.estimators.RNNClassifier()`` with its defaults (mean and std over ``--seeds``),
  or with ``--params JSON`` instead (e.g. the settings before issue 13, for comparison);
- ``1-NN DTW``: aeon's ``KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)`` (unequal
  lengths as they are);
- ``ROCKET``: aeon's ``RocketClassifier(random_state=0)`` on series zero-padded at the end to the
  longest training length (the anchor to chase);
- ``logistic``: scikit-learn's ``LogisticRegression`` on the flattened, zero-padded, standardised series.

Baselines do not depend on rnnkit and are cached (``--cache``, default runs/bench-tsc/baselines.json).
The load average is printed at the start and the end.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import tsc_data  # noqa: E402


def _load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def dtw_1nn(Xtr, ytr, Xte):
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
    clf = KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)
    equal = len({len(x) for x in Xtr + Xte}) == 1
    to = (lambda X: np.stack([x.T for x in X])) if equal else (lambda X: [x.T for x in X])
    clf.fit(to(Xtr), ytr)
    return clf.predict(to(Xte))


def rocket(Xtr, ytr, Xte):
    from aeon.classification.convolution_based import RocketClassifier
    T = max(len(x) for x in Xtr)
    clf = RocketClassifier(random_state=0, n_jobs=1)
    clf.fit(tsc_data.padded_channels_first(Xtr, T), ytr)
    return clf.predict(tsc_data.padded_channels_first(Xte, T))


def logistic(Xtr, ytr, Xte):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    T = max(len(x) for x in Xtr)
    flat = lambda X: tsc_data.padded_channels_first(X, T).reshape(len(X), -1)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(flat(Xtr), ytr)
    return clf.predict(flat(Xte))


BASELINES = {"1-NN DTW": dtw_1nn, "ROCKET": rocket, "logistic": logistic}


def rnnkit_default(Xtr, ytr, Xte, seed, params=None):
    from rnnkit.estimators import RNNClassifier
    clf = RNNClassifier(random_state=seed, **(params or {}))
    clf.fit(Xtr, ytr)
    return clf.predict(Xte)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=list(tsc_data.SETS), choices=tsc_data.SETS,
                    help="development sets to run (default: all)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="rnnkit seeds (default 0 1 2)")
    ap.add_argument("--cache", default="runs/bench-tsc/baselines.json",
                    help="JSON cache of the baselines' accuracies (they do not depend on rnnkit)")
    ap.add_argument("--no-rnnkit", action="store_true", help="the baselines only")
    ap.add_argument("--json", help="also write the table as JSON to this path")
    ap.add_argument("--params", type=json.loads, default=None, metavar="JSON",
                    help='RNNClassifier parameters to use instead of its defaults, e.g. the settings before '
                         'issue 13: \'{"cell": "lstm", "hidden": 64, "bidirectional": false, "pooling": "last", '
                         '"max_steps": null, "epochs": 100, "batch_size": 32, "lr": 0.001, '
                         '"validation_fraction": 0.1, "patience": 10}\'')
    args = ap.parse_args(argv)
    print(f"load average at start: {_load()}")
    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    rows = []
    for name in args.sets:
        Xtr, ytr, Xte, yte = tsc_data.load(name)
        row = {"set": name, "n_train": len(Xtr), "n_test": len(Xte), "channels": Xtr[0].shape[1],
               "length": f"{min(map(len, Xtr))}-{max(map(len, Xtr))}", "classes": len(set(ytr))}
        for base, fn in BASELINES.items():
            key = f"{name}/{base}"
            if key not in cache:
                t0 = time.perf_counter()
                cache[key] = {"accuracy": float(np.mean(fn(Xtr, ytr, Xte) == yte)),
                              "seconds": time.perf_counter() - t0}
                cache_path.parent.mkdir(parents=True, exist_ok=True)
                cache_path.write_text(json.dumps(cache, indent=1))
            row[base] = cache[key]["accuracy"]
        if not args.no_rnnkit:
            accs, secs = [], []
            for seed in args.seeds:
                t0 = time.perf_counter()
                accs.append(float(np.mean(rnnkit_default(Xtr, ytr, Xte, seed, args.params) == yte)))
                secs.append(time.perf_counter() - t0)
            row.update(rnnkit=float(np.mean(accs)), rnnkit_std=float(np.std(accs)), rnnkit_runs=accs,
                       rnnkit_seconds=float(np.median(secs)))
        rows.append(row)
        _print_row(row)
    print(f"load average at end: {_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "seeds": args.seeds, "params": args.params}, indent=1))


def _print_row(r):
    rk = f"{r['rnnkit']:.3f} ± {r['rnnkit_std']:.3f} ({r['rnnkit_seconds']:.0f} s)" if "rnnkit" in r else "-"
    print(f"| {r['set']} | {r['n_train']}/{r['n_test']} | {r['channels']} | {r['length']} | {r['classes']} | {rk} | "
          f"{r['1-NN DTW']:.3f} | {r['ROCKET']:.3f} | {r['logistic']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
