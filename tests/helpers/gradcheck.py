"""Finite-difference gradient checking in float64 (central differences), shared by the tests."""
from __future__ import annotations

import numpy as np


def numerical_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f() / d x by central differences, perturbing ``x`` in place (and restoring it)."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a, b) -> float:
    """Norm-wise relative error ||a - b|| / (||a|| + ||b||); 0 when both are zero."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0 else float(np.linalg.norm(a - b) / den)


def assert_grad_close(analytic, f, x, name="", tol=1e-6, eps=1e-6):
    num = numerical_grad(f, x, eps)
    err = rel_error(analytic, num)
    # norm-wise relative error, and every element close too (a wrong small entry must not hide)
    assert err < tol and np.allclose(analytic, num, rtol=1e-4, atol=1e-7), (
        f"{name}: relative error {err:.3e} (tolerance {tol:g})\nanalytic={analytic}\nnumeric={num}")


def assert_op_grads_close(loss, params, grads, x, dx, states, d_states):
    """Every weight, the input and each initial state of a recurrent op against finite differences.

    ``states`` and ``d_states`` are the protocol's tuples ((h0,) or (h0, c0)), compared entry by entry."""
    assert len(states) == len(d_states), (len(states), len(d_states))
    for k in params:
        assert_grad_close(grads[k], loss, params[k], name=k)
    assert_grad_close(dx, loss, x, name="x")
    for name, s, d in zip(("h0", "c0"), states, d_states):
        assert_grad_close(d, loss, s, name=name)
