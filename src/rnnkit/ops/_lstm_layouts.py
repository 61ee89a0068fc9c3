"""The LSTM's speed layouts: forward and BPTT loops on internal buffer layouts. Private to ``lstm.py``.

The equations are written once, in ``lstm.py``'s docstring; this module computes exactly them on
buffers laid out for speed. The fused rows [i, f, g, o] are what the user sees; inside there are three
layouts, chosen by batch size (all exact; measured with OpenBLAS, 1 thread):

- gate-major ("blocks", B > TIME_BLOCKS_MAX_BATCH): buffers (gate, T, B, H) in the order [g, i, f, o],
  so that every gate of every step is a contiguous (B, H) block (fast elementwise work, even for a
  prefix of the batch), the three sigmoid gates are adjacent, and so are the three gates that backward
  multiplies by dL/dc (i, f, g). The per-step product uses (gate, H, H) weight blocks: one batched
  product, faster than one (B, H) @ (H, 4H) product from B = 2 on (up to 3x at H >= 128).
- time-major gate blocks ("time_blocks", 2 <= B <= TIME_BLOCKS_MAX_BATCH): the same blocks and
  batched product, but the forward buffer is (T, gate, B, H), so that a step's four gates are one
  contiguous (4, B, H) array (each strided 3-D ufunc costs ~1 us more at these sizes). Backward turns
  it into the gate-major layout with one copy and runs as for "blocks".
- fused ("fused", B <= FUSED_MAX_BATCH, i.e. B = 1): time-major buffers (T, B, 4H) with the gate blocks
  in the order [o, i, f, g] (sigmoid gates o, i, f adjacent; dL/dc gates i, f, g adjacent), one
  (H, 4H) matrix-vector product per step, no 3-D views; backward has its own loop (one product per
  step, straight into dL/dh_{t-1}).

All fold the sigmoid into the one tanh of the step: the rows of W_x, W_h and the bias belonging to
sigmoid gates are multiplied by 0.5 once per forward (exact: a power of two), so that tanh of the
pre-activation gives tanh(a/2) for those gates, and sigma(a) = 0.5 tanh(a/2) + 0.5 (bit-identical to
``activations.sigmoid``'s 0.5 (1 + tanh(a/2))). The stored gate values are the same as without it.
Padded steps (past a sequence's length) get zero gates and zero tanh(c), hence zero gradients.
"""
from __future__ import annotations

import numpy as np

from . import _seq
from ._seq import gate_blocks

GATES = 4
ORDER = (2, 0, 1, 3)           # gate-major: internal block k holds fused gate ORDER[k]: g, i, f, o
FORDER = (3, 0, 1, 2)          # fused: internal block k holds fused gate FORDER[k]: o, i, f, g
FUSED_MAX_BATCH = 1
TIME_BLOCKS_MAX_BATCH = 4


def choose(batch: int) -> str:
    """The layout for a batch of this size."""
    if batch <= FUSED_MAX_BATCH:
        return "fused"
    return "time_blocks" if batch <= TIME_BLOCKS_MAX_BATCH else "blocks"


def row_perm(H, order):
    """Row indices taking fused rows [i, f, g, o] to the internal block order."""
    return np.concatenate([np.arange(k * H, (k + 1) * H) for k in order])


def unperm(g, perm):
    """Inverse of ``g = w[perm]`` on the rows."""
    out = np.empty_like(g)
    out[perm] = g
    return out


# ----------------------------------------------------------------------------------------------
# Forward. One step of the cell on gate blocks a = (g, i, f, o) pre-activations (rows pre-halved
# for the sigmoid gates), in place: the seed's §4.1 update.

def _cell_blocks(a, c_prev, c, th, h, ig, half):
    """a (4, n, H) [g, i, f, o] pre-activations -> gates; c = f c_prev + i g; h = o tanh(c)."""
    np.tanh(a, out=a)                                             # g; tanh(a/2) for i, f, o
    s = a[1:]
    s *= half
    s += half                                                     # i, f, o = sigma(a)
    np.multiply(a[2], c_prev, out=c)                              # f * c_{t-1}
    np.multiply(a[1], a[0], out=ig)
    c += ig                                                       # + i * g
    np.tanh(c, out=th)
    np.multiply(a[3], th, out=h)                                  # h = o * tanh(c)


def _loop_gate_blocks(gates_tm, W_hT, hs, cs, tc, sched, m):
    """The step loop shared by "blocks" and "time_blocks": ``gates_tm`` (T, 4, B, H), array or view."""
    T, B, H = tc.shape
    dtype = hs.dtype
    half = dtype.type(0.5)
    rec = np.empty((GATES, B, H), dtype=dtype)                    # h_{t-1} @ W_h.T, per gate
    ig = np.empty((B, H), dtype=dtype)                            # i_t * g_t
    if m is None and sched.active[-1] == B:                       # every sequence runs every step
        for a, hp, hn, cp, cn, th in zip(gates_tm, hs[:-1], hs[1:], cs[:-1], cs[1:], tc):
            np.matmul(hp, W_hT, out=rec)                          # one (batched) product, four gates
            a += rec
            _cell_blocks(a, cp, cn, th, hn, ig, half)
        return
    hm = None if m is None else np.empty((B, H), dtype=dtype)     # m * h_{t-1}
    for t in range(T):
        n = sched.active[t]
        a = gates_tm[t]
        r = rec[:, :n]
        h = hs[t, :n] if m is None else np.multiply(hs[t, :n], m[:n], out=hm[:n])
        np.matmul(h, W_hT, out=r)
        a[:, :n] += r
        _cell_blocks(a[:, :n], cs[t, :n], cs[t + 1, :n], tc[t, :n], hs[t + 1, :n], ig[:n], half)
        if n < B:
            a[:, n:] = 0                                          # padded steps: no gates, no gradient
            tc[t, n:] = 0


def _halved_blocks(params, dtype):
    """W_h as (4, H, H) transposed blocks [g, i, f, o] and the bias (4, H), sigmoid rows halved."""
    half = dtype.type(0.5)
    W_hT = gate_blocks(params["W_h"], GATES, ORDER, transpose=True)     # a new array
    bias = gate_blocks(params["b"] + params["b_h"], GATES, ORDER)       # a new array
    W_hT[1:] *= half
    bias[1:] *= half
    return W_hT, bias


def forward_blocks(params, xt, hs, cs, tc, sched, m):
    """Gate-major forward; returns the gates (4, T, B, H) in the order [g, i, f, o]."""
    T, B, D = xt.shape
    H = hs.shape[-1]
    W_hT, bias = _halved_blocks(params, hs.dtype)
    W_xT = gate_blocks(params["W_x"], GATES, ORDER, transpose=True)     # (4, D, H), a new array
    W_xT[1:] *= hs.dtype.type(0.5)
    gates = np.matmul(xt.reshape(T * B, D), W_xT)                 # all input projections at once
    gates += bias[:, None, :]
    gates = gates.reshape(GATES, T, B, H)                         # pre-activations, then (in place) gates
    _loop_gate_blocks(gates.transpose(1, 0, 2, 3), W_hT, hs, cs, tc, sched, m)
    return gates


def forward_time_blocks(params, xt, hs, cs, tc, sched, m):
    """Time-major gate-blocked forward; returns the gates (T, 4, B, H) in the order [g, i, f, o]."""
    T, B, D = xt.shape
    H = hs.shape[-1]
    W_hT, bias = _halved_blocks(params, hs.dtype)
    scale = np.full(GATES * H, 0.5, dtype=hs.dtype)
    scale[:H] = 1                                                 # g; sigmoid gates i, f, o: halved
    W_xT = params["W_x"][row_perm(H, ORDER)].T * scale            # (D, 4H), blocks g, i, f, o
    pre = xt.reshape(T * B, D) @ W_xT                             # all input projections at once
    pre += bias.reshape(-1)
    gates = np.ascontiguousarray(pre.reshape(T, B, GATES, H).transpose(0, 2, 1, 3))   # (T, 4, B, H)
    del pre
    _loop_gate_blocks(gates, W_hT, hs, cs, tc, sched, m)
    return gates


def forward_fused(params, xt, hs, cs, tc, sched, m):
    """Fused time-major forward for a batch of one; returns the gates (T, 1, 4H), blocks [o, i, f, g]."""
    T, B, D = xt.shape
    H = hs.shape[-1]
    H3, G = 3 * H, GATES * H
    dtype = hs.dtype
    half = dtype.type(0.5)
    perm = row_perm(H, FORDER)
    scale = np.ones(G, dtype=dtype)
    scale[:H3] = half                                             # sigmoid gates o, i, f: halved (exact)
    W_xT = params["W_x"][perm].T * scale                          # (D, 4H)
    W_hT = params["W_h"][perm].T * scale                          # (H, 4H)
    bias = (params["b"] + params["b_h"])[perm]
    bias *= scale
    gates = xt.reshape(T * B, D) @ W_xT                           # all input projections at once
    gates += bias
    gates = gates.reshape(T, B, G)                                # pre-activations, then (in place) gates
    rec = np.empty((B, G), dtype=dtype)
    ig = np.empty((B, H), dtype=dtype)
    hm = None if m is None else np.empty((B, H), dtype=dtype)     # m * h_{t-1}
    # A batch of one (``choose``) runs its first L steps and is padding after them: iterate over
    # precomputed per-step views of those steps (the latency path), then zero the padded rest.
    L = int(sched.sorted_lengths.min())
    O, I, F, Gc = (gates[:L, :, k * H:(k + 1) * H] for k in range(GATES))
    for a, s, o, i, f, g, hp, hn, cp, cn, th in zip(gates[:L], gates[:L, :, :H3], O, I, F, Gc, hs[:L],
                                                    hs[1:L + 1], cs[:L], cs[1:L + 1], tc[:L]):
        np.matmul(hp if m is None else np.multiply(hp, m, out=hm), W_hT, out=rec)
        a += rec
        np.tanh(a, out=a)                                         # g; tanh(a/2) for o, i, f
        s *= half
        s += half                                                 # o, i, f = sigma(a)
        np.multiply(f, cp, out=cn)                                # f * c_{t-1}
        np.multiply(i, g, out=ig)
        cn += ig                                                  # + i * g
        np.tanh(cn, out=th)
        np.multiply(o, th, out=hn)                                # h = o * tanh(c)
    gates[L:] = 0                                                 # padded steps: no gates, no gradient
    tc[L:] = 0
    return gates


FORWARD = {"blocks": forward_blocks, "time_blocks": forward_time_blocks, "fused": forward_fused}


# ----------------------------------------------------------------------------------------------
# Backward (the equations of ``lstm.backward``'s docstring).

def local_factors(Gc, I, F, O, cs, tc, Pg, Pi, Pf, Po):
    """The local factors of dL/da, for all steps at once, into Pg, Pi, Pf, Po (views of one buffer)."""
    one = Gc.dtype.type(1)
    np.multiply(Gc, Gc, out=Pg)                                   # dc/da_g = i (1 - g^2)
    np.subtract(one, Pg, out=Pg)
    Pg *= I
    np.subtract(one, I, out=Pi)                                   # dc/da_i = i (1 - i) g
    Pi *= I
    Pi *= Gc
    np.subtract(one, F, out=Pf)                                   # dc/da_f = f (1 - f) c_{t-1}
    Pf *= F
    Pf *= cs[:-1]
    np.subtract(one, O, out=Po)                                   # dh/da_o = o (1 - o) tanh(c)
    Po *= O
    Po *= tc


def dh_dc(tc, O):
    """dh/dc = o (1 - tanh^2(c)) for all steps."""
    Q = np.multiply(tc, tc)
    np.subtract(tc.dtype.type(1), Q, out=Q)
    Q *= O
    return Q


def _deltas(dh, dc, d_out_tm, Q, tmp, t, n, norms):
    """dL/dh_t (delta_t, complete) and dL/dc_t (dc_t = gamma_t + delta_t dh/dc) for the n running
    sequences at step t, as views into ``dh`` and ``dc``."""
    g = _seq.delta_t(dh, d_out_tm, t, n, norms)
    c = dc[:n]
    np.multiply(g, Q[t, :n], out=tmp[:n])
    c += tmp[:n]
    return g, c


def backward_blocks(W_h, cs, gates, tc, sched, m, dh, dc, d_out_tm, norms):
    """The BPTT loop in the gate-major layout (gates (4, T, B, H), [g, i, f, o]); updates dh and dc in
    place and returns dL/da (4, T, B, H) in the same order."""
    _, T, B, H = gates.shape
    Gc, I, F, O = gates                                           # each (T, B, H)
    da = np.empty_like(gates)                 # starts as the local factors, becomes dL/da in the loop
    Pg, Pi, Pf, Po = da
    local_factors(Gc, I, F, O, cs, tc, Pg, Pi, Pf, Po)
    Q = dh_dc(tc, O)
    W_h4 = gate_blocks(W_h, GATES, ORDER)                         # (4, H, H)
    rec = np.empty((GATES, B, H), dtype=gates.dtype)
    tmp = np.empty((B, H), dtype=gates.dtype)
    for t in range(T - 1, -1, -1):
        n = sched.active[t]
        g, c = _deltas(dh, dc, d_out_tm, Q, tmp, t, n, norms)
        d = da[:, t, :n]
        d[:3] *= c                                                # dL/da_g, dL/da_i, dL/da_f
        d[3] *= g                                                 # dL/da_o
        c *= F[t, :n]                                             # gamma_{t-1}
        r = rec[:, :n]
        np.matmul(d, W_h4, out=r)                                 # delta_{t-1} = W_h^T dL/da_t,
        np.add(r[0], r[1], out=g)                                 # summed over the four gates
        g += r[2]
        g += r[3]
        if m is not None:
            g *= m[:n]                                            # the products read m * h_{t-1}
    return da


def backward_fused(W_h, cs, gates, tc, sched, m, dh, dc, d_out_tm, norms):
    """The BPTT loop in the fused layout (gates (T, B, 4H), blocks [o, i, f, g]); updates dh and dc in
    place and returns dL/da (T*B, 4H) in the same block order."""
    T, B, G = gates.shape
    H = G // GATES
    O, I, F, Gc = (gates[:, :, k * H:(k + 1) * H] for k in range(GATES))
    da = np.empty_like(gates)                 # starts as the local factors, becomes dL/da in the loop
    Po, Pi, Pf, Pg = (da[:, :, k * H:(k + 1) * H] for k in range(GATES))
    local_factors(Gc, I, F, O, cs, tc, Pg, Pi, Pf, Po)
    Q = dh_dc(tc, O)
    W_hP = W_h[row_perm(H, FORDER)]                               # (4H, H), rows o, i, f, g
    tmp = np.empty((B, H), dtype=gates.dtype)
    da4 = da.reshape(T, B, GATES, H)
    for t in range(T - 1, -1, -1):
        n = sched.active[t]
        g, c = _deltas(dh, dc, d_out_tm, Q, tmp, t, n, norms)
        d4 = da4[t, :n]
        d4[:, 0] *= g                                             # dL/da_o
        d4[:, 1:] *= c[:, None]                                   # dL/da_i, dL/da_f, dL/da_g
        c *= F[t, :n]                                             # gamma_{t-1}
        np.matmul(da[t, :n], W_hP, out=g)                         # delta_{t-1} = W_h^T dL/da_t
        if m is not None:
            g *= m[:n]                                            # the products read m * h_{t-1}
    return da.reshape(T * B, G)
