"""Wall time of a k-fold ``cross_validate``: serial against ``n_jobs`` worker processes (joblib/loky),
and optionally on a local Dask cluster through joblib's Dask backend (seed §3.1, §3.3).

The problem: LSTM(32) + Dense(1), a binary classifier, on ``--n`` random sequences of ``--steps``
steps and 4 features (a padded array), ``--epochs`` epochs, batch 32, ``--folds`` folds. Runs are
interleaved (serial, parallel, serial, ...) so that drift on a noisy machine hits both alike; the
median of ``--repeats`` runs is reported. The first parallel call, which starts the loky workers, is
timed separately and not part of the median. Every run's scores are checked equal (``==``) to the
first serial run's. The load average (``os.getloadavg``, as ``uptime`` prints it) is printed before
and after.

    .venv/bin/python benchmarks/bench_parallel_cv.py                 # 5 folds, serial vs n_jobs=2, 3 runs
    .venv/bin/python benchmarks/bench_parallel_cv.py --dask --repeats 5
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time

import numpy as np

from rnnkit.layers import LSTM, Dense
from rnnkit.model import Sequential
from rnnkit.model_selection import KFold, cross_validate


def build():
    return Sequential([LSTM(32), Dense(1)], seed=0).compile("binary_crossentropy", "adam", lr=3e-3,
                                                            metrics=["accuracy"])


def problem(n, steps, seed=0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, steps, 4)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(np.float32)
    return X, y


def load():
    return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dask", action="store_true", help="also time a LocalCluster(n_jobs workers, 1 thread each)")
    args = ap.parse_args(argv)
    X, y = problem(args.n, args.steps)
    fit = {"epochs": args.epochs, "batch_size": 32}

    def cv(**kw):
        return lambda: cross_validate(build, X, y, KFold(args.folds, seed=0), fit_kwargs=fit, **kw)

    print(f"cross_validate: LSTM(32)+Dense(1), {args.n} sequences x {args.steps} steps x 4 features, "
          f"{args.epochs} epochs, {args.folds} folds; {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print("before:", load())
    cases = {"serial": cv(), f"n_jobs={args.n_jobs} (loky)": cv(n_jobs=args.n_jobs)}
    first, ref = timed(cases[f"n_jobs={args.n_jobs} (loky)"])
    print(f"first n_jobs={args.n_jobs} call (starts the workers): {first:.2f} s")
    ok = True
    times = {name: [] for name in cases}
    cluster = client = None
    if args.dask:
        import joblib
        from dask.distributed import Client, LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=args.n_jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
        print(f"LocalCluster({args.n_jobs} workers) start: {time.perf_counter() - t0:.2f} s")

        def on_dask():
            with joblib.parallel_backend("dask"):
                return cv(n_jobs=-1)()

        cases[f"dask LocalCluster({args.n_jobs}x1)"] = on_dask
        times[f"dask LocalCluster({args.n_jobs}x1)"] = []
        timed(on_dask)  # warm-up: ships the code to the workers
    try:
        for _ in range(args.repeats):
            for name, fn in cases.items():
                t, res = timed(fn)
                times[name].append(t)
                same = res["folds"] == ref["folds"] and res["history"] == ref["history"]
                ok &= same
                print(f"  {name:<28} {t:7.2f} s{'' if same else '   RESULTS DIFFER'}")
    finally:
        if client is not None:
            client.close()
            cluster.close()
    serial = statistics.median(times["serial"])
    print(f"median of {args.repeats} runs:")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<28} {med:7.2f} s   speed-up x{serial / med:.2f}   (runs: "
              + ", ".join(f"{t:.2f}" for t in ts) + ")")
    print(f"mean accuracy {ref['mean']['accuracy']:.4f}, loss {ref['mean']['loss']:.4f}; "
          f"all runs identical: {ok}")
    print("after:", load())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
