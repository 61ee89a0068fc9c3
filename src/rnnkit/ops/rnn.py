"""The vanilla (Elman) RNN over a batch of sequences, forward and BPTT (seed §2.2-2.4).

    h_t = f(W_x x_t + W_h h_{t-1} + b + b_h),   f = tanh or ReLU          (seed §2.3.1)

Weights (the seed's names and orientation, PyTorch's layout):
    W_x (H, D) = weight_ih,  W_h (H, H) = weight_hh,  b (H,) = bias_ih,  b_h (H,) = bias_hh.
The seed has a single bias ``b``; PyTorch keeps two whose sum is what matters. We keep both so that
weights move between the libraries exactly (``b_h`` starts at zero).

Shapes are batch-first: x (B, T, D), h0 (B, H), out (B, T, H). With ``lengths`` a sequence stops at its
own length: later steps leave its state unchanged, output zeros and get no gradient; the final state
returned is the state at each sequence's last valid step.

Backward (seed §2.4, made exact). With a_t the pre-activation and delta_t = dL/dh_t (from the output
at t *and* from h_{t+1}):
    dL/da_t     = delta_t * f'(a_t)
    delta_{t-1} = W_h^T dL/da_t                              (the text writes W_h f'(z_t), dropping the transpose)
    dL/dW_h     = sum_t dL/da_t h_{t-1}^T,   dL/dW_x = sum_t dL/da_t x_t^T,   dL/db = sum_t dL/da_t
The seed's weight gradients ``dL/dh_t h_{t-1}^T`` omit the factor f'(a_t) and the sum over t; both
are restored here.

Speed (DESIGN.md): the input projection for all steps is one matrix product before the loop; each
step is one product plus elementwise work on preallocated, time-major buffers; the weight gradients
are one product over all steps after the loop. Sequences are processed sorted by length, so at step t
the active ones are a prefix of the batch and no masking is needed.
"""
from __future__ import annotations

import numpy as np

from . import _checks
from .activations import relu_grad, tanh_grad

NONLINEARITIES = ("tanh", "relu")


def param_shapes(input_size: int, hidden_size: int, gates: int = 1) -> dict:
    G = gates * hidden_size
    return {"W_x": (G, input_size), "W_h": (G, hidden_size), "b": (G,), "b_h": (G,)}


# ----------------------------------------------------------------------------------------------
# Length bookkeeping shared by the three cells (rnn, lstm, gru).

class Schedule:
    """Sort order by decreasing length and, per step t, how many sequences are still running."""

    __slots__ = ("order", "inverse", "active", "lengths", "sorted_lengths")

    def __init__(self, lengths, batch: int, time: int):
        if lengths is None:
            self.order = self.inverse = None
            self.lengths = np.full(batch, time, dtype=np.int64)
            self.sorted_lengths = self.lengths
            self.active = [batch] * time
            return
        order = np.argsort(-lengths, kind="stable")
        if np.all(order == np.arange(batch)):
            self.order = self.inverse = None
        else:
            self.order = order
            self.inverse = np.argsort(order)
        self.lengths = lengths
        self.sorted_lengths = lengths if self.order is None else lengths[order]
        # active[t] = number of sequences with length > t (a prefix, since sorted descending)
        counts = np.bincount(self.sorted_lengths, minlength=time + 1)
        self.active = (batch - np.cumsum(counts)[:time]).tolist()

    def sort(self, a):
        return a if (a is None or self.order is None) else a[self.order]

    def unsort(self, a):
        return a if (a is None or self.inverse is None) else a[self.inverse]


def time_major(x, schedule: Schedule):
    """(B, T, ...) batch-first -> sorted, contiguous (T, B, ...)."""
    return np.ascontiguousarray(schedule.sort(x).swapaxes(0, 1))


def batch_first(x_tm, schedule: Schedule):
    """Inverse of ``time_major``: (T, B, ...) -> unsorted, contiguous (B, T, ...)."""
    return np.ascontiguousarray(schedule.unsort(x_tm.swapaxes(0, 1)))


def last_valid(hs, schedule: Schedule):
    """From time-major states hs (T+1, B, H) (hs[0] = initial), the state after each sequence's last step."""
    B = hs.shape[1]
    return hs[schedule.sorted_lengths, np.arange(B)]


# ----------------------------------------------------------------------------------------------

def forward(params, x, h0=None, lengths=None, nonlinearity="tanh"):
    """Run the RNN over ``x`` (B, T, D). Returns ``(out (B, T, H), h_T (B, H), cache)``."""
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")
    W_x, W_h = params["W_x"], params["W_h"]
    H, D = W_x.shape
    dtype = _checks.check_params(params, param_shapes(D, H))
    x = _checks.check_sequence_batch(x, "x", features=D, dtype=dtype)
    B, T, _ = x.shape
    lengths = _checks.check_lengths(lengths, B, T)
    sched = Schedule(lengths, B, T)

    xt = time_major(x, sched)                                     # (T, B, D)
    hs = np.zeros((T + 1, B, H), dtype=dtype)                     # hs[t+1] = h_t; hs[0] = h0
    if h0 is not None:
        hs[0] = sched.sort(_checks.check_state(h0, "h0", B, H, dtype))
    a = xt.reshape(T * B, D) @ W_x.T                              # all input projections at once
    a += params["b"] + params["b_h"]
    a = a.reshape(T, B, H)

    W_hT = W_h.T
    act = np.tanh if nonlinearity == "tanh" else (lambda z, out: np.maximum(z, 0, out=out))
    for t in range(T):
        n = sched.active[t]
        z = a[t, :n]
        z += hs[t, :n] @ W_hT                                     # a is ours: add in place
        act(z, out=hs[t + 1, :n])

    out = batch_first(hs[1:], sched)
    h_T = sched.unsort(last_valid(hs, sched))
    cache = (params, xt, hs, sched, nonlinearity)
    return out, h_T, cache


def backward(cache, d_out=None, d_h=None):
    """BPTT. ``d_out`` (B, T, H) is dL/d out, ``d_h`` (B, H) is dL/d h_T; either may be None.

    Returns ``(dx (B, T, D), dh0 (B, H), grads)`` with ``grads`` keyed like ``params``.
    """
    params, xt, hs, sched, nonlinearity = cache
    W_x, W_h = params["W_x"], params["W_h"]
    T, B, D = xt.shape
    H = W_h.shape[0]
    dtype = W_x.dtype

    dh = np.zeros((B, H), dtype=dtype) if d_h is None else sched.sort(np.asarray(d_h, dtype=dtype)).copy()
    d_out_tm = None if d_out is None else sched.sort(np.asarray(d_out, dtype=dtype)).swapaxes(0, 1)
    fprime = (tanh_grad if nonlinearity == "tanh" else relu_grad)(hs[1:])   # f'(a_t) from h_t, all t
    da = np.zeros((T, B, H), dtype=dtype)

    for t in range(T - 1, -1, -1):
        n = sched.active[t]
        g = dh[:n]
        if d_out_tm is not None:
            g += d_out_tm[t, :n]
        np.multiply(g, fprime[t, :n], out=da[t, :n])
        np.matmul(da[t, :n], W_h, out=g)                          # delta_{t-1} = W_h^T dL/da_t

    da2 = da.reshape(T * B, H)
    grads = {
        "W_x": da2.T @ xt.reshape(T * B, D),
        "W_h": da2.T @ hs[:-1].reshape(T * B, H),
        "b": da2.sum(axis=0),
    }
    grads["b_h"] = grads["b"].copy()
    dx = batch_first((da2 @ W_x).reshape(T, B, D), sched)
    return dx, sched.unsort(dh), grads


def step(params, x_t, h, nonlinearity="tanh"):
    """One time step for streaming inference: ``h_t = f(W_x x_t + W_h h + b + b_h)``; x_t (B, D), h (B, H).

    No validation and no cache: this is the latency path. Use ``forward`` for training.
    """
    a = x_t @ params["W_x"].T
    a += h @ params["W_h"].T
    a += params["b"]
    a += params["b_h"]
    return np.tanh(a, out=a) if nonlinearity == "tanh" else np.maximum(a, 0, out=a)
