"""rnnkit.runtime.OnnxModel: predict / predict_proba / predict_classes equal Sequential's on every input
form, and streaming ``step`` over a sequence equals the whole-sequence forward."""
import sys

import numpy as np
import onnx
import pytest

from rnnkit import GRU, LSTM, Dense, Dropout, Embedding, Sequential, feedforward
from rnnkit.layers import Recurrent
from rnnkit.runtime import OnnxModel

TOL = 1e-5


def randomize(model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for v in layer.params.values():
            v[...] = rng.normal(0, scale, v.shape)
    return model


def exported(model, tmp_path, name="m.onnx", **kw):
    return OnnxModel(model.export_onnx(tmp_path / name, **kw))


# ----------------------------------------------------------------------------------------------
# predict and its input forms.

def test_predict_ragged_float_list(tmp_path):
    rng = np.random.default_rng(0)
    model = Sequential([LSTM(4, num_layers=2, return_sequences=True), Dropout(0.5), Dense(2, "tanh")])
    randomize(model.build(3))
    seqs = [rng.standard_normal((n, 3)) for n in (5, 1, 3, 4, 2)]
    m = OnnxModel(model.export_onnx(tmp_path / "m.onnx"), threads=1)
    got = m.predict(seqs, batch_size=2)           # several batches, each trimmed to its own length
    want = model.predict(seqs, batch_size=2)
    assert got.shape == want.shape == (5, 5, 2)
    np.testing.assert_allclose(got, want, atol=TOL, rtol=0)
    assert (got[1, 1:] == 0).all()


def test_predict_padded_with_lengths_and_token_lists(tmp_path):
    rng = np.random.default_rng(1)
    model = randomize(Sequential([Embedding(9, 3), GRU(4, bidirectional=True, merge="sum"), Dense(2)]).build(9))
    m = exported(model, tmp_path)
    ids = [rng.integers(0, 9, n) for n in (4, 1, 6)]
    np.testing.assert_allclose(m.predict(ids), model.predict(ids), atol=TOL, rtol=0)
    X, lengths = rng.integers(0, 9, (4, 5)), np.array([5, 2, 1, 3])
    np.testing.assert_allclose(m.predict(X, lengths), model.predict(X, lengths), atol=TOL, rtol=0)
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 8\]"):
        m.predict(X + 9)


def test_predict_without_time_axis(tmp_path):
    rng = np.random.default_rng(2)
    model = randomize(Sequential([Dense(5, "relu"), Dense(3)]).build(4))
    m = exported(model, tmp_path)
    X = rng.standard_normal((7, 4))
    np.testing.assert_allclose(m.predict(X, batch_size=3), model.predict(X), atol=TOL, rtol=0)
    with pytest.raises(ValueError, match=r"reads \(batch, features\)"):
        m.predict(X[:, None, :])
    with pytest.raises(ValueError, match="built for 4 input features"):
        m.predict(X[:, :3])


def test_predict_flattened_windows(tmp_path):
    rng = np.random.default_rng(3)
    model = randomize(feedforward(5, 2, window=3).build(2))
    m = exported(model, tmp_path)
    X = rng.standard_normal((4, 3, 2))
    np.testing.assert_allclose(m.predict(X), model.predict(X), atol=TOL, rtol=0)
    with pytest.raises(ValueError, match="windows of 3 steps"):
        m.predict(X, lengths=[3, 2, 3, 3])


def test_proba_and_classes_with_labels(tmp_path):
    rng = np.random.default_rng(4)
    X = [rng.standard_normal((n, 2)) for n in (3, 5, 2, 4, 1, 2)]
    multi = randomize(Sequential([GRU(4, reset_after=True), Dense(3)]).build(2))
    multi.compile(loss="crossentropy")
    multi.classes_ = np.array(["lo", "mid", "hi"])
    m = exported(multi, tmp_path, "multi.onnx")
    np.testing.assert_allclose(m.predict_proba(X), multi.predict_proba(X), atol=TOL, rtol=0)
    assert m.predict_classes(X).tolist() == multi.predict_classes(X).tolist()
    assert set(m.predict_classes(X).tolist()) <= {"lo", "mid", "hi"}
    binary = randomize(Sequential([LSTM(3), Dense(1)]).build(2), seed=1)
    binary.compile(loss="binary_crossentropy")
    b = exported(binary, tmp_path, "binary.onnx")
    np.testing.assert_allclose(b.predict_proba(X), binary.predict_proba(X), atol=TOL, rtol=0)
    assert b.predict_classes(X).tolist() == binary.predict_classes(X).tolist()
    regression = exported(Sequential([LSTM(2), Dense(1)]).build(2).compile(loss="mse"), tmp_path, "r.onnx")
    with pytest.raises(ValueError, match="not a classification loss"):
        regression.predict_proba(X)


def test_metadata_and_description(tmp_path):
    model = Sequential([Embedding(6, 3), LSTM(4, num_layers=2), Dense(2)]).build(6).compile(loss="crossentropy")
    m = OnnxModel(model.export_onnx(tmp_path / "m.onnx"))
    assert m.loss == "crossentropy" and m.classes_ is None and m.metadata == {}
    assert m.state_names == ("h0_1", "c0_1")
    assert [v["name"] for v in m.inputs] == ["x", "lengths", "h0_1", "c0_1"]
    assert [v["name"] for v in m.outputs] == ["y", "hn_1", "cn_1"]
    assert m.inputs[0]["shape"] == ["batch", "time"] and m.inputs[0]["type"] == "tensor(int64)"
    assert m.outputs[1]["shape"] == [2, "batch", 4]


# ----------------------------------------------------------------------------------------------
# Streaming.

def test_step_equals_whole_sequence(cell_kind, tmp_path):
    rng = np.random.default_rng(5)
    layer = Recurrent(4, cell=cell_kind.cell.name, num_layers=2, return_sequences=True, **cell_kind.options)
    model = randomize(Sequential([layer, Dense(2, "tanh")]).build(3))
    m = exported(model, tmp_path)
    x = rng.standard_normal((3, 6, 3)).astype(np.float32)
    want = model.predict(x)
    state = None
    for t in range(6):
        y_t, state = m.step(x[:, t], state)
        np.testing.assert_allclose(y_t, want[:, t], atol=TOL, rtol=0, err_msg=f"step {t}")
    _, final = layer.forward(x, return_state=True)
    for got, ref in zip(state, final if isinstance(final, tuple) else (final,)):
        np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)


def test_step_tokens_and_last_step_model(tmp_path):
    rng = np.random.default_rng(6)
    model = randomize(Sequential([Embedding(7, 3), LSTM(4, return_sequences=True), GRU(3), Dense(2)]).build(7))
    m = exported(model, tmp_path)
    ids = rng.integers(0, 7, (2, 5))
    state = m.initial_state(2)
    assert [s.shape for s in state] == [(1, 2, 4), (1, 2, 4), (1, 2, 3)]
    for t in range(5):
        y_t, state = m.step(ids[:, t], state)
        # a last-step model's output after step t is its prediction for the prefix ids[:, :t + 1]
        np.testing.assert_allclose(y_t, model.predict(ids[:, :t + 1]), atol=TOL, rtol=0)


def test_step_refusals(tmp_path):
    bi = exported(Sequential([GRU(3, bidirectional=True)]).build(2), tmp_path, "bi.onnx")
    with pytest.raises(ValueError, match="bidirectional"):
        bi.step(np.zeros((1, 2)))
    ff = exported(feedforward(3, 1, window=2).build(2), tmp_path, "ff.onnx")
    with pytest.raises(ValueError, match="no recurrence over time"):
        ff.step(np.zeros((1, 2)))
    m = exported(Sequential([LSTM(3)]).build(2), tmp_path, "lstm.onnx")
    with pytest.raises(ValueError, match=r"x_t: expected shape \(batch, 2\)"):
        m.step(np.zeros((1, 3)))
    with pytest.raises(TypeError, match="tuple of 2 arrays"):
        m.step(np.zeros((1, 2)), np.zeros((1, 1, 3)))
    with pytest.raises(ValueError, match=r"state c0_0: expected shape \(1, 1, 3\)"):
        m.step(np.zeros((1, 2)), (np.zeros((1, 1, 3)), np.zeros((1, 2, 3))))


# ----------------------------------------------------------------------------------------------
# Files and the optional dependency.

def test_quantized_files_load(tmp_path):
    rng = np.random.default_rng(7)
    model = randomize(Sequential([LSTM(8, return_sequences=True), Dense(2)]).build(3), scale=0.3)
    X = rng.standard_normal((3, 4, 3))
    for q in ("int8", "fp16"):
        m = exported(model, tmp_path, f"{q}.onnx", quantize=q)
        assert m.layout["quantize"] == q
        np.testing.assert_allclose(m.predict(X), model.predict(X), atol=0.05)


def test_refuses_foreign_files_and_bad_threads(tmp_path):
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), tmp_path / "f.onnx")
    with pytest.raises(ValueError, match="not written by rnnkit.export.onnx"):
        OnnxModel(tmp_path / "f.onnx")
    path = Sequential([LSTM(2)]).build(1).export_onnx(tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="threads"):
        OnnxModel(path, threads=0)


def test_missing_onnxruntime_names_the_extra(monkeypatch, tmp_path):
    path = Sequential([LSTM(2)]).build(1).export_onnx(tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"needs onnxruntime: pip install 'rnnkit\[onnx\]'"):
        OnnxModel(path)
