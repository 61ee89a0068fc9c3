"""The LSTM on the compiled kernels (``_numba_lstm``): NumPy glue around one compiled loop per direction.

Private to ``lstm.py``. The big products stay in NumPy (one input projection for all steps before the
loop, the weight gradients and dx after it); the kernels own the sequential part. Their buffers are
feature-major (T, 4H, B) / (T, H, B), rows [i, f, g, o]; the state buffers ``hs`` and ``cs`` the caller
passes are batch-major (T+1, B, H) as for every other layout, and are filled from the kernel's.
"""
from __future__ import annotations

import os

import numpy as np

STACK_RATIO = float(os.environ.get("RNNKIT_STACK_RATIO", "4"))


def _empty(ndim, dtype):
    return np.empty((0,) * ndim, dtype=dtype)


def stacked(D, H):
    """Whether a step multiplies [W_x | W_h] by [x_t; h_{t-1}] (small inputs) rather than reading one
    input projection made for all steps before the loop (large inputs); measured, see ``_numba_lstm``."""
    return D * STACK_RATIO <= H


def forward(K, params, xt, hs, cs, sched, m):
    """Run the forward kernel ``K.forward``; fills hs[1:] and each sequence's final c into ``cs``;
    returns the kernel state backward reads."""
    T, B, D = xt.shape
    H = hs.shape[-1]
    G, dtype = 4 * H, hs.dtype
    hsT = np.empty((T + 1, H, B), dtype=dtype)
    csT = np.empty((T + 1, H, B), dtype=dtype)
    hsT[0], csT[0] = hs[0].T, cs[0].T
    gates = np.empty((T, G, B), dtype=dtype)
    tc = np.empty((T, H, B), dtype=dtype)
    mask = _empty(2, dtype) if m is None else np.ascontiguousarray(m.T)
    active = np.asarray(sched.active, dtype=np.int64)
    bias = params["b"] + params["b_h"]
    if stacked(D, H):
        xs = np.ascontiguousarray(xt.transpose(0, 2, 1))              # (T, D, B)
        W = np.concatenate([params["W_x"], params["W_h"]], axis=1)    # (4H, D+H): one product per step
    else:
        xs = np.empty((T, G, B), dtype=dtype)                         # W_x x_t + b + b_h, all steps at once
        np.add((xt.reshape(T * B, D) @ params["W_x"].T).reshape(T, B, G).transpose(0, 2, 1), bias[:, None],
               out=xs)
        W = np.ascontiguousarray(params["W_h"])
    K.forward(xs, W, bias, mask, hsT, csT, gates, tc, active)
    hs[1:] = hsT[1:].transpose(0, 2, 1)
    last, cols = sched.sorted_lengths, np.arange(B)
    cs[last, cols] = csT[last, :, cols]                           # all ``final_states`` reads of cs
    return K, gates, csT, tc, mask, active


def backward(params, xt, hs, kstate, m, dh, dc, d_out_tm, norms):
    """Run the BPTT kernel; updates dh, dc (B, H) in place; returns ``(dx (T*B, D), grads)``."""
    K, gates, csT, tc, mask, active = kstate
    T, B, D = xt.shape
    H = hs.shape[-1]
    dtype = hs.dtype
    dhT, dcT = np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T)
    d_outT = _empty(3, dtype) if d_out_tm is None else np.ascontiguousarray(d_out_tm.transpose(0, 2, 1))
    da = np.empty_like(gates)
    K.backward(np.ascontiguousarray(params["W_h"].T), gates, csT, tc, active, mask, dhT, dcT, d_outT, da,
               np.empty(0) if norms is None else norms)
    dh[:], dc[:] = dhT.T, dcT.T
    da2 = np.ascontiguousarray(da.transpose(1, 0, 2)).reshape(4 * H, T * B)     # columns t*B + b
    h_prev = (hs[:-1] if m is None else hs[:-1] * m).reshape(T * B, H)           # what W_h multiplied
    grads = {"W_x": da2 @ xt.reshape(T * B, D), "W_h": da2 @ h_prev, "b": da2.sum(axis=1)}
    return da2.T @ params["W_x"], grads
