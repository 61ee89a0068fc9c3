"""`rnnkit export` (ONNX fp32 / fp16 / int8, quantized rnnkit files) and `rnnkit predict FILE.onnx`,
in a subprocess as a user runs them: the ONNX file gives the table of the run folder."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from rnnkit import Dense, Sequential
from rnnkit.layers import LSTM

from .test_cli_fit import FAST, read_csv, rnnkit, sequences, write_long_csv


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    write_long_csv(tmp / "train.csv", sequences())
    rnnkit("fit", tmp / "train.csv", "--task", "classify", "--out", tmp / "run", *FAST)
    return tmp


def probabilities(text):
    header, rows = read_csv(text)
    return header, [r[:2] for r in rows], np.array([[float(v) for v in r[2:]] for r in rows])


@pytest.mark.parametrize("quantize, atol", [(None, 1e-5), ("fp16", 5e-3), ("float16", 5e-3), ("int8", 5e-2)])
def test_onnx_export_predicts_the_run_folders_table(run, quantize, atol):
    out = run / f"model-{quantize}.onnx"
    r = rnnkit("export", run / "run", out, *(["--quantize", quantize] if quantize else []))
    assert out.is_file() and "wrote" in r.stdout
    want = rnnkit("predict", run / "run", run / "train.csv", "--proba").stdout
    want_header, want_labels, want_p = probabilities(want)
    header, labels, p = probabilities(rnnkit("predict", out, run / "train.csv", "--proba").stdout)
    assert header == want_header and header[:2] == ["id", "label"]
    np.testing.assert_allclose(p, want_p, atol=atol)
    if quantize is None:
        assert labels == want_labels


def test_quantized_rnnkit_file(run):
    out = run / "small.npz"
    rnnkit("export", run / "run", out, "--quantize", "int8")
    model, small = Sequential.load(run / "run" / "model.npz"), Sequential.load(out)
    assert small.quantized == "int8" and small.metadata["task"] == "classify"
    a, b = model.get_weights(), small.get_weights()
    for k in a:                                   # int8 with a scale per row: within half a step of each row
        step = np.abs(a[k]).max(axis=-1, keepdims=True) / 127 if a[k].ndim == 2 else 0
        assert np.all(np.abs(a[k] - b[k]) <= step / 2 + 1e-7), k
    _, labels, _ = probabilities(rnnkit("predict", out, run / "train.csv", "--proba").stdout)
    _, want, _ = probabilities(rnnkit("predict", run / "run", run / "train.csv", "--proba").stdout)
    assert np.mean([x == y for x, y in zip(labels, want)]) > 0.9


def test_raw_model_onnx_equals_npz(tmp_path):
    rng = np.random.default_rng(0)
    model = Sequential([LSTM(6, return_sequences=True), Dense(2)], seed=1).build(3)
    model.save(tmp_path / "m.npz")
    X = rng.standard_normal((4, 7, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    rnnkit("export", tmp_path / "m.npz", tmp_path / "m.onnx")
    a = np.loadtxt(rnnkit("predict", tmp_path / "m.npz", tmp_path / "x.npy").stdout.splitlines())
    b = np.loadtxt(rnnkit("predict", tmp_path / "m.onnx", tmp_path / "x.npy").stdout.splitlines())
    np.testing.assert_allclose(b, a, atol=1e-5)
    assert a.shape == (4, 7 * 2)


@pytest.mark.parametrize("args, code, message", [
    (["export", "RUN", "OUT/m.txt"], 2, "ending in .onnx"),
    (["export", "RUN", "OUT/m.npz"], 2, "give --quantize"),
    (["export", "RUN", "RUN/model.npz", "--quantize", "int8"], 2, "the model file itself"),
    (["export", "RUN", "OUT/m.onnx", "--opset", "3"], 1, "opset"),
    (["export", "OUT/none.npz", "OUT/m.onnx"], 1, "no such file"),
    (["export", "RUN", "OUT/missing/m.onnx"], 1, "does not exist"),
    (["export", "RUN", "OUT/m.onnx", "--quantize", "int4"], 2, "invalid choice"),
    (["predict", "OUT/junk.onnx", "DATA"], 1, "not an ONNX model"),
])
def test_export_errors(run, tmp_path, args, code, message):
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    subs = {"RUN": str(run / "run"), "OUT": str(tmp_path), "DATA": str(run / "train.csv")}
    args = [a.replace("RUN", subs["RUN"]).replace("OUT", subs["OUT"]).replace("DATA", subs["DATA"]) for a in args]
    r = rnnkit(*args, ok=False)
    assert r.returncode == code, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.onnx"]        # nothing half-written


NO_ONNX = """
import sys
sys.modules["onnx"] = None
sys.modules["onnxruntime"] = None
from rnnkit import cli
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", ["export", "predict"])
def test_missing_extra_names_the_install_command(run, tmp_path, command):
    rnnkit("export", run / "run", tmp_path / "m.onnx")
    args = ([command, str(run / "run"), str(tmp_path / "again.onnx")] if command == "export"
            else [command, str(tmp_path / "m.onnx"), str(run / "train.csv")])
    r = subprocess.run([sys.executable, "-c", NO_ONNX, *args], capture_output=True, text=True)
    assert r.returncode == 1 and "pip install 'rnnkit[onnx]'" in r.stderr and "Traceback" not in r.stderr
    assert json.loads((run / "run" / "config.json").read_text())["task"] == "classify"
