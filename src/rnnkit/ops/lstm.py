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

Shapes are batch-first: x (B, T, D), state (h, c) with h and c (B, H), out (B, T, H).
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
buffer layout depends on the batch size; the layouts and their loops live in ``_lstm_layouts.py``.
The user only ever sees the fused [i, f, g, o] rows.
"""
from __future__ import annotations

import functools

import numpy as np

from . import _kernel_glue as _glue
from . import _kernels, _seq
from . import _lstm_layouts as _lay
from ._seq import batch_first, fuse_blocks, gate_blocks, sum_blocks_matmul

NAME = "lstm"
GATES = 4
GATE_NAMES = ("i", "f", "g", "o")
STATE_NAMES = ("h", "c")
OPTIONS = {}


def param_shapes(input_size: int, hidden_size: int) -> dict:
    """Shapes of W_x (4H, D), W_h (4H, H), b (4H,), b_h (4H,); rows [i, f, g, o]."""
    return _seq.param_shapes(input_size, hidden_size, GATES)


def init_bias(hidden_size: int, dtype) -> np.ndarray:
    """Forget-gate bias 1, the rest 0: remember by default (Jozefowicz et al., 2015)."""
    b = np.zeros(GATES * hidden_size, dtype=dtype)
    b[hidden_size:2 * hidden_size] = 1
    return b


def forward(params, x, state0=None, lengths=None, *, h_mask=None, keep_cache=True):
    """Run the LSTM over ``x`` (B, T, D); ``state0`` None (zeros) or ``(h0, c0)``, either entry None.

    Returns ``(out (B, T, H), (h_T, c_T), cache)``. ``h_mask`` (B, H), optional: recurrent (variational)
    dropout; the gates read W_h (m * h_{t-1}) with the same mask m at every step (the cell path
    c_t = f c_{t-1} + i g is not masked).
    """
    x, state0, sched, m = _seq.prepare(params, x, state0, lengths, h_mask, param_shapes, STATE_NAMES)
    return run(params, x, state0, sched, m, keep_cache)


def run(params, x, state0, schedule, h_mask=None, keep_cache=True):
    """``forward`` on inputs already checked, with the batch's length ``schedule`` (``_seq.Schedule``)."""
    (B, T, _), H, dtype = x.shape, params["W_h"].shape[-1], params["W_x"].dtype
    sched = schedule
    xt, (hs, cs), m = _seq.begin_run(params, x, state0, sched, h_mask, 2)   # hs[t+1] = h_t, cs: c_t
    K = _kernels.get(NAME)
    if K is not None:                                             # the compiled loop (``_numba_lstm``)
        layout, tc = "numba", None
        gates = _glue.lstm_forward(K, params, xt, hs, cs, sched, m, bool(keep_cache))   # the kernel's buffers
    else:
        tc = np.empty((T, B, H), dtype=dtype)                     # tanh(c_t)
        layout = _lay.choose(B)
        gates = _lay.FORWARD[layout](params, xt, hs, cs, tc, sched, m)
    out = batch_first(hs[1:], sched)
    cache = (params, xt, hs, cs, gates, tc, sched, m, layout) if keep_cache else None
    return out, _seq.final_states([hs, cs], sched), cache


def backward(cache, d_out=None, d_state=None, *, record=None):
    """BPTT. ``d_out`` (B, T, H) is dL/d out; ``d_state`` None or ``(dL/dh_T, dL/dc_T)`` (entries may be None).

    Returns ``(dx (B, T, D), (dh0, dc0), grads)`` with ``grads`` keyed like ``params``.

    ``record``: None, or a list to which one (T,) float64 array is appended: at index t, the mean over
    the running sequences of ||dL/dh_t||_2 (delta_t: the gradient reaching h_t from the output at t and
    from step t+1, with c_t held fixed; see ``rnn.backward``). The cell gradient dL/dc_t is not recorded.
    """
    params, xt, hs, cs, gates, tc, sched, m, layout = _seq.check_cache(cache)
    W_x, W_h = params["W_x"], params["W_h"]
    (T, B, D, H, _), (dh, dc), d_out_tm, norms = _seq.begin_backward(params, xt, sched, d_out, d_state, 2,
                                                                      record)
    h_prev = (hs[:-1] if m is None else hs[:-1] * m).reshape(T * B, H)   # what W_h multiplied
    x2 = xt.reshape(T * B, D)

    if layout == "numba":                                         # the compiled kernels ran forward
        dx, grads = _glue.lstm_backward(params, xt, hs, gates, m, dh, dc, d_out_tm, norms)
    elif layout == "fused":
        da2 = _lay.backward_fused(W_h, cs, gates, tc, sched, m, dh, dc, d_out_tm, norms)
        perm = _lay.row_perm(H, _lay.FORDER)
        grads = {"W_x": _lay.unperm(da2.T @ x2, perm), "W_h": _lay.unperm(da2.T @ h_prev, perm),
                 "b": _lay.unperm(da2.sum(axis=0), perm)}
        dx = da2 @ W_x[perm]
    else:
        if layout == "time_blocks":                               # (T, 4, B, H) -> gate-major, one copy
            gates = np.ascontiguousarray(gates.transpose(1, 0, 2, 3))
        da3 = _lay.backward_blocks(W_h, cs, gates, tc, sched, m, dh, dc, d_out_tm, norms)
        da3 = da3.reshape(GATES, T * B, H)
        daT = da3.transpose(0, 2, 1)                              # (4, H, T*B)
        order = _lay.ORDER
        grads = {"W_x": fuse_blocks(np.matmul(daT, x2), order), "W_h": fuse_blocks(np.matmul(daT, h_prev), order),
                 "b": fuse_blocks(da3.sum(axis=1), order)}
        dx = sum_blocks_matmul(da3, gate_blocks(W_x, GATES, order))
    grads["b_h"] = grads["b"].copy()
    if record is not None:
        record.append(norms)
    return batch_first(dx.reshape(T, B, D), sched), (sched.unsort(dh), sched.unsort(dc)), grads


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
    K = _kernels.get(NAME)
    args = None if K is None else _glue.step_args(params, x_t, h, c)
    if args is not None:                                          # one compiled call (``_numba_lstm.step``)
        return K.step(*args)
    H = h.shape[-1]
    H2, H3 = 2 * H, 3 * H
    a = x_t @ params["W_x"].T
    a += params["b"] + params["b_h"]
    a += h @ params["W_h"].T
    scale, offset = _step_consts(H, a.dtype)
    a *= scale
    np.tanh(a, out=a)
    a *= scale
    a += offset                                                   # i, f, o = sigma; g = tanh
    c_new = a[..., H:H2] * c                                      # c_t = f c_{t-1} + i g
    c_new += a[..., :H] * a[..., H2:H3]
    h_new = np.tanh(c_new)                                        # h_t = o tanh(c_t)
    h_new *= a[..., H3:]
    return h_new, c_new
