"""Layers: finite-difference checks (float64) of Dense, Embedding, Flatten and the recurrent stacks
(every cell kind), streaming, dropout, the generic ``Recurrent`` and argument errors."""
import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, RNN, Dense, Dropout, Embedding, Flatten, Recurrent
from rnnkit.ops import get_cell
from tests.helpers.gradcheck import assert_grad_close, numerical_grad


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


def parts(state):
    """A layer-level state as a tuple of arrays: (h, c) for the LSTM, (h,) otherwise."""
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("bidirectional, num_layers, return_sequences, merge", [
    (False, 1, True, "concat"), (True, 2, True, "concat"), (True, 2, False, "concat"),
    (True, 1, True, "sum"), (True, 1, False, "mean"), (False, 2, False, "concat"),
])
def test_recurrent_layer_gradients(cell_kind, bidirectional, num_layers, return_sequences, merge):
    B, T, D = 3, 4, 2
    layer = built(cell_kind.layer(3, num_layers=num_layers, bidirectional=bidirectional,
                                  return_sequences=return_sequences, merge=merge), D)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((B, T, D))
    lengths = np.array([4, 1, 3])
    s0 = state_like(layer, B, rng)
    y, sT = layer.forward(x, lengths, initial_state=s0, return_state=True)
    R = rng.standard_normal(y.shape)
    RS = state_like(layer, B, rng)

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


def test_padding_does_not_leak_into_either_direction(cell_kind):
    layer = built(cell_kind.layer(3, bidirectional=True, return_sequences=True), 2)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 2))
    lengths = np.array([3, 5])
    y = layer.forward(x, lengths)
    x2 = x.copy()
    x2[0, 3:] = 50.0
    np.testing.assert_array_equal(layer.forward(x2, lengths), y)
    np.testing.assert_array_equal(y[0, 3:], 0)
    alone = layer.forward(x[:1, :3])          # the short sequence on its own, no padding at all
    np.testing.assert_allclose(y[0, :3], alone[0], atol=1e-14)


def test_step_equals_forward_for_deep_layers(cell_kind):
    layer = built(cell_kind.layer(3, num_layers=2, return_sequences=True), 2)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6, 2))
    y, sT = layer.forward(x, return_state=True)
    state = layer.initial_state(3)
    for t in range(6):
        yt, state = layer.step(x[:, t], state)
        np.testing.assert_allclose(yt, y[:, t], atol=1e-13)
    for a, b in zip(parts(state), parts(sT)):
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

        def loss(d=d, x=x, R=R):
            return np.sum(d.forward(x) * R)

        loss()
        dx = d.backward(R)
        g = {k: v.copy() for k, v in d.grads.items()}
        for k, p in d.params.items():
            assert_grad_close(g[k], loss, p, name=f"Dense {act} {k}")
        assert_grad_close(dx, loss, x, name=f"Dense {act} x")
    e = built(Embedding(7, 3, padding_idx=0), 7)
    ids = np.array([[1, 2, 2, 0], [6, 5, 1, 0]])
    R = rng.standard_normal((2, 4, 3))

    def loss():
        return np.sum(e.forward(ids) * R)

    loss()
    e.backward(R)
    g = e.grads["E"].copy()
    num = numerical_grad(loss, e.params["E"])
    num[0] = 0  # the padding row is frozen
    np.testing.assert_allclose(g, num, atol=1e-8)
    f = built(Flatten(3), 4)
    x = rng.standard_normal((2, 3, 4))
    assert f.forward(x).shape == (2, 12)
    np.testing.assert_array_equal(f.backward(f.forward(x)), x)


def test_dropout_is_inverted_and_training_only():
    d = Dropout(0.5)
    d.build(4, np.random.default_rng(0), np.float64)
    x = np.ones((1000, 4))
    np.testing.assert_array_equal(d.forward(x, training=False), x)
    y = d.forward(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0} and abs(y.mean() - 1) < 0.1
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="hidden_size: expected an integer >= 1, got 0"):
        RNN(0)
    with pytest.raises(ValueError, match="merge: expected one of"):
        LSTM(3, merge="avg")
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        RNN(3, nonlinearity="sigmoid")
    layer = built(LSTM(3, num_layers=2), 2)
    with pytest.raises(ValueError, match=r"initial_state h: expected shape \(2, 1, 3\)"):
        layer.forward(np.zeros((1, 4, 2)), initial_state=(np.zeros((1, 1, 3)), np.zeros((1, 1, 3))))
    with pytest.raises(TypeError, match=r"initial_state: expected a tuple \('h', 'c'\) for the lstm cell, "
                                         r"got ndarray"):
        layer.forward(np.zeros((1, 4, 2)), initial_state=np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match=r"x: expected 2 features on the last axis"):
        layer.forward(np.zeros((1, 4, 5)))
    e = built(Embedding(5, 2), 5)
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


def test_dropout_between_stacked_layers_training_only_and_exact_gradient(cell_kind):
    layer = built(cell_kind.layer(3, num_layers=2, dropout=0.5, return_sequences=True), 2)
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


# -- the generic Recurrent layer and its cell --------------------------------------------------------

def test_recurrent_with_a_cell_equals_the_fixed_class(cell_kind):
    """``Recurrent(H, cell=name, **options)`` and ``RNN`` / ``LSTM`` / ``GRU(**options)`` are the same
    layer: same registry entry and options, same weights for the same seed, same outputs."""
    kw = dict(num_layers=2, bidirectional=True, return_sequences=True)
    fixed, generic = cell_kind.layer(4, **kw), cell_kind.recurrent(4, **kw)
    assert type(generic) is Recurrent and isinstance(fixed, Recurrent)
    assert fixed.cell is generic.cell is get_cell(cell_kind.cell.name)
    assert fixed.cell_options == generic.cell_options == cell_kind.options
    assert generic.get_config() == {**fixed.get_config(), "cell": cell_kind.cell.name}
    for layer in (fixed, generic):
        layer.build(3, np.random.default_rng(5), np.float64)
    assert list(fixed.params) == list(generic.params)
    for k, v in fixed.params.items():
        np.testing.assert_array_equal(generic.params[k], v, err_msg=k)
    x = np.random.default_rng(6).standard_normal((2, 5, 3))
    np.testing.assert_array_equal(generic.forward(x, np.array([5, 3])), fixed.forward(x, np.array([5, 3])))
    assert [s for _, _, s in fixed.suffixes()] == ["_l0", "_l0_reverse", "_l1", "_l1_reverse"]


def test_gru_reset_after_through_recurrent_equals_gru_reset_after():
    a, b, seed_form = Recurrent(5, cell="gru", reset_after=True), GRU(5, reset_after=True), GRU(5)
    for layer in (a, b, seed_form):
        layer.build(2, np.random.default_rng(0), np.float64)
    assert a.cell_options == b.cell_options == {"reset_after": True}
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    np.testing.assert_array_equal(seed_form.params["W_h_l0"], b.params["W_h_l0"])   # same seed, same weights
    assert not np.allclose(a.forward(x), seed_form.forward(x))                     # the option matters


def test_recurrent_refuses_unknown_cells_and_options():
    with pytest.raises(ValueError, match=r"cell: expected one of \['gru', 'lstm', 'rnn'\], got 'nope'"):
        Recurrent(3, cell="nope")
    with pytest.raises(TypeError, match=r"lstm: unexpected option\(s\) \['reset_after'\]; this cell takes none"):
        Recurrent(3, cell="lstm", reset_after=True)
    with pytest.raises(TypeError, match=r"gru: unexpected option\(s\) \['nonlinearity'\]"):
        Recurrent(3, cell="gru", nonlinearity="relu")
    with pytest.raises(TypeError, match=r"rnn: unexpected option\(s\) \['bogus'\]"):
        Recurrent(3, bogus=1)                                      # the default cell is "rnn"
    with pytest.raises(ValueError, match=r"reset_after: expected one of \(False, True\), got 'yes'"):
        GRU(3, reset_after="yes")
    with pytest.raises(TypeError):
        LSTM(3, nonlinearity="tanh")                               # the fixed classes take no foreign option


def test_forward_validates_and_call_trusts():
    """``Layer.forward`` checks its input, then runs ``call`` (which ``Sequential`` uses on checked batches)."""
    layer = built(LSTM(3, return_sequences=True), 2)
    x = np.random.default_rng(0).standard_normal((2, 4, 2))
    L = np.array([4, 2])
    np.testing.assert_array_equal(layer.forward(x, L), layer.call(x, L))
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="x: contains NaN or inf"):
        layer.forward(bad)
    with pytest.raises(TypeError, match=r"x: expected dtype float64 \(same as the weights\), got float32"):
        layer.forward(x.astype(np.float32))
    with pytest.raises(ValueError, match=r"lengths: lengths must be <= the padded time axis \(4\), got max 5"):
        layer.forward(x, np.array([5, 1]))
    with pytest.raises(ValueError, match="Dense is not built and builds itself from the last axis"):
        Dense(2).forward(np.zeros(3))                 # nothing to build from (issue 20: 2-D would build)
    with pytest.raises(ValueError, match="lengths: given, but x has no time axis"):
        built(Dense(2), 3).forward(np.zeros((1, 3)), np.array([1]))


def test_dense_backward_keeps_the_layer_dtype():
    layer = Dense(3)
    layer.forward(np.ones((2, 4), np.float32))
    dx = layer.backward(np.ones((2, 3)))                 # a float64 incoming gradient
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in layer.grads.values())
