"""NumPy glue around the compiled kernels (``_numba_<cell>``): the parts of forward and BPTT that are
not sequential. Private to the cell modules.

The big products stay in NumPy: the input projection for all steps (when it is not stacked into the
step's product, see ``stacked``), and after the BPTT loop the weight gradients and dx, each one product
over all steps. The kernels own the time loops. Their buffers are feature-major, (T, G*H, B) and
(T+1, H, B); the state buffers ``hs`` (and ``cs``) the cell passes are batch-major (T+1, B, H), as for
the NumPy loops, and are filled from the kernel's, so that ``_seq.batch_first`` and ``final_states``
work unchanged.
"""
from __future__ import annotations

import os

import numpy as np

# A step multiplies [W_x | W_h] by [x_t; h_{t-1}] when D * STACK_RATIO <= H (measured: for small inputs
# one product per step beats one big input projection whose (T, G*H, B) result is written out and read
# back; for large inputs the big projection wins). RNNKIT_STACK_RATIO overrides it for experiments.
STACK_RATIO = float(os.environ.get("RNNKIT_STACK_RATIO", "4"))


def stacked(D: int, H: int) -> bool:
    """Whether a step's product is the stacked [W_x | W_h] [x_t; h_{t-1}] (small inputs)."""
    return D * STACK_RATIO <= H


def empty(ndim: int, dtype):
    """The kernels' "none" for an optional array argument (numba wants one type, not None)."""
    return np.empty((0,) * ndim, dtype=dtype)


def project(W_x, xt, bias):
    """The input projection W_x x_t + bias for all steps, feature-major (T, G*H, B).

    For a batch, one (G*H, D) x (D, B) product per step (``np.matmul`` over the steps) writes the
    layout directly: measured twice as fast as one big (T*B, D) x (D, G*H) product followed by the
    transposing copy (32x100x64x128: 5.4 vs 10.2 ms; 64x200x128x256: 55 vs 112 ms). For a batch of
    one the transposition is free and the one big product wins."""
    T, B, D = xt.shape
    if B == 1:
        xs = (xt.reshape(T, D) @ W_x.T).reshape(T, -1, 1)
    else:
        xs = np.matmul(W_x, np.ascontiguousarray(xt.transpose(0, 2, 1)))
    xs += bias[:, None]
    return xs


def feed(params, xt, bias):
    """(xs, W) for a kernel's forward: stacked inputs (T, D, B) and [W_x | W_h], or the input projection
    W_x x_t + bias for all steps (T, G*H, B) and W_h."""
    D = xt.shape[2]
    H = params["W_h"].shape[1]
    if stacked(D, H):
        return (np.ascontiguousarray(xt.transpose(0, 2, 1)),
                np.concatenate([params["W_x"], params["W_h"]], axis=1))
    return project(params["W_x"], xt, bias), np.ascontiguousarray(params["W_h"])


def feature_major(state0_bm, T):
    """A (T+1, H, B) kernel state buffer with [0] = the batch-major initial state (B, H)."""
    B, H = state0_bm.shape
    buf = np.empty((T + 1, H, B), dtype=state0_bm.dtype)
    buf[0] = state0_bm.T
    return buf


def mask_and_active(m, sched, dtype):
    """The recurrent-dropout mask as the kernels take it ((H, B), or empty) and the active counts."""
    mask = empty(2, dtype) if m is None else np.ascontiguousarray(m.T)
    return mask, np.asarray(sched.active, dtype=np.int64)


def time_major_grad(d_out_tm, dtype):
    """dL/d out as the kernels take it: (T, H, B) contiguous, or empty."""
    return empty(3, dtype) if d_out_tm is None else np.ascontiguousarray(d_out_tm.transpose(0, 2, 1))


def columns(a):
    """(T, R, B) -> (R, T*B), columns t*B + b: the layout of one product over all steps."""
    T, R, B = a.shape
    return np.ascontiguousarray(a.transpose(1, 0, 2)).reshape(R, T * B)


def products_after(da, xt, h_prev, W_x):
    """From dL/da (T, G*H, B): ``(dx (T*B, D), dL/dW_x, dL/dW_h, dL/db)``, one product each over all
    steps; ``h_prev`` (T*B, H) is what W_h multiplied (batch-major rows t*B + b)."""
    da2 = columns(da)
    return da2.T @ W_x, da2 @ xt.reshape(-1, xt.shape[2]), da2 @ h_prev, da2.sum(axis=1)


def step_args(params, x_t, *states):
    """The arguments of a compiled ``step`` (weights, biases, x_t and the states, contiguous), or None
    when the call is not one the kernels were compiled for (another dtype, a mix of dtypes, or not a
    (B, D) batch): the NumPy ``step`` then runs, with NumPy's promotion rules. Cheap checks only: this
    is the latency path."""
    W_x = params["W_x"]
    dtype = W_x.dtype
    if dtype.char not in "fd" or type(x_t) is not np.ndarray or x_t.ndim != 2 or x_t.dtype != dtype:
        return None
    for s in states:
        if type(s) is not np.ndarray or s.ndim != 2 or s.dtype != dtype:
            return None
    # contiguous as the kernels were compiled for (x[:, t] of a (B, T, D) batch is not); a no-op otherwise
    return (W_x, params["W_h"], params["b"], params["b_h"], np.ascontiguousarray(x_t),
            *map(np.ascontiguousarray, states))


def _h_prev(hs, m):
    T1, B, H = hs.shape
    return (hs[:-1] if m is None else hs[:-1] * m).reshape((T1 - 1) * B, H)


# ----------------------------------------------------------------------------------------------
# LSTM

def lstm_forward(K, params, xt, hs, cs, sched, m, keep=True):
    """Run ``_numba_lstm.forward``; fills hs[1:] and each sequence's final c in ``cs``; returns the
    kernel state ``lstm_backward`` reads, or None with ``keep`` False (inference: the gates, tanh(c)
    and the c of every step are not kept, which saves their memory and its traffic)."""
    T, B, _ = xt.shape
    H = hs.shape[-1]
    dtype = hs.dtype
    kept = T if keep else 1
    hsT = feature_major(hs[0], T)
    csT = feature_major(cs[0], T if keep else 1)                  # all steps, or a ring of two
    gates = np.empty((kept, 4 * H, B), dtype=dtype)
    tc = np.empty((kept, H, B), dtype=dtype)
    mask, active = mask_and_active(m, sched, dtype)
    bias = params["b"] + params["b_h"]
    xs, W = feed(params, xt, bias)
    K.forward(xs, W, bias, mask, hsT, csT, gates, tc, active, keep)
    hs[1:] = hsT[1:].transpose(0, 2, 1)
    last, cols = sched.sorted_lengths, np.arange(B)
    cs[last, cols] = csT[last, :, cols] if keep else csT[T % 2].T     # all that ``final_states`` reads
    return (K, gates, csT, tc, mask, active) if keep else None


def lstm_backward(params, xt, hs, kstate, m, dh, dc, d_out_tm, norms):
    """Run ``_numba_lstm.backward``; updates dh, dc (B, H) in place; returns ``(dx (T*B, D), grads)``."""
    K, gates, csT, tc, mask, active = kstate
    dhT, dcT = np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T)
    da = np.empty_like(gates)
    K.backward(np.ascontiguousarray(params["W_h"].T), gates, csT, tc, active, mask, dhT, dcT,
               time_major_grad(d_out_tm, hs.dtype), da, np.empty(0) if norms is None else norms)
    dh[:], dc[:] = dhT.T, dcT.T
    dx, gW_x, gW_h, gb = products_after(da, xt, _h_prev(hs, m), params["W_x"])
    return dx, {"W_x": gW_x, "W_h": gW_h, "b": gb}


# ----------------------------------------------------------------------------------------------
# RNN

def rnn_forward(K, params, xt, hs, sched, m, relu, keep=True):
    """Run ``_numba_rnn.forward``; fills hs[1:]; returns the kernel state ``rnn_backward`` reads."""
    T = xt.shape[0]
    hsT = feature_major(hs[0], T)
    mask, active = mask_and_active(m, sched, hs.dtype)
    bias = params["b"] + params["b_h"]
    xs, W = feed(params, xt, bias)
    K.forward(xs, W, bias, mask, hsT, active, relu)
    hs[1:] = hsT[1:].transpose(0, 2, 1)
    return (K, hsT, mask, active, relu) if keep else None


def rnn_backward(params, xt, hs, kstate, m, dh, d_out_tm, norms):
    """Run ``_numba_rnn.backward``; updates dh (B, H) in place; returns ``(dx (T*B, D), grads)``."""
    K, hsT, mask, active, relu = kstate
    T, B, _ = xt.shape
    dhT = np.ascontiguousarray(dh.T)
    da = np.empty((T, hs.shape[-1], B), dtype=hs.dtype)
    K.backward(np.ascontiguousarray(params["W_h"].T), hsT, active, mask, relu, dhT,
               time_major_grad(d_out_tm, hs.dtype), da, np.empty(0) if norms is None else norms)
    dh[:] = dhT.T
    dx, gW_x, gW_h, gb = products_after(da, xt, _h_prev(hs, m), params["W_x"])
    return dx, {"W_x": gW_x, "W_h": gW_h, "b": gb}


# ----------------------------------------------------------------------------------------------
# GRU

def gru_forward(K, params, xt, hs, sched, m, bias, reset_after, keep=True):
    """Run ``_numba_gru.forward``; fills hs[1:]; returns the kernel state ``gru_backward`` reads (None
    with ``keep`` False: inference keeps no gates). ``bias`` is the input projection's: b + b_h on the
    r and z rows, and on the n rows b (reset_after) or b + b_h (the seed form)."""
    T, B, _ = xt.shape
    H = hs.shape[-1]
    b_h = params["b_h"]
    hsT = feature_major(hs[0], T)
    gates = np.empty((T if keep else 1, 3 * H, B), dtype=hs.dtype)
    aux = np.empty((T if keep else 1, H, B), dtype=hs.dtype)
    mask, active = mask_and_active(m, sched, hs.dtype)
    K.forward(project(params["W_x"], xt, bias), np.ascontiguousarray(params["W_h"]), b_h[2 * H:].copy(), mask,
              hsT, gates, aux, active, bool(reset_after), keep)
    hs[1:] = hsT[1:].transpose(0, 2, 1)
    return (K, gates, aux, hsT, mask, active, bool(reset_after)) if keep else None


def gru_backward(params, xt, hs, kstate, m, dh, d_out_tm, norms):
    """Run ``_numba_gru.backward``; updates dh (B, H) in place; returns ``(dx (T*B, D), grads)``."""
    K, gates, aux, hsT, mask, active, reset_after = kstate
    T, G, B = gates.shape
    H = G // 3
    dhT = np.ascontiguousarray(dh.T)
    da = np.empty_like(gates)
    dv = np.empty((T, H, B) if reset_after else (0, 0, 0), dtype=hs.dtype)
    K.backward(np.ascontiguousarray(params["W_h"]), gates, aux, hsT, active, mask, reset_after, dhT,
               time_major_grad(d_out_tm, hs.dtype), da, dv, np.empty(0) if norms is None else norms)
    dh[:] = dhT.T
    da2 = columns(da)
    hm_prev = _h_prev(hs, m)
    grads = {"W_x": da2 @ xt.reshape(T * B, -1), "b": da2.sum(axis=1)}
    if reset_after:                         # the recurrent product of the n rows receives dL/dv
        e2 = da2.copy()
        e2[2 * H:] = columns(dv)
        grads["W_h"], grads["b_h"] = e2 @ hm_prev, e2.sum(axis=1)
    else:                                   # W_hn multiplied u = r * (m *) h_{t-1}
        u = columns(gates[:, :H]).T * hm_prev
        grads["W_h"] = np.concatenate([da2[:2 * H] @ hm_prev, da2[2 * H:] @ u])
        grads["b_h"] = grads["b"].copy()
    return da2.T @ params["W_x"], grads
