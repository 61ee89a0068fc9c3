"""Every recurrent cell through the protocol of ``rnnkit.ops`` (the ``cell_kind`` fixture: rnn-tanh,
rnn-relu, lstm, gru-seed, gru-reset-after): finite differences (float64), padding, parity with
PyTorch (float64, 1e-10), streaming steps, the trusted ``run``, dtypes, states as tuples, options and
input errors."""
import numpy as np
import pytest
import torch

from rnnkit.ops._seq import Schedule
from tests.helpers.cells import TORCH_KINDS, make_case
from tests.helpers.gradcheck import assert_op_grads_close

TOL = 1e-10                 # parity with PyTorch's autograd, float64
STEP_TOL = {"rnn": 1e-14, "lstm": 1e-13, "gru": 1e-13}   # streaming step against the whole-sequence forward


# ----------------------------------------------------------------------------------------------
# Finite differences, linearity, padding

@pytest.mark.parametrize("lengths", [None, np.array([2, 4, 1])], ids=["full", "unsorted-with-1"])
def test_gradients_match_finite_differences(cell_kind, lengths):
    rng, p, x, s0 = make_case(cell_kind)
    op = cell_kind.op
    R1 = rng.standard_normal((3, 4, 3))
    Rs = tuple(rng.standard_normal((3, 3)) for _ in s0)

    def loss():
        out, state, _ = op.forward(p, x, s0, lengths)
        return np.sum(out * R1) + sum(np.sum(s * R) for s, R in zip(state, Rs))

    _, _, cache = op.forward(p, x, s0, lengths)
    dx, d0, grads = op.backward(cache, R1, Rs)
    assert isinstance(d0, tuple) and len(d0) == cell_kind.n_states
    assert sorted(grads) == sorted(cell_kind.cell.param_shapes(2, 3))
    assert_op_grads_close(loss, p, grads, x, dx, s0, d0)


def test_backward_is_linear_in_its_seeds_and_accepts_none(cell_kind):
    """d_out, d_state and each entry of d_state may be None (zeros): the parts add up to the whole."""
    rng, p, x, s0 = make_case(cell_kind, seed=4)
    op = cell_kind.op
    L = np.array([3, 1, 4])
    out, state, cache = op.forward(p, x, s0, L)
    R1 = rng.standard_normal(out.shape)
    Rs = tuple(rng.standard_normal(s.shape) for s in state)
    n = len(Rs)
    full = op.backward(cache, R1, Rs)
    parts = [op.backward(cache, R1, (None,) * n)]
    for i in range(n):
        parts.append(op.backward(cache, None, tuple(R if j == i else None for j, R in enumerate(Rs))))
    np.testing.assert_allclose(full[0], sum(pt[0] for pt in parts), atol=1e-12)
    for i in range(n):
        np.testing.assert_allclose(full[1][i], sum(pt[1][i] for pt in parts), atol=1e-12)
    for k in p:
        np.testing.assert_allclose(full[2][k], sum(pt[2][k] for pt in parts), atol=1e-12)
    dx, d0, grads = op.backward(cache, R1, None)                  # d_state=None altogether
    np.testing.assert_array_equal(dx, parts[0][0])
    dx, d0, grads = op.backward(cache)                            # no seed at all: zero gradients
    assert not dx.any() and not any(d.any() for d in d0) and not any(g.any() for g in grads.values())


def test_padded_steps_give_zero_output_and_gradient(cell_kind):
    rng, p, x, s0 = make_case(cell_kind, T=5)
    op = cell_kind.op
    L = np.array([2, 5, 1])
    out, state, cache = op.forward(p, x, s0, L)
    assert np.all(out[0, 2:] == 0) and np.all(out[2, 1:] == 0)
    np.testing.assert_array_equal(state[0][0], out[0, 1])         # the state after the last valid step
    np.testing.assert_array_equal(state[0][2], out[2, 0])
    dx, _, _ = op.backward(cache, np.ones_like(out), None)
    assert np.all(dx[0, 2:] == 0) and np.all(dx[2, 1:] == 0)
    x2 = x.copy()
    x2[0, 3:] = 100.0
    x2[2, 1:] = -100.0
    out2, state2, _ = op.forward(p, x2, s0, L)                    # padded inputs change nothing
    np.testing.assert_array_equal(out, out2)
    for s, s2 in zip(state, state2):
        np.testing.assert_array_equal(s, s2)


# ----------------------------------------------------------------------------------------------
# Parity with PyTorch (float64: the torch_float64 fixture makes it torch's default for these tests)

@pytest.mark.usefixtures("torch_float64")
@pytest.mark.parametrize("cell_kind", TORCH_KINDS, indirect=True)
def test_parity_with_torch_per_sequence(cell_kind):
    """Each sequence of a padded, unsorted batch against PyTorch run on that sequence alone."""
    B, T, D, H = 4, 7, 3, 5
    rng, p, x, s0 = make_case(cell_kind, B, T, D, H, seed=1)
    op = cell_kind.op
    L = np.array([5, 7, 1, 3])
    out, state, cache = op.forward(p, x, s0, L)
    R1 = rng.standard_normal((B, T, H))
    Rs = tuple(rng.standard_normal((B, H)) for _ in state)
    dx, d0, grads = op.backward(cache, R1, Rs)
    total = {k: np.zeros_like(v) for k, v in p.items()}
    for i in range(B):
        m = cell_kind.load_torch(cell_kind.torch_module(D, H), p)
        xi = torch.tensor(x[i:i + 1, :L[i]], requires_grad=True)
        s0t = [torch.tensor(s[i][None, None], requires_grad=True) for s in s0]
        o, sT = m(xi, tuple(s0t) if cell_kind.n_states > 1 else s0t[0])
        sT = sT if cell_kind.n_states > 1 else (sT,)
        loss = (o * torch.from_numpy(R1[i:i + 1, :L[i]])).sum()
        for s, R in zip(sT, Rs):
            loss = loss + (s[0] * torch.from_numpy(R[i:i + 1])).sum()
        loss.backward()
        np.testing.assert_allclose(out[i, :L[i]], o.detach()[0].numpy(), rtol=0, atol=TOL)
        for ours, theirs in zip(state, sT):
            np.testing.assert_allclose(ours[i], theirs.detach()[0, 0].numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(dx[i, :L[i]], xi.grad[0].numpy(), rtol=0, atol=TOL)
        for ours, theirs in zip(d0, s0t):
            np.testing.assert_allclose(ours[i], theirs.grad[0, 0].numpy(), rtol=0, atol=TOL)
        for k, g in cell_kind.torch_grads(m).items():
            total[k] += g
    for k in p:
        np.testing.assert_allclose(grads[k], total[k], rtol=0, atol=TOL, err_msg=k)


@pytest.mark.usefixtures("torch_float64")
@pytest.mark.parametrize("cell_kind", TORCH_KINDS, indirect=True)
def test_parity_with_torch_full_batch_from_torch_weights(cell_kind):
    """PyTorch's own initialisation imported with from_torch_layout (tensors, _l0 names), a given
    initial state, the whole batch at once: outputs, final and initial-state gradients, every weight."""
    B, T, D, H = 5, 9, 4, 8
    torch.manual_seed(0)
    m = cell_kind.torch_module(D, H)
    p = cell_kind.from_torch_layout(dict(m.named_parameters()))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, T, D))
    s0 = cell_kind.state(B, H, rng)
    op = cell_kind.op
    out, state, cache = op.forward(p, x, s0)
    R = rng.standard_normal(out.shape)
    dx, d0, grads = op.backward(cache, R, None)
    xt = torch.tensor(x, requires_grad=True)
    s0t = [torch.tensor(s[None], requires_grad=True) for s in s0]
    o, sT = m(xt, tuple(s0t) if cell_kind.n_states > 1 else s0t[0])
    sT = sT if cell_kind.n_states > 1 else (sT,)
    (o * torch.from_numpy(R)).sum().backward()
    np.testing.assert_allclose(out, o.detach().numpy(), rtol=0, atol=TOL)
    for ours, theirs in zip(state, sT):
        np.testing.assert_allclose(ours, theirs[0].detach().numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=TOL)
    for ours, theirs in zip(d0, s0t):
        np.testing.assert_allclose(ours, theirs.grad[0].numpy(), rtol=0, atol=TOL)
    for k, g in cell_kind.torch_grads(m).items():
        np.testing.assert_allclose(grads[k], g, rtol=0, atol=TOL, err_msg=k)


@pytest.mark.usefixtures("torch_float64")
@pytest.mark.parametrize("cell_kind", TORCH_KINDS, indirect=True)
def test_step_matches_torch_cell(cell_kind):
    B, T, D, H = 3, 6, 4, 5
    rng, p, x, s0 = make_case(cell_kind, B, T, D, H, seed=7)
    tcell = cell_kind.load_torch(cell_kind.torch_cell(D, H), p, suffix="")
    state, tstate = s0, tuple(torch.from_numpy(s) for s in s0)
    with torch.no_grad():
        for t in range(T):
            state = cell_kind.op.step(p, x[:, t], state)
            xt = torch.from_numpy(x[:, t])
            tstate = tcell(xt, tstate) if cell_kind.n_states > 1 else (tcell(xt, tstate[0]),)
            for ours, theirs in zip(state, tstate):
                np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=TOL)


# ----------------------------------------------------------------------------------------------
# Streaming step, the trusted run, dtypes

def test_step_equals_forward(cell_kind):
    _, p, x, s0 = make_case(cell_kind, T=6, seed=3)
    tol = STEP_TOL[cell_kind.cell.name]
    out, final, _ = cell_kind.op.forward(p, x, s0)
    kept = tuple(s.copy() for s in s0)
    state = s0
    for t in range(x.shape[1]):
        state = cell_kind.op.step(p, x[:, t], state)
        assert isinstance(state, tuple) and len(state) == cell_kind.n_states
        np.testing.assert_allclose(state[0], out[:, t], atol=tol, rtol=0)
    for a, b in zip(state, final):
        np.testing.assert_allclose(a, b, atol=tol, rtol=0)
    for a, b in zip(s0, kept):                                    # step leaves its input state alone
        np.testing.assert_array_equal(a, b)


def test_run_on_checked_inputs_equals_forward(cell_kind):
    """``run`` (the trusted entry layers use, with the batch's Schedule) is ``forward`` without checks."""
    rng, p, x, s0 = make_case(cell_kind, T=5, seed=8)
    L = np.array([3, 5, 2])
    m = rng.uniform(0.5, 1.5, (3, 3))
    out, state, cache = cell_kind.op.forward(p, x, s0, L, h_mask=m)
    out2, state2, cache2 = cell_kind.op.run(p, x, s0, Schedule(L, 3, 5), m)
    np.testing.assert_array_equal(out, out2)
    for a, b in zip(state, state2):
        np.testing.assert_array_equal(a, b)
    R = rng.standard_normal(out.shape)
    g1, g2 = cell_kind.op.backward(cache, R), cell_kind.op.backward(cache2, R)
    np.testing.assert_array_equal(g1[0], g2[0])
    for k in p:
        np.testing.assert_array_equal(g1[2][k], g2[2][k])


def test_float32_stays_float32(cell_kind):
    _, p, x, s0 = make_case(cell_kind, dtype=np.float32)
    op = cell_kind.op
    out, state, cache = op.forward(p, x, s0, np.array([4, 2, 3]))
    dx, d0, grads = op.backward(cache, np.ones_like(out), tuple(np.ones_like(s) for s in state))
    for a in [out, dx, *state, *d0, *grads.values(), *op.step(p, x[:, 0], s0)]:
        assert a.dtype == np.float32


# ----------------------------------------------------------------------------------------------
# States are tuples; options; input errors

def test_state0_is_a_tuple_and_a_bare_array_is_refused(cell_kind):
    _, p, x, s0 = make_case(cell_kind)
    op = cell_kind.op
    names = cell_kind.cell.state_names
    want = r"\(" + ", ".join(names) + ("," if len(names) == 1 else "") + r"\)"
    with pytest.raises(TypeError, match=rf"state0: expected None or a tuple {want} of {len(names)} "
                                        r"\(3, 3\) array\(s\), got ndarray"):
        op.forward(p, x, s0[0])
    with pytest.raises(TypeError, match=rf"state0: expected None or a tuple {want}.*got tuple of length "
                                        rf"{len(names) + 1}"):
        op.forward(p, x, s0 + (s0[0],))
    zeros = op.forward(p, x, tuple(np.zeros_like(s) for s in s0))[0]
    np.testing.assert_array_equal(op.forward(p, x, None)[0], zeros)          # None: zeros
    np.testing.assert_array_equal(op.forward(p, x, (None,) * len(s0))[0], zeros)
    np.testing.assert_array_equal(op.forward(p, x, list(s0))[0], op.forward(p, x, s0)[0])


def test_unknown_and_invalid_options_are_refused(cell_kind):
    _, p, x, s0 = make_case(cell_kind)
    cell = cell_kind.cell
    with pytest.raises(TypeError, match="bogus"):
        cell.forward(p, x, s0, **cell_kind.options, bogus=1)
    with pytest.raises(TypeError, match="bogus"):
        cell.step(p, x[:, 0], s0, **cell_kind.options, bogus=1)
    with pytest.raises(TypeError, match=rf"{cell.name}: unexpected option\(s\) \['bogus'\]"):
        cell.options(**cell_kind.options, bogus=1)
    other = "reset_after" if cell.name != "gru" else "nonlinearity"   # an option of another cell
    with pytest.raises(TypeError, match=other):
        cell.forward(p, x, s0, **{other: cell_kind.options.get(other, True)})
    assert cell.options(**cell_kind.options) == cell_kind.options


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=np.zeros((3, 4))), r"x: expected a 3-D array, got shape \(3, 4\)"),
    (dict(x=np.zeros((3, 4, 5))), r"x: expected 2 features on the last axis, got shape \(3, 4, 5\)"),
    (dict(x=np.full((3, 4, 2), np.nan)), r"x: contains NaN or inf"),
    (dict(x=np.zeros((0, 4, 2))), r"x: empty batch"),
    (dict(x=np.zeros((3, 0, 2))), r"x: empty sequences"),
    (dict(x=np.zeros((3, 4, 2), np.float32)), r"x: expected dtype float64 \(same as the weights\), got float32"),
    (dict(lengths=np.array([1, 5, 2])), r"lengths: lengths must be <= the padded time axis \(4\), got max 5"),
    (dict(lengths=np.array([1, 0, 2])), r"lengths: every length must be >= 1, got min 0"),
    (dict(lengths=np.array([1, 2])), r"lengths: expected shape \(3,\), got \(2,\)"),
    (dict(h=np.zeros((3, 4))), r"state0 h: expected shape \(3, 3\), got \(3, 4\)"),
    (dict(h=np.zeros((2, 3))), r"state0 h: expected shape \(3, 3\), got \(2, 3\)"),
], ids=["x-2d", "x-features", "x-nan", "x-empty-batch", "x-empty-sequences", "x-dtype", "lengths-long",
        "lengths-zero", "lengths-shape", "h-hidden", "h-batch"])
def test_bad_inputs_name_the_argument(cell_kind, kwargs, match):
    _, p, x, s0 = make_case(cell_kind)
    x = kwargs.get("x", x)
    s0 = (kwargs["h"],) + s0[1:] if "h" in kwargs else s0
    with pytest.raises((ValueError, TypeError), match=match):
        cell_kind.op.forward(p, x, s0, kwargs.get("lengths"))
