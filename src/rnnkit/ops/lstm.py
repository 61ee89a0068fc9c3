"""The LSTM over a batch of sequences, forward and BPTT (seed §4.1).

    i_t = σ(a_i),  f_t = σ(a_f),  g_t = c~_t = tanh(a_g),  o_t = σ(a_o)
    a_t = [a_i; a_f; a_g; a_o] = W_x x_t + W_h h_{t-1} + b + b_h
    c_t = f_t * c_{t-1} + i_t * g_t                                           (seed §4.1)
    h_t = o_t * tanh(c_t)

Weights (one layout, PyTorch's): the four gates are fused row-wise in the order [i, f, g, o]:
    W_x (4H, D) = weight_ih,  W_h (4H, H) = weight_hh,  b (4H,) = bias_ih,  b_h (4H,) = bias_hh,
with rows k*H:(k+1)*H belonging to gate k of [i, f, g, o]. The seed writes each gate as
``W_f · [h_{t-1}, x_t] + b_f`` with one matrix per gate acting on the concatenation; splitting that
matrix by columns, ``W_f · [h, x] = W_hf h + W_xf x``, and stacking the four gates by rows gives our
fused ``W_h`` and ``W_x`` exactly (W_f = [W_h[H:2H] | W_x[H:2H]], and so on). The seed has one bias
per gate; PyTorch keeps two whose sum is what matters, and so do we (``b_h`` starts at zero).

Shapes are batch-first: x (B, T, D), h0 and c0 (B, H), out (B, T, H). The state is the pair (h, c).
With ``lengths`` a sequence stops at its own length: later steps leave its state unchanged, output
zeros and get no gradient; the final state returned is the state at each sequence's last step.

Backward. With delta_t = dL/dh_t (from the output at t and from step t+1) and gamma_t = dL/dc_t
arriving from step t+1:
    dL/da_o     = delta_t * tanh(c_t) * o_t (1 - o_t)
    dc_t        = gamma_t + delta_t * o_t * (1 - tanh^2(c_t))
    dL/da_i     = dc_t * g_t * i_t (1 - i_t)
    dL/da_f     = dc_t * c_{t-1} * f_t (1 - f_t)
    dL/da_g     = dc_t * i_t * (1 - g_t^2)
    gamma_{t-1} = dc_t * f_t
    delta_{t-1} = W_h^T dL/da_t            (+ the output gradient at t-1)
    dL/dW_x = sum_t dL/da_t x_t^T,  dL/dW_h = sum_t dL/da_t h_{t-1}^T,  dL/db = dL/db_h = sum_t dL/da_t
With recurrent dropout (``h_mask`` m, (B, H), the same at every step; Gal & Ghahramani 2016) the gates
read W_h (m * h_{t-1}): delta_{t-1} = m * (W_h^T dL/da_t) and dL/dW_h = sum_t dL/da_t (m * h_{t-1})^T;
the cell path (gamma) is unmasked.
The local factors (everything above except delta and dc) are formed for all steps at once before the
loop, so that each step is one matrix product plus a handful of elementwise operations.

Speed follows ``rnn.py``: one input-projection product before the loop, one (batched) product
``h_{t-1} @ W_h.T`` per step for all four gates, gate math in place on preallocated time-major buffers,
and the weight gradients as one product per gate over all steps after the loop. The sigmoid gates'
weight rows are halved once per forward so that each step needs one tanh over all gates. The internal
buffer layout depends on the batch size (see "Internal layouts" below); the user only ever sees the
fused [i, f, g, o] rows.
"""
from __future__ import annotations

import functools

import numpy as np

from . import _checks, _seq
from ._seq import (batch_first, fuse_blocks, gate_blocks, last_valid, sum_blocks_matmul,
                   time_major, torch_get)
from .activations import sigmoid

GATES = 4


def param_shapes(input_size: int, hidden_size: int) -> dict:
    """Shapes of W_x (4H, D), W_h (4H, H), b (4H,), b_h (4H,); rows [i, f, g, o]."""
    return _seq.param_shapes(input_size, hidden_size, gates=GATES)


def to_torch_layout(params) -> dict:
    """Our weights as ``torch.nn.LSTM``'s (single layer): the layouts are the same, only the names differ."""
    return {"weight_ih": params["W_x"].copy(), "weight_hh": params["W_h"].copy(),
            "bias_ih": params["b"].copy(), "bias_hh": params["b_h"].copy()}


def from_torch_layout(tparams) -> dict:
    """Inverse of ``to_torch_layout``; accepts names with or without the ``_l0`` suffix and tensors."""
    return {"W_x": torch_get(tparams, "weight_ih"), "W_h": torch_get(tparams, "weight_hh"),
            "b": torch_get(tparams, "bias_ih"), "b_h": torch_get(tparams, "bias_hh")}


def _check_state0(state0, B, H, dtype):
    """None, or a pair (h0, c0) whose elements are None or (B, H) arrays; returns the two, checked."""
    if state0 is None:
        return None, None
    if not isinstance(state0, (tuple, list)) or len(state0) != 2:
        got = type(state0).__name__ + (f" of length {len(state0)}" if hasattr(state0, "__len__") else "")
        raise TypeError(f"state0: expected None or a tuple (h, c) of two ({B}, {H}) arrays, got {got}")
    h0, c0 = state0
    h0 = None if h0 is None else _checks.check_state(h0, "h0", B, H, dtype)
    c0 = None if c0 is None else _checks.check_state(c0, "c0", B, H, dtype)
    return h0, c0


# Internal layouts. The fused rows [i, f, g, o] are what the user sees; inside forward/backward there
# are three layouts, chosen by batch size (all exact; measured with OpenBLAS, 1 thread):
#
# - gate-major ("blocks", B > _TIME_BLOCKS_MAX_BATCH): buffers (gate, T, B, H) in the order
#   [g, i, f, o], so that every gate of every step is a contiguous (B, H) block (fast elementwise work,
#   even for a prefix of the batch), the three sigmoid gates are adjacent, and so are the three gates
#   that backward multiplies by dL/dc (i, f, g). The per-step products use (gate, H, H) weight blocks:
#   one batched product, faster than one (B, H) @ (H, 4H) product from B = 2 on (up to 3x at H >= 128).
# - time-major gate blocks ("time_blocks", 2 <= B <= _TIME_BLOCKS_MAX_BATCH): the same blocks and
#   batched product, but the forward buffer is (T, gate, B, H), so that a step's four gates are one
#   contiguous (4, B, H) array (each strided 3-D ufunc costs ~1 us more at these sizes). Backward
#   turns it into the gate-major layout with one copy and runs as for "blocks".
# - fused ("fused", B <= _FUSED_MAX_BATCH, i.e. B = 1): time-major buffers (T, B, 4H) with the gate
#   blocks in the order [o, i, f, g] (sigmoid gates o, i, f adjacent; dL/dc gates i, f, g adjacent),
#   one (H, 4H) matrix-vector product per step, no 3-D views; backward has its own loop (one product
#   per step, straight into dL/dh_{t-1}).
#
# Both fold the sigmoid into the one tanh of the step: the rows of W_x, W_h and the bias belonging to
# sigmoid gates are multiplied by 0.5 once per forward (exact: a power of two), so that tanh of the
# pre-activation gives tanh(a/2) for those gates, and sigma(a) = 0.5 tanh(a/2) + 0.5 (bit-identical to
# ``activations.sigmoid``'s 0.5 (1 + tanh(a/2))). The stored gate values are the same as without it.
_ORDER = (2, 0, 1, 3)          # gate-major: internal block k holds fused gate _ORDER[k]: g, i, f, o
_FORDER = (3, 0, 1, 2)         # fused: internal block k holds fused gate _FORDER[k]: o, i, f, g
_FUSED_MAX_BATCH = 1
_TIME_BLOCKS_MAX_BATCH = 4


def _row_perm(H, order):
    """Row indices taking fused rows [i, f, g, o] to the internal block order."""
    return np.concatenate([np.arange(k * H, (k + 1) * H) for k in order])


def _unperm(g, perm):
    """Inverse of ``g = w[perm]`` on the rows."""
    out = np.empty_like(g)
    out[perm] = g
    return out


def forward(params, x, state0=None, lengths=None, h_mask=None):
    """Run the LSTM over ``x`` (B, T, D). ``state0`` is None (zeros) or ``(h0, c0)``, each (B, H) or None.

    Returns ``(out (B, T, H), (h_T, c_T), cache)``. ``h_mask`` (B, H), optional: recurrent (variational)
    dropout; the gates read W_h (m * h_{t-1}) with the same mask m at every step (the cell path
    c_t = f c_{t-1} + i g is not masked).
    """
    x, dtype, sched, m = _seq.prepare(params, x, lengths, h_mask, param_shapes)
    (B, T, _), H = x.shape, params["W_h"].shape[-1]
    h0, c0 = _check_state0(state0, B, H, dtype)

    xt = time_major(x, sched)                                     # (T, B, D)
    hs = np.zeros((T + 1, B, H), dtype=dtype)                     # hs[t+1] = h_t; hs[0] = h0
    cs = np.zeros((T + 1, B, H), dtype=dtype)                     # cs[t+1] = c_t; cs[0] = c0
    tc = np.empty((T, B, H), dtype=dtype)                         # tanh(c_t)
    if h0 is not None:
        hs[0] = sched.sort(h0)
    if c0 is not None:
        cs[0] = sched.sort(c0)
    layout = "fused" if B <= _FUSED_MAX_BATCH else "time_blocks" if B <= _TIME_BLOCKS_MAX_BATCH else "blocks"
    gates = _LOOPS[layout](params, xt, hs, cs, tc, sched, m)

    out = batch_first(hs[1:], sched)
    h_T = sched.unsort(last_valid(hs, sched))
    c_T = sched.unsort(last_valid(cs, sched))
    cache = (params, xt, hs, cs, gates, tc, sched, m, layout)
    return out, (h_T, c_T), cache


def _loop_blocks(params, xt, hs, cs, tc, sched, m):
    """Gate-major forward loop; returns the gates (4, T, B, H) in the order [g, i, f, o]."""
    T, B, D = xt.shape
    H = hs.shape[-1]
    dtype = hs.dtype
    half = dtype.type(0.5)
    W_xT = gate_blocks(params["W_x"], GATES, _ORDER, transpose=True)   # (4, D, H), a new array
    W_hT = gate_blocks(params["W_h"], GATES, _ORDER, transpose=True)   # (4, H, H), a new array
    bias = gate_blocks(params["b"] + params["b_h"], GATES, _ORDER)     # (4, H), a new array
    W_xT[1:] *= half                                              # sigmoid gates i, f, o: halved (exact)
    W_hT[1:] *= half
    bias[1:] *= half
    gates = np.matmul(xt.reshape(T * B, D), W_xT)                 # all input projections at once
    gates += bias[:, None, :]
    gates = gates.reshape(GATES, T, B, H)                         # pre-activations, then (in place) gates

    rec = np.empty((GATES, B, H), dtype=dtype)                    # h_{t-1} @ W_h.T, per gate
    ig = np.empty((B, H), dtype=dtype)                            # i_t * g_t
    hm = None if m is None else np.empty((B, H), dtype=dtype)     # m * h_{t-1}
    for t in range(T):
        n = sched.active[t]
        a = gates[:, t, :n]                                       # (4, n, H): g, i, f, o
        r = rec[:, :n]
        h = hs[t, :n] if m is None else np.multiply(hs[t, :n], m[:n], out=hm[:n])
        np.matmul(h, W_hT, out=r)                                 # one (batched) product, four gates
        a += r
        np.tanh(a, out=a)                                         # g; tanh(a/2) for i, f, o
        s = a[1:]
        s *= half
        s += half                                                 # i, f, o = sigma(a)
        c = cs[t + 1, :n]
        np.multiply(a[2], cs[t, :n], out=c)                       # f * c_{t-1}
        np.multiply(a[1], a[0], out=ig[:n])
        c += ig[:n]                                               # + i * g
        th = tc[t, :n]
        np.tanh(c, out=th)
        np.multiply(a[3], th, out=hs[t + 1, :n])                  # h = o * tanh(c)
        if n < B:
            gates[:, t, n:] = 0                                   # padded steps: no gates, no gradient
            tc[t, n:] = 0
    return gates


def _loop_time_blocks(params, xt, hs, cs, tc, sched, m):
    """Time-major gate-blocked forward loop; returns the gates (T, 4, B, H) in the order [g, i, f, o]."""
    T, B, D = xt.shape
    H = hs.shape[-1]
    dtype = hs.dtype
    half = dtype.type(0.5)
    perm = _row_perm(H, _ORDER)
    scale = np.full(GATES * H, half, dtype=dtype)
    scale[:H] = 1                                                 # g; sigmoid gates i, f, o: halved (exact)
    W_xT = params["W_x"][perm].T * scale                          # (D, 4H), blocks g, i, f, o
    W_hT = gate_blocks(params["W_h"], GATES, _ORDER, transpose=True)   # (4, H, H), a new array
    W_hT[1:] *= half
    bias = (params["b"] + params["b_h"])[perm]
    bias *= scale
    pre = xt.reshape(T * B, D) @ W_xT                             # all input projections at once
    pre += bias
    gates = np.ascontiguousarray(pre.reshape(T, B, GATES, H).transpose(0, 2, 1, 3))   # (T, 4, B, H)
    del pre

    rec = np.empty((GATES, B, H), dtype=dtype)
    ig = np.empty((B, H), dtype=dtype)
    if m is None and (T == 0 or sched.active[-1] == B):
        for a, hp, hn, cp, cn, th in zip(gates, hs[:-1], hs[1:], cs[:-1], cs[1:], tc):
            np.matmul(hp, W_hT, out=rec)                          # one (batched) product, four gates
            a += rec                                              # a (4, B, H) contiguous: g, i, f, o
            np.tanh(a, out=a)                                     # g; tanh(a/2) for i, f, o
            s = a[1:]
            s *= half
            s += half                                             # i, f, o = sigma(a)
            np.multiply(a[2], cp, out=cn)                         # f * c_{t-1}
            np.multiply(a[1], a[0], out=ig)
            cn += ig                                              # + i * g
            np.tanh(cn, out=th)
            np.multiply(a[3], th, out=hn)                         # h = o * tanh(c)
        return gates

    hm = None if m is None else np.empty((B, H), dtype=dtype)     # m * h_{t-1}
    for t in range(T):
        n = sched.active[t]
        a = gates[t, :, :n]                                       # (4, n, H): g, i, f, o
        r = rec[:, :n]
        h = hs[t, :n] if m is None else np.multiply(hs[t, :n], m[:n], out=hm[:n])
        np.matmul(h, W_hT, out=r)
        a += r
        np.tanh(a, out=a)
        s = a[1:]
        s *= half
        s += half
        c = cs[t + 1, :n]
        np.multiply(a[2], cs[t, :n], out=c)
        np.multiply(a[1], a[0], out=ig[:n])
        c += ig[:n]
        th = tc[t, :n]
        np.tanh(c, out=th)
        np.multiply(a[3], th, out=hs[t + 1, :n])
        if n < B:
            gates[t, :, n:] = 0                                   # padded steps: no gates, no gradient
            tc[t, n:] = 0
    return gates


def _loop_fused(params, xt, hs, cs, tc, sched, m):
    """Fused time-major forward loop; returns the gates (T, B, 4H) with blocks [o, i, f, g]."""
    T, B, D = xt.shape
    H = hs.shape[-1]
    H2, H3, G = 2 * H, 3 * H, GATES * H
    dtype = hs.dtype
    half = dtype.type(0.5)
    perm = _row_perm(H, _FORDER)
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

    if m is None and (T == 0 or sched.active[-1] == B):
        # every sequence runs every step: iterate over precomputed per-step views
        O, I, F, Gc = (gates[:, :, k * H:(k + 1) * H] for k in range(GATES))
        S = gates[:, :, :H3]
        for a, s, o, i, f, g, hp, hn, cp, cn, th in zip(gates, S, O, I, F, Gc, hs[:-1], hs[1:],
                                                        cs[:-1], cs[1:], tc):
            np.matmul(hp, W_hT, out=rec)
            a += rec
            np.tanh(a, out=a)                                     # g; tanh(a/2) for o, i, f
            s *= half
            s += half                                             # o, i, f = sigma(a)
            np.multiply(f, cp, out=cn)                            # f * c_{t-1}
            np.multiply(i, g, out=ig)
            cn += ig                                              # + i * g
            np.tanh(cn, out=th)
            np.multiply(o, th, out=hn)                            # h = o * tanh(c)
        return gates

    hm = None if m is None else np.empty((B, H), dtype=dtype)     # m * h_{t-1}
    for t in range(T):
        n = sched.active[t]
        a = gates[t, :n]                                          # (n, 4H): o, i, f, g
        h = hs[t, :n] if m is None else np.multiply(hs[t, :n], m[:n], out=hm[:n])
        np.matmul(h, W_hT, out=rec[:n])
        a += rec[:n]
        np.tanh(a, out=a)
        s = a[:, :H3]
        s *= half
        s += half
        c = cs[t + 1, :n]
        np.multiply(a[:, H2:H3], cs[t, :n], out=c)
        np.multiply(a[:, H:H2], a[:, H3:], out=ig[:n])
        c += ig[:n]
        th = tc[t, :n]
        np.tanh(c, out=th)
        np.multiply(a[:, :H], th, out=hs[t + 1, :n])
        if n < B:
            gates[t, n:] = 0                                      # padded steps: no gates, no gradient
            tc[t, n:] = 0
    return gates


_LOOPS = {"blocks": _loop_blocks, "time_blocks": _loop_time_blocks, "fused": _loop_fused}


def backward(cache, d_out=None, d_state=None, record=None):
    """BPTT. ``d_out`` (B, T, H) is dL/d out; ``d_state`` is None or ``(dh_T, dc_T)`` (either may be None).

    Returns ``(dx (B, T, D), (dh0, dc0), grads)`` with ``grads`` keyed like ``params``.

    ``record``: None, or a list to which one (T,) float64 array is appended: at index t, the mean over
    the running sequences of ||dL/dh_t||_2 (delta_t: the gradient reaching h_t from the output at t and
    from step t+1, with c_t held fixed; see ``rnn.backward``). The cell gradient dL/dc_t is not recorded.
    """
    params, xt, hs, cs, gates, tc, sched, m, layout = cache
    W_x, W_h = params["W_x"], params["W_h"]
    T, B, D = xt.shape
    H = W_h.shape[1]
    dtype = W_x.dtype

    dh_T, dc_T = (None, None) if d_state is None else d_state
    dh = np.zeros((B, H), dtype=dtype) if dh_T is None else sched.sort(np.asarray(dh_T, dtype=dtype)).copy()
    dc = np.zeros((B, H), dtype=dtype) if dc_T is None else sched.sort(np.asarray(dc_T, dtype=dtype)).copy()
    d_out_tm = None if d_out is None else sched.sort(np.asarray(d_out, dtype=dtype)).swapaxes(0, 1)
    norms = None if record is None else np.empty(T)
    if layout == "time_blocks":                                   # (T, 4, B, H) -> gate-major, one copy
        gates = np.ascontiguousarray(gates.transpose(1, 0, 2, 3))
    if layout == "fused":
        da2 = _backward_fused(W_h, hs, cs, gates, tc, sched, m, dh, dc, d_out_tm, norms)
        perm = _row_perm(H, _FORDER)
        h_prev = hs[:-1] if m is None else hs[:-1] * m
        grads = {
            "W_x": _unperm(da2.T @ xt.reshape(T * B, D), perm),
            "W_h": _unperm(da2.T @ h_prev.reshape(T * B, H), perm),
            "b": _unperm(da2.sum(axis=0), perm),
        }
        grads["b_h"] = grads["b"].copy()
        dx = da2 @ W_x[perm]
        dx = batch_first(dx.reshape(T, B, D), sched)
        if record is not None:
            record.append(norms)
        return dx, (sched.unsort(dh), sched.unsort(dc)), grads

    # Local factors for all steps at once (padded rows have zero gates, hence zero factors).
    Gc, I, F, O = gates                                           # each (T, B, H)
    da = np.empty_like(gates)                 # starts as the local factors, becomes dL/da in the loop
    Pg, Pi, Pf, Po = da
    _local_factors(Gc, I, F, O, cs, tc, Pg, Pi, Pf, Po)
    Q = _dh_dc(tc, O)
    W_h4 = gate_blocks(W_h, GATES, _ORDER)                        # (4, H, H)
    rec = np.empty((GATES, B, H), dtype=dtype)
    tmp = np.empty((B, H), dtype=dtype)

    for t in range(T - 1, -1, -1):
        n = sched.active[t]
        g = _seq.delta_t(dh, d_out_tm, t, n, norms)        # dL/dh_t, complete here
        c = dc[:n]
        np.multiply(g, Q[t, :n], out=tmp[:n])
        c += tmp[:n]                                              # dc_t
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

    da3 = da.reshape(GATES, T * B, H)
    h_prev = hs[:-1] if m is None else hs[:-1] * m
    daT = da3.transpose(0, 2, 1)                                  # (4, H, T*B)
    grads = {
        "W_x": fuse_blocks(np.matmul(daT, xt.reshape(T * B, D)), _ORDER),
        "W_h": fuse_blocks(np.matmul(daT, h_prev.reshape(T * B, H)), _ORDER),
        "b": fuse_blocks(da3.sum(axis=1), _ORDER),
    }
    grads["b_h"] = grads["b"].copy()
    dx = sum_blocks_matmul(da3, gate_blocks(W_x, GATES, _ORDER))
    dx = batch_first(dx.reshape(T, B, D), sched)
    if record is not None:
        record.append(norms)
    return dx, (sched.unsort(dh), sched.unsort(dc)), grads


def _local_factors(Gc, I, F, O, cs, tc, Pg, Pi, Pf, Po):
    """The local factors of dL/da, for all steps at once, into Pg, Pi, Pf, Po (views of one buffer)."""
    one = Gc.dtype.type(1)
    np.multiply(Gc, Gc, out=Pg); np.subtract(one, Pg, out=Pg); Pg *= I   # dc/da_g = i (1 - g^2)
    np.subtract(one, I, out=Pi); Pi *= I; Pi *= Gc               # dc/da_i = i (1 - i) g
    np.subtract(one, F, out=Pf); Pf *= F; Pf *= cs[:-1]          # dc/da_f = f (1 - f) c_{t-1}
    np.subtract(one, O, out=Po); Po *= O; Po *= tc               # dh/da_o = o (1 - o) tanh(c)


def _dh_dc(tc, O):
    """dh/dc = o (1 - tanh^2(c)) for all steps."""
    Q = np.multiply(tc, tc)
    np.subtract(tc.dtype.type(1), Q, out=Q)
    Q *= O
    return Q


def _backward_fused(W_h, hs, cs, gates, tc, sched, m, dh, dc, d_out_tm, norms):
    """The BPTT loop in the fused layout (gates (T, B, 4H), blocks [o, i, f, g]); updates dh and dc in
    place and returns dL/da (T*B, 4H) in the same block order."""
    T, B, G = gates.shape
    H = G // GATES
    dtype = gates.dtype
    O, I, F, Gc = (gates[:, :, k * H:(k + 1) * H] for k in range(GATES))
    da = np.empty_like(gates)                 # starts as the local factors, becomes dL/da in the loop
    Po, Pi, Pf, Pg = (da[:, :, k * H:(k + 1) * H] for k in range(GATES))
    _local_factors(Gc, I, F, O, cs, tc, Pg, Pi, Pf, Po)
    Q = _dh_dc(tc, O)
    W_hP = W_h[_row_perm(H, _FORDER)]                             # (4H, H), rows o, i, f, g
    tmp = np.empty((B, H), dtype=dtype)
    da4 = da.reshape(T, B, GATES, H)
    for t in range(T - 1, -1, -1):
        n = sched.active[t]
        g = _seq.delta_t(dh, d_out_tm, t, n, norms)        # dL/dh_t, complete here
        c = dc[:n]
        np.multiply(g, Q[t, :n], out=tmp[:n])
        c += tmp[:n]                                              # dc_t
        d4 = da4[t, :n]
        d4[:, 0] *= g                                             # dL/da_o
        d4[:, 1:] *= c[:, None]                                   # dL/da_i, dL/da_f, dL/da_g
        c *= F[t, :n]                                             # gamma_{t-1}
        np.matmul(da[t, :n], W_hP, out=g)                         # delta_{t-1} = W_h^T dL/da_t
        if m is not None:
            g *= m[:n]                                            # the products read m * h_{t-1}
    return da.reshape(T * B, G)


@functools.lru_cache(maxsize=32)
def _step_consts(H, dtype):
    """(scale, offset), each (4H,) in the fused order [i, f, g, o]: 0.5 and 0.5 on the sigmoid gates,
    1 and 0 on g, so that ``tanh(a * scale) * scale + offset`` is sigma on i, f, o and tanh on g.
    Read-only constants (one pair per (H, dtype)), not state."""
    scale = np.full(GATES * H, 0.5, dtype=dtype)
    offset = scale.copy()
    scale[2 * H:3 * H] = 1
    offset[2 * H:3 * H] = 0
    scale.flags.writeable = offset.flags.writeable = False
    return scale, offset


def step(params, x_t, state):
    """One time step for streaming inference; x_t (B, D), state (h, c) each (B, H). Returns ``(h, c)``.

    No validation and no cache: this is the latency path. Use ``forward`` for training.
    The gates are one tanh over all 4H pre-activations: the sigmoid gates' are halved before and
    mapped by 0.5 t + 0.5 after (exact, and bit-identical to ``activations.sigmoid``).
    """
    h, c = state
    H = h.shape[-1]
    H2, H3 = 2 * H, 3 * H
    a = x_t @ params["W_x"].T
    a += params["b"] + params["b_h"]
    a += h @ params["W_h"].T
    if a.dtype.kind == "f":
        scale, offset = _step_consts(H, a.dtype)
        a *= scale
        np.tanh(a, out=a)
        a *= scale
        a += offset
    else:                                                         # not reached with float weights
        sigmoid(a[..., :H2], out=a[..., :H2])
        np.tanh(a[..., H2:H3], out=a[..., H2:H3])
        sigmoid(a[..., H3:], out=a[..., H3:])
    c_new = a[..., H:H2] * c
    c_new += a[..., :H] * a[..., H2:H3]
    h_new = np.tanh(c_new)
    h_new *= a[..., H3:]
    return h_new, c_new
