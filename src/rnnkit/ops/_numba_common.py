"""What the compiled kernels (``_numba_<cell>.py``) share: the jit options, float32 tanh and sigmoid,
and typed constants. Imported only by them (numba is optional: ``rnnkit[fast]``).

- float32 tanh is a rational minimax approximation (``tanh``: relative error of the formula below
  1.3e-9 on [0, 9], about 6 float32 ulp at most once rounded, saturated beyond 9) which LLVM
  vectorises (about 1 ns an element here, against 5 ns for NumPy's float32 tanh); float64 uses the C
  library's tanh (exact to rounding). sigma(a) = 0.5 tanh(a/2) + 0.5.
- ``error_model="numpy"`` drops Python's division-by-zero check (the denominator is >= 1), which is
  what lets LLVM vectorise the loops. No fastmath: every operation is rounded as written.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

# tanh(x) ~ x P(x^2) / Q(x^2) on [-9, 9]; fitted here by iteratively reweighted least squares toward the
# minimax relative error (1.3e-9); |tanh(x)| rounds to 1 in float32 beyond 9.
_P = (0.999999998751822, 0.1368098758284606, 0.003869671264669529, 2.8034537211428973e-05,
      3.06499954574603e-08, -1.2251508565187241e-11)
_Q = (1.0, 0.4701431968691665, 0.02725075690916624, 0.0003940998873437951, 1.2892566979344046e-06)
P0, P1, P2, P3, P4, P5 = (np.float32(v) for v in _P)
Q1, Q2, Q3, Q4 = (np.float32(v) for v in _Q[1:])
NINE, ONE, HALF = np.float32(9.0), np.float32(1.0), np.float32(0.5)

JIT = dict(cache=True, error_model="numpy", nogil=True)         # the kernels
INLINE = dict(inline="always", error_model="numpy", nogil=True)  # their per-element helpers


def tanh(x):
    """tanh for a float32 or float64 scalar inside the kernels (dispatched on the type by ``overload``)."""
    return math.tanh(x)


@overload(tanh, jit_options=dict(error_model="numpy"))
def _tanh_overload(x):
    if x == types.float32:
        def _tanh32(x):
            v = min(max(x, -NINE), NINE)
            s = v * v
            r = v * (P0 + s * (P1 + s * (P2 + s * (P3 + s * (P4 + s * P5))))) / (
                ONE + s * (Q1 + s * (Q2 + s * (Q3 + s * Q4))))
            return x if x != x else r                             # NaN stays NaN
        return _tanh32
    return lambda x: math.tanh(x)


def like(x, v):
    """The constant ``v`` in the float type of ``x``: float32 arithmetic stays float32 (an int or float64
    literal would promote it to float64, and with it every tanh to the slow C library one)."""
    return v


@overload(like)
def _like_overload(x, v):
    if x == types.float32:
        return lambda x, v: np.float32(v)
    return lambda x, v: np.float64(v)


@numba.njit(**INLINE)
def sigmoid(a):
    """sigma(a) = 0.5 tanh(a/2) + 0.5 in the dtype of ``a`` (exact rewriting: a/2 is a power of two)."""
    half = like(a, 0.5)
    return tanh(a * half) * half + half


@numba.njit(**INLINE)
def rows(v, B):
    """v (R,) broadcast to a new (R, B) array: a bias added to feature-major (R, B) buffers."""
    out = np.empty((v.shape[0], B), dtype=v.dtype)
    for q in range(v.shape[0]):
        out[q] = v[q]
    return out


@numba.njit(**INLINE)
def step_product(W, xs, hs, mask, z, a, t, D):
    """a = W z for step t of a forward loop: z = [x_t; m * h_{t-1}] with W = [W_x | W_h] (stacked,
    D > 0: xs holds the inputs), or z = m * h_{t-1} with W = W_h (D = 0: xs holds the projection,
    which the caller adds). mask (H, B) or (0, 0) for no recurrent dropout."""
    H, B = hs.shape[1], hs.shape[2]
    if D > 0:
        z[:D] = xs[t]
    if mask.shape[0] > 0:
        for j in range(H):
            for b in range(B):
                z[D + j, b] = hs[t, j, b] * mask[j, b]
    else:
        z[D:] = hs[t]
    np.dot(W, z, a)


@numba.njit(**INLINE)
def carry_back(W_hT, d, back, dh, mask, n, norms, ss, t):
    """The end of a BPTT step: norms[t] = the mean ||dL/dh_t|| over the n running sequences (their
    squared norms in ``ss``; only when ``norms`` is not empty), then the gradient carried to step t-1,
    dh[:, :n] = m * (W_h^T dL/da_t) (``back`` is scratch; mask (H, B) or (0, 0))."""
    if norms.shape[0] > 0:
        norms[t] = np.nan if n == 0 else np.sqrt(ss[:n]).mean()
    np.dot(W_hT, d, back)                                         # delta_{t-1} = W_h^T dL/da_t
    masked = mask.shape[0] > 0
    for j in range(dh.shape[0]):
        for b in range(n):
            dh[j, b] = back[j, b] * mask[j, b] if masked else back[j, b]
