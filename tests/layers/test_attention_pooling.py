"""AttentionPooling: gradients by finite differences (float64), parity with PyTorch autograd, padding that
never counts, a model that trains, saves and loads, and an ONNX export that refuses it cleanly."""
import numpy as np
import pytest

from rnnkit import Dense, Sequential
from rnnkit.io import LAYER_CLASSES
from rnnkit.layers import LSTM, AttentionPooling
from rnnkit.ops.attention import SCORES
from tests.helpers.gradcheck import assert_grad_close

RAGGED = np.array([4, 1, 3])


def built(score, F=5, seed=0, units=None):
    layer = AttentionPooling(score, units=units)
    layer.build(F, np.random.default_rng(seed), np.float64)
    return layer


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("lengths", [None, RAGGED])
def test_attention_pooling_gradients(score, lengths):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5))
    layer = built(score, units=3 if score == "additive" else None)
    R = rng.standard_normal((3, 5))

    def loss():
        return float(np.sum(layer.forward(x, lengths) * R))

    loss()
    dx = layer.backward(R)
    assert dx.shape == x.shape and dx.dtype == np.float64
    assert sorted(layer.grads) == sorted(layer.params)
    for name in layer.params:
        assert_grad_close(layer.grads[name], loss, layer.params[name], name=f"{score} {name}")
    assert_grad_close(dx, loss, x, name=f"{score} x")
    if lengths is not None:
        for b, L in enumerate(lengths):
            assert np.all(dx[b, L:] == 0.0), "padded steps must get exactly zero gradient"


@pytest.mark.parametrize("score", SCORES)
def test_attention_pooling_parity_with_torch(torch_float64, score):
    torch = torch_float64
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5))
    layer = built(score, seed=1)
    R = rng.standard_normal((3, 5))
    y = layer.forward(x, RAGGED)
    dx = layer.backward(R)
    t = {n: torch.tensor(w, requires_grad=True) for n, w in layer.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    if score == "additive":
        e = torch.tanh(t["W_q"] @ t["q"] + tx @ t["W_k"].T) @ t["v"]          # (B, T)
    elif score == "general":
        e = tx @ (t["W_a"].T @ t["q"])
    else:
        e = tx @ t["q"]
    pad = torch.arange(4)[None, :] >= torch.as_tensor(RAGGED)[:, None]
    a = torch.softmax(e.masked_fill(pad, float("-inf")), dim=1)
    ty = (a[:, :, None] * tx).sum(dim=1)
    (ty * torch.tensor(R)).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.attention_weights, a.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=0, atol=1e-10)
    for n, leaf in t.items():
        np.testing.assert_allclose(layer.grads[n], leaf.grad.numpy(), rtol=0, atol=1e-10, err_msg=n)


@pytest.mark.parametrize("score", SCORES)
def test_reads_valid_steps_only_and_exposes_weights(score):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6, 2)).astype(np.float32)
    lengths = np.array([6, 1, 4])
    x_pad = x.copy()
    for b, L in enumerate(lengths):
        x_pad[b, L:] = 100.0                  # garbage past each length must not matter
    layer = AttentionPooling(score)
    y = layer.forward(x_pad, lengths)
    a = layer.attention(x_pad, lengths)
    assert y.dtype == a.dtype == np.float32 and y.shape == (3, 2) and a.shape == (3, 6)
    np.testing.assert_array_equal(a, layer.attention_weights)
    np.testing.assert_array_equal(y[1], x[1, 0])              # length 1: the only step, exactly
    for b, L in enumerate(lengths):
        assert np.all(a[b, L:] == 0.0) and abs(a[b].sum() - 1) < 1e-6
        np.testing.assert_allclose(y[b], a[b, :L] @ x[b, :L], rtol=1e-5, atol=1e-6)
        yb = layer.forward(x[b:b + 1, :L])                     # the same sequence without padding
        np.testing.assert_allclose(y[b], yb[0], rtol=1e-5, atol=1e-6)


def test_refuses_bad_input():
    with pytest.raises(ValueError, match="score"):
        AttentionPooling("cosine")
    with pytest.raises(ValueError, match="units: only the additive score"):
        AttentionPooling("dot", units=4)
    with pytest.raises(ValueError, match=r"expects \(batch, time, 5\)"):
        built("dot").forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="time axis"):
        Sequential([Dense(3), AttentionPooling(), Dense(1)]).build(2).output_is_sequence(False)
    with pytest.raises(TypeError, match="expected dtype float64"):
        built("additive").forward(np.zeros((2, 3, 5), dtype=np.float32))


@pytest.mark.parametrize("score", SCORES)
def test_model_with_attention_pooling_trains_saves_and_loads(tmp_path, score):
    assert LAYER_CLASSES["AttentionPooling"] is AttentionPooling
    rng = np.random.default_rng(3)
    X = [rng.standard_normal((int(n), 2)) for n in rng.integers(1, 9, size=24)]      # lengths 1..8
    y = np.array([int(s[:, 0].mean() > 0) for s in X])
    model = Sequential([LSTM(4, return_sequences=True), AttentionPooling(score), Dense(2)], seed=0, dtype="float64")
    model.compile("crossentropy", lr=0.05)
    first = model.fit(X, y, epochs=15, batch_size=8, verbose=0).history["loss"]
    assert first[-1] < first[0]
    model.save(tmp_path / "m.npz")
    loaded = Sequential.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    pool = loaded.layers[1]
    assert isinstance(pool, AttentionPooling) and pool.get_config() == model.layers[1].get_config()
    for name, w in model.layers[1].params.items():
        np.testing.assert_array_equal(pool.params[name], w)


def test_onnx_export_refuses_attention_pooling(tmp_path):
    model = Sequential([LSTM(4, return_sequences=True), AttentionPooling(), Dense(2)]).build(3)
    with pytest.raises(ValueError, match=r"layers\[1\] \(AttentionPooling\).*no ONNX export yet"):
        model.export_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
