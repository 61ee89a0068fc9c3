"""The vanilla RNN op: what is particular to it (its nonlinearity option, its weight checks). Finite
differences, padding, streaming and parity with torch.nn.RNN run for both nonlinearities in
``test_cells.py`` (kinds rnn-tanh and rnn-relu)."""
import numpy as np
import pytest

from rnnkit.ops import rnn


def make(B=3, T=5, D=3, H=4, seed=0, dtype=np.float64, scale=0.5):
    rng = np.random.default_rng(seed)
    p = {k: (rng.standard_normal(s) * scale).astype(dtype) for k, s in rnn.param_shapes(D, H).items()}
    x = rng.standard_normal((B, T, D)).astype(dtype)
    return p, x


def test_bad_nonlinearity_and_params():
    p, x = make()
    with pytest.raises(ValueError, match=r"nonlinearity: expected one of \('tanh', 'relu'\), got 'sigmoid'"):
        rnn.forward(p, x, nonlinearity="sigmoid")
    q = dict(p)
    q["W_h"] = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"params\['W_h'\]: expected shape \(4, 4\), got \(4, 3\)"):
        rnn.forward(q, x)
    with pytest.raises(KeyError, match=r"params: missing weight 'b_h'"):
        rnn.forward({k: v for k, v in p.items() if k != "b_h"}, x)


def test_the_two_nonlinearities():
    """h_1 = f(W_x x_1 + W_h h_0 + b + b_h) with f = tanh or ReLU (seed §2.3.1), from a zero state."""
    p, x = make(seed=1)
    a = x[:, 0] @ p["W_x"].T + p["b"] + p["b_h"]
    out, _, _ = rnn.forward(p, x[:, :1])
    np.testing.assert_allclose(out[:, 0], np.tanh(a), rtol=0, atol=1e-15)
    out, (h,), _ = rnn.forward(p, x[:, :1], nonlinearity="relu")
    np.testing.assert_allclose(out[:, 0], np.maximum(a, 0), rtol=0, atol=1e-15)
    assert (a < 0).any() and np.all(out[:, 0][a < 0] == 0)
    np.testing.assert_array_equal(h, out[:, 0])
