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
