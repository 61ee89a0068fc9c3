"""The vanilla RNN op: finite differences (float64) and parity with torch.nn.RNN."""
import numpy as np
import pytest
import torch

from gradcheck import assert_grad_close
from rnnkit.ops import rnn

torch.set_default_dtype(torch.float64)


def make(B=3, T=5, D=3, H=4, seed=0, dtype=np.float64, scale=0.5):
    rng = np.random.default_rng(seed)
    p = {k: (rng.standard_normal(s) * scale).astype(dtype) for k, s in rnn.param_shapes(D, H).items()}
    x = rng.standard_normal((B, T, D)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype) * 0.5
    return rng, p, x, h0


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("lengths", [None, np.array([2, 5, 1])])
def test_gradients_match_finite_differences(nonlinearity, lengths):
    rng, p, x, h0 = make()
    R1 = rng.standard_normal((3, 5, 4))
    R2 = rng.standard_normal((3, 4))

    def loss():
        out, hT, _ = rnn.forward(p, x, h0, lengths, nonlinearity)
        return np.sum(out * R1) + np.sum(hT * R2)

    _, _, cache = rnn.forward(p, x, h0, lengths, nonlinearity)
    dx, dh0, grads = rnn.backward(cache, R1, R2)
    for k in p:
        assert_grad_close(grads[k], loss, p[k], name=k)
    assert_grad_close(dx, loss, x, name="x")
    assert_grad_close(dh0, loss, h0, name="h0")


def test_padded_steps_give_zero_output_and_gradient():
    rng, p, x, h0 = make()
    L = np.array([2, 5, 1])
    out, hT, cache = rnn.forward(p, x, h0, L)
    assert np.all(out[0, 2:] == 0) and np.all(out[2, 1:] == 0)
    np.testing.assert_array_equal(hT[0], out[0, 1])
    dx, _, _ = rnn.backward(cache, np.ones_like(out), None)
    assert np.all(dx[0, 2:] == 0) and np.all(dx[2, 1:] == 0)
    # changing padded inputs changes nothing
    x2 = x.copy(); x2[0, 3:] = 100.0
    out2, hT2, _ = rnn.forward(p, x2, h0, L)
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(hT, hT2)


def torch_rnn(p, nonlinearity):
    H, D = p["W_x"].shape
    m = torch.nn.RNN(D, H, nonlinearity=nonlinearity, batch_first=True)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(p["W_x"]))
        m.weight_hh_l0.copy_(torch.from_numpy(p["W_h"]))
        m.bias_ih_l0.copy_(torch.from_numpy(p["b"]))
        m.bias_hh_l0.copy_(torch.from_numpy(p["b_h"]))
    return m


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_parity_with_torch_per_sequence(nonlinearity):
    B, T, D, H = 4, 7, 3, 6
    rng, p, x, h0 = make(B, T, D, H, seed=1)
    L = np.array([7, 3, 1, 5])
    R1 = rng.standard_normal((B, T, H))
    R2 = rng.standard_normal((B, H))
    out, hT, cache = rnn.forward(p, x, h0, L, nonlinearity)
    dx, dh0, grads = rnn.backward(cache, R1, R2)
    total = {k: np.zeros_like(v) for k, v in p.items()}
    for i in range(B):
        m = torch_rnn(p, nonlinearity)
        xi = torch.tensor(x[i:i + 1, :L[i]], requires_grad=True)
        hi = torch.tensor(h0[i][None, None], requires_grad=True)
        o, h = m(xi, hi)
        (o * torch.from_numpy(R1[i:i + 1, :L[i]])).sum().add((h[0] * torch.from_numpy(R2[i:i + 1])).sum()).backward()
        np.testing.assert_allclose(out[i, :L[i]], o.detach()[0].numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(hT[i], h.detach()[0, 0].numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dx[i, :L[i]], xi.grad[0].numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dh0[i], hi.grad[0, 0].numpy(), rtol=0, atol=1e-10)
        for k, name in [("W_x", "weight_ih_l0"), ("W_h", "weight_hh_l0"), ("b", "bias_ih_l0"), ("b_h", "bias_hh_l0")]:
            total[k] += getattr(m, name).grad.numpy()
    for k in p:
        np.testing.assert_allclose(grads[k], total[k], rtol=0, atol=1e-10, err_msg=k)


def test_parity_with_torch_full_batch():
    B, T, D, H = 5, 9, 4, 8
    rng, p, x, h0 = make(B, T, D, H, seed=2)
    out, hT, cache = rnn.forward(p, x, h0)
    R = rng.standard_normal(out.shape)
    dx, dh0, grads = rnn.backward(cache, R, None)
    m = torch_rnn(p, "tanh")
    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h0[None], requires_grad=True)
    o, h = m(xt, ht)
    (o * torch.from_numpy(R)).sum().backward()
    np.testing.assert_allclose(out, o.detach().numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(dh0, ht.grad[0].numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(grads["W_h"], m.weight_hh_l0.grad.numpy(), atol=1e-10, rtol=0)


def test_step_equals_forward():
    rng, p, x, h0 = make(seed=3)
    out, hT, _ = rnn.forward(p, x, h0)
    h = h0.copy()
    for t in range(x.shape[1]):
        h = rnn.step(p, x[:, t], h)
        np.testing.assert_allclose(h, out[:, t], atol=1e-14, rtol=0)


def test_float32_stays_float32():
    rng, p, x, h0 = make(dtype=np.float32)
    out, hT, cache = rnn.forward(p, x, h0, np.array([5, 2, 3]))
    dx, dh0, grads = rnn.backward(cache, np.ones_like(out), np.ones_like(hT))
    assert out.dtype == hT.dtype == dx.dtype == dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("bad, kwargs, match", [
    ("x", dict(x=np.zeros((3, 4))), r"x: expected a 3-D array, got shape \(3, 4\)"),
    ("x", dict(x=np.zeros((3, 5, 2))), r"x: expected 3 features on the last axis, got shape \(3, 5, 2\)"),
    ("x", dict(x=np.full((3, 5, 3), np.nan)), r"x: contains NaN or inf"),
    ("x", dict(x=np.zeros((0, 5, 3))), r"x: empty batch"),
    ("x", dict(x=np.zeros((3, 0, 3))), r"x: empty sequences"),
    ("lengths", dict(lengths=np.array([1, 6, 2])), r"lengths: lengths must be <= the padded time axis \(5\), got max 6"),
    ("lengths", dict(lengths=np.array([1, 0, 2])), r"lengths: every length must be >= 1, got min 0"),
    ("lengths", dict(lengths=np.array([1, 2])), r"lengths: expected shape \(3,\), got \(2,\)"),
    ("h0", dict(h0=np.zeros((3, 5))), r"h0: expected shape \(3, 4\), got \(3, 5\)"),
    ("x", dict(x=np.zeros((3, 5, 3), np.float32)), r"x: expected dtype float64 \(same as the weights\), got float32"),
])
def test_bad_inputs_name_the_argument(bad, kwargs, match):
    _, p, x, h0 = make()
    args = dict(x=x, h0=h0, lengths=None)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        rnn.forward(p, args["x"], args["h0"], args["lengths"])


def test_bad_nonlinearity_and_params():
    _, p, x, _ = make()
    with pytest.raises(ValueError, match="nonlinearity: expected one of"):
        rnn.forward(p, x, nonlinearity="sigmoid")
    q = dict(p); q["W_h"] = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"params\['W_h'\]: expected shape \(4, 4\), got \(4, 3\)"):
        rnn.forward(q, x)
