"""ops.attention (seed §6): every piece and the whole attention against finite differences (float64) and
against the same computation in PyTorch autograd; masked steps get exactly zero weight and gradient."""
import numpy as np
import pytest

from rnnkit.ops import attention as att
from tests.helpers.gradcheck import assert_grad_close

SCORES = att.SCORES
RAGGED = np.array([5, 1, 3])              # the full length, length 1, and one in between


def make(score, rng, B=3, Tq=2, Tk=5, Dq=4, Dk=4, Dv=3, A=6, dtype=np.float64):
    Dk = Dq if score == "dot" else Dk
    shapes = att.param_shapes(score, Dq, Dk, A)
    params = {k: (rng.standard_normal(s) * 0.7).astype(dtype) for k, s in shapes.items()}
    q = rng.standard_normal((B, Tq, Dq)).astype(dtype)
    k = rng.standard_normal((B, Tk, Dk)).astype(dtype)
    val = rng.standard_normal((B, Tk, Dv)).astype(dtype)
    return params, q, k, val


def torch_attention(torch, params, q, k, val, lengths, score):
    """The same attention in PyTorch autograd: (context, weights) and every leaf tensor."""
    t = {name: torch.tensor(a, requires_grad=True) for name, a in dict(params, q=q, k=k, val=val).items()}
    if score == "additive":
        z = torch.tanh((t["q"] @ t["W_q"].T)[:, :, None, :] + (t["k"] @ t["W_k"].T)[:, None, :, :])
        e = z @ t["v"]
    elif score == "general":
        e = t["q"] @ (t["k"] @ t["W_a"].T).transpose(1, 2)
    else:
        e = t["q"] @ t["k"].transpose(1, 2)
    if lengths is not None:
        pad = torch.arange(k.shape[1])[None, None, :] >= torch.as_tensor(lengths)[:, None, None]
        e = e.masked_fill(pad, float("-inf"))
    a = torch.softmax(e, dim=-1)
    return a @ t["val"], a, t


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("lengths", [None, RAGGED])
def test_attention_gradients_finite_differences(score, lengths):
    rng = np.random.default_rng(0)
    params, q, k, val = make(score, rng)
    Rc = rng.standard_normal((3, 2, 3))
    Ra = rng.standard_normal((3, 2, 5))          # a loss on the weights too: d_a enters the backward

    def loss():
        c, a, _ = att.forward(params, q, k, val, lengths, score=score)
        return float(np.sum(c * Rc) + np.sum(a * Ra))

    _, _, cache = att.forward(params, q, k, val, lengths, score=score)
    d_q, d_k, d_val, grads = att.backward(cache, Rc, Ra)
    assert sorted(grads) == sorted(params)
    for name in params:
        assert_grad_close(grads[name], loss, params[name], name=f"{score} {name}")
    for name, d, x in (("q", d_q, q), ("k", d_k, k), ("val", d_val, val)):
        assert d.shape == x.shape and d.dtype == np.float64
        assert_grad_close(d, loss, x, name=f"{score} {name}")


@pytest.mark.parametrize("score", SCORES)
def test_values_are_the_keys_when_val_is_none(score):
    rng = np.random.default_rng(1)
    params, q, k, _ = make(score, rng, Dk=4, Dv=4)
    R = rng.standard_normal((3, 2, 4))

    def loss():
        return float(np.sum(att.forward(params, q, k, None, RAGGED, score=score)[0] * R))

    _, _, cache = att.forward(params, q, k, None, RAGGED, score=score)
    d_q, d_k, d_val, grads = att.backward(cache, R)
    assert d_val is None
    assert_grad_close(d_k, loss, k, name="k (keys and values)")
    assert_grad_close(d_q, loss, q, name="q")
    # the same numbers as passing the keys twice and adding both gradients
    c2, _, cache2 = att.forward(params, q, k, k.copy(), RAGGED, score=score)
    d_q2, d_k2, d_val2, _ = att.backward(cache2, R)
    np.testing.assert_allclose(d_k, d_k2 + d_val2, rtol=1e-13, atol=1e-15)


def test_softmax_and_context_finite_differences():
    """masked_softmax and context each against finite differences on their own."""
    rng = np.random.default_rng(2)
    e = rng.standard_normal((3, 2, 5))
    Ra = rng.standard_normal((3, 2, 5))

    def sm_loss():
        return float(np.sum(att.masked_softmax(e, RAGGED) * Ra))

    a = att.masked_softmax(e, RAGGED)
    assert_grad_close(att.masked_softmax_backward(a, Ra), sm_loss, e, name="masked_softmax")
    val = rng.standard_normal((3, 5, 4))
    Rc = rng.standard_normal((3, 2, 4))

    def ctx_loss():
        return float(np.sum(att.context(a, val) * Rc))

    d_a, d_val = att.context_backward(a, val, Rc)
    assert_grad_close(d_a, ctx_loss, a, name="context a")
    assert_grad_close(d_val, ctx_loss, val, name="context val")


@pytest.mark.parametrize("score", SCORES)
def test_scores_finite_differences(score):
    rng = np.random.default_rng(7)
    params, q, k, _ = make(score, rng)
    Re = rng.standard_normal((3, 2, 5))

    def loss():
        return float(np.sum(att.scores(params, q, k, score)[0] * Re))

    d_q, d_k, grads = att.scores_backward(att.scores(params, q, k, score)[1], Re)
    for name, d, x in [("q", d_q, q), ("k", d_k, k)] + [(n, grads[n], params[n]) for n in params]:
        assert_grad_close(d, loss, x, name=f"scores {score} {name}")


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("lengths", [None, RAGGED])
def test_parity_with_torch(torch_float64, score, lengths):
    torch = torch_float64
    rng = np.random.default_rng(3)
    params, q, k, val = make(score, rng, B=3, Tq=3, Tk=5)
    Rc = rng.standard_normal((3, 3, 3))
    Ra = rng.standard_normal((3, 3, 5))
    c, a, cache = att.forward(params, q, k, val, lengths, score=score)
    d_q, d_k, d_val, grads = att.backward(cache, Rc, Ra)
    tc, ta, t = torch_attention(torch, params, q, k, val, lengths, score)
    ((tc * torch.tensor(Rc)).sum() + (ta * torch.tensor(Ra)).sum()).backward()
    np.testing.assert_allclose(c, tc.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(a, ta.detach().numpy(), rtol=0, atol=1e-10)
    ours = dict(grads, q=d_q, k=d_k, val=d_val)
    for name, leaf in t.items():
        np.testing.assert_allclose(ours[name], leaf.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("score", SCORES)
def test_masked_steps_get_exactly_zero_weight_and_gradient(score):
    rng = np.random.default_rng(4)
    params, q, k, val = make(score, rng, Tk=6)
    lengths = np.array([6, 1, 4])
    k_pad, val_pad = k.copy(), val.copy()
    for b, L in enumerate(lengths):
        k_pad[b, L:], val_pad[b, L:] = 50.0, -70.0          # garbage past each length must not matter
    c, a, cache = att.forward(params, q, k_pad, val_pad, lengths, score=score)
    # huge upstream gradients on the masked weights must not leak either
    d_a = rng.standard_normal(a.shape) * 1e6
    d_q, d_k, d_val, grads = att.backward(cache, rng.standard_normal(c.shape), d_a)
    for b, L in enumerate(lengths):
        assert np.all(a[b, :, L:] == 0.0) and np.all(d_k[b, L:] == 0.0) and np.all(d_val[b, L:] == 0.0)
        np.testing.assert_allclose(a[b].sum(axis=-1), 1.0, rtol=1e-14)
    assert np.all(a[1, :, 0] == 1.0)                         # length 1: all the weight on step 0
    np.testing.assert_array_equal(c[1], np.repeat(val[1, :1], 2, axis=0))
    # the outputs equal attention over the truncated sequences, one at a time
    for b, L in enumerate(lengths):
        cb, ab, _ = att.forward(params, q[b:b + 1], k[b:b + 1, :L], val[b:b + 1, :L], score=score)
        np.testing.assert_allclose(c[b], cb[0], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(a[b, :, :L], ab[0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("score", SCORES)
def test_float32_stays_float32(score):
    rng = np.random.default_rng(5)
    params, q, k, val = make(score, rng, dtype=np.float32)
    c, a, cache = att.forward(params, q, k, val, RAGGED, score=score)
    d_q, d_k, d_val, grads = att.backward(cache, np.ones(c.shape), np.ones(a.shape))  # float64 upstream: cast
    assert c.dtype == a.dtype == np.float32
    assert all(x.dtype == np.float32 for x in (d_q, d_k, d_val, *grads.values()))
    p64 = {n: w.astype(np.float64) for n, w in params.items()}
    c64, _, _ = att.forward(p64, q.astype(np.float64), k.astype(np.float64), val.astype(np.float64), RAGGED,
                            score=score)
    np.testing.assert_allclose(c, c64, rtol=1e-5, atol=1e-6)


def test_refuses_bad_input():
    rng = np.random.default_rng(6)
    params, q, k, val = make("additive", rng)
    with pytest.raises(ValueError, match="score"):
        att.forward(params, q, k, val, score="cosine")
    with pytest.raises(ValueError, match="lengths.*<= the padded time axis"):
        att.forward(params, q, k, val, np.array([6, 1, 1]))
    with pytest.raises(ValueError, match=">= 1"):
        att.forward(params, q, k, val, np.array([0, 1, 1]))
    with pytest.raises(TypeError, match="expected dtype float64"):
        att.forward(params, q.astype(np.float32), k, val)
    with pytest.raises(ValueError, match="batch"):
        att.forward(params, q[:2], k, val)
    with pytest.raises(ValueError, match="val: expected"):
        att.forward(params, q, k, val[:, :4])
    with pytest.raises(KeyError, match="W_k"):
        att.forward({"W_q": params["W_q"], "v": params["v"]}, q, k, val)
    with pytest.raises(ValueError, match="dot score: queries and keys need the same size"):
        att.forward({}, q, k[..., :3], val, score="dot")
    with pytest.raises(ValueError, match="takes the weights"):
        att.forward(params, q, k, val, score="dot")
    with pytest.raises(ValueError, match="NaN"):
        att.forward(params, q, np.where(k > 1, np.nan, k), val)
