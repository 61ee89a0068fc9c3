"""Recurrent (variational) dropout: the ops' ``h_mask`` (exact forward and backward) and the layers'
``recurrent_dropout`` option (Gal & Ghahramani, 2016)."""
import numpy as np
import pytest

from gradcheck import assert_grad_close, assert_op_grads_close
from rnnkit.layers import GRU, LSTM, RNN, Dense
from rnnkit.model import Sequential
from rnnkit.ops import gru, lstm, rnn
from rnnkit.ops.activations import sigmoid

B, T, D, H = 3, 5, 3, 4
CELLS = ["rnn-tanh", "rnn-relu", "lstm", "gru", "gru-reset-after"]


def make(cell, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    mod = {"rnn": rnn, "lstm": lstm, "gru": gru}[cell.split("-")[0]]
    p = {k: (rng.standard_normal(s) * 0.5).astype(dtype) for k, s in mod.param_shapes(D, H).items()}
    x = rng.standard_normal((B, T, D)).astype(dtype)
    h0 = (rng.standard_normal((B, H)) * 0.5).astype(dtype)
    c0 = (rng.standard_normal((B, H)) * 0.5).astype(dtype)
    # zeros and unequal scales, so that a mask applied in the wrong place shows
    mask = (rng.random((B, H)) > 0.3) * rng.uniform(0.5, 2.0, (B, H))
    return rng, p, x, h0, c0, mask.astype(dtype)


def run(cell, p, x, h0, c0, lengths, mask):
    """(out, final states list, cache) for any cell, with the op's own keyword arguments."""
    if cell.startswith("rnn"):
        out, h, cache = rnn.forward(p, x, h0, lengths, cell.split("-")[1], h_mask=mask)
        return out, [h], cache
    if cell == "lstm":
        out, (h, c), cache = lstm.forward(p, x, (h0, c0), lengths, h_mask=mask)
        return out, [h, c], cache
    out, h, cache = gru.forward(p, x, h0, lengths, reset_after=cell.endswith("after"), h_mask=mask)
    return out, [h], cache


def back(cell, cache, d_out, d_states):
    if cell.startswith("rnn"):
        dx, dh0, g = rnn.backward(cache, d_out, d_states[0])
        return dx, [dh0], g
    if cell == "lstm":
        dx, (dh0, dc0), g = lstm.backward(cache, d_out, tuple(d_states))
        return dx, [dh0, dc0], g
    dx, dh0, g = gru.backward(cache, d_out, d_states[0])
    return dx, [dh0], g


def masked_step(cell, p, x_t, state, m):
    """One step of the masked recurrence, written independently from the ops' internals."""
    if cell.startswith("rnn"):
        return [rnn.step(p, x_t, state[0] * m, cell.split("-")[1])]
    if cell == "lstm":                      # gates read m * h; the cell path is unmasked
        return list(lstm.step(p, x_t, (state[0] * m, state[1])))
    h = state[0]
    hm = h * m
    W_x, W_h, b, b_h = p["W_x"], p["W_h"], p["b"], p["b_h"]
    ax = x_t @ W_x.T + b
    if cell.endswith("after"):
        ah = hm @ W_h.T + b_h
        r = sigmoid(ax[:, :H] + ah[:, :H])
        z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    else:
        r = sigmoid(ax[:, :H] + hm @ W_h[:H].T + b_h[:H])
        z = sigmoid(ax[:, H:2 * H] + hm @ W_h[H:2 * H].T + b_h[H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + (r * hm) @ W_h[2 * H:].T + b_h[2 * H:])
    return [(1 - z) * h + z * n]         # the carry reads the unmasked h


@pytest.mark.parametrize("cell", CELLS)
def test_masked_forward_matches_stepwise_reference(cell):
    _, p, x, h0, c0, m = make(cell)
    out, finals, _ = run(cell, p, x, h0, c0, None, m)
    state = [h0, c0] if cell == "lstm" else [h0]
    for t in range(T):
        state = masked_step(cell, p, x[:, t], state, m)
        np.testing.assert_allclose(out[:, t], state[0], rtol=1e-12, atol=1e-12)
    for a, b in zip(finals, state):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("lengths", [None, np.array([2, 5, 1])])
def test_masked_gradients_match_finite_differences(cell, lengths):
    rng, p, x, h0, c0, m = make(cell, seed=1)
    R1 = rng.standard_normal((B, T, H))
    Rs = [rng.standard_normal((B, H)) for _ in range(2)]

    def loss():
        out, finals, _ = run(cell, p, x, h0, c0, lengths, m)
        return np.sum(out * R1) + sum(np.sum(f * r) for f, r in zip(finals, Rs))

    _, finals, cache = run(cell, p, x, h0, c0, lengths, m)
    dx, d0, grads = back(cell, cache, R1, Rs[:len(finals)])
    assert_op_grads_close(loss, p, grads, x, dx, (h0, c0)[:len(d0)], d0)


@pytest.mark.parametrize("cell", CELLS)
def test_mask_of_ones_is_no_mask(cell):
    rng, p, x, h0, c0, _ = make(cell, seed=2)
    L = np.array([5, 3, 4])
    ones = np.ones((B, H))
    o1, f1, c1 = run(cell, p, x, h0, c0, L, None)
    o2, f2, c2 = run(cell, p, x, h0, c0, L, ones)
    np.testing.assert_array_equal(o1, o2)
    d = rng.standard_normal((B, T, H))
    g1, g2 = back(cell, c1, d, [None] * len(f1)), back(cell, c2, d, [None] * len(f2))
    np.testing.assert_allclose(g1[0], g2[0], rtol=1e-13)
    for k in g1[2]:
        np.testing.assert_allclose(g1[2][k], g2[2][k], rtol=1e-13, err_msg=k)


def test_mask_is_sorted_with_the_batch():
    """With lengths the ops reorder the batch internally; the mask must follow its own sequence."""
    _, p, x, h0, _, m = make("rnn-tanh", seed=3)
    L = np.array([2, 5, 3])                               # a non-sorted order
    out, _, _ = rnn.forward(p, x, h0, L, h_mask=m)
    for b in range(B):
        ob, _, _ = rnn.forward(p, x[b:b + 1, :L[b]], h0[b:b + 1], h_mask=m[b:b + 1])
        np.testing.assert_allclose(out[b, :L[b]], ob[0], rtol=1e-12)


def test_bad_mask_is_refused():
    _, p, x, h0, c0, m = make("lstm")
    with pytest.raises(ValueError, match="h_mask: expected shape"):
        lstm.forward(p, x, h_mask=m[:, :2])
    with pytest.raises(TypeError, match="h_mask"):
        lstm.forward(p, x, h_mask=m.astype(np.float32))
    bad = m.copy(); bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="h_mask: contains NaN"):
        gru.forward({k: v for k, v in make("gru")[1].items()}, x, h_mask=bad)


# -- layers -------------------------------------------------------------------------------------

LAYERS = {"rnn": lambda **kw: RNN(H, **kw), "lstm": lambda **kw: LSTM(H, **kw),
          "gru": lambda **kw: GRU(H, **kw), "gru-after": lambda **kw: GRU(H, reset_after=True, **kw)}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_gradients_with_recurrent_dropout(name):
    """Training-mode forward with a fixed random stream is a deterministic function: check it by FD."""
    layer = LAYERS[name](num_layers=2, bidirectional=True, return_sequences=True, recurrent_dropout=0.4)
    rng = np.random.default_rng(0)
    layer.build(D, rng, np.float64)
    x = rng.standard_normal((B, T, D))
    L = np.array([5, 2, 4])
    R = rng.standard_normal((B, T, 2 * H))

    def loss():
        layer.rng = np.random.default_rng(7)               # the same masks on every call
        return np.sum(layer.forward(x, L, training=True) * R)

    loss()
    dx = layer.backward(R)
    for k in ("W_h_l0", "W_h_l1_reverse", "W_x_l1", "b_l0_reverse"):
        assert_grad_close(layer.grads[k], loss, layer.params[k], name=k)
    assert_grad_close(dx, loss, x, name="x")


def test_layer_masks_are_fresh_per_batch_and_off_at_inference():
    layer = LSTM(H, return_sequences=True, recurrent_dropout=0.5)
    rng = np.random.default_rng(0)
    layer.build(D, rng, np.float32)
    plain = LSTM(H, return_sequences=True)
    plain.build(D, np.random.default_rng(0), np.float32)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    a = layer.forward(x, training=True)
    b = layer.forward(x, training=True)
    assert not np.allclose(a, b)                           # a new mask for each batch
    np.testing.assert_array_equal(layer.forward(x, training=False), plain.forward(x, training=False))
    assert a.dtype == np.float32


def test_layer_uses_the_mask_scaled_by_inverse_keep_probability():
    """The layer's output equals the op run with the mask the layer drew: entries 0 or 1/(1-p)."""
    p_drop = 0.25
    layer = RNN(H, return_sequences=True, recurrent_dropout=p_drop)
    layer.build(D, np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).standard_normal((B, T, D))
    layer.rng = np.random.default_rng(5)
    y = layer.forward(x, training=True)
    keep = 1 - p_drop
    m = (np.random.default_rng(5).random((B, H)) < keep) / keep
    out, _, _ = rnn.forward(layer.sub_params("_l0"), x, h_mask=m)
    np.testing.assert_allclose(y, out, rtol=1e-12)


def test_recurrent_dropout_in_config_and_model_file(tmp_path):
    for cls in (RNN, LSTM, GRU):
        assert cls(3, recurrent_dropout=0.2).get_config()["recurrent_dropout"] == 0.2
        assert cls(3).get_config()["recurrent_dropout"] == 0.0
    model = Sequential([GRU(5, recurrent_dropout=0.3, reset_after=True), Dense(1)], seed=0)
    model.compile("mse", "adam")
    X = np.random.default_rng(0).standard_normal((16, 6, 2)).astype(np.float32)
    y = X.sum(axis=(1, 2))
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = Sequential.load(tmp_path / "m.npz")
    assert loaded.layers[0].recurrent_dropout == 0.3
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_bad_recurrent_dropout_is_refused(bad):
    with pytest.raises(ValueError, match="recurrent_dropout"):
        LSTM(4, recurrent_dropout=bad)
