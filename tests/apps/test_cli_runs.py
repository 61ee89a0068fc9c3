"""Run folders: history.csv beside metrics.json, and `rnnkit runs [DIR]` listing train and fit runs
(damaged ones as "(unreadable: ...)", never a traceback)."""
import csv
import datetime
import json
import math
import os

import pytest

from rnnkit.cli import main
from rnnkit.cli_runs import history_table

TINY = ["--quick", "--verbose", "0", "--hidden", "4", "--set", 'cells=["gru"]', "--set", "lengths=[4]",
        "--set", "n_train=32", "--set", "n_test=16", "--set", "epochs=3", "--set", "probe_length=4",
        "--set", "probe_size=8", "--set", 'clip_runs=[{"nonlinearity": "tanh", "radius": 1.0}]',
        "--set", "clip_length=4", "--set", "clip_hidden=4", "--set", "clip_n_train=16", "--set", "clip_epochs=1"]


# -- history.csv ---------------------------------------------------------------------------------

def test_history_csv_matches_metrics_json(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "adding", *TINY, "--out", str(run)]) == 0
    history = json.loads((run / "metrics.json").read_text())["history"]
    with open(run / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["epoch", *history] and len(rows) == 3 == len(history["loss"])
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for key, values in history.items():
        assert [float(r[key]) for r in rows] == values      # exact: floats are written with repr


def test_history_table_of_a_step_history_with_uneven_columns():
    history = {"step": [40, 80, 100], "loss": [2.5, 2.0, 1.75], "val_loss": [2.6, float("nan")],
               "note": "not a list"}
    header, rows = history_table(history)
    assert header == ["epoch", "step", "loss", "val_loss"]
    assert rows == [[1, "40", "2.5", "2.6"], [2, "80", "2.0", "nan"], [3, "100", "1.75", ""]]
    assert history_table({}) == (["epoch"], [])
    assert history_table({"epoch": [5, 6], "loss": [1.0, 0.5]}) == (["epoch", "loss"], [["5", "1.0"], ["6", "0.5"]])


# -- rnnkit runs ---------------------------------------------------------------------------------

def _run(folder, config, summary=None, mtime=None, metrics_text=None):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if metrics_text is not None:
        (folder / "metrics.json").write_text(metrics_text)
    elif summary is not None:
        (folder / "metrics.json").write_text(json.dumps({"summary": summary, "metrics": {}, "history": {}}))
    if mtime is not None:
        os.utime(folder / "config.json", (mtime, mtime))
    return folder


def _summary(task, data, metric, value):
    return {"task": task, "data": data, "metric": metric, "rnnkit": value, "baseline": None,
            "baseline_name": "", "seconds": 1.0}


T0 = datetime.datetime(2024, 3, 5, 14, 7, 30).timestamp()     # local time, like the listing


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    _run(root / "b-sun", {"app": "sunspots", "epochs": 3},
         _summary("sunspots (§5.2.1)", "yearly sunspots", "test RMSE", 21.5), mtime=T0 + 3600)
    _run(root / "a-fit", {"task": "classify", "data": "x.csv"},
         _summary("classify", "x.csv: 120 rows", "test accuracy", 0.875), mtime=T0)
    _run(root / "c-broken", "{not json", mtime=T0 + 7200)
    _run(root / "d-unfinished", {"app": "adding"}, mtime=T0 + 60)
    _run(root / "e-nan", {"app": "adding"}, metrics_text='{"summary": {"metric": "test MSE", "rnnkit": NaN}}',
         mtime=T0 + 120)
    (root / "not-a-run").mkdir()
    (root / "not-a-run" / "notes.txt").write_text("hello")
    (root / "loose-file.json").write_text("{}")
    return root


def test_runs_lists_every_run_oldest_first(runs, capsys):
    assert main(["runs", str(runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "app/task", "data", "metric", "value", "date"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == ["a-fit", "d-unfinished", "e-nan", "b-sun", "c-broken"]
    by_name = dict(zip(names, lines[1:]))
    fit, sun = by_name["a-fit"], by_name["b-sun"]
    assert "classify" in fit and "x.csv: 120 rows" in fit and "test accuracy" in fit and "0.875" in fit
    assert fit.endswith(datetime.datetime.fromtimestamp(T0).strftime("%Y-%m-%dT%H:%M"))
    assert "sunspots" in sun and "test RMSE" in sun and "21.5" in sun
    assert sun.endswith(datetime.datetime.fromtimestamp(T0 + 3600).strftime("%Y-%m-%dT%H:%M"))
    assert "(unreadable: config.json is not valid JSON (line 1))" in by_name["c-broken"]
    assert "adding" in by_name["d-unfinished"] and "(unreadable: no metrics.json)" in by_name["d-unfinished"]
    assert "test MSE" in by_name["e-nan"] and "nan" in by_name["e-nan"]


def test_runs_json(runs, capsys):
    assert main(["runs", str(runs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)          # strict JSON: NaN is null
    assert [r["run"] for r in rows] == ["a-fit", "d-unfinished", "e-nan", "b-sun", "c-broken"]
    fit, unfinished, nan, sun, broken = rows
    assert fit == {"run": "a-fit", "path": str(runs / "a-fit"), "app": None, "task": "classify",
                   "data": "x.csv: 120 rows", "metric": "test accuracy", "value": 0.875,
                   "date": datetime.datetime.fromtimestamp(T0).strftime("%Y-%m-%dT%H:%M"), "error": None}
    assert sun["app"] == "sunspots" and sun["task"] is None and sun["value"] == 21.5 and sun["error"] is None
    assert nan["value"] is None and nan["metric"] == "test MSE" and nan["error"] is None
    assert unfinished["error"] == "no metrics.json" and broken["error"].startswith("config.json is not valid JSON")
    assert all(math.isfinite(r["value"]) for r in rows if r["value"] is not None)


def test_a_run_folder_itself_is_listed(runs, capsys):
    assert main(["runs", str(runs / "b-sun"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["run"], r["app"]) for r in rows] == [("b-sun", "sunspots")]


def test_more_damage_is_reported_per_folder(tmp_path, capsys):
    root = tmp_path / "runs"
    _run(root / "list", "[1, 2]", mtime=T0)
    _run(root / "no-app", {"epochs": 2}, mtime=T0 + 1)
    _run(root / "no-summary", {"app": "adding"}, metrics_text='{"history": {}}', mtime=T0 + 2)
    (root / "no-config").mkdir()
    (root / "no-config" / "metrics.json").write_text("{}")
    assert main(["runs", str(root), "--json"]) == 0
    errors = {r["run"]: r["error"] for r in json.loads(capsys.readouterr().out)}
    assert errors == {"list": "config.json is not a JSON object", "no-app": "config.json names no app or task",
                      "no-summary": "metrics.json has no summary", "no-config": "no config.json"}


def test_no_runs_is_a_clean_message(tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    assert main(["runs", str(tmp_path / "empty")]) == 0
    assert "no run folders: none in" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)                       # no ./runs yet: nothing trained here
    assert main(["runs"]) == 0
    assert "no run folders: there is no runs folder here" in capsys.readouterr().out
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_missing_folder_or_a_file_is_an_error(tmp_path, capsys):
    assert main(["runs", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert f"rnnkit: error: {tmp_path / 'nope'}: no such folder" in err and "Traceback" not in err
    (tmp_path / "f").write_text("x")
    assert main(["runs", str(tmp_path / "f")]) == 1
    assert "not a folder" in capsys.readouterr().err
