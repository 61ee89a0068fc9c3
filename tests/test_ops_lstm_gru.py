"""The LSTM and GRU ops: finite differences (float64), parity with torch.nn.LSTM / nn.GRU, streaming
steps, dtypes and input errors. Three cells throughout: LSTM, GRU seed form, GRU reset_after."""
import numpy as np
import pytest
import torch

from gradcheck import assert_op_grads_close
from rnnkit.ops import gru, lstm

F64 = torch.float64
CELLS = ["lstm", "gru", "gru_ra"]
NAMES = [("W_x", "weight_ih"), ("W_h", "weight_hh"), ("b", "bias_ih"), ("b_h", "bias_hh")]


def make(cell, B=3, T=4, D=2, H=3, seed=0, dtype=np.float64, scale=0.5):
    rng = np.random.default_rng(seed)
    mod = lstm if cell == "lstm" else gru
    p = {k: (rng.standard_normal(s) * scale).astype(dtype) for k, s in mod.param_shapes(D, H).items()}
    x = rng.standard_normal((B, T, D)).astype(dtype)
    h0 = (rng.standard_normal((B, H)) * 0.5).astype(dtype)
    c0 = (rng.standard_normal((B, H)) * 0.5).astype(dtype)
    return rng, p, x, h0, c0


def run(cell, p, x, h0, c0, lengths=None):
    """Uniform interface over the three cells: (out, [final states], cache)."""
    if cell == "lstm":
        out, (h, c), cache = lstm.forward(p, x, (h0, c0), lengths)
        return out, [h, c], cache
    out, h, cache = gru.forward(p, x, h0, lengths, reset_after=(cell == "gru_ra"))
    return out, [h], cache


def back(cell, cache, d_out, d_states):
    """(dx, [d initial states], grads)."""
    if cell == "lstm":
        dx, (dh0, dc0), grads = lstm.backward(cache, d_out, tuple(d_states))
        return dx, [dh0, dc0], grads
    dx, dh0, grads = gru.backward(cache, d_out, d_states[0])
    return dx, [dh0], grads


# ----------------------------------------------------------------------------------------------
# Finite differences

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("lengths", [None, np.array([2, 4, 1])], ids=["full", "unsorted-with-1"])
def test_gradients_match_finite_differences(cell, lengths):
    rng, p, x, h0, c0 = make(cell)
    R1 = rng.standard_normal((3, 4, 3))
    Rs = [rng.standard_normal((3, 3)) for _ in range(2 if cell == "lstm" else 1)]

    def loss():
        out, states, _ = run(cell, p, x, h0, c0, lengths)
        return np.sum(out * R1) + sum(np.sum(s * R) for s, R in zip(states, Rs))

    _, _, cache = run(cell, p, x, h0, c0, lengths)
    dx, dstates, grads = back(cell, cache, R1, Rs)
    assert_op_grads_close(loss, p, grads, x, dx, (h0, c0)[:len(dstates)], dstates)


@pytest.mark.parametrize("cell", CELLS)
def test_backward_is_linear_in_its_seeds_and_accepts_none(cell):
    """Each of d_out / d_state (and each element of the LSTM pair) may be None: the parts add up."""
    rng, p, x, h0, c0 = make(cell, seed=4)
    L = np.array([3, 1, 4])
    out, states, cache = run(cell, p, x, h0, c0, L)
    R1 = rng.standard_normal(out.shape)
    Rs = [rng.standard_normal(s.shape) for s in states]
    full = back(cell, cache, R1, Rs)
    parts = [back(cell, cache, R1, [None] * len(Rs))]
    for i in range(len(Rs)):
        parts.append(back(cell, cache, None, [R if j == i else None for j, R in enumerate(Rs)]))
    np.testing.assert_allclose(full[0], sum(pt[0] for pt in parts), atol=1e-12)
    for i in range(len(Rs)):
        np.testing.assert_allclose(full[1][i], sum(pt[1][i] for pt in parts), atol=1e-12)
    for k in p:
        np.testing.assert_allclose(full[2][k], sum(pt[2][k] for pt in parts), atol=1e-12)
    if cell == "lstm":                                            # d_state=None altogether
        dx, (dh0, dc0), _ = lstm.backward(cache, R1, None)
        np.testing.assert_array_equal(dx, parts[0][0])


@pytest.mark.parametrize("cell", CELLS)
def test_padded_steps_give_zero_output_and_gradient(cell):
    rng, p, x, h0, c0 = make(cell, T=5)
    L = np.array([2, 5, 1])
    out, states, cache = run(cell, p, x, h0, c0, L)
    assert np.all(out[0, 2:] == 0) and np.all(out[2, 1:] == 0)
    np.testing.assert_array_equal(states[0][0], out[0, 1])
    np.testing.assert_array_equal(states[0][2], out[2, 0])
    dx, _, _ = back(cell, cache, np.ones_like(out), [None] * len(states))
    assert np.all(dx[0, 2:] == 0) and np.all(dx[2, 1:] == 0)
    x2 = x.copy()
    x2[0, 3:] = 100.0
    x2[2, 1:] = -100.0
    out2, states2, _ = run(cell, p, x2, h0, c0, L)
    np.testing.assert_array_equal(out, out2)
    for s, s2 in zip(states, states2):
        np.testing.assert_array_equal(s, s2)


# ----------------------------------------------------------------------------------------------
# Parity with PyTorch (float64)

def torch_module(cell, p):
    H, D = p["W_h"].shape[1], p["W_x"].shape[1]
    if cell == "lstm":
        m, tp = torch.nn.LSTM(D, H, batch_first=True, dtype=F64), lstm.to_torch_layout(p)
    else:
        m, tp = torch.nn.GRU(D, H, batch_first=True, dtype=F64), gru.to_torch_layout(p)
    with torch.no_grad():
        for _, tname in NAMES:
            getattr(m, tname + "_l0").copy_(torch.from_numpy(tp[tname]))
    return m


def torch_grads(cell, m):
    """The module's parameter gradients in our layout (GRU: z rows negated back)."""
    tg = {tname: getattr(m, tname + "_l0").grad.numpy() for _, tname in NAMES}
    return lstm.from_torch_layout(tg) if cell == "lstm" else gru.from_torch_layout(tg)


@pytest.mark.parametrize("cell", ["lstm", "gru_ra"])
def test_parity_with_torch_per_sequence(cell):
    """Each sequence of a padded, unsorted batch against torch run on that sequence alone."""
    B, T, D, H = 4, 7, 3, 5
    rng, p, x, h0, c0 = make(cell, B, T, D, H, seed=1)
    L = np.array([5, 7, 1, 3])
    out, states, cache = run(cell, p, x, h0, c0, L)
    R1 = rng.standard_normal((B, T, H))
    Rs = [rng.standard_normal((B, H)) for _ in states]
    dx, dstates, grads = back(cell, cache, R1, Rs)
    total = {k: np.zeros_like(v) for k, v in p.items()}
    for i in range(B):
        m = torch_module(cell, p)
        xi = torch.tensor(x[i:i + 1, :L[i]], requires_grad=True)
        s0 = [torch.tensor(s[i][None, None], requires_grad=True) for s in ([h0, c0] if cell == "lstm" else [h0])]
        o, sT = m(xi, tuple(s0) if cell == "lstm" else s0[0])
        sT = list(sT) if cell == "lstm" else [sT]
        loss = (o * torch.from_numpy(R1[i:i + 1, :L[i]])).sum()
        for s, R in zip(sT, Rs):
            loss = loss + (s[0] * torch.from_numpy(R[i:i + 1])).sum()
        loss.backward()
        np.testing.assert_allclose(out[i, :L[i]], o.detach()[0].numpy(), rtol=0, atol=1e-10)
        for ours, theirs in zip(states, sT):
            np.testing.assert_allclose(ours[i], theirs.detach()[0, 0].numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dx[i, :L[i]], xi.grad[0].numpy(), rtol=0, atol=1e-10)
        for ours, theirs in zip(dstates, s0):
            np.testing.assert_allclose(ours[i], theirs.grad[0, 0].numpy(), rtol=0, atol=1e-10)
        for k, g in torch_grads(cell, m).items():
            total[k] += g
    for k in p:
        np.testing.assert_allclose(grads[k], total[k], rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("cell", ["lstm", "gru_ra"])
def test_parity_with_torch_full_batch_from_torch_weights(cell):
    """Start from torch's own initialisation and import it with from_torch_layout (tensors, _l0 names)."""
    B, T, D, H = 5, 6, 4, 8
    torch.manual_seed(0)
    m = torch.nn.LSTM(D, H, batch_first=True, dtype=F64) if cell == "lstm" else torch.nn.GRU(D, H, batch_first=True, dtype=F64)
    mod = lstm if cell == "lstm" else gru
    p = mod.from_torch_layout(dict(m.named_parameters()))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, T, D))
    out, states, cache = run(cell, p, x, None, None)
    R = rng.standard_normal(out.shape)
    dx, dstates, grads = back(cell, cache, R, [None] * len(states))
    xt = torch.tensor(x, requires_grad=True)
    o, sT = m(xt)
    (o * torch.from_numpy(R)).sum().backward()
    np.testing.assert_allclose(out, o.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(states[0], (sT[0] if cell == "lstm" else sT)[0].detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    for k, g in torch_grads(cell, m).items():
        np.testing.assert_allclose(grads[k], g, rtol=0, atol=1e-10, err_msg=k)


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


def test_seed_form_gru_matches_the_seed_equations_in_torch_autograd():
    B, T, D, H = 4, 6, 3, 5
    rng, p, x, h0, _ = make("gru", B, T, D, H, seed=5)
    L = np.array([6, 2, 1, 4])
    out, h_T, cache = gru.forward(p, x, h0, L)
    R1 = rng.standard_normal((B, T, H))
    R2 = rng.standard_normal((B, H))
    dx, dh0, grads = gru.backward(cache, R1, R2)
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


def test_gru_torch_layout_negates_z_rows_exactly_and_round_trips():
    _, p, _, _, _ = make("gru_ra", H=4, D=3, seed=6)
    tp = gru.to_torch_layout(p)
    for ours, tname in NAMES:
        w, t = p[ours], tp[tname]
        np.testing.assert_array_equal(t[:4], w[:4])
        np.testing.assert_array_equal(t[4:8], -w[4:8])
        np.testing.assert_array_equal(t[8:], w[8:])
    back_ = gru.from_torch_layout(tp)
    for k in p:
        np.testing.assert_array_equal(back_[k], p[k])
        assert back_[k] is not p[k]
    with pytest.raises(KeyError, match="tparams: missing 'bias_hh'"):
        gru.from_torch_layout({k: v for k, v in tp.items() if k != "bias_hh"})


# ----------------------------------------------------------------------------------------------
# Streaming step, dtypes, errors

@pytest.mark.parametrize("cell", CELLS)
def test_step_equals_forward(cell):
    _, p, x, h0, c0 = make(cell, T=6, seed=3)
    out, states, _ = run(cell, p, x, h0, c0)
    h, c = h0.copy(), c0.copy()
    for t in range(x.shape[1]):
        if cell == "lstm":
            h, c = lstm.step(p, x[:, t], (h, c))
        else:
            h = gru.step(p, x[:, t], h, reset_after=(cell == "gru_ra"))
        np.testing.assert_allclose(h, out[:, t], atol=1e-13, rtol=0)
    np.testing.assert_allclose(h, states[0], atol=1e-13, rtol=0)
    if cell == "lstm":
        np.testing.assert_allclose(c, states[1], atol=1e-13, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_stays_float32(cell):
    _, p, x, h0, c0 = make(cell, dtype=np.float32)
    out, states, cache = run(cell, p, x, h0, c0, np.array([4, 2, 3]))
    dx, dstates, grads = back(cell, cache, np.ones_like(out), [np.ones_like(s) for s in states])
    for a in [out, dx, *states, *dstates, *grads.values()]:
        assert a.dtype == np.float32
    if cell == "lstm":
        h, c = lstm.step(p, x[:, 0], (h0, c0))
        assert h.dtype == c.dtype == np.float32
    else:
        assert gru.step(p, x[:, 0], h0, reset_after=(cell == "gru_ra")).dtype == np.float32


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("kwargs, match", [
    (dict(x=np.zeros((3, 4, 5))), r"x: expected 2 features on the last axis, got shape \(3, 4, 5\)"),
    (dict(x=np.zeros((3, 4))), r"x: expected a 3-D array, got shape \(3, 4\)"),
    (dict(x=np.zeros((3, 4, 2), np.float32)), r"x: expected dtype float64 \(same as the weights\), got float32"),
    (dict(lengths=np.array([1, 5, 2])), r"lengths: lengths must be <= the padded time axis \(4\), got max 5"),
    (dict(lengths=np.array([1, 0, 2])), r"lengths: every length must be >= 1, got min 0"),
    (dict(h0=np.zeros((3, 4))), r"h0: expected shape \(3, 3\), got \(3, 4\)"),
    (dict(h0=np.zeros((2, 3))), r"h0: expected shape \(3, 3\), got \(2, 3\)"),
])
def test_bad_inputs_name_the_argument(cell, kwargs, match):
    _, p, x, h0, c0 = make(cell)
    args = dict(x=x, h0=h0, c0=c0, lengths=None)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        run(cell, p, args["x"], args["h0"], args["c0"], args["lengths"])


def test_lstm_bad_state_pair():
    _, p, x, h0, c0 = make("lstm")
    with pytest.raises(ValueError, match=r"c0: expected shape \(3, 3\), got \(3, 2\)"):
        lstm.forward(p, x, (h0, np.zeros((3, 2))))
    with pytest.raises(TypeError, match=r"state0: expected None or a tuple \(h, c\)"):
        lstm.forward(p, x, h0)
    with pytest.raises(TypeError, match=r"state0: expected None or a tuple \(h, c\)"):
        lstm.forward(p, x, (h0,))
    out, (h, c), _ = lstm.forward(p, x, (None, c0))               # either element may be None
    out0, _, _ = lstm.forward(p, x, (np.zeros_like(h0), c0))
    np.testing.assert_array_equal(out, out0)


def test_bad_params_and_flags():
    _, p, x, _, _ = make("lstm")
    q = dict(p)
    q["W_x"] = np.zeros((9, 2))
    with pytest.raises(ValueError, match=r"params\['W_x'\]: expected shape \(12, 2\), got \(9, 2\)"):
        lstm.forward(q, x)
    _, p, x, _, _ = make("gru")
    q = dict(p)
    q["b_h"] = p["b_h"].astype(np.float32)
    with pytest.raises(TypeError, match=r"params\['b_h'\]: dtype float32 differs"):
        gru.forward(q, x)
    with pytest.raises(TypeError, match="reset_after: expected a bool"):
        gru.forward(p, x, reset_after="yes")
