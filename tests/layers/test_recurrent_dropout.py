"""The layers' ``recurrent_dropout`` option (variational dropout on the recurrence, Gal & Ghahramani
2016): exact gradients in training mode, fresh masks per batch, the mask's scaling, saving. The ops'
``h_mask`` is tested in ``tests/ops/test_recurrent_dropout.py``."""
import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, RNN, Dense
from rnnkit.model import Sequential
from rnnkit.ops import rnn
from tests.helpers.gradcheck import assert_grad_close

B, T, D, H = 3, 5, 3, 4


def test_layer_gradients_with_recurrent_dropout(cell_kind):
    """Training-mode forward with a fixed random stream is a deterministic function: check it by FD."""
    layer = cell_kind.layer(H, num_layers=2, bidirectional=True, return_sequences=True, recurrent_dropout=0.4)
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
