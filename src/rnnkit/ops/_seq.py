"""Cell-independent machinery shared by the recurrent ops (``rnn``, ``lstm``, ``gru``). Private.

- ``Schedule`` and the layout helpers ``time_major`` / ``batch_first`` / ``last_valid``: length
  bookkeeping (sequences sorted by decreasing length, so the running ones at step t are a prefix of
  the batch) and the move between the user's batch-first arrays and the ops' time-major buffers;
- ``gate_blocks`` / ``fuse_blocks`` / ``sum_blocks_matmul`` / ``block_grads``: the gate-major internal
  layout of the gated cells (the user sees fused rows (G*H, ...); inside, each gate is a block);
- ``prepare``: the validation every cell's public ``forward`` starts with (weights, input, initial
  state, lengths, recurrent-dropout mask); ``run`` (the trusted entry) skips it;
- ``initial_states`` / ``seed_gradients``: the time-major state buffers and backward seeds, built the
  same way for every cell from the state tuples of the protocol;
- ``delta_t`` / ``step_norms``: dL/dh_t at each BPTT step and its norm, which ``backward`` can ``record``.
"""
from __future__ import annotations

import numpy as np

from . import _checks


def param_shapes(input_size: int, hidden_size: int, gates: int = 1) -> dict:
    """W_x (G*H, D), W_h (G*H, H), b (G*H,), b_h (G*H,) for a cell with ``gates`` fused gates."""
    G = gates * hidden_size
    return {"W_x": (G, input_size), "W_h": (G, hidden_size), "b": (G,), "b_h": (G,)}


# ----------------------------------------------------------------------------------------------
# Length bookkeeping and layouts.

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
# Validation, state buffers, recurrent dropout and gradient diagnostics, the same for every cell.

def prepare(params, x, state0, lengths, h_mask, shapes, state_names):
    """What every cell's public ``forward`` starts with: check weights, input, initial state, lengths
    and dropout mask. ``shapes(D, H)`` gives the cell's weight shapes, ``state_names`` its state arrays.

    Returns ``(x, state0, schedule, h_mask)`` ready for the cell's trusted ``run``.
    """
    gates = shapes(1, 1)["W_x"][0]
    # the bias fixes H and W_x's columns fix D; every weight is then checked against them
    H = np.shape(params.get("b", params["W_x"]))[0] // gates
    D = np.shape(params["W_x"])[-1]
    dtype = _checks.check_params(params, shapes(D, H))
    x = _checks.check_sequence_batch(x, "x", features=D, dtype=dtype)
    B, T, _ = x.shape
    state0 = _checks.check_state_tuple(state0, "state0", state_names, B, H, dtype)
    sched = Schedule(_checks.check_lengths(lengths, B, T), B, T)
    return x, state0, sched, check_h_mask(h_mask, B, H, dtype)


def check_h_mask(h_mask, batch: int, hidden: int, dtype):
    """None, or the (B, H) recurrent-dropout mask, checked."""
    if h_mask is None:
        return None
    m = _checks.as_float_array(h_mask, "h_mask", ndim=2, dtype=dtype)
    if m.shape != (batch, hidden):
        raise ValueError(f"h_mask: expected shape ({batch}, {hidden}) (batch, hidden), got {m.shape}")
    return m


def begin_run(params, x, state0, schedule: Schedule, h_mask, n_states):
    """What every cell's ``run`` starts with: the input as a sorted time-major (T, B, D) buffer, one
    (T+1, B, H) buffer per state (buffer[0] = the initial state) and the sorted dropout mask."""
    B, T, _ = x.shape
    H, dtype = params["W_h"].shape[-1], params["W_x"].dtype
    states = initial_states(state0, n_states, T, B, H, dtype, schedule)
    return time_major(x, schedule), states, sorted_mask(h_mask, schedule)


def initial_states(state0, n_states, T, B, H, dtype, schedule: Schedule):
    """Time-major state buffers, one (T+1, B, H) array per state (buffer[t+1] = state after step t),
    with buffer[0] holding ``state0`` (a tuple whose entries may be None = zeros), sorted by length."""
    bufs = []
    for k in range(n_states):
        buf = np.zeros((T + 1, B, H), dtype=dtype)
        s0 = None if state0 is None else state0[k]
        if s0 is not None:
            buf[0] = schedule.sort(s0)
        bufs.append(buf)
    return bufs


def begin_backward(params, xt, schedule: Schedule, d_out, d_state, n_states, record):
    """What every cell's ``backward`` starts with: ``(T, B, D, H, dtype)``, the running dL/d(state)
    buffers seeded by ``d_state``, dL/d out time-major (or None) and the norms buffer for ``record``."""
    T, B, D = xt.shape
    H, dtype = params["W_h"].shape[1], params["W_x"].dtype
    seeds = seed_gradients(d_state, n_states, B, H, dtype, schedule)
    norms = None if record is None else np.empty(T)
    return (T, B, D, H, dtype), seeds, d_out_time_major(d_out, dtype, schedule), norms


def check_cache(cache):
    """``cache`` as forward returned it; a ValueError when forward ran with ``keep_cache=False``."""
    if cache is None:
        raise ValueError("backward: no cache; forward ran with keep_cache=False (inference), which keeps "
                         "nothing to backpropagate through: run forward with keep_cache=True")
    return cache


def seed_gradients(d_state, n_states, B, H, dtype, schedule: Schedule):
    """Backward's running dL/d(state) buffers, (B, H) each, seeded by ``d_state`` (None entries = 0)."""
    out = []
    for k in range(n_states):
        g = None if d_state is None else d_state[k]
        out.append(np.zeros((B, H), dtype=dtype) if g is None
                   else schedule.sort(np.asarray(g, dtype=dtype)).copy())
    return out


def final_states(bufs, schedule: Schedule):
    """The state after each sequence's last valid step, from each time-major buffer, in user order."""
    return tuple(schedule.unsort(last_valid(b, schedule)) for b in bufs)


def sorted_mask(h_mask, schedule: Schedule):
    """The recurrent-dropout mask in the ops' length order (a new contiguous array), or None."""
    return None if h_mask is None else np.ascontiguousarray(schedule.sort(h_mask))


def d_out_time_major(d_out, dtype, schedule: Schedule):
    """dL/d out (B, T, H) as a sorted time-major (T, B, H) view, or None."""
    return None if d_out is None else schedule.sort(np.asarray(d_out, dtype=dtype)).swapaxes(0, 1)


def delta_t(dh, d_out_tm, t: int, n: int, norms):
    """dL/dh_t for the n running sequences, as a view into ``dh``: the gradient carried back from
    step t+1 plus the output's at t; its norm is recorded in ``norms[t]`` when asked (diagnostics)."""
    g = dh[:n]
    if d_out_tm is not None:
        g += d_out_tm[t, :n]
    if norms is not None:
        norms[t] = step_norms(g, n)
    return g


def step_norms(g, n: int) -> float:
    """Mean over the ``n`` running sequences of ||dL/dh_t||_2, from their gradient rows ``g`` (n, H).

    NaN when no sequence runs at this step (only possible when every length is below the time axis).
    """
    if n == 0:
        return float("nan")
    return float(np.sqrt(np.einsum("ij,ij->i", g, g)).mean())


# ----------------------------------------------------------------------------------------------
# Gate-major internal layout of the gated cells. The user sees fused rows (G*H, ...); inside forward
# and backward the time-major buffers are (gate, T, B, H), so that every gate of every step is a
# contiguous (B, H) block (fast elementwise work, also on a prefix of the batch), and the per-step
# product is one batched product with (gate, H, H) weight blocks (faster than one (H, G*H) product
# for these small batches with OpenBLAS, measured).

def gate_blocks(w, gates, order=None, transpose=False):
    """Fused rows (gates*H, ...) -> contiguous (gates, H, ...) blocks, in ``order`` (fused gate indices)
    if given; with ``transpose`` each 2-D block is transposed: (gates, in, H), ready for ``x @ W.T``."""
    blocks = w.reshape(gates, w.shape[0] // gates, *w.shape[1:])
    if order is not None:
        blocks = blocks[list(order)]
    if transpose:
        blocks = blocks.transpose(0, 2, 1)
    return np.ascontiguousarray(blocks)


def fuse_blocks(blocks, order=None):
    """Inverse of ``gate_blocks`` (without transpose): (gates, H, ...) -> fused rows (gates*H, ...)."""
    if order is not None:
        fused = np.empty_like(blocks)
        fused[list(order)] = blocks
        blocks = fused
    return blocks.reshape(blocks.shape[0] * blocks.shape[1], *blocks.shape[2:])


def sum_blocks_matmul(a, w):
    """sum_k a[k] @ w[k] for blocks a[k] (M, H) and w[k] (H, N): the input gradient of all gates."""
    out = a[0] @ w[0]
    for k in range(1, len(a)):
        out += a[k] @ w[k]
    return out


def block_grads(blocks, inputs):
    """[blk.T @ inputs for each gate block] fused: the weight gradient, one product per gate."""
    return np.concatenate([blk.T @ inputs for blk in blocks])
