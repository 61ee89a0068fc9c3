"""The adding-problem app: data, parameter budgets, and a fast smoke run through the CLI."""
import json

import numpy as np

from rnnkit import cli
from rnnkit.apps import adding


def test_adding_data():
    X, y = adding.make_adding(5000, 20, np.random.default_rng(0))
    assert X.shape == (5000, 20, 2) and y.shape == (5000, 1) and X.dtype == y.dtype == np.float32
    marks = X[:, :, 1]
    assert np.all(marks.sum(axis=1) == 2)
    assert np.all(marks[:, :10].sum(axis=1) == 1) and np.all(marks[:, 10:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (X[:, :, 0] * marks).sum(axis=1), rtol=1e-6)
    assert np.all((X[:, :, 0] >= 0) & (X[:, :, 0] < 1))
    assert abs(np.mean((y - 1) ** 2) - 1 / 6) < 0.01          # the "predict 1" baseline


def test_parameter_budgets_match_within_ten_percent():
    counts = adding.param_counts(adding.default_config())
    assert set(counts) == {"rnn", "lstm", "gru"}
    assert max(counts.values()) / min(counts.values()) < 1.10


def test_smoke_run_through_the_cli(tmp_path):
    out = tmp_path / "run"
    config_args = ["--set", "lengths=[8, 16]", "--set", "n_train=96", "--set", "n_test=64",
                   "--set", "clip_n_train=64", "--set", "probe_length=16", "--epochs", "1"]
    cli.main(["train", "adding", "--quick", "--out", str(out), "--verbose", "0", *config_args])
    metrics = json.loads((out / "metrics.json").read_text())
    m = metrics["metrics"]
    assert set(m["test_mse"]) == {"rnn", "lstm", "gru"} and set(m["test_mse"]["gru"]) == {"8", "16"}
    assert len(m["dh_norms_probe"]["lstm"]["init"]) == 16
    assert len(m["clipping"]) == 4
    relu_no_clip = m["clipping"]["relu, radius 1.5, no clipping"]
    relu_clip = m["clipping"]["relu, radius 1.5, clip_norm=1"]
    assert relu_no_clip["failed_step"] is not None                 # explodes to NaN without clipping
    assert relu_clip["failed_step"] is None and np.isfinite(relu_clip["test_mse"])
    assert metrics["summary"]["baseline_name"] == "predict 1"
    for f in ("model.npz", "mse_by_length.png", "dh_norms.png", "clipping.png", "config.json"):
        assert (out / f).exists(), f
        if f.endswith(".png"):
            assert (out / f).stat().st_size < 200_000
    table = adding.format_table(m)
    assert table.count("\n") == 5 and "predict 1" in table
