"""The LSTM and GRU ops: what is particular to them. The seed-form GRU (no PyTorch counterpart) against
the seed's equations written literally in torch autograd; the LSTM's state pair; weight and option
checks. Finite differences, padding, streaming and parity with torch.nn.LSTM / nn.GRU run for every
cell kind in ``test_cells.py``."""
import numpy as np
import pytest
import torch

from rnnkit.ops import gru, lstm
from tests.helpers.cells import CellKind, make_case


def seed_gru_torch(p, x, h):
    """Seed §4.2 written literally in torch: one matrix per gate acting on [h_{t-1}, x_t] (or [r*h, x])."""
    W_x, W_h, b, b_h = (p[k] for k in ("W_x", "W_h", "b", "b_h"))
    H = W_h.shape[1]
    W = {g: torch.cat([W_h[k * H:(k + 1) * H], W_x[k * H:(k + 1) * H]], dim=1) for k, g in enumerate("rzh")}
    bias = {g: (b + b_h)[k * H:(k + 1) * H] for k, g in enumerate("rzh")}
    outs = []
    for t in range(x.shape[0]):
        z = torch.sigmoid(W["z"] @ torch.cat([h, x[t]]) + bias["z"])
        r = torch.sigmoid(W["r"] @ torch.cat([h, x[t]]) + bias["r"])
        h_tilde = torch.tanh(W["h"] @ torch.cat([r * h, x[t]]) + bias["h"])
        h = (1 - z) * h + z * h_tilde
        outs.append(h)
    return torch.stack(outs), h


@pytest.mark.usefixtures("torch_float64")
def test_seed_form_gru_matches_the_seed_equations_in_torch_autograd():
    B, T, D, H = 4, 6, 3, 5
    rng, p, x, (h0,) = make_case(CellKind("gru-seed"), B, T, D, H, seed=5)
    L = np.array([6, 2, 1, 4])
    out, (h_T,), cache = gru.forward(p, x, (h0,), L)
    R1 = rng.standard_normal((B, T, H))
    R2 = rng.standard_normal((B, H))
    dx, (dh0,), grads = gru.backward(cache, R1, (R2,))
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h0, requires_grad=True)
    loss = 0
    for i in range(B):
        o, h = seed_gru_torch(tp, xt[i, :L[i]], ht[i])
        np.testing.assert_allclose(out[i, :L[i]], o.detach().numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(h_T[i], h.detach().numpy(), rtol=0, atol=1e-12)
        loss = loss + (o * torch.from_numpy(R1[i, :L[i]])).sum() + (h * torch.from_numpy(R2[i])).sum()
    loss.backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dh0, ht.grad.numpy(), rtol=0, atol=1e-10)
    for k in p:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=0, atol=1e-10, err_msg=k)


def test_lstm_state_pair():
    _, p, x, (h0, c0) = make_case(CellKind("lstm"))
    with pytest.raises(ValueError, match=r"state0 c: expected shape \(3, 3\), got \(3, 2\)"):
        lstm.forward(p, x, (h0, np.zeros((3, 2))))
    with pytest.raises(TypeError, match=r"state0: expected None or a tuple \(h, c\) of 2 \(3, 3\) array\(s\), "
                                        r"got ndarray"):
        lstm.forward(p, x, h0)
    with pytest.raises(TypeError, match=r"state0: expected None or a tuple \(h, c\).*got tuple of length 1"):
        lstm.forward(p, x, (h0,))
    out, (h, c), _ = lstm.forward(p, x, (None, c0))               # either element may be None
    out0, _, _ = lstm.forward(p, x, (np.zeros_like(h0), c0))
    np.testing.assert_array_equal(out, out0)
    out, _, _ = lstm.forward(p, x, (h0, None))
    out0, _, _ = lstm.forward(p, x, (h0, np.zeros_like(c0)))
    np.testing.assert_array_equal(out, out0)


def test_bad_params_and_options():
    _, p, x, _ = make_case(CellKind("lstm"))
    q = dict(p)
    q["W_x"] = np.zeros((9, 2))
    with pytest.raises(ValueError, match=r"params\['W_x'\]: expected shape \(12, 2\), got \(9, 2\)"):
        lstm.forward(q, x)
    _, p, x, _ = make_case(CellKind("gru-seed"))
    q = dict(p)
    q["b_h"] = p["b_h"].astype(np.float32)
    with pytest.raises(TypeError, match=r"params\['b_h'\]: dtype float32 differs"):
        gru.forward(q, x)
    with pytest.raises(ValueError, match=r"reset_after: expected one of \(False, True\), got 'yes'"):
        gru.forward(p, x, reset_after="yes")
    out, _, _ = gru.forward(p, x, reset_after=np.True_)          # a NumPy bool is a bool
    np.testing.assert_array_equal(out, gru.forward(p, x, reset_after=True)[0])
