"""`rnnkit fit` as a new user runs it, on public data sets that ship inside packages: the held-out
figure of every task, mean and spread over seeds, next to each run's baseline.

    python benchmarks/bench_userdata.py [--seeds 0 1 2] [--data DIR] [--runs DIR] [--quick]

The data files are written by ``examples/public_data.py`` (into ``--data``, default
``runs/public-data``). Each command below is exactly what a user types (with ``--seed`` and
``--out`` added); the settings are the defaults of ``rnnkit fit``, fixed before any test figure was
seen. ``--quick`` runs 5 epochs / 100 steps (a smoke test of this script, not figures to report).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMANDS = {
    "classify BasicMotions": "basicmotions_train.csv --test basicmotions_test.csv --task classify --label-col activity",
    "regress Covid3Month": "covid_train.npz --test covid_test.npz --task regress --channels-first",
    "forecast CO2 (4 weeks ahead)": "co2.csv --task forecast --window 52 --horizon 4",
    "tag watch exercises": "watch.csv --task tag --label-col exercise",
    "lm Hamlet": "hamlet.txt --task lm --encoding latin-1",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to run (default 0 1 2)")
    ap.add_argument("--data", default="runs/public-data", help="folder of the exported data files")
    ap.add_argument("--runs", default="runs/bench-userdata", help="folder for the run folders")
    ap.add_argument("--only", nargs="+", help="run only the rows whose name contains one of these words")
    ap.add_argument("--quick", action="store_true", help="5 epochs / 100 steps: a smoke test only")
    args = ap.parse_args()
    data, runs = Path(args.data), Path(args.runs)
    if not (data / "co2.csv").is_file():
        subprocess.run([sys.executable, str(HERE.parent / "examples" / "public_data.py"), str(data)], check=True)
    print(f"load average: {os.getloadavg()}")
    rows = []
    for name, command in COMMANDS.items():
        if args.only and not any(w in name for w in args.only):
            continue
        values, baselines, seconds = [], [], []
        for seed in args.seeds:
            out = runs / f"{name.split()[0]}-{name.split()[1].lower()}-seed{seed}"
            argv = [a if not a.endswith((".csv", ".npz", ".txt")) else str(data / a) for a in command.split()]
            extra = (["--steps", "100"] if "lm" in name else ["--epochs", "5"]) if args.quick else []
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rnnkit", "fit", *argv, "--seed", str(seed), "--out", str(out),
                            "--overwrite", "--verbose", "0", *extra], check=True, stdout=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - t0)
            summary = json.loads((out / "metrics.json").read_text())["summary"]
            values.append(summary["rnnkit"])
            baselines.append(summary["baseline"])
            print(f"{name} seed {seed}: {summary['metric']} {summary['rnnkit']:.4f} "
                  f"({summary['baseline_name']}: {summary['baseline']:.4f}) {seconds[-1]:.0f}s", flush=True)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        rows.append((name, summary["metric"], f"{statistics.mean(values):.4f} ± {spread:.4f}",
                     f"{statistics.mean(baselines):.4f} ({summary['baseline_name']})",
                     f"{statistics.median(seconds):.0f}s", f"rnnkit fit {command}"))
    print(f"\nload average: {os.getloadavg()}; seeds {args.seeds}\n")
    print("| task, data | metric | rnnkit (mean ± sd) | baseline | time/run | command |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r[:-1]) + f" | `{r[-1]}` |")


if __name__ == "__main__":
    main()
