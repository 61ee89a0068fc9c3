"""Gradient diagnostics (seed §3.2): the ops' recorded dL/dh_t norms against finite differences, the
singular values, the global norms before/after clipping, ``measure`` and the GradientRecorder during fit."""
import numpy as np
import pytest

from rnnkit import diagnostics as dg
from rnnkit import optim
from rnnkit.layers import GRU, LSTM, RNN, Dense
from rnnkit.model import Sequential, TrainingError
from rnnkit.optim import SGD
from tests.helpers.cells import CellKind, reference_step

B, T, D, H = 3, 5, 3, 4


def make(kind, seed):
    """(rng, params, x, state0, mask) for the ops, as in tests/ops/test_recurrent_dropout.py."""
    rng = np.random.default_rng(seed)
    p = kind.params(D, H, rng)
    x = rng.standard_normal((B, T, D))
    s0 = kind.state(B, H, rng)
    mask = (rng.random((B, H)) > 0.3) * rng.uniform(0.5, 2.0, (B, H))
    return rng, p, x, s0, mask


def per_sequence_losses(kind, p, x, s0, lengths, mask, R1, Rs, t_pert=None, delta=None):
    """L_b = sum_t out_bt . R1_bt + final states . Rs, run step by step from the equations; ``delta``
    (B, H) is added to h_t at step ``t_pert`` (for the sequences still running then), c_t left as it is."""
    lengths = np.full(B, T) if lengths is None else lengths
    state = tuple(s.copy() for s in s0)
    L = np.zeros(B)
    for t in range(T):
        active = (t < lengths)[:, None]
        new = reference_step(kind, p, x[:, t], state, mask)
        state = [np.where(active, n, s) for n, s in zip(new, state)]
        if t == t_pert:
            state[0] = state[0] + delta * active
        L += np.sum(state[0] * R1[:, t], axis=1) * active[:, 0]
    for s, r in zip(state, Rs):
        L += np.sum(s * r, axis=1)
    return L


def fd_dh_norms(kind, p, x, s0, lengths, mask, R1, Rs, eps=1e-6):
    """The batch-mean of ||dL/dh_t||_2 over running sequences, each dL/dh_t by central differences."""
    lengths_ = np.full(B, T) if lengths is None else lengths
    norms = np.zeros(T)
    for t in range(T):
        g = np.zeros((B, H))
        for j in range(H):
            e = np.zeros((B, H))
            e[:, j] = eps                                  # sequences are independent: perturb all at once
            lp = per_sequence_losses(kind, p, x, s0, lengths, mask, R1, Rs, t, e)
            lm = per_sequence_losses(kind, p, x, s0, lengths, mask, R1, Rs, t, -e)
            g[:, j] = (lp - lm) / (2 * eps)
        running = lengths_ > t
        norms[t] = np.linalg.norm(g[running], axis=1).mean()
    return norms


@pytest.mark.parametrize("lengths", [None, np.array([2, 5, 4])])
@pytest.mark.parametrize("masked", [False, True])
def test_recorded_dh_norms_match_finite_differences(cell_kind, lengths, masked):
    rng, p, x, s0, m = make(cell_kind, seed=4)
    mask = m if masked else None
    R1 = rng.standard_normal((B, T, H))
    Rs = tuple(rng.standard_normal((B, H)) for _ in s0)
    # the stepwise reference agrees with the op (so the FD below differentiates the same function)
    L_ref = per_sequence_losses(cell_kind, p, x, s0, lengths, mask, R1, Rs).sum()
    out, finals, cache = cell_kind.op.forward(p, x, s0, lengths, h_mask=mask)
    np.testing.assert_allclose(L_ref, np.sum(out * R1) + sum(np.sum(f * r) for f, r in zip(finals, Rs)))

    record = []
    cell_kind.op.backward(cache, R1, Rs, record=record)
    assert len(record) == 1 and record[0].shape == (T,) and record[0].dtype == np.float64
    np.testing.assert_allclose(record[0], fd_dh_norms(cell_kind, p, x, s0, lengths, mask, R1, Rs),
                               rtol=1e-6, atol=1e-9)


def test_recording_changes_nothing_else(cell_kind):
    rng, p, x, s0, m = make(cell_kind, seed=5)
    op = cell_kind.op
    L = np.array([5, 1, 3])
    d = rng.standard_normal((B, T, H))
    _, _, c1 = op.forward(p, x, s0, L, h_mask=m)
    _, _, c2 = op.forward(p, x, s0, L, h_mask=m)
    plain = op.backward(c1, d)
    rec = []
    recorded = op.backward(c2, d, None, record=rec)
    np.testing.assert_array_equal(plain[0], recorded[0])
    for a, b in zip(plain[1], recorded[1]):
        np.testing.assert_array_equal(a, b)
    for k in plain[2]:
        np.testing.assert_array_equal(plain[2][k], recorded[2][k])
    assert np.all(rec[0] > 0)


def test_no_running_sequence_gives_nan():
    kind = CellKind("rnn-tanh")
    _, p, x, s0, _ = make(kind, seed=0)
    rec = []
    _, _, cache = kind.op.forward(p, x, s0, np.array([2, 3, 1]))
    kind.op.backward(cache, np.ones((B, T, H)), None, record=rec)
    assert np.all(np.isfinite(rec[0][:3])) and np.all(np.isnan(rec[0][3:]))


# -- singular values ----------------------------------------------------------------------------

def test_sigma_max_per_gate_block_and_whole():
    rng = np.random.default_rng(0)
    blocks = [np.diag(rng.uniform(0.1, 1, 5)) * (k + 1) for k in range(4)]
    for k, blk in enumerate(blocks):
        blk[0, 0] = 3.0 + k                                  # known largest singular value per block
    W = np.concatenate(blocks)
    s = dg.sigma_max(W, "lstm")
    assert [s[g] for g in "ifgo"] == pytest.approx([3.0, 4.0, 5.0, 6.0])
    assert s["W_h"] == pytest.approx(np.linalg.svd(W, compute_uv=False)[0])
    assert s["W_h"] == pytest.approx(np.sqrt(3.0 ** 2 + 4.0 ** 2 + 5.0 ** 2 + 6.0 ** 2))
    q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    assert dg.sigma_max(1.7 * q, "rnn") == pytest.approx({"W_h": 1.7})
    assert set(dg.sigma_max(np.ones((9, 3)), "gru")) == {"W_h", "r", "z", "n"}


# -- global norms before and after clipping -----------------------------------------------------

def data(n=12, T_=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T_, 2))
    return X, X.sum(axis=(1, 2))[:, None] * 3.0


@pytest.mark.parametrize("clip", [dict(clip_norm=0.05), dict(clip_value=0.01), {}])
def test_grad_norm_before_and_after_clipping(clip):
    X, y = data()
    model = Sequential([LSTM(4), Dense(1)], seed=0, dtype="float64").compile("mse", SGD(0.01), **clip)
    before = dg.measure(model, X, y)["grad_norm"]          # the same weights and batch, no update
    model.fit(X, y, epochs=1, batch_size=len(X), verbose=0)
    assert model.last_grad_norm == pytest.approx(before, rel=1e-10)
    after = float(np.sqrt(sum(np.vdot(g, g) for g in model._grads().values())))  # clipped in place
    assert model.last_grad_norm_clipped == pytest.approx(after, rel=1e-12)
    if "clip_norm" in clip:
        assert model.last_grad_norm > 0.05 and model.last_grad_norm_clipped == pytest.approx(0.05)
    elif clip:
        assert model.last_grad_norm_clipped < model.last_grad_norm
    else:
        assert model.last_grad_norm_clipped == model.last_grad_norm


def test_measure_takes_ragged_per_step_targets_like_fit():
    """Regression: ``measure`` once ignored the lengths of a ragged list, so per-step targets given as a
    list (which ``fit`` takes) failed there. It now goes through ``compute_gradients`` and agrees with it."""
    rng = np.random.default_rng(3)
    X = [rng.standard_normal((t, 2)) for t in (5, 2, 4, 1)]
    y = [np.cumsum(x[:, :1], axis=0) for x in X]                # one target per step of each sequence
    model = Sequential([LSTM(3, return_sequences=True), GRU(4, bidirectional=True, return_sequences=True),
                        Dense(1)], seed=0, dtype="float64").compile("mse", "adam")
    model.fit(X, y, epochs=1, batch_size=4, verbose=0)         # fit takes them
    W0 = model.get_weights()
    m = dg.measure(model, X, y)
    loss, grads = model.compute_gradients(X, y, training=False)
    assert m["loss"] == pytest.approx(loss, rel=1e-12)
    assert m["grad_norm"] == pytest.approx(optim.global_norm(grads), rel=1e-12)
    assert set(m["layers"]) == {"0.lstm", "1.gru"}
    assert set(m["layers"]["1.gru"]) == {"_l0", "_l0_reverse"}
    norms = m["layers"]["0.lstm"]["_l0"]["dh_norms"]
    assert norms.shape == (5,) and np.all(np.isfinite(norms)) and np.all(norms > 0)
    for k, v in model.get_weights().items():                      # measuring trains nothing
        np.testing.assert_array_equal(v, W0[k], err_msg=k)
    assert all(l.record_dh is None for l in model.layers[:2])


# -- the recorder -------------------------------------------------------------------------------

def test_recorder_on_a_tiny_fit():
    X, y = data(n=12)
    model = Sequential([LSTM(3, num_layers=2, bidirectional=True, return_sequences=True),
                        GRU(4), Dense(1)], seed=0, dtype="float64").compile("mse", "adam", clip_norm=0.5)
    model.build(2)
    W0 = {k: v.copy() for k, v in model.get_weights().items()}
    first = dg.measure(model, X, y)                         # the first step sees these weights, all of X
    rec = dg.GradientRecorder()
    model.fit(X, y, epochs=3, batch_size=12, verbose=0, callbacks=[rec])
    assert len(rec.steps) == len(rec.records) == 3
    r0 = rec.records[0]
    assert set(r0["layers"]) == {"0.lstm", "1.gru"}
    assert set(r0["layers"]["0.lstm"]) == {"_l0", "_l0_reverse", "_l1", "_l1_reverse"}
    for name, subs in first["layers"].items():
        for s, v in subs.items():
            got = r0["layers"][name][s]
            assert got["dh_norms"].shape == (7,)
            np.testing.assert_allclose(got["dh_norms"], v["dh_norms"], rtol=1e-10)
            assert got["sigma_max"] == pytest.approx(v["sigma_max"], rel=1e-12)
    assert set(r0["layers"]["0.lstm"]["_l0"]["sigma_max"]) == {"W_h", "i", "f", "g", "o"}
    assert r0["layers"]["0.lstm"]["_l0"]["sigma_max"]["i"] == pytest.approx(1.0)  # orthogonal init
    assert r0["grad_norm"] == pytest.approx(first["grad_norm"], rel=1e-10)
    assert all(r["grad_norm_clipped"] <= 0.5 + 1e-9 for r in rec.steps)
    assert rec.series("grad_norm").shape == (3,)
    np.testing.assert_array_equal(rec.dh_norms("1.gru"), rec.records[-1]["layers"]["1.gru"]["_l0"]["dh_norms"])
    # the hooks are gone after training
    assert "train_step" not in model.__dict__
    assert all(l.record_dh is None for l in model.layers[:2])
    assert not np.allclose(model.get_weights()["0.W_h_l0"], W0["0.W_h_l0"])


def test_recorder_every_epoch_and_without_sigma():
    X, y = data(n=20)
    model = Sequential([RNN(5), Dense(1)], seed=0).compile("mse", "adam")
    rec = dg.GradientRecorder(every="epoch", sigma=False)
    model.fit(X, y, epochs=2, batch_size=8, verbose=0, callbacks=[rec])
    assert len(rec.steps) == 6 and len(rec.records) == 2
    assert [r["step"] for r in rec.records] == [2, 5]
    assert "sigma_max" not in rec.records[0]["layers"]["0.rnn"]["_l0"]
    # no recording cost left behind: a normal fit afterwards records nothing
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert model.layers[0].record_dh is None


def test_recorder_notes_a_diverging_run_and_unhooks():
    X, y = data(n=16, T_=20)
    model = Sequential([RNN(8, nonlinearity="relu"), Dense(1)], seed=0).compile("mse", SGD(1e3))
    model.build(2)
    model.layers[0].params["W_h_l0"] *= 3.0
    rec = dg.GradientRecorder()
    with pytest.raises(TrainingError):
        model.fit(X, y, epochs=20, batch_size=4, verbose=0, callbacks=[rec])
    assert rec.failed is not None and rec.steps[-1].get("failed")
    assert not np.isfinite(rec.steps[-1]["grad_norm"])
    assert len(rec.records) == rec.failed
    assert "train_step" not in model.__dict__ and model.layers[0].record_dh is None


def test_plots_write_small_pngs(tmp_path):
    X, y = data(n=8)
    runs = {}
    for clip in (None, 0.1):
        model = Sequential([GRU(3), Dense(1)], seed=0).compile("mse", "sgd", clip_norm=clip)
        rec = dg.GradientRecorder()
        model.fit(X, y, epochs=2, batch_size=4, verbose=0, callbacks=[rec])
        runs[f"clip {clip}"] = rec
    dg.plot_grad_norms(runs, tmp_path / "g.png")
    curves = {"gru": {"first": runs["clip None"].dh_norms(index=0), "last": runs["clip None"].dh_norms()},
              "zeros": np.zeros(7)}
    dg.plot_dh_norms(curves, tmp_path / "d.png")
    for f in ("g.png", "d.png"):
        size = (tmp_path / f).stat().st_size
        assert 1000 < size < 200_000
