"""TemporalPooling: the mean / max over valid steps, its gradient by finite differences (float64),
padding that never counts, and a model with pooling that trains, saves and loads."""
import numpy as np
import pytest

from rnnkit import Dense, Sequential
from rnnkit.layers import LSTM, TemporalPooling
from tests.helpers.gradcheck import assert_grad_close


@pytest.mark.parametrize("mode", ["mean", "max"])
@pytest.mark.parametrize("lengths", [None, np.array([4, 1, 3])])
def test_pooling_gradient(mode, lengths):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5))        # continuous values: no ties, so max is differentiable
    layer = TemporalPooling(mode)
    R = rng.standard_normal((3, 5))

    def loss():
        return float(np.sum(layer.forward(x, lengths) * R))

    loss()
    dx = layer.backward(R)
    assert dx.shape == x.shape and dx.dtype == np.float64
    assert_grad_close(dx, loss, x, name=f"x ({mode})")
    if lengths is not None:
        for b, L in enumerate(lengths):
            assert not dx[b, L:].any(), "padded steps must get zero gradient"


@pytest.mark.parametrize("mode, reduce", [("mean", np.mean), ("max", np.max)])
def test_pooling_reads_valid_steps_only(mode, reduce):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 2)).astype(np.float32)
    lengths = np.array([6, 2, 4])
    x_pad = x.copy()
    for b, L in enumerate(lengths):
        x_pad[b, L:] = 100.0                  # garbage past each length must not matter
    y = TemporalPooling(mode).forward(x_pad, lengths)
    assert y.dtype == np.float32 and y.shape == (3, 2)
    for b, L in enumerate(lengths):
        np.testing.assert_allclose(y[b], reduce(x[b, :L], axis=0), rtol=1e-6)


def test_pooling_refuses_bad_input():
    with pytest.raises(ValueError, match="mode"):
        TemporalPooling("last")
    with pytest.raises(ValueError, match=r"expects \(batch, time, features\)"):
        TemporalPooling().forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="time axis"):
        Sequential([Dense(3), TemporalPooling(), Dense(1)]).build(2).output_is_sequence(False)


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_model_with_pooling_trains_saves_and_loads(tmp_path, mode):
    rng = np.random.default_rng(2)
    X = [rng.standard_normal((int(n), 2)) for n in rng.integers(3, 9, size=24)]
    y = np.array([int(s[:, 0].mean() > 0) for s in X])
    model = Sequential([LSTM(4, return_sequences=True), TemporalPooling(mode), Dense(2)], seed=0, dtype="float64")
    model.compile("crossentropy", lr=0.05)
    first = model.fit(X, y, epochs=15, batch_size=8, verbose=0).history["loss"]
    assert first[-1] < first[0]
    model.save(tmp_path / "m.npz")
    loaded = Sequential.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert isinstance(loaded.layers[1], TemporalPooling) and loaded.layers[1].mode == mode
