"""ONNX export (rnnkit.export.onnx): onnxruntime's outputs and final states equal rnnkit's forward for
every layer kind and combination; the checker passes; int8 / fp16 exports run and stay close; refusals,
metadata and the missing-onnx message.

The reference is rnnkit's own forward (``predict``, ``Recurrent.forward(return_state=True)``), which
the op tests check against PyTorch and finite differences; onnxruntime computes with its own kernels.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from rnnkit import GRU, LSTM, RNN, Dense, Dropout, Embedding, Sequential, feedforward
from rnnkit.export import onnx as onnx_export
from rnnkit.layers import Layer, Recurrent
from rnnkit.runtime import OnnxModel

TOL = 1e-5
DIRECTIONS = [(False, "concat"), (True, "concat"), (True, "sum"), (True, "mean")]


def randomize(model, seed=0, scale=0.5):
    """Every weight drawn afresh (b_h nonzero too: the two biases go to different ONNX slots)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for v in layer.params.values():
            v[...] = rng.normal(0, scale, v.shape)
    return model


def ragged_batch(rng, B, T, F=None, vocab=None):
    """A padded batch with lengths in [1, T], including 1 and T when B >= 2."""
    lengths = rng.integers(1, T + 1, B)
    lengths[0] = T
    if B > 1:
        lengths[1] = 1
    x = rng.integers(0, vocab, (B, T)) if vocab else rng.standard_normal((B, T, F)).astype(np.float32)
    return x, lengths


def run_onnx(path, x, lengths=None, states=None):
    """The exported graph run directly in onnxruntime, zero initial states: {output name: array}."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"x": x.astype(np.int64) if x.dtype.kind == "i" else x}
    for v in sess.get_inputs()[1:]:
        if v.name == "lengths":
            feed["lengths"] = np.full(len(x), x.shape[1], np.int32) if lengths is None else lengths.astype(np.int32)
        else:
            feed[v.name] = (states or {}).get(v.name, np.zeros((v.shape[0], len(x), v.shape[2]), np.float32))
    names = [v.name for v in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feed)))


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def recurrent(cell_kind, H, **kw):
    return Recurrent(H, cell=cell_kind.cell.name, **cell_kind.options, **kw)


# ----------------------------------------------------------------------------------------------
# Parity, every cell kind and configuration.

@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_recurrent_parity(cell_kind, num_layers, return_sequences, tmp_path):
    rng = np.random.default_rng(1)
    x, lengths = ragged_batch(rng, B=4, T=5, F=3)
    for bidirectional, merge in DIRECTIONS:
        layer = recurrent(cell_kind, 4, num_layers=num_layers, bidirectional=bidirectional, merge=merge,
                          return_sequences=return_sequences)
        model = randomize(Sequential([layer, Dense(2, activation="tanh")]).build(3))
        path = model.export_onnx(tmp_path / "m.onnx")
        out = run_onnx(path, x, lengths)
        np.testing.assert_allclose(out["y"], model.predict(x, lengths), atol=TOL, rtol=0,
                                   err_msg=f"{cell_kind} bidirectional={bidirectional} merge={merge}")
        _, final = layer.forward(x, lengths, return_state=True)
        names = [f"{s}n_0" for s in layer.cell.state_names]
        for name, want in zip(names, as_tuple(final)):
            assert out[name].shape == (num_layers * layer.num_directions, 4, 4)
            np.testing.assert_allclose(out[name], want, atol=TOL, rtol=0, err_msg=f"{name} {merge}")


def test_initial_states_are_inputs(cell_kind, tmp_path):
    rng = np.random.default_rng(2)
    x, lengths = ragged_batch(rng, B=3, T=4, F=2)
    layer = recurrent(cell_kind, 3, num_layers=2, bidirectional=True, return_sequences=True)
    model = randomize(Sequential([layer]).build(2))
    init = tuple(rng.standard_normal((4, 3, 3)).astype(np.float32) for _ in layer.cell.state_names)
    out = run_onnx(model.export_onnx(tmp_path / "m.onnx"), x, lengths,
                   {f"{s}0_0": a for s, a in zip(layer.cell.state_names, init)})
    y, final = layer.forward(x, lengths, initial_state=init if len(init) > 1 else init[0], return_state=True)
    y = y * (np.arange(4)[None, :, None] < lengths[:, None, None])
    np.testing.assert_allclose(out["y"], y, atol=TOL, rtol=0)
    for s, want in zip(layer.cell.state_names, as_tuple(final)):
        np.testing.assert_allclose(out[f"{s}n_0"], want, atol=TOL, rtol=0)


def test_embedding_stack_dropout_dense_head(tmp_path):
    rng = np.random.default_rng(3)
    model = Sequential([Embedding(11, 4), LSTM(5, return_sequences=True), Dropout(0.3),
                        GRU(4, bidirectional=True, merge="mean", return_sequences=True, reset_after=True),
                        RNN(3, nonlinearity="relu"), Dense(6, "relu"), Dense(2, "sigmoid")])
    randomize(model.build(11))
    x, lengths = ragged_batch(rng, B=5, T=6, vocab=11)
    out = run_onnx(model.export_onnx(tmp_path / "m.onnx"), x, lengths)
    np.testing.assert_allclose(out["y"], model.predict(x, lengths), atol=TOL, rtol=0)
    assert sorted(out) == ["cn_1", "hn_1", "hn_3", "hn_4", "y"]


def test_per_step_head_is_zero_past_each_length(tmp_path):
    """Embedding + Dense per step (no recurrence): the Dense bias makes padded steps nonzero unless
    the graph masks them, as predict does."""
    rng = np.random.default_rng(4)
    model = randomize(Sequential([Embedding(7, 3), Dense(2, "leaky_relu")]).build(7))
    x, lengths = ragged_batch(rng, B=4, T=5, vocab=7)
    y = run_onnx(model.export_onnx(tmp_path / "m.onnx"), x, lengths)["y"]
    E, W, c = model.layers[0].params["E"], model.layers[1].params["W_y"], model.layers[1].params["c"]
    z = E[x] @ W.T + c
    want = np.where(z > 0, z, 0.01 * z) * (np.arange(5)[None, :, None] < lengths[:, None, None])
    np.testing.assert_allclose(y, want, atol=TOL, rtol=0)
    assert (y[1, 1:] == 0).all()


def test_feedforward_models(tmp_path):
    rng = np.random.default_rng(5)
    windowed = randomize(feedforward([6, 5], 2, activation="tanh", window=4).build(3))
    x = rng.standard_normal((3, 4, 3)).astype(np.float32)
    out = run_onnx(windowed.export_onnx(tmp_path / "w.onnx"), x)
    np.testing.assert_allclose(out["y"], windowed.predict(x), atol=TOL, rtol=0)
    flat = randomize(Sequential([Dense(4, "sigmoid"), Dense(2)]).build(3))
    x2 = rng.standard_normal((5, 3)).astype(np.float32)
    y = run_onnx(flat.export_onnx(tmp_path / "f.onnx"), x2)["y"]
    W1, c1, W2, c2 = (flat.layers[i].params[k] for i, k in ((0, "W_y"), (0, "c"), (1, "W_y"), (1, "c")))
    np.testing.assert_allclose(y, (1 / (1 + np.exp(-(x2 @ W1.T + c1)))) @ W2.T + c2, atol=TOL, rtol=0)
    inputs = [v.name for v in onnx.load(tmp_path / "f.onnx").graph.input]
    assert inputs == ["x"]                      # no time axis: no lengths


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (3, 1)])
def test_single_step_and_single_sequence(cell_kind, shape, tmp_path):
    B, T = shape
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, T, 2)).astype(np.float32)
    lengths = np.full(B, T)
    model = randomize(Sequential([recurrent(cell_kind, 3, bidirectional=True, return_sequences=True),
                                  Dense(2)]).build(2))
    out = run_onnx(model.export_onnx(tmp_path / "m.onnx"), x, lengths)
    np.testing.assert_allclose(out["y"], model.predict(x, lengths), atol=TOL, rtol=0)


def test_float64_model_exports_in_float32(tmp_path):
    rng = np.random.default_rng(7)
    model = randomize(Sequential([GRU(4, return_sequences=True), Dense(2)], dtype="float64").build(3))
    x, lengths = ragged_batch(rng, B=3, T=4, F=3)
    y = run_onnx(model.export_onnx(tmp_path / "m.onnx"), x, lengths)["y"]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, model.predict(x.astype(np.float64), lengths), atol=TOL, rtol=0)


# ----------------------------------------------------------------------------------------------
# The graph itself.

@pytest.mark.parametrize("opset", [onnx_export.MIN_OPSET, 17, 21])
def test_checker_and_onnx_operators_only(opset, tmp_path):
    model = randomize(Sequential([Embedding(9, 3), LSTM(4, num_layers=2, bidirectional=True),
                                  Dense(2, "relu")]).build(9))
    path = onnx_export.export(model, tmp_path / "m.onnx", opset=opset)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert {n.domain for n in proto.graph.node} == {""}
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("LSTM") == 2 and ops.count("Gather") >= 1 and "MatMul" in ops
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in proto.graph.input}
    assert dims == {"x": ["batch", "time"], "lengths": ["batch"], "h0_1": [4, "batch", 4], "c0_1": [4, "batch", 4]}
    assert [v.name for v in proto.graph.output] == ["y", "hn_1", "cn_1"]


def test_write_is_atomic_and_returns_path(tmp_path):
    model = Sequential([LSTM(3), Dense(1)])
    target = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="not built"):
        model.export_onnx(target)
    assert list(tmp_path.iterdir()) == []
    model.build(2)
    assert model.export_onnx(target) == target
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


# ----------------------------------------------------------------------------------------------
# Quantized exports.

def _quantized(cell, tmp_path, quantize):
    rng = np.random.default_rng(8)
    layer = {"lstm": LSTM, "gru": GRU, "rnn": RNN}[cell](32, bidirectional=True, return_sequences=True)
    model = randomize(Sequential([Embedding(50, 16), layer, Dense(8, "tanh"), Dense(3)]).build(50), scale=0.2)
    x, lengths = ragged_batch(rng, B=6, T=7, vocab=50)
    path = model.export_onnx(tmp_path / f"{cell}-{quantize}.onnx", quantize=quantize)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    dev = np.abs(run_onnx(path, x, lengths)["y"] - model.predict(x, lengths)).max()
    return path, dev, model.predict(x, lengths)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_fp16_runs_close_and_halves_size(cell, tmp_path):
    path, dev, ref = _quantized(cell, tmp_path, "fp16")
    full, _, _ = _quantized(cell, tmp_path, None)
    # measured max |deviation| 2e-4 .. 5e-4 on outputs of size ~1 (float16 keeps 11 bits)
    assert 0 < dev < 2e-3 * max(1.0, np.abs(ref).max())
    assert path.stat().st_size < 0.6 * full.stat().st_size
    inits = onnx.load(path).graph.initializer
    assert {t.data_type for t in inits if t.name.endswith("_fp16")} == {onnx.TensorProto.FLOAT16}
    assert not [t.name for t in inits if t.data_type == onnx.TensorProto.FLOAT and t.name.startswith("layers.")]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_int8_runs_close(cell, tmp_path):
    path, dev, ref = _quantized(cell, tmp_path, "int8")
    # measured max |deviation| ~1e-2 on outputs of size ~1 (per-channel int8 weights, dynamic activations)
    assert 0 < dev < 0.05 * max(1.0, np.abs(ref).max())
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert "MatMulInteger" in ops and "MatMul" not in ops         # every Dense quantized
    assert "DequantizeLinear" in ops                              # the embedding table
    if cell == "lstm":
        assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops
    else:           # no quantized kernel: float arithmetic on W and R stored as int8 (per-row scales)
        assert cell.upper() in ops
        assert _recurrent_weights(onnx.load(path)) == {"int8"}


def _recurrent_weights(proto):
    """The storage of the W and R inputs of every GRU / RNN node: "float32" for an initializer, "int8"
    for an int8 initializer Cast and scaled by a float32 one of shape (dirs, rows, 1)."""
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    made = {o: n for n in proto.graph.node for o in n.output}
    kinds = set()
    for node in proto.graph.node:
        for name in node.input[1:3] if node.op_type in ("GRU", "RNN") else ():
            if name in inits:
                kinds.add(str(inits[name].dtype))
                continue
            mul = made[name]
            cast = made[mul.input[0]]
            q, s = inits[cast.input[0]], inits[mul.input[1]]
            assert (mul.op_type, cast.op_type, q.dtype, s.dtype) == ("Mul", "Cast", np.int8, np.float32)
            assert s.shape == q.shape[:2] + (1,)
            kinds.add("int8")
    return kinds


INT8_KINDS = ["rnn-tanh", "rnn-relu", "gru-seed", "gru-reset-after"]


@pytest.mark.parametrize("cell_kind", INT8_KINDS, indirect=True)
def test_int8_gru_rnn_weights_per_row(cell_kind, tmp_path):
    """W and R int8 with one scale per row, each weight within half a step of its row; the file runs as
    rnnkit's own int8 model (model.save(quantize="int8"), same rows) with float arithmetic."""
    rng = np.random.default_rng(9)
    layers = [recurrent(cell_kind, 48, num_layers=2, bidirectional=True, return_sequences=True),
              recurrent(cell_kind, 6, return_sequences=True)]
    model = randomize(Sequential(layers).build(8), scale=0.2)
    full = model.export_onnx(tmp_path / "fp32.onnx")
    path = model.export_onnx(tmp_path / "int8.onnx", quantize="int8")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert _recurrent_weights(proto) == {"int8"} and _recurrent_weights(onnx.load(full)) == {"float32"}
    assert path.stat().st_size < 0.45 * full.stat().st_size        # ~0.3: 1 byte a weight, not 4

    float_w = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(full).graph.initializer}
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    made = {o: n for n in proto.graph.node for o in n.output}
    for node in (n for n in proto.graph.node if n.op_type in ("GRU", "RNN")):
        for name in node.input[1:3]:
            mul = made[name]
            q, s = inits[made[mul.input[0]].input[0]].astype(np.float64), inits[mul.input[1]].astype(np.float64)
            w = float_w[name].astype(np.float64)
            assert np.all(np.abs(q).max(axis=2) == 127)                  # each row uses its full range
            assert np.all(np.abs(w - q * s) <= s / 2 * (1 + 1e-6))        # half a step of its row

    x, lengths = ragged_batch(rng, B=5, T=6, F=8)
    out = run_onnx(path, x, lengths)
    model.save(tmp_path / "int8.npz", quantize="int8")
    small = Sequential.load(tmp_path / "int8.npz")
    np.testing.assert_allclose(out["y"], small.predict(x, lengths), atol=TOL, rtol=0)
    assert np.abs(out["y"] - model.predict(x, lengths)).max() > 10 * TOL      # it is quantized
    for i, layer in enumerate(small.layers):
        x_i = x if i == 0 else small.layers[0].forward(x, lengths)
        _, final = layer.forward(x_i, lengths, return_state=True)
        np.testing.assert_allclose(out[f"hn_{i}"], as_tuple(final)[0], atol=TOL, rtol=0)


@pytest.mark.parametrize("opset", [onnx_export.MIN_OPSET, 17, 21, onnx.defs.onnx_opset_version()])
def test_int8_gru_rnn_every_opset(opset, tmp_path):
    rng = np.random.default_rng(11)
    model = randomize(Sequential([GRU(8, bidirectional=True, return_sequences=True), RNN(5), Dense(2)]).build(3))
    path = onnx_export.export(model, tmp_path / "m.onnx", opset=opset, quantize="int8")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert _recurrent_weights(proto) == {"int8"}
    x, lengths = ragged_batch(rng, B=3, T=4, F=3)
    assert np.abs(run_onnx(path, x, lengths)["y"] - model.predict(x, lengths)).max() < 0.05


@pytest.mark.parametrize("cell_kind", INT8_KINDS, indirect=True)
def test_int8_gru_rnn_step(cell_kind, tmp_path):
    """OnnxModel.step on an int8 file: each step's output equals the int8 model's whole-sequence one."""
    rng = np.random.default_rng(10)
    layers = [recurrent(cell_kind, 16, num_layers=2, return_sequences=True), recurrent(cell_kind, 4)]
    model = randomize(Sequential(layers).build(3), scale=0.3)
    m = OnnxModel(model.export_onnx(tmp_path / "int8.onnx", quantize="int8"), threads=1)
    model.save(tmp_path / "int8.npz", quantize="int8")
    small = Sequential.load(tmp_path / "int8.npz")
    x = rng.standard_normal((3, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(m.predict(x), small.predict(x), atol=TOL, rtol=0)
    state = None
    for t in range(5):
        y_t, state = m.step(x[:, t], state)
        np.testing.assert_allclose(y_t, small.predict(x[:, :t + 1]), atol=TOL, rtol=0, err_msg=f"step {t}")


# ----------------------------------------------------------------------------------------------
# Refusals, metadata, the optional dependency.

class Scale(Layer):
    def call(self, x, lengths, training=False):
        return 2 * x


class MyDense(Dense):
    pass


@pytest.mark.parametrize("layers, index, words", [
    ([LSTM(3, return_sequences=True), Scale(), Dense(1)], 1, ["Scale", "layer class"]),
    ([GRU(3), MyDense(1)], 1, ["MyDense", "layer class"]),
    ([Dense(3), Embedding(4, 2)], 1, ["Embedding", "position"]),
])
def test_refuses_what_onnx_cannot_express(layers, index, words, tmp_path):
    model = Sequential(layers).build(3)
    with pytest.raises(ValueError, match=rf"layers\[{index}\]") as info:
        model.export_onnx(tmp_path / "m.onnx")
    for w in words:
        assert w in str(info.value)
    assert not (tmp_path / "m.onnx").exists()


def test_refuses_options_without_onnx_equivalent(tmp_path):
    model = Sequential([RNN(3), Dense(2, "tanh")]).build(2)
    model.layers[1].activation = "softplus"            # no ONNX mapping (set past Dense's own check)
    with pytest.raises(ValueError, match=r"layers\[1\] \(Dense\): activation='softplus'"):
        model.export_onnx(tmp_path / "m.onnx")
    model.layers[1].activation = "tanh"
    model.layers[0].cell = type("Cell", (), {"name": "mycell"})()     # a cell registered by the user
    with pytest.raises(ValueError, match=r"layers\[0\] \(RNN\): cell='mycell'"):
        model.export_onnx(tmp_path / "m.onnx")


def test_refuses_bad_arguments(tmp_path):
    model = Sequential([LSTM(3)]).build(2)
    with pytest.raises(ValueError, match="opset"):
        model.export_onnx(tmp_path / "m.onnx", opset=12)
    with pytest.raises(ValueError, match="quantize"):
        model.export_onnx(tmp_path / "m.onnx", quantize="int4")
    with pytest.raises(TypeError, match="metadata"):
        onnx_export.export(model, tmp_path / "m.onnx", metadata={"f": object()})


def test_metadata_round_trip(tmp_path):
    model = Sequential([Embedding(5, 3), GRU(4), Dense(3)]).build(5)
    model.compile(loss="crossentropy")
    model.classes_ = np.array(["cat", "dog", "eel"])
    meta = {"vocabulary": ["<pad>", "a", "b", "c", "d"], "scaler": {"mean": 1.5, "std": [2, 3]}, "task": "classify"}
    onnx_export.export(model, tmp_path / "m.onnx", metadata=meta)
    props = {p.key: p.value for p in onnx.load(tmp_path / "m.onnx").metadata_props}
    assert json.loads(props["rnnkit.metadata"]) == meta
    assert json.loads(props["rnnkit.classes"]) == ["cat", "dog", "eel"]
    assert props["rnnkit.loss"] == "crossentropy"
    assert props["rnnkit.version"] == __import__("rnnkit").__version__
    layout = json.loads(props["rnnkit.layout"])
    assert layout["x"] == {"name": "x", "dtype": "int64", "shape": ["batch", "time"]}
    assert layout["y"]["shape"] == ["batch", 3] and layout["vocab_size"] == 5 and layout["tokens"]
    assert layout["states"] == [{"layer": 1, "cell": "gru", "inputs": ["h0_1"], "outputs": ["hn_1"],
                                 "bidirectional": False, "shape": [1, "batch", 4]}]
    model.metadata = {"from": "the model"}              # what load sets; the default metadata
    model.export_onnx(tmp_path / "m2.onnx")
    props = {p.key: p.value for p in onnx.load(tmp_path / "m2.onnx").metadata_props}
    assert json.loads(props["rnnkit.metadata"]) == {"from": "the model"}


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    model = Sequential([LSTM(3)]).build(2)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"ONNX export needs onnx: pip install 'rnnkit\[onnx\]'"):
        model.export_onnx(tmp_path / "m.onnx")


def test_int8_without_onnxruntime_names_the_extra(monkeypatch, tmp_path):
    model = Sequential([LSTM(3)]).build(2)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)
    with pytest.raises(ImportError, match=r"int8.*needs onnxruntime: pip install 'rnnkit\[onnx\]'"):
        model.export_onnx(tmp_path / "m.onnx", quantize="int8")
    assert not (tmp_path / "m.onnx").exists()
