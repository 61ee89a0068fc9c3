"""Layers: finite-difference checks (float64) of Dense, Embedding, Flatten and the recurrent stacks."""
import numpy as np
import pytest

from gradcheck import assert_grad_close
from rnnkit.layers import GRU, LSTM, RNN, Dense, Dropout, Embedding, Flatten

CELLS = {
    "rnn_tanh": lambda **k: RNN(3, **k),
    "rnn_relu": lambda **k: RNN(3, nonlinearity="relu", **k),
    "lstm": lambda **k: LSTM(3, **k),
    "gru": lambda **k: GRU(3, **k),
    "gru_reset_after": lambda **k: GRU(3, reset_after=True, **k),
}


def built(layer, D, seed=0):
    layer.build(D, np.random.default_rng(seed), np.float64)
    rng = np.random.default_rng(seed + 1)
    for v in layer.params.values():  # non-trivial biases too, so every path is exercised
        v += rng.standard_normal(v.shape) * 0.3
    return layer


def state_like(layer, B, rng):
    shape = (layer.num_layers * layer.num_directions, B, layer.hidden_size)
    if layer.cell.n_states == 2:
        return tuple(rng.standard_normal(shape) * 0.5 for _ in range(2))
    return rng.standard_normal(shape) * 0.5


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("bidirectional, num_layers, return_sequences, merge", [
    (False, 1, True, "concat"), (True, 2, True, "concat"), (True, 2, False, "concat"),
    (True, 1, True, "sum"), (True, 1, False, "mean"), (False, 2, False, "concat"),
])
def test_recurrent_layer_gradients(cell, bidirectional, num_layers, return_sequences, merge):
    B, T, D = 3, 4, 2
    layer = built(CELLS[cell](num_layers=num_layers, bidirectional=bidirectional,
                              return_sequences=return_sequences, merge=merge), D)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((B, T, D))
    lengths = np.array([4, 1, 3])
    s0 = state_like(layer, B, rng)
    y, sT = layer.forward(x, lengths, initial_state=s0, return_state=True)
    R = rng.standard_normal(y.shape)
    RS = state_like(layer, B, rng)
    parts = lambda s: s if isinstance(s, tuple) else (s,)

    def loss():
        y, sT = layer.forward(x, lengths, initial_state=s0, return_state=True)
        return np.sum(y * R) + sum(np.sum(a * r) for a, r in zip(parts(sT), parts(RS)))

    loss()
    dx = layer.backward(R, d_state=RS)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    d0 = layer.d_initial_state
    for k, p in layer.params.items():
        assert_grad_close(grads[k], loss, p, name=k)
    assert_grad_close(dx, loss, x, name="x")
    for a, g in zip(parts(s0), parts(d0)):
        assert_grad_close(g, loss, a, name="initial_state")


@pytest.mark.parametrize("cell", list(CELLS))
def test_padding_does_not_leak_into_either_direction(cell):
    layer = built(CELLS[cell](bidirectional=True, return_sequences=True), 2)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 2))
    lengths = np.array([3, 5])
    y = layer.forward(x, lengths)
    x2 = x.copy(); x2[0, 3:] = 50.0
    np.testing.assert_array_equal(layer.forward(x2, lengths), y)
    np.testing.assert_array_equal(y[0, 3:], 0)
    alone = layer.forward(x[:1, :3])          # the short sequence on its own, no padding at all
    np.testing.assert_allclose(y[0, :3], alone[0], atol=1e-14)


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru", "gru_reset_after"])
def test_step_equals_forward_for_deep_layers(cell):
    layer = built(CELLS[cell](num_layers=2, return_sequences=True), 2)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6, 2))
    y, sT = layer.forward(x, return_state=True)
    state = layer.initial_state(3)
    for t in range(6):
        yt, state = layer.step(x[:, t], state)
        np.testing.assert_allclose(yt, y[:, t], atol=1e-13)
    for a, b in zip(state if isinstance(state, tuple) else (state,), sT if isinstance(sT, tuple) else (sT,)):
        np.testing.assert_allclose(a, b, atol=1e-13)


def test_step_refuses_bidirectional():
    layer = built(RNN(3, bidirectional=True), 2)
    with pytest.raises(ValueError, match="bidirectional layer needs the whole sequence"):
        layer.step(np.zeros((1, 2)))


def test_dense_embedding_flatten_gradients():
    rng = np.random.default_rng(3)
    for act in [None, "tanh", "sigmoid", "relu"]:
        d = built(Dense(4, act), 3)
        x = rng.standard_normal((2, 5, 3))
        R = rng.standard_normal((2, 5, 4))
        loss = lambda: np.sum(d.forward(x) * R)
        loss(); dx = d.backward(R); g = {k: v.copy() for k, v in d.grads.items()}
        for k, p in d.params.items():
            assert_grad_close(g[k], loss, p, name=f"Dense {act} {k}")
        assert_grad_close(dx, loss, x, name=f"Dense {act} x")
    e = built(Embedding(7, 3), None)
    ids = np.array([[1, 2, 2, 0], [6, 5, 1, 0]])
    R = rng.standard_normal((2, 4, 3))
    loss = lambda: np.sum(e.forward(ids) * R)
    loss(); e.backward(R)
    g = e.grads["E"].copy()
    num = np.zeros_like(g)
    from gradcheck import numerical_grad
    num = numerical_grad(loss, e.params["E"])
    num[0] = 0  # the padding row is frozen
    np.testing.assert_allclose(g, num, atol=1e-8)
    f = Flatten(3); x = rng.standard_normal((2, 3, 4))
    assert f.forward(x).shape == (2, 12)
    np.testing.assert_array_equal(f.backward(f.forward(x)), x)


def test_dropout_is_inverted_and_training_only():
    d = Dropout(0.5); d.build(4, np.random.default_rng(0))
    x = np.ones((1000, 4))
    np.testing.assert_array_equal(d.forward(x, training=False), x)
    y = d.forward(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0} and abs(y.mean() - 1) < 0.1
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="hidden_size: expected a positive integer"):
        RNN(0)
    with pytest.raises(ValueError, match="merge: expected one of"):
        LSTM(3, merge="avg")
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        RNN(3, nonlinearity="sigmoid")
    layer = built(LSTM(3, num_layers=2), 2)
    with pytest.raises(ValueError, match=r"initial_state h: expected shape \(2, 1, 3\)"):
        layer.forward(np.zeros((1, 4, 2)), initial_state=(np.zeros((1, 1, 3)), np.zeros((1, 1, 3))))
    with pytest.raises(ValueError, match=r"x: expected 2 features on the last axis"):
        layer.forward(np.zeros((1, 4, 5)))
    e = built(Embedding(5, 2), None)
    with pytest.raises(ValueError, match=r"x: token ids must be in \[0, 4\], got range \[0, 9\]"):
        e.forward(np.array([[0, 9]]))


def test_initialisation_defaults():
    layer = LSTM(8, num_layers=2, bidirectional=True)
    layer.build(5, np.random.default_rng(0), np.float64)
    W_h = layer.params["W_h_l1_reverse"]
    for g in range(4):
        block = W_h[g * 8:(g + 1) * 8]
        np.testing.assert_allclose(block @ block.T, np.eye(8), atol=1e-12)   # orthogonal per gate
    b = layer.params["b_l0"]
    np.testing.assert_array_equal(b[8:16], 1.0)                               # forget-gate bias 1
    np.testing.assert_array_equal(np.delete(b, np.s_[8:16]), 0.0)
    limit = np.sqrt(6 / (5 + 32))
    assert np.abs(layer.params["W_x_l0"]).max() <= limit                      # Glorot uniform
    assert layer.params["W_x_l1"].shape == (32, 16)                           # reads both directions


@pytest.mark.parametrize("cell", ["rnn_tanh", "lstm", "gru"])
def test_dropout_between_stacked_layers_training_only_and_exact_gradient(cell):
    layer = built(CELLS[cell](num_layers=2, dropout=0.5, return_sequences=True), 2)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 2))
    lengths = np.array([4, 2, 3])
    infer = layer.forward(x, lengths)
    np.testing.assert_array_equal(infer, layer.forward(x, lengths))       # no dropout at inference
    R = rng.standard_normal(infer.shape)

    def loss():  # the same dropout mask every call: re-seed the layer's generator
        layer.rng = np.random.default_rng(123)
        return np.sum(layer.forward(x, lengths, training=True) * R)

    assert not np.allclose(loss(), np.sum(infer * R))                    # dropout active in training
    dx = layer.backward(R)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    for k, p in layer.params.items():
        assert_grad_close(grads[k], loss, p, name=k)
    assert_grad_close(dx, loss, x, name="x")
