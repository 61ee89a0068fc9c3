"""The compiled kernels (numba) against the NumPy reference loops, and the switch between them.

The reference is ``RNNKIT_KERNELS=numpy``; the kernels must give the same outputs, final states, input
and state gradients, weight gradients and recorded dL/dh norms, in float64 to rounding (1e-12) and in
float32 to float32 rounding (the kernels' float32 tanh is a rational approximation of a few ulp), for
ragged lengths, recurrent dropout, a batch of one, and both ways of feeding the input.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest

from rnnkit.ops import _kernel_glue, _kernels, gru, lstm, rnn
from rnnkit.ops import _numba_common as K

TOL = {np.float64: 1e-12, np.float32: 2e-5}


def _run(mode, monkeypatch, op, options, params, x, state0, lengths, mask, d_out, d_state):
    monkeypatch.setenv("RNNKIT_KERNELS", mode)
    out, state, cache = op.forward(params, x, state0, lengths, h_mask=mask, **options)
    rec = []
    dx, dstate, grads = op.backward(cache, d_out, d_state, record=rec)
    return [out, *state, dx, *dstate, *(grads[k] for k in sorted(grads)), rec[0]]


CASES = {
    "full": dict(B=5, lengths=None, mask=False),
    "ragged": dict(B=5, lengths=[7, 3, 7, 1, 5], mask=False),
    "dropout": dict(B=5, lengths=None, mask=True),
    "ragged-dropout": dict(B=5, lengths=[2, 7, 7, 4, 1], mask=True),
    "batch-of-one": dict(B=1, lengths=None, mask=False),
    "batch-of-one-short": dict(B=1, lengths=[4], mask=False),
    "wide-batch": dict(B=19, lengths=None, mask=False),
}
CELLS = {"lstm": (lstm, {}), "rnn-tanh": (rnn, {"nonlinearity": "tanh"}),
         "rnn-relu": (rnn, {"nonlinearity": "relu"}), "gru-seed": (gru, {"reset_after": False}),
         "gru-reset-after": (gru, {"reset_after": True})}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("feed", ["stacked", "projected"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("cell", list(CELLS))
def test_kernels_match_the_numpy_reference(cell, case, feed, dtype, monkeypatch):
    op, options = CELLS[cell]
    c = CASES[case]
    B, T, D, H = c["B"], 7, 3, 8
    monkeypatch.setattr(_kernel_glue, "STACK_RATIO", 1.0 if feed == "stacked" else 1e9)
    assert _kernel_glue.stacked(D, H) == (feed == "stacked")
    rng = np.random.default_rng(0)
    params = {k: (0.6 * rng.standard_normal(s)).astype(dtype) for k, s in op.param_shapes(D, H).items()}
    x = rng.standard_normal((B, T, D)).astype(dtype)
    state0 = tuple(rng.standard_normal((B, H)).astype(dtype) for _ in op.STATE_NAMES)
    lengths = None if c["lengths"] is None else np.array(c["lengths"])
    mask = (rng.random((B, H)) > 0.3).astype(dtype) / 0.7 if c["mask"] else None
    d_out = rng.standard_normal((B, T, H)).astype(dtype)
    d_state = tuple(rng.standard_normal((B, H)).astype(dtype) for _ in op.STATE_NAMES)
    args = (op, options, params, x, state0, lengths, mask, d_out, d_state)
    ref = _run("numpy", monkeypatch, *args)
    fast = _run("numba", monkeypatch, *args)
    assert [a.dtype for a in fast[:-1]] == [a.dtype for a in ref[:-1]]
    for a, b in zip(ref, fast):       # relative to the array's scale: sums of large terms cancel
        tol = TOL[dtype]
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol * max(1.0, float(np.nanmax(np.abs(a)))))


def test_the_kernel_path_is_the_default_and_the_switch_works(monkeypatch):
    monkeypatch.delenv("RNNKIT_KERNELS", raising=False)
    assert _kernels.mode() == "auto" and _kernels.path("lstm") == "numba"
    monkeypatch.setenv("RNNKIT_KERNELS", "numpy")
    assert _kernels.path("lstm") == "numpy"
    monkeypatch.setenv("RNNKIT_KERNELS", "fastest")
    with pytest.raises(ValueError, match="RNNKIT_KERNELS='fastest': expected one of auto, numba, numpy"):
        _kernels.mode()


def test_a_missing_numba_names_the_install_command(monkeypatch):
    monkeypatch.setitem(_kernels._loaded, "lstm", None)          # as if the import had failed
    monkeypatch.setattr(_kernels, "_chosen", {})
    monkeypatch.setenv("RNNKIT_KERNELS", "auto")
    assert _kernels.get("lstm") is None                           # auto: fall back to NumPy
    monkeypatch.setenv("RNNKIT_KERNELS", "numba")
    with pytest.raises(ImportError, match=r"pip install 'rnnkit\[fast\]'"):
        _kernels.get("lstm")


@numba.njit
def _tanh_all(x, out):
    for k in range(x.size):
        out[k] = K.tanh(x[k])


def test_the_float32_tanh_is_within_a_few_ulp_everywhere():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-12, 12, 2_000_000), np.geomspace(1e-30, 12, 200_000),
                        -np.geomspace(1e-30, 12, 200_000), [0.0, -0.0, 9.0, -9.0]]).astype(np.float32)
    out = np.empty_like(x)
    _tanh_all(x, out)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert (np.abs(out - exact) / ulp).max() <= 8
    special = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30], dtype=np.float32)
    out = np.empty_like(special)
    _tanh_all(special, out)
    assert np.isnan(out[0]) and np.all(np.abs(out[1:] - [1, -1, 1, -1]) <= 6e-8)


def test_the_float64_tanh_is_the_c_library_one():
    x = np.linspace(-20, 20, 10001)
    out = np.empty_like(x)
    _tanh_all(x, out)
    np.testing.assert_allclose(out, np.tanh(x), rtol=1e-15, atol=0)


def test_importing_rnnkit_does_not_import_numba():
    import subprocess
    import sys
    code = "import sys, rnnkit, rnnkit.ops, rnnkit.layers; print('numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("cell", list(CELLS))
def test_compiled_step_matches_the_numpy_step(cell, B, dtype, monkeypatch):
    op, options = CELLS[cell]
    rng = np.random.default_rng(1)
    D, H = 3, 8
    params = {k: (0.6 * rng.standard_normal(s)).astype(dtype) for k, s in op.param_shapes(D, H).items()}
    x_t = rng.standard_normal((B, 2 * D)).astype(dtype)[:, ::2]      # not contiguous, as x[:, t] is
    state = tuple(rng.standard_normal((B, H)).astype(dtype) for _ in op.STATE_NAMES)
    monkeypatch.setenv("RNNKIT_KERNELS", "numpy")
    ref = op.step(params, x_t, state, **options)
    monkeypatch.setenv("RNNKIT_KERNELS", "numba")
    fast = op.step(params, x_t, state, **options)
    for a, b in zip(ref, fast):
        assert b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_allclose(b, a, rtol=TOL[dtype], atol=TOL[dtype])
    mixed = op.step(params, x_t.astype(np.float64 if dtype == np.float32 else np.float32), state, **options)
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(ref, mixed))   # other dtypes: the NumPy step


@pytest.mark.parametrize("mode", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_inference_without_a_cache_gives_the_same_outputs(cell, dtype, mode, monkeypatch):
    """keep_cache=False: the same outputs and final states (ragged lengths, so the final states come
    from different steps), no cache, and backward says why it cannot run."""
    op, options = CELLS[cell]
    monkeypatch.setenv("RNNKIT_KERNELS", mode)
    rng = np.random.default_rng(2)
    B, T, D, H = 4, 6, 3, 8
    params = {k: (0.6 * rng.standard_normal(s)).astype(dtype) for k, s in op.param_shapes(D, H).items()}
    x = rng.standard_normal((B, T, D)).astype(dtype)
    state0 = tuple(rng.standard_normal((B, H)).astype(dtype) for _ in op.STATE_NAMES)
    lengths = np.array([6, 2, 5, 1])
    out, state, cache = op.forward(params, x, state0, lengths, **options)
    out2, state2, cache2 = op.forward(params, x, state0, lengths, keep_cache=False, **options)
    assert cache is not None and cache2 is None
    np.testing.assert_array_equal(out2, out)
    for a, b in zip(state, state2):
        np.testing.assert_array_equal(b, a)
    with pytest.raises(ValueError, match="keep_cache=False"):
        op.backward(cache2, out2)
