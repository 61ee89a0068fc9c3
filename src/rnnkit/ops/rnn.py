"""The vanilla (Elman) RNN over a batch of sequences, forward and BPTT (seed §2.2-2.4).

    h_t = f(W_x x_t + W_h h_{t-1} + b + b_h),   f = tanh or ReLU          (seed §2.3.1)

Weights (the seed's names and orientation, PyTorch's layout):
    W_x (H, D) = weight_ih,  W_h (H, H) = weight_hh,  b (H,) = bias_ih,  b_h (H,) = bias_hh.
The seed has a single bias ``b``; PyTorch keeps two whose sum is what matters. We keep both so that
weights move between the libraries exactly (``b_h`` starts at zero).

Shapes are batch-first: x (B, T, D), state (h,) with h (B, H), out (B, T, H). With ``lengths`` a sequence stops at its
own length: later steps leave its state unchanged, output zeros and get no gradient; the final state
returned is the state at each sequence's last valid step.

Backward (seed §2.4, made exact). With a_t the pre-activation and delta_t = dL/dh_t (from the output
at t *and* from h_{t+1}):
    dL/da_t     = delta_t * f'(a_t)
    delta_{t-1} = W_h^T dL/da_t                              (the text writes W_h f'(z_t), dropping the transpose)
    dL/dW_h     = sum_t dL/da_t h_{t-1}^T,   dL/dW_x = sum_t dL/da_t x_t^T,   dL/db = sum_t dL/da_t
The seed's weight gradients ``dL/dh_t h_{t-1}^T`` omit the factor f'(a_t) and the sum over t; both
are restored here.

Recurrent dropout (``h_mask`` m, (B, H), fixed over time; Gal & Ghahramani 2016): the product reads
m * h_{t-1}, so delta_{t-1} = m * (W_h^T dL/da_t) and dL/dW_h = sum_t dL/da_t (m * h_{t-1})^T.
The module follows the cell protocol of ``rnnkit.ops`` (``forward`` / ``run`` / ``backward`` /
``step``, states as tuples). Diagnostics: ``backward(..., record=[])`` appends the per-step norms of
delta_t (seed §3.2: watch them vanish or explode); see ``rnnkit.diagnostics``.

Speed: the input projection for all steps is one matrix product before the loop; each
step is one product plus elementwise work on preallocated, time-major buffers; the weight gradients
are one product over all steps after the loop. Sequences are processed sorted by length, so at step t
the active ones are a prefix of the batch and no masking is needed.
"""
from __future__ import annotations

import numpy as np

from . import _checks, _kernels, _seq
from . import _kernel_glue as _glue
from ._seq import batch_first
from .activations import relu_grad, tanh_grad

NAME = "rnn"
GATES = 1
GATE_NAMES = ()
STATE_NAMES = ("h",)
OPTIONS = {"nonlinearity": ("tanh", "relu")}        # option -> allowed values, the default first


def param_shapes(input_size: int, hidden_size: int) -> dict:
    """Shapes of W_x (H, D), W_h (H, H), b (H,), b_h (H,)."""
    return _seq.param_shapes(input_size, hidden_size, GATES)


def init_bias(hidden_size: int, dtype) -> np.ndarray:
    return np.zeros(hidden_size, dtype=dtype)


# ----------------------------------------------------------------------------------------------

def forward(params, x, state0=None, lengths=None, *, h_mask=None, keep_cache=True, nonlinearity="tanh"):
    """Run the RNN over ``x`` (B, T, D); ``state0`` None (zeros) or ``(h0,)``.

    Returns ``(out (B, T, H), (h_T,), cache)``. ``h_mask`` (B, H), optional: recurrent (variational)
    dropout (Gal & Ghahramani, 2016). The recurrent product reads ``m * h_{t-1}`` with the same mask
    ``m`` at every step, ``h_t = f(W_x x_t + W_h (m * h_{t-1}) + b + b_h)``; the caller draws and
    scales the mask.
    """
    opts = _checks.check_options({"nonlinearity": nonlinearity}, OPTIONS, NAME)
    x, state0, sched, m = _seq.prepare(params, x, state0, lengths, h_mask, param_shapes, STATE_NAMES)
    return run(params, x, state0, sched, m, keep_cache, **opts)


def run(params, x, state0, schedule, h_mask=None, keep_cache=True, nonlinearity="tanh"):
    """``forward`` on inputs already checked, with the batch's length ``schedule`` (``_seq.Schedule``)."""
    W_x, W_h = params["W_x"], params["W_h"]
    (B, T, D), H, dtype = x.shape, W_h.shape[-1], W_x.dtype
    sched = schedule
    xt, (hs,), m = _seq.begin_run(params, x, state0, sched, h_mask, 1)   # hs[t+1] = h_t; hs[0] = h0
    K = _kernels.get(NAME)
    if K is not None:                                             # the compiled loop (``_numba_rnn``)
        kstate = _glue.rnn_forward(K, params, xt, hs, sched, m, nonlinearity == "relu", bool(keep_cache))
        cache = (params, xt, hs, sched, kstate, m) if keep_cache else None
        return batch_first(hs[1:], sched), _seq.final_states([hs], sched), cache
    a = xt.reshape(T * B, D) @ W_x.T                              # all input projections at once
    a += params["b"] + params["b_h"]
    a = a.reshape(T, B, H)

    W_hT = W_h.T
    act = np.tanh if nonlinearity == "tanh" else (lambda z, out: np.maximum(z, 0, out=out))
    rec = np.empty((B, H), dtype=dtype)                           # h_{t-1} @ W_h.T, every step
    hm = None if m is None else np.empty((B, H), dtype=dtype)     # m * h_{t-1}
    n_prev = -1
    for t in range(T):
        n = sched.active[t]
        if n != n_prev:                                           # views of the running prefix
            r, n_prev = rec[:n], n
            if m is not None:
                mn, hmn = m[:n], hm[:n]
        h = hs[t, :n]
        if m is not None:
            h = np.multiply(h, mn, out=hmn)
        np.matmul(h, W_hT, out=r)
        z = a[t, :n]
        z += r                                                    # a is ours: add in place
        act(z, out=hs[t + 1, :n])

    out = batch_first(hs[1:], sched)
    cache = (params, xt, hs, sched, nonlinearity, m) if keep_cache else None
    return out, _seq.final_states([hs], sched), cache


def backward(cache, d_out=None, d_state=None, *, record=None):
    """BPTT. ``d_out`` (B, T, H) is dL/d out, ``d_state`` None or ``(dL/dh_T,)``; either may be None.

    Returns ``(dx (B, T, D), (dh0,), grads)`` with ``grads`` keyed like ``params``.

    ``record``: None, or a list to which one (T,) float64 array is appended: at index t, the mean over
    the sequences still running at step t of ||dL/dh_t||_2, where dL/dh_t = delta_t is the full
    gradient reaching h_t (from the output at t and from h_{t+1}); NaN at a step where no sequence
    runs. With ``record=None`` nothing extra is computed.
    """
    params, xt, hs, sched, nonlinearity, m = _seq.check_cache(cache)   # nonlinearity: the kernel state if compiled
    W_x, W_h = params["W_x"], params["W_h"]
    (T, B, D, H, dtype), (dh,), d_out_tm, norms = _seq.begin_backward(params, xt, sched, d_out, d_state, 1,
                                                                       record)
    if not isinstance(nonlinearity, str):                         # forward ran the compiled loop
        dx, grads = _glue.rnn_backward(params, xt, hs, nonlinearity, m, dh, d_out_tm, norms)
        grads["b_h"] = grads["b"].copy()
        if record is not None:
            record.append(norms)
        return batch_first(dx.reshape(T, B, D), sched), (sched.unsort(dh),), grads
    fprime = (tanh_grad if nonlinearity == "tanh" else relu_grad)(hs[1:])   # f'(a_t) from h_t, all t
    da = np.zeros((T, B, H), dtype=dtype)

    for t in range(T - 1, -1, -1):
        n = sched.active[t]
        g = _seq.delta_t(dh, d_out_tm, t, n, norms)               # dL/dh_t, complete here
        np.multiply(g, fprime[t, :n], out=da[t, :n])
        np.matmul(da[t, :n], W_h, out=g)                          # delta_{t-1} = W_h^T dL/da_t
        if m is not None:
            g *= m[:n]                                            # (times m, with recurrent dropout)

    da2 = da.reshape(T * B, H)
    h_prev = hs[:-1] if m is None else hs[:-1] * m                # what W_h multiplied
    grads = {
        "W_x": da2.T @ xt.reshape(T * B, D),
        "W_h": da2.T @ h_prev.reshape(T * B, H),
        "b": da2.sum(axis=0),
    }
    grads["b_h"] = grads["b"].copy()
    dx = batch_first((da2 @ W_x).reshape(T, B, D), sched)
    if record is not None:
        record.append(norms)
    return dx, (sched.unsort(dh),), grads


def step(params, x_t, state, nonlinearity="tanh"):
    """One time step for streaming inference: ``h_t = f(W_x x_t + W_h h + b + b_h)``; x_t (B, D),
    state ``(h,)`` with h (B, H). Returns ``(h_t,)``.

    No validation and no cache: this is the latency path. Use ``forward`` for training.
    """
    K = _kernels.get(NAME)
    args = None if K is None else _glue.step_args(params, x_t, state[0])
    if args is not None:                                          # one compiled call (``_numba_rnn.step``)
        return (K.step(*args, nonlinearity == "relu"),)
    a = x_t @ params["W_x"].T
    a += state[0] @ params["W_h"].T
    a += params["b"]
    a += params["b_h"]
    return (np.tanh(a, out=a) if nonlinearity == "tanh" else np.maximum(a, 0, out=a),)
