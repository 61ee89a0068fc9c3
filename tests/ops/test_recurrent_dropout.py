"""Recurrent (variational) dropout in the ops: ``h_mask`` (Gal & Ghahramani, 2016), exact forward and
backward for every cell kind. The layers' ``recurrent_dropout`` option is tested in
``tests/layers/test_recurrent_dropout.py``."""
import numpy as np
import pytest

from tests.helpers.cells import CellKind, reference_step
from tests.helpers.gradcheck import assert_op_grads_close

B, T, D, H = 3, 5, 3, 4


def make(kind, seed=0, dtype=np.float64):
    """(rng, params, x, state0, mask): the mask has zeros and unequal scales, so that a mask applied in
    the wrong place shows."""
    rng = np.random.default_rng(seed)
    p = kind.params(D, H, rng, dtype)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    s0 = kind.state(B, H, rng, dtype)
    mask = (rng.random((B, H)) > 0.3) * rng.uniform(0.5, 2.0, (B, H))
    return rng, p, x, s0, mask.astype(dtype)


def test_masked_forward_matches_stepwise_reference(cell_kind):
    _, p, x, s0, m = make(cell_kind)
    out, finals, _ = cell_kind.op.forward(p, x, s0, h_mask=m)
    state = s0
    for t in range(T):
        state = reference_step(cell_kind, p, x[:, t], state, m)
        np.testing.assert_allclose(out[:, t], state[0], rtol=1e-12, atol=1e-12)
    for a, b in zip(finals, state):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lengths", [None, np.array([2, 5, 1])])
def test_masked_gradients_match_finite_differences(cell_kind, lengths):
    rng, p, x, s0, m = make(cell_kind, seed=1)
    op = cell_kind.op
    R1 = rng.standard_normal((B, T, H))
    Rs = tuple(rng.standard_normal((B, H)) for _ in s0)

    def loss():
        out, finals, _ = op.forward(p, x, s0, lengths, h_mask=m)
        return np.sum(out * R1) + sum(np.sum(f * r) for f, r in zip(finals, Rs))

    _, _, cache = op.forward(p, x, s0, lengths, h_mask=m)
    dx, d0, grads = op.backward(cache, R1, Rs)
    assert_op_grads_close(loss, p, grads, x, dx, s0, d0)


def test_mask_of_ones_is_no_mask(cell_kind):
    rng, p, x, s0, _ = make(cell_kind, seed=2)
    op = cell_kind.op
    L = np.array([5, 3, 4])
    o1, _, c1 = op.forward(p, x, s0, L)
    o2, _, c2 = op.forward(p, x, s0, L, h_mask=np.ones((B, H)))
    np.testing.assert_array_equal(o1, o2)
    d = rng.standard_normal((B, T, H))
    g1, g2 = op.backward(c1, d), op.backward(c2, d)
    np.testing.assert_allclose(g1[0], g2[0], rtol=1e-13)
    for k in g1[2]:
        np.testing.assert_allclose(g1[2][k], g2[2][k], rtol=1e-13, err_msg=k)


def test_mask_is_sorted_with_the_batch(cell_kind):
    """With lengths the ops reorder the batch internally; the mask must follow its own sequence."""
    _, p, x, s0, m = make(cell_kind, seed=3)
    L = np.array([2, 5, 3])                               # a non-sorted order
    out, _, _ = cell_kind.op.forward(p, x, s0, L, h_mask=m)
    for b in range(B):
        ob, _, _ = cell_kind.op.forward(p, x[b:b + 1, :L[b]], tuple(s[b:b + 1] for s in s0), h_mask=m[b:b + 1])
        np.testing.assert_allclose(out[b, :L[b]], ob[0], rtol=1e-12)


def test_bad_mask_is_refused():
    lstm, gru = CellKind("lstm"), CellKind("gru-seed")
    _, p, x, _, m = make(lstm)
    with pytest.raises(ValueError, match=r"h_mask: expected shape \(3, 4\) \(batch, hidden\), got \(3, 2\)"):
        lstm.op.forward(p, x, h_mask=m[:, :2])
    with pytest.raises(TypeError, match="h_mask: expected dtype float64"):
        lstm.op.forward(p, x, h_mask=m.astype(np.float32))
    bad = m.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="h_mask: contains NaN"):
        gru.op.forward(make(gru)[1], x, h_mask=bad)
