"""`rnnkit train g2p`, `rnnkit evaluate` and `rnnkit pronounce` as a user runs them (subprocess):
the run folder's files, the printed pronunciations equal the library's, and mistakes end in
`rnnkit: error:` with exit 2 (usage) or 1 (runtime), never a traceback."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit import Dense, Sequential
from rnnkit.apps import g2p

from .test_cli_fit import rnnkit


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("g2p") / "run"
    rnnkit("train", "g2p", "--quick", "--set", "max_train_words=200", "--set", "max_test_words=20",
           "--epochs", "2", "--verbose", "0", "--out", out)
    return out


def test_run_folder_has_the_models_metrics_and_plots(run):
    for name in ("model.npz", "metrics.json", "loss.png", "attention.png", "config.toml", "history.csv"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert metrics["n_train_words"] == 200 and metrics["n_test_words"] == 20
    scored = json.loads(rnnkit("evaluate", run).stdout)
    assert scored["wer"] == metrics["wer_attention"] and scored["per"] == metrics["per_attention"]


@pytest.mark.parametrize("beam", [1, 3])
def test_pronounce_prints_what_the_library_decodes(run, beam):
    words = ["Hello", "don't", "rnnkit"]
    out = rnnkit("pronounce", run, *words, "--beam", beam).stdout.splitlines()
    want = g2p.pronounce(g2p.load_model(run / "model.npz"), words, beam)
    assert [line.split()[0] for line in out] == list(want) == ["hello", "don't", "rnnkit"]
    for line, phones in zip(out, want.values()):
        assert line.split()[1:] == phones
        assert set(phones) <= set(g2p.PHONEMES)


def _fails(r, code, *words):
    assert r.returncode == code, r.stderr
    assert "rnnkit: error:" in r.stderr and "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr


def test_pronounce_mistakes(run, tmp_path):
    _fails(rnnkit("pronounce", run, "naïve", ok=False), 2, "ï")
    _fails(rnnkit("pronounce", run, "ok", "--beam", "0", ok=False), 2, "--beam")
    _fails(rnnkit("pronounce", tmp_path / "missing", "word", ok=False), 1, "missing")
    _fails(rnnkit("pronounce", tmp_path, "word", ok=False), 1, "model.npz")
    other = Sequential([Dense(2)])
    other.build(3)
    other.save(tmp_path / "dense.npz")
    _fails(rnnkit("pronounce", tmp_path / "dense.npz", "word", ok=False), 1, "Seq2Seq")
    np.save(tmp_path / "array.npy", np.zeros(3))
    _fails(rnnkit("pronounce", tmp_path / "array.npy", "word", ok=False), 1, "array.npy")
