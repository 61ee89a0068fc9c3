"""ONNX export of TemporalPooling (rnnkit.export._layers.pooling): the mean / max over each sequence's
valid steps equals ``predict`` after every recurrent configuration, with an Embedding front, on every
opset (ReduceMax's axes move from attribute to input at opset 18); the default RNNClassifier's network
runs in OnnxModel as in rnnkit; step refuses; int8 / fp16 files stay close.

The reference is rnnkit's own ``predict`` (TemporalPooling's forward is checked against NumPy and
finite differences in tests/layers); onnxruntime computes with its own kernels.
"""
import numpy as np
import onnx
import pytest

from rnnkit import GRU, LSTM, Dense, Embedding, Sequential
from rnnkit.estimators import RNNClassifier
from rnnkit.export import onnx as onnx_export
from rnnkit.layers import TemporalPooling
from rnnkit.runtime import OnnxModel
from tests.interop.test_onnx_export import TOL, ragged_batch, randomize, run_onnx

MODES = ["mean", "max"]
RECURRENT = [(LSTM, False), (LSTM, True), (GRU, False), (GRU, True)]


def pooled(mode, cls=GRU, bidirectional=False, front=None, **kw):
    """[front,] cls(5, return_sequences=True), TemporalPooling(mode), Dense(3, "tanh")."""
    layers = [] if front is None else [front]
    layers += [cls(5, bidirectional=bidirectional, return_sequences=True, **kw), TemporalPooling(mode)]
    return Sequential(layers + [Dense(3, "tanh")])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls, bidirectional", RECURRENT)
def test_parity_after_recurrent(mode, cls, bidirectional, tmp_path):
    rng = np.random.default_rng(0)
    model = randomize(pooled(mode, cls, bidirectional).build(3))
    path = model.export_onnx(tmp_path / "m.onnx")
    for B in (1, 2, 6):                          # lengths 1 and T when B >= 2 (ragged_batch)
        x, lengths = ragged_batch(rng, B=B, T=7, F=3)
        y = run_onnx(path, x, lengths)["y"]
        assert y.shape == (B, 3)
        np.testing.assert_allclose(y, model.predict(x, lengths), atol=TOL, rtol=0,
                                   err_msg=f"{cls.__name__} bidirectional={bidirectional} B={B}")
    x1 = rng.standard_normal((1, 1, 3)).astype(np.float32)     # one sequence of one step
    np.testing.assert_allclose(run_onnx(path, x1)["y"], model.predict(x1), atol=TOL, rtol=0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls, bidirectional", RECURRENT)
def test_parity_with_embedding_front_and_stacked_merges(mode, cls, bidirectional, tmp_path):
    rng = np.random.default_rng(1)
    model = randomize(pooled(mode, cls, bidirectional, front=Embedding(11, 4), num_layers=2,
                             merge="sum" if bidirectional else "concat").build(11))
    path = model.export_onnx(tmp_path / "m.onnx")
    x, lengths = ragged_batch(rng, B=5, T=6, vocab=11)
    np.testing.assert_allclose(run_onnx(path, x, lengths)["y"], model.predict(x, lengths), atol=TOL, rtol=0)


@pytest.mark.parametrize("mode", MODES)
def test_padding_never_reaches_the_pool(mode, tmp_path):
    """A per-step Dense with a large bias before the pooling: its padded steps are not zero, and neither
    the sum nor the max may see them; the padded values themselves (huge) must not matter."""
    model = randomize(Sequential([LSTM(4, return_sequences=True), Dense(3), TemporalPooling(mode)]).build(2))
    model.layers[1].params["c"][...] = [5.0, -5.0, 50.0]
    rng = np.random.default_rng(2)
    x, lengths = ragged_batch(rng, B=4, T=5, F=2)
    x[np.arange(5)[None, :] >= lengths[:, None]] = 1e6
    y = run_onnx(model.export_onnx(tmp_path / "m.onnx"), x, lengths)["y"]
    np.testing.assert_allclose(y, model.predict(x, lengths), atol=TOL, rtol=0)
    short = [x[b, :lengths[b]] for b in range(len(x))]          # unpadded, one by one
    np.testing.assert_allclose(y, np.concatenate([model.predict(s[None]) for s in short]), atol=TOL, rtol=0)


@pytest.mark.parametrize("mode", MODES)
def test_pooling_without_recurrence_still_reads_lengths(mode, tmp_path):
    """Embedding -> TemporalPooling -> Dense: no recurrent layer, yet the graph takes ``lengths``."""
    model = randomize(Sequential([Embedding(7, 3), TemporalPooling(mode), Dense(2)]).build(7))
    path = model.export_onnx(tmp_path / "m.onnx")
    assert [v.name for v in onnx.load(path).graph.input] == ["x", "lengths"]
    x, lengths = ragged_batch(np.random.default_rng(3), B=4, T=5, vocab=7)
    np.testing.assert_allclose(run_onnx(path, x, lengths)["y"], model.predict(x, lengths), atol=TOL, rtol=0)


@pytest.mark.parametrize("opset", [onnx_export.MIN_OPSET, 17, 18, 21, onnx.defs.onnx_opset_version()])
def test_every_opset(opset, tmp_path):
    """ReduceMax: axes an attribute before opset 18, an input from 18 (no stray initializer left)."""
    model = randomize(pooled("max", GRU, True).build(3))
    path = onnx_export.export(model, tmp_path / "m.onnx", opset=opset)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    (node,) = [n for n in proto.graph.node if n.op_type == "ReduceMax"]
    has_attr = any(a.name == "axes" for a in node.attribute)
    assert (has_attr, len(node.input)) == ((True, 1) if opset < 18 else (False, 2))
    read = {i for n in proto.graph.node for i in n.input}
    assert {t.name for t in proto.graph.initializer} <= read
    if opset <= 25:                             # onnxruntime 1.32 runs opsets up to 25
        x, lengths = ragged_batch(np.random.default_rng(4), B=3, T=4, F=3)
        np.testing.assert_allclose(run_onnx(path, x, lengths)["y"], model.predict(x, lengths), atol=TOL, rtol=0)


def test_layout_and_step_refusal(tmp_path):
    model = randomize(pooled("mean", LSTM).build(3))
    m = OnnxModel(model.export_onnx(tmp_path / "m.onnx"))
    assert m.layout["pooling"] == ["mean"]
    assert (m.layout["sequence_input"], m.layout["sequence_output"]) == (True, False)
    assert m.layout["y"]["shape"] == ["batch", 3]
    with pytest.raises(ValueError, match=r"step: TemporalPooling\('mean'\).*whole sequence.*predict"):
        m.step(np.zeros((2, 3), np.float32))
    plain = OnnxModel(randomize(Sequential([LSTM(5), Dense(3)]).build(3)).export_onnx(tmp_path / "p.onnx"))
    assert plain.layout["pooling"] == []
    plain.step(np.zeros((2, 3), np.float32))     # the check refuses pooling, not every unidirectional model


def test_default_classifier_network_in_onnxruntime(tmp_path):
    """RNNClassifier's default network (bidirectional GRU, max pooling) on chunked inputs (max_steps)."""
    rng = np.random.default_rng(5)
    lengths = rng.integers(3, 25, 24)
    X = [rng.standard_normal((n, 2)) + (k % 2) for k, n in enumerate(lengths)]
    y = np.array(["a", "b"] * 12)
    clf = RNNClassifier(epochs=3, max_steps=6, random_state=0).fit(X, y)
    assert clf.chunk_ > 1 and any(isinstance(l, TemporalPooling) for l in clf.model_.layers)
    m = OnnxModel(clf.model_.export_onnx(tmp_path / "clf.onnx"), threads=1)
    Xc, lc = clf._inputs(X)                    # standardized, chunked: what clf.model_ reads
    ref = clf.model_.predict(Xc, lc)
    np.testing.assert_allclose(m.predict(Xc, lc), ref, atol=TOL, rtol=0)
    np.testing.assert_allclose(m.predict(Xc[:1], lc[:1]), ref[:1], atol=TOL, rtol=0)
    assert list(clf.classes_[m.predict(Xc, lc).argmax(-1)]) == list(clf.predict(X))
    with pytest.raises(ValueError, match="step"):
        m.step(Xc[:, 0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cls", [LSTM, GRU])
@pytest.mark.parametrize("quantize", ["int8", "fp16"])
def test_quantized_runs_close(mode, cls, quantize, tmp_path):
    rng = np.random.default_rng(6)
    model = randomize(pooled(mode, cls, True, front=Embedding(40, 16)).build(40), scale=0.2)
    path = model.export_onnx(tmp_path / "q.onnx", quantize=quantize)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    x, lengths = ragged_batch(rng, B=6, T=7, vocab=40)
    ref = model.predict(x, lengths)
    dev = np.abs(run_onnx(path, x, lengths)["y"] - ref).max()
    # as tests/interop/test_onnx_export.py measures without pooling: ~1e-2 int8, ~5e-4 fp16
    assert 0 < dev < (0.05 if quantize == "int8" else 2e-3) * max(1.0, np.abs(ref).max())
