"""`rnnkit fit` and `rnnkit predict` on the user's own files, end to end, in a subprocess as a user
runs them: every task, every input format, predictions of the CLI equal to the API's (class names,
original units), ragged sequences honoured."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rnnkit import tasks
from rnnkit.model import Sequential

FAST = ["--hidden", "8", "--epochs", "3", "--batch-size", "8", "--verbose", "0", "--lr", "0.01"]


def rnnkit(*args, ok=True, cwd=None):
    r = subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def sequences(n=36, seed=0, classes=("up", "down", "flat")):
    """Ragged 2-feature sequences whose label is the trend of feature 0, and a categorical column."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = classes[i % len(classes)]
        T = int(rng.integers(5, 14))
        slope = {"up": 1.0, "down": -1.0, "flat": 0.0}[label]
        x0 = slope * np.arange(T) / T + 0.1 * rng.standard_normal(T)
        x1 = rng.standard_normal(T)
        colour = rng.choice(["red", "blue"], T)
        out.append((f"s{i:03d}", label, x0, x1, colour))
    return out


def write_long_csv(path, seqs, per_step=False):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sequence_id", "time", "x0", "x1", "colour", "label"])
        for sid, label, x0, x1, colour in seqs:
            for t in reversed(range(len(x0))):          # rows out of order: the time column orders them
                lab = ("hi" if x1[t] > 0 else "lo") if per_step else label
                w.writerow([sid, t, f"{x0[t]:.6f}", f"{x1[t]:.6f}", colour[t], lab])


def read_csv(text):
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:]


def raw_features(seqs):
    """The sequences as the model's raw inputs, encoded independently of rnnkit: x0, x1, one-hot colour
    (categories sorted: blue, red)."""
    return [np.stack([x0, x1, colour == "blue", colour == "red"], 1).astype(np.float64)
            for _, _, x0, x1, colour in seqs]


def test_classify_csv_cli_equals_api(tmp_path):
    seqs = sequences()
    write_long_csv(tmp_path / "train.csv", seqs)
    new = sequences(7, seed=1)
    write_long_csv(tmp_path / "new.csv", new)
    run = tmp_path / "run"
    rnnkit("fit", tmp_path / "train.csv", "--task", "classify", "--out", run, *FAST)
    for name in ("config.json", "config.toml", "metrics.json", "model.npz", "history.csv", "checkpoint.npz"):
        assert (run / name).is_file(), name
    out = rnnkit("predict", run, tmp_path / "new.csv", "--proba")
    header, rows = read_csv(out.stdout)
    assert header == ["id", "label", "p(down)", "p(flat)", "p(up)"]
    assert [r[0] for r in rows] == [s[0] for s in new]
    # the API, from the model file alone: scaler and classes from its metadata, ragged inputs
    model = Sequential.load(run / "model.npz")
    meta = model.metadata
    X = [(x - np.array(meta["x_scaler"]["mean"])) / np.array(meta["x_scaler"]["std"]) for x in raw_features(new)]
    proba = model.predict_proba([x.astype(np.float32) for x in X])
    assert [r[1] for r in rows] == [meta["classes"][k] for k in proba.argmax(1)]
    np.testing.assert_allclose(np.array([r[2:] for r in rows], float), proba, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(tasks.Predictor.load(run).predict(raw_features(new)), [r[1] for r in rows])
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["summary"]["rnnkit"] <= 1


def test_regress_npz_ragged_original_units(tmp_path):
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((int(rng.integers(4, 12)), 2)) for _ in range(40)]
    y = np.array([1000.0 + 50 * s[:, 0].sum() for s in seqs])       # large units: scaling must be undone
    np.savez(tmp_path / "train.npz", X=np.concatenate(seqs), lengths=[len(s) for s in seqs], ragged=True, y=y)
    new = seqs[:5]
    np.savez(tmp_path / "new.npz", X=np.concatenate(new), lengths=[len(s) for s in new], ragged=True)
    run = tmp_path / "run"
    rnnkit("fit", tmp_path / "train.npz", "--task", "regress", "--out", run, *FAST)
    out = rnnkit("predict", run / "model.npz", tmp_path / "new.npz", "--output", tmp_path / "p.json")
    assert out.stdout == ""
    got = json.loads((tmp_path / "p.json").read_text())
    model = Sequential.load(run / "model.npz")
    m, s = (np.array(model.metadata["x_scaler"][k]) for k in ("mean", "std"))
    ym, ys = (np.array(model.metadata["y_scaler"][k]) for k in ("mean", "std"))
    expect = model.predict([((x - m) / s).astype(np.float32) for x in new])[:, 0] * ys[0] + ym[0]
    np.testing.assert_allclose([r[list(r)[1]] for r in got], expect, rtol=1e-6)
    assert abs(np.mean(expect) - 1000) < 300          # in the original units, not standardised


def test_tag_parquet_per_step(tmp_path):
    seqs = sequences(24)
    write_long_csv(tmp_path / "t.csv", seqs, per_step=True)
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.DictReader(fh))
    table = pa.table({k: [r[k] for r in rows] if k in ("sequence_id", "colour", "label")
                      else [float(r[k]) for r in rows] for k in rows[0]})
    pq.write_table(table, tmp_path / "train.parquet")
    run = tmp_path / "run"
    rnnkit("fit", tmp_path / "train.parquet", "--task", "tag", "--out", run, *FAST)
    out = rnnkit("predict", run, tmp_path / "train.parquet")
    header, got = read_csv(out.stdout)
    assert header == ["id", "step", "label"]
    assert len(got) == sum(len(s[2]) for s in seqs)                 # one row per step, no padding rows
    pred = tasks.Predictor.load(run).predict(raw_features(seqs))
    assert [r[2] for r in got] == [lab for p in pred for lab in p]


def test_forecast_series_csv(tmp_path):
    t = np.arange(300)
    a = 20 + 5 * np.sin(2 * np.pi * t / 25)
    b = 100 + 10 * np.cos(2 * np.pi * t / 25)
    with open(tmp_path / "series.csv", "w") as fh:
        fh.write("date,a,b\n" + "".join(f"{i},{x:.5f},{y:.5f}\n" for i, x, y in zip(t, a, b)))
    run = tmp_path / "run"
    rnnkit("fit", tmp_path / "series.csv", "--task", "forecast", "--window", "12", "--horizon", "3",
           "--targets", "b", "--out", run, *FAST)
    out = rnnkit("predict", run, tmp_path / "series.csv")
    header, rows = read_csv(out.stdout)
    assert header == ["step", "b"] and len(rows) == 3
    model = Sequential.load(run / "model.npz")
    meta = model.metadata
    m, s = np.array(meta["x_scaler"]["mean"]), np.array(meta["x_scaler"]["std"])
    ym, ys = np.array(meta["y_scaler"]["mean"]), np.array(meta["y_scaler"]["std"])
    window = np.stack([a, b], 1)[-12:]
    rel = (window - window[-1]) / s - m / s         # read from the last value, then standardised
    expect = model.predict(rel[None].astype(np.float32))[0] * ys[0] + ym[0] + window[-1, 1]
    np.testing.assert_allclose([float(r[1]) for r in rows], expect, rtol=1e-6)
    assert json.loads((run / "metrics.json").read_text())["metrics"]["baseline_name"].startswith("persistence")


def test_lm_text_and_generate(tmp_path):
    text = ("Le cœur a ses raisons que la raison ne connaît point. " * 60).encode("latin-1", "replace")
    (tmp_path / "book.txt").write_bytes(text)
    run = tmp_path / "run"
    r = rnnkit("fit", tmp_path / "book.txt", "--task", "lm", "--steps", "20", "--seq-len", "20", "--hidden", "16",
               "--out", run, "--verbose", "0", ok=False)
    assert r.returncode == 1 and "latin-1" in r.stderr and "Traceback" not in r.stderr
    rnnkit("fit", tmp_path / "book.txt", "--task", "lm", "--encoding", "latin-1", "--steps", "20",
           "--seq-len", "20", "--hidden", "16", "--out", run, "--verbose", "0")
    out = rnnkit("generate", run / "model.npz", "--prompt", "Le c", "--length", "30")
    assert out.stdout.startswith("Le c") and len(out.stdout.rstrip("\n")) >= 30
    with open(run / "history.csv") as fh:
        assert len(list(csv.DictReader(fh))) >= 2                  # the held-out loss along the steps


def weights(path):
    return Sequential.load(path).get_weights()


@pytest.mark.parametrize("patience", [0, 2])
def test_resume_is_bit_identical(tmp_path, patience):
    write_long_csv(tmp_path / "train.csv", sequences())
    common = ["fit", tmp_path / "train.csv", "--task", "classify", "--hidden", "8", "--batch-size", "8",
              "--verbose", "0", "--patience", patience, "--dropout", "0.2", "--layers", "2"]
    rnnkit(*common, "--epochs", "5", "--out", tmp_path / "whole")
    rnnkit(*common, "--epochs", "2", "--out", tmp_path / "part")          # "killed" after epoch 2
    assert Sequential.load(tmp_path / "part" / "checkpoint.npz").metadata["epoch"] == 2
    out = rnnkit("fit", "--resume", tmp_path / "part", "--epochs", "5", "--verbose", "2").stdout
    # only epochs 3..5 ran (a resume that retrained from scratch would give the same weights)
    assert "epoch 3/5" in out and "epoch 2/5" not in out and "epoch 1/5" not in out
    for name in ("model.npz", "checkpoint.npz"):
        a, b = weights(tmp_path / "whole" / name), weights(tmp_path / "part" / name)
        assert all(np.array_equal(a[k], b[k]) for k in a), name
    assert (tmp_path / "whole" / "history.csv").read_text() == (tmp_path / "part" / "history.csv").read_text()


KILL_AFTER_EPOCH_2 = """
import os, sys
from rnnkit import cli
from rnnkit.tasks import training
orig = training.RunState.on_epoch_end
def on_epoch_end(self, epoch, logs):
    orig(self, epoch, logs)
    if epoch == 1:
        os._exit(9)
training.RunState.on_epoch_end = on_epoch_end
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_killed_run_resumes(tmp_path):
    """A run killed in the middle of training (no metrics.json yet) resumes to the weights of an
    uninterrupted one: its settings were written before training began."""
    write_long_csv(tmp_path / "train.csv", sequences())
    common = ["fit", str(tmp_path / "train.csv"), "--task", "classify", "--hidden", "8", "--batch-size", "8",
              "--verbose", "0", "--epochs", "4"]
    rnnkit(*common, "--out", tmp_path / "whole")
    r = subprocess.run([sys.executable, "-c", KILL_AFTER_EPOCH_2, *common, "--out", str(tmp_path / "part")],
                       capture_output=True, text=True)
    assert r.returncode == 9 and not (tmp_path / "part" / "metrics.json").exists(), r.stderr
    rnnkit("fit", "--resume", tmp_path / "part")
    a, b = weights(tmp_path / "whole" / "model.npz"), weights(tmp_path / "part" / "model.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_resuming_an_early_stopped_run_trains_nothing(tmp_path):
    # every sequence twice, labelled a and b: past p = 1/2 the validation loss cannot keep improving
    seqs = [(sid + lab, lab, x0, x1, c) for sid, _, x0, x1, c in sequences(20) for lab in "ab"]
    write_long_csv(tmp_path / "train.csv", seqs)
    run = tmp_path / "run"
    rnnkit("fit", tmp_path / "train.csv", "--task", "classify", "--out", run, "--patience", "1", "--epochs", "60",
           "--hidden", "8", "--lr", "0.05", "--verbose", "0")
    before = (run / "checkpoint.npz").read_bytes()
    assert Sequential.load(run / "checkpoint.npz").metadata["epoch"] < 60          # it stopped early
    r = rnnkit("fit", "--resume", run, "--epochs", "80", ok=False)
    assert r.returncode == 1 and "stopped early" in r.stderr and "Traceback" not in r.stderr
    assert (run / "checkpoint.npz").read_bytes() == before


def test_config_toml_repeats_a_run(tmp_path):
    write_long_csv(tmp_path / "train.csv", sequences())
    rnnkit("fit", "train.csv", "--task", "classify", "--out", "a", *FAST, cwd=tmp_path)   # a relative path
    (tmp_path / "elsewhere").mkdir()
    assert "rnnkit fit --config" in (tmp_path / "a" / "config.toml").read_text()
    rnnkit("fit", "--config", tmp_path / "a" / "config.toml", "--out", tmp_path / "b", "--verbose", "0",
           cwd=tmp_path / "elsewhere")
    assert json.loads((tmp_path / "a" / "config.json").read_text()) == \
        json.loads((tmp_path / "b" / "config.json").read_text())
    a, b = weights(tmp_path / "a" / "model.npz"), weights(tmp_path / "b" / "model.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("args, code, message", [
    (["fit", "DATA"], 2, "--task"),
    (["fit", "DATA", "--task", "classify", "--hidden", "0"], 2, "--hidden"),
    (["fit", "DATA", "--task", "classify", "--bidirectional", "--task", "forecast"], 2, "bidirectional"),
    (["fit", "nope.csv", "--task", "classify"], 1, "nope.csv: no such file"),
    (["fit", "--resume", "nowhere"], 1, "not a run folder"),
    (["fit", "DATA", "--task", "classify", "--window", "5"], 2, "window: applies to the forecast task"),
    (["fit", "DATA", "--task", "lm", "--epochs", "5"], 2, "epochs: applies to"),
    (["fit", "DATA", "--task", "classify", "--test-fraction", "0"], 2, "test_fraction: 0 leaves no held-out"),
    (["fit", "DATA", "--task", "classify", "--label-col", "a,b"], 2, "classify takes one label column"),
    (["fit", "DATA", "--task", "classify", "--dropout", "0.2"], 2, "layers >= 2"),
    (["fit", "DATA", "--task", "regress"], 1, "for labels use --task classify"),
    (["predict", "DATA", "DATA"], 1, "model"),
])
def test_usage_errors(tmp_path, args, code, message):
    write_long_csv(tmp_path / "d.csv", sequences(6))
    args = [str(tmp_path / "d.csv") if a == "DATA" else a for a in args]
    r = rnnkit(*args, "--out", tmp_path / "o", ok=False) if args[0] == "fit" else rnnkit(*args, ok=False)
    assert r.returncode == code, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_regress_several_targets_and_channels_first_remembered(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 3, 9))                             # (N, channels, time), as aeon stores it
    y = np.stack([X[:, 0].sum(1), 10 + X[:, 1].mean(1)], 1)         # two targets
    np.savez(tmp_path / "train.npz", X=X, y=y)
    np.savez(tmp_path / "new.npz", X=X[:4])
    run = tmp_path / "run"
    rnnkit("fit", tmp_path / "train.npz", "--task", "regress", "--channels-first", "--out", run, *FAST)
    header, rows = read_csv(rnnkit("predict", run, tmp_path / "new.npz").stdout)   # no --channels-first
    assert header == ["id", "y0", "y1"] and len(rows) == 4
    expect = tasks.Predictor.load(run).predict(list(X[:4].transpose(0, 2, 1)))
    np.testing.assert_allclose([[float(v) for v in r[1:]] for r in rows], expect, rtol=1e-6)


def test_regress_named_targets_of_a_table(tmp_path):
    seqs = sequences(30)
    write_long_csv(tmp_path / "t.csv", seqs)
    with open(tmp_path / "t.csv") as fh:
        rows = list(csv.DictReader(fh))
    sums = {}
    for r in rows:
        sums[r["sequence_id"]] = sums.get(r["sequence_id"], 0.0) + float(r["x0"])
    with open(tmp_path / "r.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sequence_id", "time", "x0", "x1", "total", "half"])
        w.writerows([r["sequence_id"], r["time"], r["x0"], r["x1"], sums[r["sequence_id"]],
                     sums[r["sequence_id"]] / 2] for r in rows)
    run = tmp_path / "run"
    rnnkit("fit", tmp_path / "r.csv", "--task", "regress", "--label-col", "total,half", "--out", run, *FAST)
    header, got = read_csv(rnnkit("predict", run, tmp_path / "r.csv").stdout)
    assert header == ["id", "total", "half"] and len(got) == 30


def test_a_failed_overwrite_leaves_the_old_run_as_it_was(tmp_path):
    write_long_csv(tmp_path / "train.csv", sequences())
    run = tmp_path / "run"
    rnnkit("fit", tmp_path / "train.csv", "--task", "classify", "--out", run, *FAST)
    before = {n: (run / n).read_bytes() for n in ("config.json", "config.toml", "checkpoint.npz", "model.npz")}
    r = rnnkit("fit", tmp_path / "train.csv", "--task", "regress", "--out", run, "--overwrite", *FAST, ok=False)
    assert r.returncode == 1 and "--task classify" in r.stderr          # string labels: not a regression
    assert {n: (run / n).read_bytes() for n in before} == before
