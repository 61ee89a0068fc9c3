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
    """Shapes of the vanilla RNN's weights for input size D and hidden size H.

    One gate (G = 1): W_x (H, D), W_h (H, H), b (H,), b_h (H,), PyTorch's ``weight_ih``, ``weight_hh``,
    ``bias_ih`` and ``bias_hh`` (seed §2.3.1).

    Parameters
    ----------
    input_size : int
        D, the number of input features.
    hidden_size : int
        H, the number of hidden units.

    Returns
    -------
    dict
        ``{"W_x": (H, D), "W_h": (H, H), "b": (H,), "b_h": (H,)}``, shapes as tuples.

    Examples
    --------
    >>> from rnnkit.ops import rnn
    >>> rnn.param_shapes(3, 4)
    {'W_x': (4, 3), 'W_h': (4, 4), 'b': (4,), 'b_h': (4,)}
    """
    return _seq.param_shapes(input_size, hidden_size, GATES)


def init_bias(hidden_size: int, dtype) -> np.ndarray:
    """The initial bias ``b`` of the vanilla RNN: zeros.

    The RNN has no gate to favour, so it starts unbiased (``b_h`` starts at zero too).

    Parameters
    ----------
    hidden_size : int
        H, the number of hidden units.
    dtype : numpy.dtype or type
        The weights' dtype, float32 or float64.

    Returns
    -------
    numpy.ndarray
        (H,) zeros of ``dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import rnn
    >>> rnn.init_bias(3, np.float32)
    array([0., 0., 0.], dtype=float32)
    """
    return np.zeros(hidden_size, dtype=dtype)


# ----------------------------------------------------------------------------------------------

def forward(params, x, state0=None, lengths=None, *, h_mask=None, keep_cache=True, nonlinearity="tanh"):
    """Run the RNN over a batch of sequences, validating every input (seed §2.3).

        h_t = f(W_x x_t + W_h h_{t-1} + b + b_h),   f = tanh or ReLU

    With ``lengths`` a sequence stops at its own length: later steps leave its state unchanged, output
    zeros and get no gradient, and the final state is the one after its last valid step. ``h_mask``
    applies recurrent (variational) dropout (Gal & Ghahramani, 2016): the recurrent product reads
    ``m * h_{t-1}`` with the same mask ``m`` at every step, ``h_t = f(W_x x_t + W_h (m * h_{t-1}) + b + b_h)``;
    the caller draws and scales the mask.

    After the checks this is ``run``. The time loop runs as a compiled kernel when numba is installed
    (``RNNKIT_KERNELS=auto|numba|numpy``, see ``rnnkit/ops/_kernels.py``); the NumPy loop is the
    reference the kernels are tested against.

    Parameters
    ----------
    params : dict of numpy.ndarray
        The weights, all float32 or all float64 (see ``param_shapes``): ``W_x`` (H, D), ``W_h`` (H, H),
        ``b`` (H,), ``b_h`` (H,).
    x : array_like
        (B, T, D) input, batch-first, finite. Integer, boolean and float16 inputs are cast to the weights'
        dtype; a float32/float64 input must already have it.
    state0 : tuple of numpy.ndarray, optional
        ``(h0,)`` with h0 (B, H), or None (the default): zeros. The entry may be None (zeros).
    lengths : array_like of int, optional
        (B,) valid lengths, each in [1, T]. Default None: every sequence runs all T steps.
    h_mask : array_like, optional
        (B, H) recurrent-dropout mask ``m``, in the weights' dtype. Default None: no dropout.
    keep_cache : bool, optional
        False for inference: the returned cache is None (``backward`` refuses it) and nothing is kept
        for backward, which with the compiled kernels also skips the per-step gate buffers. Default True.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        The activation f.

    Returns
    -------
    out : numpy.ndarray
        (B, T, H), h_t at every step (zeros past a sequence's length), in the weights' dtype.
    state : tuple of numpy.ndarray
        ``(h_T,)``, h_T (B, H): the state after each sequence's last valid step.
    cache : tuple or None
        None with ``keep_cache=False``; otherwise what ``backward`` needs; opaque (its layout depends on whether the
        compiled kernel ran).

    Raises
    ------
    KeyError
        ``params`` lacks one of ``W_x``, ``W_h``, ``b``, ``b_h``.
    TypeError
        A weight is not a float32/float64 ndarray, or the weights' dtypes differ; ``x``, ``h0`` or ``h_mask``
        is not numeric or is a float array of another dtype than the weights; ``state0`` is not None or a
        1-tuple; ``lengths`` are not integers.
    ValueError
        A weight, ``x`` (not 3-D, empty, or not D features), ``h0`` or ``h_mask`` (not (B, H)) has the wrong
        shape; ``x``, ``h0`` or ``h_mask`` holds NaN or inf; ``lengths`` is not (B,) or has a length outside
        [1, T]; ``nonlinearity`` is not "tanh" or "relu"; ``RNNKIT_KERNELS`` names an unknown mode.
    ImportError
        ``RNNKIT_KERNELS=numba`` and numba is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import rnn
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in rnn.param_shapes(3, 4).items()}
    >>> out, (h,), cache = rnn.forward(params, rng.normal(size=(2, 5, 3)), lengths=[5, 2])
    >>> out.shape, h.shape, out.dtype
    ((2, 5, 4), (2, 4), dtype('float64'))
    >>> bool(np.allclose(h[1], out[1, 1])), bool((out[1, 2:] == 0).all())
    (True, True)
    """
    opts = _checks.check_options({"nonlinearity": nonlinearity}, OPTIONS, NAME)
    x, state0, sched, m = _seq.prepare(params, x, state0, lengths, h_mask, param_shapes, STATE_NAMES)
    return run(params, x, state0, sched, m, keep_cache, **opts)


def run(params, x, state0, schedule, h_mask=None, keep_cache=True, nonlinearity="tanh"):
    """``forward`` on inputs already checked, with the batch's length ``schedule``.

    The trusted entry: no validation (layers call it once their inputs are checked, sharing one
    ``_seq.Schedule`` per batch between their sub-RNNs). The input projection for all steps is one matrix
    product before the loop, and each step one product plus elementwise work on preallocated time-major
    buffers, sequences sorted by length so that the running ones are a prefix of the batch. The loop runs
    as a compiled kernel when numba is installed (``RNNKIT_KERNELS=auto|numba|numpy``, see
    ``rnnkit/ops/_kernels.py``); the NumPy loop is the reference.

    Parameters
    ----------
    params : dict of numpy.ndarray
        ``W_x`` (H, D), ``W_h`` (H, H), ``b`` (H,), ``b_h`` (H,), one float dtype (float32 or float64).
    x : numpy.ndarray
        (B, T, D) input in the weights' dtype.
    state0 : tuple of numpy.ndarray or None
        ``(h0,)`` with h0 (B, H) or None (zeros), or None: zeros.
    schedule : rnnkit.ops._seq.Schedule
        The batch's lengths and sort order, ``Schedule(lengths, B, T)`` (``lengths`` None or an int64 (B,)
        array of values in [1, T]).
    h_mask : numpy.ndarray, optional
        (B, H) recurrent-dropout mask in the weights' dtype. Default None: no dropout.
    keep_cache : bool, optional
        False for inference: the returned cache is None (``backward`` refuses it) and nothing is kept
        for backward, which with the compiled kernels also skips the per-step gate buffers. Default True.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        The activation f (not checked here).

    Returns
    -------
    out : numpy.ndarray
        (B, T, H), h_t at every step (zeros past a sequence's length).
    state : tuple of numpy.ndarray
        ``(h_T,)``, h_T (B, H): the state after each sequence's last valid step.
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
    >>> from rnnkit.ops import rnn
    >>> from rnnkit.ops._seq import Schedule
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in rnn.param_shapes(3, 4).items()}
    >>> x = rng.normal(size=(2, 5, 3))
    >>> out, (h,), cache = rnn.run(params, x, None, Schedule(None, 2, 5))
    >>> bool(np.allclose(out, rnn.forward(params, x)[0]))
    True
    """
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
    """Backpropagation through time for ``forward`` (seed §2.4, made exact).

    With a_t the pre-activation and delta_t = dL/dh_t (from the output at t *and* from h_{t+1}):

        dL/da_t     = delta_t * f'(a_t)
        delta_{t-1} = W_h^T dL/da_t      (times m with recurrent dropout)
        dL/dW_h = sum_t dL/da_t h_{t-1}^T,   dL/dW_x = sum_t dL/da_t x_t^T,   dL/db = dL/db_h = sum_t dL/da_t

    The weight gradients are one product over all steps after the loop. The loop runs compiled when
    ``forward`` ran the compiled kernel (numba; ``RNNKIT_KERNELS``), the NumPy loop otherwise.

    Parameters
    ----------
    cache : tuple
        The third value ``forward`` or ``run`` returned (with ``keep_cache=True``, the default).
    d_out : array_like, optional
        (B, T, H), dL/d out. Default None: the loss does not read ``out``.
    d_state : tuple, optional
        ``(dL/dh_T,)`` with dL/dh_T (B, H) or None, or None (the default): the loss does not read the final
        state.
    record : list, optional
        If a list, one (T,) float64 array is appended: at index t, the mean over the sequences still running
        at step t of ||dL/dh_t||_2 (delta_t, the full gradient reaching h_t), NaN at a step where none runs;
        watch it vanish or explode (seed §3.2, ``rnnkit.diagnostics``). Default None: nothing extra is
        computed.

    Returns
    -------
    dx : numpy.ndarray
        (B, T, D), dL/dx (zeros past a sequence's length).
    d_state0 : tuple of numpy.ndarray
        ``(dh0,)``, dh0 (B, H) = dL/dh0.
    grads : dict of numpy.ndarray
        dL/d params keyed like ``params``: ``W_x`` (H, D), ``W_h`` (H, H), ``b`` (H,), ``b_h`` (H,)
        (``b`` and ``b_h`` equal).

    Raises
    ------
    ValueError
        If ``cache`` is None: forward ran with ``keep_cache=False``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import rnn
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in rnn.param_shapes(3, 4).items()}
    >>> out, state, cache = rnn.forward(params, rng.normal(size=(2, 5, 3)))
    >>> norms = []
    >>> dx, (dh0,), grads = rnn.backward(cache, d_out=np.ones_like(out), record=norms)
    >>> dx.shape, dh0.shape, grads["W_h"].shape, norms[0].shape
    ((2, 5, 3), (2, 4), (4, 4), (5,))
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
    """One time step for streaming inference: ``h_t = f(W_x x_t + W_h h + b + b_h)``.

    No validation and no cache: this is the latency path (use ``forward`` for training). It is one
    compiled call when numba is installed and the arrays are float32/float64 (B, D) and (B, H) of the
    weights' dtype (``RNNKIT_KERNELS``, see ``rnnkit/ops/_kernels.py``), the NumPy expression otherwise.

    Parameters
    ----------
    params : dict of numpy.ndarray
        ``W_x`` (H, D), ``W_h`` (H, H), ``b`` (H,), ``b_h`` (H,), float32 or float64.
    x_t : numpy.ndarray
        (B, D), the input at this step, in the weights' dtype.
    state : tuple of numpy.ndarray
        ``(h,)`` with h (B, H), the previous state.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        The activation f (not checked).

    Returns
    -------
    tuple of numpy.ndarray
        ``(h_t,)``, h_t (B, H), the new state.

    Raises
    ------
    ValueError
        ``RNNKIT_KERNELS`` names an unknown mode.
    ImportError
        ``RNNKIT_KERNELS=numba`` and numba is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import rnn
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in rnn.param_shapes(3, 4).items()}
    >>> x = rng.normal(size=(2, 5, 3))
    >>> state = (np.zeros((2, 4)),)
    >>> for t in range(5):
    ...     state = rnn.step(params, x[:, t], state)
    >>> bool(np.allclose(state[0], rnn.forward(params, x)[1][0]))
    True
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
