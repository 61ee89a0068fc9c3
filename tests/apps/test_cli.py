"""The rnnkit command end to end on a tiny run: run folder contents, a model that loads and predicts."""
import json

import numpy as np
import pytest

from rnnkit.cli import APPS, CliError, main
from rnnkit.model import Sequential


def test_list_names_every_app(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in APPS:
        assert name in out


def test_train_writes_a_complete_run_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "sunspots", "--quick", "--epochs", "2", "--hidden", "8", "--cell", "lstm",
                 "--out", str(run), "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "test RMSE" in out and str(run) in out
    assert {p.name for p in run.iterdir()} >= {"config.json", "metrics.json", "model.npz", "loss.png",
                                                 "forecast.png"}
    config = json.loads((run / "config.json").read_text())
    assert config["app"] == "sunspots" and config["cell"] == "lstm" and config["hidden"] == 8
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(metrics["summary"]["rnnkit"]) and len(metrics["history"]["loss"]) <= 2
    assert (run / "loss.png").stat().st_size > 1000

    model = Sequential.load(run / "model.npz")
    assert model.metadata["app"] == "sunspots"
    window = model.metadata["window"]
    X = np.random.default_rng(0).standard_normal((3, window, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    assert main(["predict", str(run / "model.npz"), str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), model.predict(X))

    assert main(["evaluate", str(run)]) == 0
    scored = json.loads(capsys.readouterr().out.split("\n", 0)[0])
    assert scored  # the app re-scores the saved model on its held-out years


def test_bad_app_and_bad_option_are_named(capsys):
    assert main(["train", "nope"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    assert main(["train", "sunspots", "--set", "colour=red"]) == 2
    assert "rnnkit: error: --set colour: not an option of this app" in capsys.readouterr().err


def test_set_parses_json_or_plain_strings():
    import argparse

    from rnnkit.apps import sunspots
    from rnnkit.cli import _config_from_args
    args = argparse.Namespace(quick=True, cell=None, hidden=None, layers=None, epochs=None, batch_size=None,
                              seed=None, lr=None, bidirectional=None,
                              set=["cell=lstm", "arima_order=[2, 0, 1]", "window=12", "lr=1e-3"])
    config = _config_from_args(sunspots, args)
    assert config["cell"] == "lstm" and config["arima_order"] == [2, 0, 1]
    assert config["window"] == 12 and config["lr"] == 1e-3
    args.set = ["window"]
    with pytest.raises(CliError, match="--set window: expected KEY=VALUE"):
        _config_from_args(sunspots, args)
