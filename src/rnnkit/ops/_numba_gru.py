"""Compiled GRU kernels (numba): the forward and BPTT loops of ``gru.py`` in one compiled loop each,
for both forms (the seed's, reset before the product, and ``reset_after``, PyTorch's).

Same scheme as ``_numba_lstm`` (feature-major buffers, rows [r, z, n]; one pass per step; the float32
tanh of ``_numba_common``); the equations, z's sense (the share of the new candidate) and the masking
rules of recurrent dropout are ``gru.py``'s (seed §4.2). The input projection W_x x_t + b (+ b_h for r
and z) is always made for all steps before the loop: the n rows keep W_xn x_t and the recurrent part
apart, so the stacked product of the LSTM kernels does not apply.
"""
from __future__ import annotations

import numba
import numpy as np

from ._numba_common import JIT, like, sigmoid, tanh


@numba.njit(**JIT)
def forward(pre, W_h, b_hn, mask, hs, gates, aux, active, reset_after, keep):
    """The forward loop. pre (T, 3H, B) = W_x x_t + b (+ b_h on the r and z rows; on all rows in the
    seed form); W_h (3H, H); b_hn (H,) (reset_after: inside r * (W_hn h + b_hn)); mask (H, B) or (0, 0);
    hs (T+1, H, B) with [0] the initial state (written for t >= 1, zero once a sequence ended); gates
    (T, 3H, B) written [r, z, n]; aux (T, H, B) written: v = W_hn (m h) + b_hn (reset_after), unused in
    the seed form; active[t] = running sequences. ``keep`` False (inference): gates and aux are (1, ...)
    scratch, overwritten every step."""
    T, G, B = pre.shape
    H = G // 3
    masked = mask.shape[0] > 0
    hm = np.empty((H, B), dtype=pre.dtype)
    rec = np.empty((G, B), dtype=pre.dtype)
    rec_rz = rec[:2 * H]
    rec_n = rec[2 * H:]
    W_rz = np.ascontiguousarray(W_h[:2 * H])
    W_n = np.ascontiguousarray(W_h[2 * H:])
    u = np.empty((H, B), dtype=pre.dtype)
    for t in range(T):
        n_run = active[t]
        g_t = t if keep else 0                  # where this step's gates and v go
        a, gt = pre[t], gates[g_t]
        if masked:
            for j in range(H):
                for b in range(B):
                    hm[j, b] = hs[t, j, b] * mask[j, b]
        h_in = hm if masked else hs[t]                            # what the products read
        zero = like(a[0, 0], 0.0)
        if reset_after:                         # one product, one pass: r, z, v, n and h together
            np.dot(W_h, h_in, rec)
            for j in range(H):
                bn = b_hn[j]
                for b in range(n_run):
                    r = sigmoid(a[j, b] + rec[j, b])
                    z = sigmoid(a[H + j, b] + rec[H + j, b])
                    v = rec_n[j, b] + bn
                    cand = tanh(a[2 * H + j, b] + r * v)
                    gt[j, b], gt[H + j, b], gt[2 * H + j, b], aux[g_t, j, b] = r, z, cand, v
                    h_prev = hs[t, j, b]
                    hs[t + 1, j, b] = h_prev + z * (cand - h_prev)    # (1 - z) h_{t-1} + z n
                for b in range(n_run, B):                         # padded: no gates, no output
                    gt[j, b] = gt[H + j, b] = gt[2 * H + j, b] = zero
                    aux[g_t, j, b] = hs[t + 1, j, b] = zero
            continue
        np.dot(W_rz, h_in, rec_rz)              # seed form: r first, then W_hn (r * h)
        for j in range(H):
            for b in range(n_run):
                r = sigmoid(a[j, b] + rec[j, b])
                gt[j, b] = r
                gt[H + j, b] = sigmoid(a[H + j, b] + rec[H + j, b])
                u[j, b] = r * h_in[j, b]
            for b in range(n_run, B):
                u[j, b] = 0
        np.dot(W_n, u, rec_n)
        for j in range(H):
            for b in range(n_run):
                z = gt[H + j, b]
                cand = tanh(a[2 * H + j, b] + rec_n[j, b])
                gt[2 * H + j, b] = cand
                h_prev = hs[t, j, b]
                hs[t + 1, j, b] = h_prev + z * (cand - h_prev)        # (1 - z) h_{t-1} + z n
            for b in range(n_run, B):                             # padded: no gates, no output
                gt[j, b] = gt[H + j, b] = gt[2 * H + j, b] = zero
                aux[g_t, j, b] = hs[t + 1, j, b] = zero


@numba.njit(**JIT)
def backward(W_h, gates, aux, hs, active, mask, reset_after, dh, d_out, da, dv, norms):
    """The BPTT loop (``gru.backward``). W_h (3H, H); gates, aux, hs from forward; dh (H, B) running
    dL/dh, updated in place; d_out (T, H, B) or (0, 0, 0); da (T, 3H, B) written: dL/d[a_r, a_z, a_n]
    (zero when padded); dv (T, H, B) written: dL/dv (reset_after; what the recurrent product of the
    n rows receives); norms (T,) or (0,)."""
    T, G, B = gates.shape
    H = G // 3
    masked = mask.shape[0] > 0
    has_out = d_out.shape[0] > 0
    record = norms.shape[0] > 0
    W_hT = np.ascontiguousarray(W_h.T)                            # (H, 3H): delta_{t-1} = W_h^T e_t
    W_rzT = np.ascontiguousarray(W_h[:2 * H].T)                   # (H, 2H)
    W_nT = np.ascontiguousarray(W_h[2 * H:].T)                    # (H, H)
    back = np.empty((H, B), dtype=gates.dtype)
    du = np.empty((H, B), dtype=gates.dtype)
    delta = np.empty((H, B), dtype=gates.dtype)
    e = np.empty((G, B), dtype=gates.dtype)
    ss = np.empty(B)
    for t in range(T - 1, -1, -1):
        n_run = active[t]
        gt, d = gates[t], da[t]
        ss[:] = 0
        for j in range(H):
            for b in range(n_run):
                g = dh[j, b] + d_out[t, j, b] if has_out else dh[j, b]
                delta[j, b] = g
                ss[b] += g * g
                r, z, cand = gt[j, b], gt[H + j, b], gt[2 * H + j, b]
                one = like(g, 1.0)
                dan = g * z * (one - cand * cand)
                d[2 * H + j, b] = dan
                d[H + j, b] = g * (cand - hs[t, j, b]) * z * (one - z)
                if reset_after:
                    d[j, b] = dan * aux[t, j, b] * r * (one - r)
                    dv[t, j, b] = dan * r
            for b in range(n_run, B):
                d[j, b] = d[H + j, b] = d[2 * H + j, b] = 0
                delta[j, b] = 0
                if reset_after:
                    dv[t, j, b] = 0
        if record:
            norms[t] = np.nan if n_run == 0 else np.sqrt(ss[:n_run]).mean()
        if reset_after:
            e[:2 * H] = d[:2 * H]
            e[2 * H:] = dv[t]
            np.dot(W_hT, e, back)
            for j in range(H):
                for b in range(n_run):
                    p = back[j, b] * mask[j, b] if masked else back[j, b]
                    dh[j, b] = delta[j, b] * (like(p, 1.0) - gt[H + j, b]) + p
        else:
            np.dot(W_nT, np.ascontiguousarray(d[2 * H:]), du)     # du_t = W_hn^T dL/da_n
            for j in range(H):
                for b in range(n_run):
                    r = gt[j, b]
                    hm = hs[t, j, b] * mask[j, b] if masked else hs[t, j, b]
                    d[j, b] = du[j, b] * hm * r * (like(r, 1.0) - r)
            np.dot(W_rzT, np.ascontiguousarray(d[:2 * H]), back)
            for j in range(H):
                for b in range(n_run):
                    p = back[j, b] + du[j, b] * gt[j, b]
                    p = p * mask[j, b] if masked else p
                    dh[j, b] = delta[j, b] * (like(p, 1.0) - gt[H + j, b]) + p


@numba.njit(**JIT)
def step(W_x, W_h, b, b_h, x, h, reset_after):
    """One step for streaming (``gru.step``), either form: x (B, D), h (B, H) batch-major; returns the new h."""
    B, H = h.shape
    a = np.dot(x, W_x.T)
    h_new = np.empty_like(h)
    if reset_after:
        rec = np.dot(h, W_h.T)
        for q in range(B):
            for j in range(H):
                r = sigmoid(a[q, j] + b[j] + b_h[j] + rec[q, j])
                z = sigmoid(a[q, H + j] + b[H + j] + b_h[H + j] + rec[q, H + j])
                cand = tanh(a[q, 2 * H + j] + b[2 * H + j] + r * (rec[q, 2 * H + j] + b_h[2 * H + j]))
                h_new[q, j] = h[q, j] + z * (cand - h[q, j])
        return h_new
    rec = np.dot(h, W_h[:2 * H].T)
    u = np.empty_like(h)
    for q in range(B):
        for j in range(H):
            r = sigmoid(a[q, j] + b[j] + b_h[j] + rec[q, j])
            a[q, H + j] = sigmoid(a[q, H + j] + b[H + j] + b_h[H + j] + rec[q, H + j])
            u[q, j] = r * h[q, j]
    rec_n = np.dot(u, W_h[2 * H:].T)
    for q in range(B):
        for j in range(H):
            cand = tanh(a[q, 2 * H + j] + b[2 * H + j] + b_h[2 * H + j] + rec_n[q, j])
            h_new[q, j] = h[q, j] + a[q, H + j] * (cand - h[q, j])
    return h_new
