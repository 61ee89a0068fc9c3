"""Compiled RNN kernels (numba): the forward and BPTT loops of ``rnn.py`` in one compiled loop each.

Same scheme as ``_numba_lstm`` (feature-major (H, B) buffers so that a step's product is W @ z, one
pass per step over the hidden units, the float32 tanh of ``_numba_common``); the equations are
``rnn.py``'s (seed §2.3-2.4): h_t = f(W_x x_t + W_h h_{t-1} + b + b_h), f = tanh or ReLU.
"""
from __future__ import annotations

import numba
import numpy as np

from ._numba_common import JIT, carry_back, like, rows, step_product, tanh


@numba.njit(**JIT)
def forward(xs, W, bias, mask, hs, active, relu):
    """The forward loop. W (H, K), bias (H,) = b + b_h, mask (H, B) or (0, 0); hs (T+1, H, B) with [0]
    the initial state (written for t >= 1, zero once a sequence ended); active[t] = running sequences.
    xs is (T, D, B) with W = [W_x | W_h] (stacked) or (T, H, B) = W_x x_t + b + b_h with W = W_h
    (projected), as in ``_numba_lstm.forward``."""
    T, K, B = xs.shape
    H = W.shape[0]
    stacked = W.shape[1] != H
    D = W.shape[1] - H
    z = np.empty((W.shape[1], B), dtype=xs.dtype)
    a = np.empty((H, B), dtype=xs.dtype)
    add = rows(bias, B)                                           # the bias broadcast over the batch
    for t in range(T):
        n = active[t]
        if not stacked:
            add = xs[t]                         # the projection made before the loop, bias included
        step_product(W, xs, hs, mask, z, a, t, D)
        zero = like(a[0, 0], 0.0)
        for j in range(H):
            for b in range(n):
                v = a[j, b] + add[j, b]
                hs[t + 1, j, b] = (v if v > zero else zero) if relu else tanh(v)
            for b in range(n, B):
                hs[t + 1, j, b] = zero


@numba.njit(**JIT)
def backward(W_hT, hs, active, mask, relu, dh, d_out, da, norms):
    """The BPTT loop (``rnn.backward``). W_hT (H, H) = W_h.T contiguous; hs (T+1, H, B) from forward;
    dh (H, B) running dL/dh, updated in place; d_out (T, H, B) or (0, 0, 0); da (T, H, B) written
    (dL/da, zero when padded); norms (T,) or (0,)."""
    T, H, B = da.shape
    has_out = d_out.shape[0] > 0
    back = np.empty((H, B), dtype=da.dtype)
    ss = np.empty(B)
    for t in range(T - 1, -1, -1):
        n = active[t]
        d = da[t]
        ss[:] = 0
        for j in range(H):
            for b in range(n):
                delta = dh[j, b] + d_out[t, j, b] if has_out else dh[j, b]
                ss[b] += delta * delta
                h = hs[t + 1, j, b]
                one, zero = like(h, 1.0), like(h, 0.0)
                d[j, b] = delta * ((one if h > zero else zero) if relu else one - h * h)
            for b in range(n, B):
                d[j, b] = 0
        carry_back(W_hT, d, back, dh, mask, n, norms, ss, t)


@numba.njit(**JIT)
def step(W_x, W_h, b, b_h, x, h, relu):
    """One step for streaming (``rnn.step``): x (B, D), h (B, H) batch-major; returns the new h."""
    a = np.dot(x, W_x.T)
    a += np.dot(h, W_h.T)
    B, H = h.shape
    zero = like(a[0, 0], 0.0)
    for r in range(B):
        for j in range(H):
            v = a[r, j] + b[j] + b_h[j]
            a[r, j] = (v if v > zero else zero) if relu else tanh(v)
    return a
