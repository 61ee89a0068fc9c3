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
    """Shapes of the LSTM's weights for input size D and hidden size H: four gates fused by rows.

    G = 4 gates in the order [i, f, g, o] (PyTorch's layout; rows k*H:(k+1)*H are gate k): W_x (4H, D),
    W_h (4H, H), b (4H,), b_h (4H,). The seed's per-gate ``W_f · [h_{t-1}, x_t]`` is the column split
    ``W_hf h + W_xf x`` of one matrix, stacked by rows here (seed §4.1).

    Parameters
    ----------
    input_size : int
        D, the number of input features.
    hidden_size : int
        H, the number of hidden units.

    Returns
    -------
    dict
        ``{"W_x": (4H, D), "W_h": (4H, H), "b": (4H,), "b_h": (4H,)}``, shapes as tuples.

    Examples
    --------
    >>> from rnnkit.ops import lstm
    >>> lstm.param_shapes(3, 2)
    {'W_x': (8, 3), 'W_h': (8, 2), 'b': (8,), 'b_h': (8,)}
    """
    return _seq.param_shapes(input_size, hidden_size, GATES)


def init_bias(hidden_size: int, dtype) -> np.ndarray:
    """The initial bias ``b`` of the LSTM: forget-gate bias 1, the rest 0.

    Remember by default (Jozefowicz et al., 2015): with f_t = sigma(1) ~ 0.73 at the start, the cell
    state and its gradient decay slowly through time. ``b_h`` starts at zero.

    Parameters
    ----------
    hidden_size : int
        H, the number of hidden units.
    dtype : numpy.dtype or type
        The weights' dtype, float32 or float64.

    Returns
    -------
    numpy.ndarray
        (4H,) in the gate order [i, f, g, o]: ones on the f rows H:2H, zeros elsewhere, of ``dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import lstm
    >>> lstm.init_bias(2, np.float32)
    array([0., 0., 1., 1., 0., 0., 0., 0.], dtype=float32)
    """
    b = np.zeros(GATES * hidden_size, dtype=dtype)
    b[hidden_size:2 * hidden_size] = 1
    return b


def forward(params, x, state0=None, lengths=None, *, h_mask=None, keep_cache=True):
    """Run the LSTM over a batch of sequences, validating every input (seed §4.1).

        i_t = sigma(a_i),  f_t = sigma(a_f),  g_t = tanh(a_g),  o_t = sigma(a_o)
        a_t = [a_i; a_f; a_g; a_o] = W_x x_t + W_h h_{t-1} + b + b_h
        c_t = f_t * c_{t-1} + i_t * g_t,   h_t = o_t * tanh(c_t)

    With ``lengths`` a sequence stops at its own length: later steps leave its state unchanged, output
    zeros and get no gradient, and the final state is the one after its last step. ``h_mask`` applies
    recurrent (variational) dropout: the gates read W_h (m * h_{t-1}) with the same mask m at every step
    (the cell path c_t = f c_{t-1} + i g is not masked); the caller draws and scales the mask.

    After the checks this is ``run``. The time loop runs as a compiled kernel when numba is installed
    (``RNNKIT_KERNELS=auto|numba|numpy``, see ``rnnkit/ops/_kernels.py``); the NumPy loops are the
    reference the kernels are tested against.

    Parameters
    ----------
    params : dict of numpy.ndarray
        The weights, all float32 or all float64 (see ``param_shapes``), gate rows [i, f, g, o]:
        ``W_x`` (4H, D), ``W_h`` (4H, H), ``b`` (4H,), ``b_h`` (4H,).
    x : array_like
        (B, T, D) input, batch-first, finite. Integer, boolean and float16 inputs are cast to the weights'
        dtype; a float32/float64 input must already have it.
    state0 : tuple of numpy.ndarray, optional
        ``(h0, c0)``, each (B, H) or None (zeros), or None (the default): zeros.
    lengths : array_like of int, optional
        (B,) valid lengths, each in [1, T]. Default None: every sequence runs all T steps.
    h_mask : array_like, optional
        (B, H) recurrent-dropout mask ``m``, in the weights' dtype. Default None: no dropout.
    keep_cache : bool, optional
        False for inference: the returned cache is None (``backward`` refuses it) and nothing is kept
        for backward, which with the compiled kernels also skips the per-step gate buffers. Default True.

    Returns
    -------
    out : numpy.ndarray
        (B, T, H), h_t at every step (zeros past a sequence's length), in the weights' dtype.
    state : tuple of numpy.ndarray
        ``(h_T, c_T)``, each (B, H): the state after each sequence's last valid step.
    cache : tuple or None
        None with ``keep_cache=False``; otherwise what ``backward`` needs; opaque (its layout depends on the batch size
        and on whether the compiled kernel ran).

    Raises
    ------
    KeyError
        ``params`` lacks one of ``W_x``, ``W_h``, ``b``, ``b_h``.
    TypeError
        A weight is not a float32/float64 ndarray, or the weights' dtypes differ; ``x``, ``h0``, ``c0`` or
        ``h_mask`` is not numeric or is a float array of another dtype than the weights; ``state0`` is not
        None or a 2-tuple; ``lengths`` are not integers.
    ValueError
        A weight, ``x`` (not 3-D, empty, or not D features), ``h0``, ``c0`` or ``h_mask`` (not (B, H)) has
        the wrong shape; ``x``, a state or ``h_mask`` holds NaN or inf; ``lengths`` is not (B,) or has a
        length outside [1, T]; ``RNNKIT_KERNELS`` names an unknown mode.
    ImportError
        ``RNNKIT_KERNELS=numba`` and numba is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import lstm
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in lstm.param_shapes(3, 2).items()}
    >>> out, (h, c), cache = lstm.forward(params, rng.normal(size=(2, 5, 3)), lengths=[5, 2])
    >>> out.shape, h.shape, c.shape, out.dtype
    ((2, 5, 2), (2, 2), (2, 2), dtype('float64'))
    >>> bool(np.allclose(h[1], out[1, 1])), bool((out[1, 2:] == 0).all())
    (True, True)
    """
    x, state0, sched, m = _seq.prepare(params, x, state0, lengths, h_mask, param_shapes, STATE_NAMES)
    return run(params, x, state0, sched, m, keep_cache)


def run(params, x, state0, schedule, h_mask=None, keep_cache=True):
    """``forward`` on inputs already checked, with the batch's length ``schedule``.

    The trusted entry: no validation (layers call it once their inputs are checked, sharing one
    ``_seq.Schedule`` per batch between their sub-RNNs). One input-projection product before the loop,
    one (batched) product ``h_{t-1} @ W_h.T`` per step for all four gates, gate math in place on
    preallocated time-major buffers; the internal buffer layout depends on the batch size
    (``_lstm_layouts.py``). The loop runs as a compiled kernel when numba is installed
    (``RNNKIT_KERNELS=auto|numba|numpy``, see ``rnnkit/ops/_kernels.py``); the NumPy loops are the
    reference.

    Parameters
    ----------
    params : dict of numpy.ndarray
        ``W_x`` (4H, D), ``W_h`` (4H, H), ``b`` (4H,), ``b_h`` (4H,), gate rows [i, f, g, o], one float
        dtype (float32 or float64).
    x : numpy.ndarray
        (B, T, D) input in the weights' dtype.
    state0 : tuple of numpy.ndarray or None
        ``(h0, c0)``, each (B, H) or None (zeros), or None: zeros.
    schedule : rnnkit.ops._seq.Schedule
        The batch's lengths and sort order, ``Schedule(lengths, B, T)`` (``lengths`` None or an int64 (B,)
        array of values in [1, T]).
    h_mask : numpy.ndarray, optional
        (B, H) recurrent-dropout mask in the weights' dtype. Default None: no dropout.
    keep_cache : bool, optional
        False for inference: the returned cache is None (``backward`` refuses it) and nothing is kept
        for backward, which with the compiled kernels also skips the per-step gate buffers. Default True.

    Returns
    -------
    out : numpy.ndarray
        (B, T, H), h_t at every step (zeros past a sequence's length).
    state : tuple of numpy.ndarray
        ``(h_T, c_T)``, each (B, H): the state after each sequence's last valid step.
    cache : tuple or None
        None with ``keep_cache=False``; otherwise what ``backward`` needs; opaque.

    Raises
    ------
    ValueError
        ``RNNKIT_KERNELS`` names an unknown mode.
    ImportError
        ``RNNKIT_KERNELS=numba`` and numba is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import lstm
    >>> from rnnkit.ops._seq import Schedule
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in lstm.param_shapes(3, 2).items()}
    >>> x = rng.normal(size=(2, 5, 3))
    >>> out, (h, c), cache = lstm.run(params, x, None, Schedule(None, 2, 5))
    >>> bool(np.allclose(out, lstm.forward(params, x)[0]))
    True
    """
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
    """Backpropagation through time for ``forward`` (seed §4.1).

    With delta_t = dL/dh_t (from the output at t and from step t+1) and gamma_t = dL/dc_t from step t+1:

        dL/da_o     = delta_t * tanh(c_t) * o_t (1 - o_t)
        dc_t        = gamma_t + delta_t * o_t * (1 - tanh^2(c_t))
        dL/da_i     = dc_t * g_t * i_t (1 - i_t),    dL/da_f = dc_t * c_{t-1} * f_t (1 - f_t)
        dL/da_g     = dc_t * i_t * (1 - g_t^2),      gamma_{t-1} = dc_t * f_t
        delta_{t-1} = W_h^T dL/da_t      (times m with recurrent dropout; the cell path is unmasked)

    The weight gradients are one product per gate over all steps after the loop. The loop runs compiled
    when ``forward`` ran the compiled kernel (numba; ``RNNKIT_KERNELS``), the NumPy loops otherwise.

    Parameters
    ----------
    cache : tuple
        The third value ``forward`` or ``run`` returned (with ``keep_cache=True``, the default).
    d_out : array_like, optional
        (B, T, H), dL/d out. Default None: the loss does not read ``out``.
    d_state : tuple, optional
        ``(dL/dh_T, dL/dc_T)``, each (B, H) or None, or None (the default): the loss does not read the
        final state.
    record : list, optional
        If a list, one (T,) float64 array is appended: at index t, the mean over the running sequences of
        ||dL/dh_t||_2 (delta_t: the gradient reaching h_t from the output at t and from step t+1, with c_t
        held fixed; see ``rnn.backward``). The cell gradient dL/dc_t is not recorded. Default None: nothing
        extra is computed.

    Returns
    -------
    dx : numpy.ndarray
        (B, T, D), dL/dx (zeros past a sequence's length).
    d_state0 : tuple of numpy.ndarray
        ``(dh0, dc0)``, each (B, H): dL/dh0 and dL/dc0.
    grads : dict of numpy.ndarray
        dL/d params keyed like ``params``, rows [i, f, g, o]: ``W_x`` (4H, D), ``W_h`` (4H, H), ``b`` (4H,),
        ``b_h`` (4H,) (``b`` and ``b_h`` equal).

    Raises
    ------
    ValueError
        If ``cache`` is None: forward ran with ``keep_cache=False``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import lstm
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in lstm.param_shapes(3, 2).items()}
    >>> out, state, cache = lstm.forward(params, rng.normal(size=(2, 5, 3)))
    >>> dx, (dh0, dc0), grads = lstm.backward(cache, d_out=np.ones_like(out))
    >>> dx.shape, dh0.shape, dc0.shape, grads["W_x"].shape
    ((2, 5, 3), (2, 2), (2, 2), (8, 3))
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
    """One time step of the LSTM for streaming inference.

    No validation and no cache: this is the latency path (use ``forward`` for training). The gates are
    one tanh over all 4H pre-activations: the sigmoid gates' are halved before and mapped by 0.5 t + 0.5
    after (exact, and bit-identical to ``activations.sigmoid``). It is one compiled call when numba is
    installed and the arrays are float32/float64 (B, D) and (B, H) of the weights' dtype
    (``RNNKIT_KERNELS``, see ``rnnkit/ops/_kernels.py``), the NumPy expression otherwise.

    Parameters
    ----------
    params : dict of numpy.ndarray
        ``W_x`` (4H, D), ``W_h`` (4H, H), ``b`` (4H,), ``b_h`` (4H,), gate rows [i, f, g, o], float32 or
        float64.
    x_t : numpy.ndarray
        (B, D), the input at this step, in the weights' dtype.
    state : tuple of numpy.ndarray
        ``(h, c)``, each (B, H), the previous state.

    Returns
    -------
    tuple of numpy.ndarray
        ``(h_t, c_t)``, each (B, H), the new state.

    Raises
    ------
    ValueError
        ``RNNKIT_KERNELS`` names an unknown mode.
    ImportError
        ``RNNKIT_KERNELS=numba`` and numba is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import lstm
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in lstm.param_shapes(3, 2).items()}
    >>> x = rng.normal(size=(2, 5, 3))
    >>> state = (np.zeros((2, 2)), np.zeros((2, 2)))
    >>> for t in range(5):
    ...     state = lstm.step(params, x[:, t], state)
    >>> out, (h, c), cache = lstm.forward(params, x)
    >>> bool(np.allclose(state[0], h)), bool(np.allclose(state[1], c))
    (True, True)
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
