"""Compiled LSTM kernels (numba): the forward and BPTT loops of ``lstm.py`` in one compiled loop each.

Imported only through ``_kernels.get()`` (numba is an optional dependency, ``rnnkit[fast]``). The
equations are ``lstm.py``'s (seed §4.1); what differs is how they are evaluated:

- feature-major buffers: a step's state is (H, B) and its gates (4H, B), rows [i, f, g, o], so that the
  recurrent product is ``W_h @ h`` (4H, H) x (H, B). With OpenBLAS that orientation runs about twice as
  fast as ``h @ W_h.T`` for the small batches of a recurrent step (measured: 8 x 128 -> 32 us vs 63 us);
- one pass per step over the gates: pre-activation sum, the three sigmoids and tanh, the cell update,
  tanh(c) and h, fused, instead of ~10 NumPy passes;
- float32 tanh and sigmoid from ``_numba_common`` (vectorised; float64 exact).
"""
from __future__ import annotations

import numba
import numpy as np

from ._numba_common import INLINE, JIT, carry_back, like, rows, sigmoid, step_product, tanh


@numba.njit(**INLINE)
def _point(ai, af, ag, ao, c_prev):
    """One hidden unit of one sequence: gates from pre-activations, the cell update and h."""
    i, f, o = sigmoid(ai), sigmoid(af), sigmoid(ao)
    g = tanh(ag)
    c = f * c_prev + i * g
    th = tanh(c)
    return i, f, g, o, c, th, o * th


@numba.njit(**JIT)
def forward(xs, W, bias, mask, hs, cs, gates, tc, active, keep):
    """The forward loop. W (4H, K); bias (4H,) = b + b_h; mask (H, B) or (0, 0) for none; hs, cs
    (T+1, H, B) with [0] the initial state (written for t >= 1, zero once a sequence ended); gates
    (T, 4H, B) and tc (T, H, B) written (zero on padded steps); active[t] = how many (leading) sequences
    run at step t. ``keep`` False (inference: nothing for backward): gates and tc are (1, ...) scratch,
    cs a (2, H, B) ring whose padded columns carry c, so that cs[T % 2] holds every sequence's final c.
    Two ways to feed the input, chosen by the caller (``_kernel_glue.stacked``):

    - stacked, xs (T, D, B) the inputs and W = [W_x | W_h] (4H, D+H): a step's two products are one,
      [W_x | W_h] [x_t; m * h_{t-1}] on a stacked (D+H, B) buffer (small inputs: one product per step
      beats one big input projection whose result must be written out and read back);
    - projected, xs (T, 4H, B) = W_x x_t + b + b_h for all steps (one big product done before) and
      W = W_h (4H, H): the step multiplies h_{t-1} only (large inputs).
    """
    T, K, B = xs.shape
    G = W.shape[0]
    H = G // 4
    stacked = W.shape[1] != H or K != G
    D = W.shape[1] - H
    z = np.empty((W.shape[1], B), dtype=xs.dtype)
    a = np.empty((G, B), dtype=xs.dtype)
    add = rows(bias, B)                                           # the bias broadcast over the batch
    HB = H * B
    for t in range(T):
        n = active[t]
        g_t = t if keep else 0                  # where this step's gates and tanh(c) go
        c0, c1 = (t, t + 1) if keep else (t % 2, (t + 1) % 2)
        if not stacked:
            add = xs[t]                         # the projection made before the loop, bias included
        step_product(W, xs, hs, mask, z, a, t, D)
        gt = gates[g_t]
        if n == B:                              # every sequence runs: one flat, vectorised loop
            a1, g1, d1 = a.ravel(), gt.ravel(), add.ravel()
            cp, cn, hn, th1 = cs[c0].ravel(), cs[c1].ravel(), hs[t + 1].ravel(), tc[g_t].ravel()
            for k in range(HB):
                i, f, g, o, c, th, h = _point(a1[k] + d1[k], a1[HB + k] + d1[HB + k], a1[2 * HB + k] + d1[2 * HB + k],
                                              a1[3 * HB + k] + d1[3 * HB + k], cp[k])
                g1[k], g1[HB + k], g1[2 * HB + k], g1[3 * HB + k] = i, f, g, o
                cn[k], th1[k], hn[k] = c, th, h
            continue
        for j in range(H):
            for b in range(n):
                i, f, g, o, c, th, h = _point(a[j, b] + add[j, b], a[H + j, b] + add[H + j, b],
                                              a[2 * H + j, b] + add[2 * H + j, b],
                                              a[3 * H + j, b] + add[3 * H + j, b], cs[c0, j, b])
                gt[j, b], gt[H + j, b], gt[2 * H + j, b], gt[3 * H + j, b] = i, f, g, o
                cs[c1, j, b], tc[g_t, j, b], hs[t + 1, j, b] = c, th, h
            for b in range(n, B):                                 # padded: no gates, no output
                gt[j, b] = gt[H + j, b] = gt[2 * H + j, b] = gt[3 * H + j, b] = 0
                tc[g_t, j, b] = hs[t + 1, j, b] = 0
                cs[c1, j, b] = 0 if keep else cs[c0, j, b]        # the ring carries the final c


@numba.njit(**JIT)
def backward(W_hT, gates, cs, tc, active, mask, dh, dc, d_out, da, norms):
    """The BPTT loop (equations in ``lstm.backward``). W_hT (H, 4H) contiguous; gates (T, 4H, B);
    cs (T+1, H, B); tc (T, H, B); mask (H, B) or (0, 0); dh, dc (H, B) running gradients, updated in
    place; d_out (T, H, B) or (0, 0, 0); da (T, 4H, B) written: dL/d(pre-activations), zero when padded;
    norms (T,) or (0,): mean over running sequences of ||dL/dh_t||."""
    T, G, B = gates.shape
    H = G // 4
    has_out = d_out.shape[0] > 0
    back = np.empty((H, B), dtype=gates.dtype)
    ss = np.empty(B)
    for t in range(T - 1, -1, -1):
        n = active[t]
        gt, d = gates[t], da[t]
        ss[:] = 0
        for j in range(H):
            for b in range(n):
                delta = dh[j, b] + d_out[t, j, b] if has_out else dh[j, b]
                one = like(delta, 1.0)
                ss[b] += delta * delta
                i, f, g, o = gt[j, b], gt[H + j, b], gt[2 * H + j, b], gt[3 * H + j, b]
                th = tc[t, j, b]
                c = dc[j, b] + delta * o * (one - th * th)
                d[j, b] = c * g * i * (one - i)
                d[H + j, b] = c * cs[t, j, b] * f * (one - f)
                d[2 * H + j, b] = c * i * (one - g * g)
                d[3 * H + j, b] = delta * th * o * (one - o)
                dc[j, b] = c * f
            for b in range(n, B):
                d[j, b] = d[H + j, b] = d[2 * H + j, b] = d[3 * H + j, b] = 0
        carry_back(W_hT, d, back, dh, mask, n, norms, ss, t)


@numba.njit(**JIT)
def step(W_x, W_h, b, b_h, x, h, c):
    """One step for streaming (``lstm.step``), batch-major as the user holds it: x (B, D), h, c (B, H);
    returns new (h, c). Two BLAS products and one fused pass, in one call (the latency is the call)."""
    a = np.dot(x, W_x.T)
    a += np.dot(h, W_h.T)
    B, H = h.shape
    h_new = np.empty_like(h)
    c_new = np.empty_like(c)
    for r in range(B):
        for j in range(H):
            i, f, g, o, cn, th, hn = _point(a[r, j] + b[j] + b_h[j], a[r, H + j] + b[H + j] + b_h[H + j],
                                            a[r, 2 * H + j] + b[2 * H + j] + b_h[2 * H + j],
                                            a[r, 3 * H + j] + b[3 * H + j] + b_h[3 * H + j], c[r, j])
            h_new[r, j], c_new[r, j] = hn, cn
    return h_new, c_new
