"""The GRU over a batch of sequences, forward and BPTT (seed §4.2), in two variants.

Weights: the three gates are fused row-wise in the order [r, z, n] (n = the candidate h~):
    W_x (3H, D),  W_h (3H, H),  b (3H,),  b_h (3H,)
with rows k*H:(k+1)*H belonging to gate k of [r, z, n]. As for the LSTM, the seed's per-gate
``W_z · [h_{t-1}, x_t]`` is the column split ``W_hz h + W_xz x`` of one matrix, stacked by rows here.

``reset_after=False`` (the default) is the seed exactly (§4.2): the reset gate scales h_{t-1} *before*
the product, and ``b`` and ``b_h`` simply add (only their sum matters):
    r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r + b_hr)
    z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z + b_hz)
    n_t = tanh(W_xn x_t + W_hn (r_t * h_{t-1}) + b_n + b_hn)
    h_t = (1 - z_t) * h_{t-1} + z_t * n_t

``reset_after=True`` is the PyTorch / cuDNN / Keras (``reset_after=True``) form: the reset gate scales
the recurrent product *after* it, bias included,
    n_t = tanh(W_xn x_t + b_n + r_t * (W_hn h_{t-1} + b_hn)),
which lets all three gates share one product ``h_{t-1} @ W_h.T`` per step.

The sense of z is ours (the seed's) in both variants: z_t is the share of the *new* candidate. PyTorch
writes ``h_t = (1 - z) n + z h_{t-1}``, so its z is our 1 - z. Since 1 - σ(a) = σ(-a), our
``reset_after=True`` weights are PyTorch's ``weight_ih, weight_hh, bias_ih, bias_hh`` (rows [r, z, n])
with the z rows (H:2H) of all four negated; ``rnnkit.interop.torch`` makes that exact mapping
(negation is exact in floating point). The seed form (``reset_after=False``) has no exact
PyTorch counterpart.

Shapes are batch-first: x (B, T, D), state (h,) with h (B, H), out (B, T, H). With ``lengths`` a sequence stops at its
own length: later steps leave its state unchanged, output zeros and get no gradient.

Backward, with delta_t = dL/dh_t (from the output at t and from step t+1) and a = [a_r; a_z; a_n] the
pre-activations:
    dL/da_n = delta_t * z_t * (1 - n_t^2)
    dL/da_z = delta_t * (n_t - h_{t-1}) * z_t (1 - z_t)
  seed form (u_t = r_t * h_{t-1} is what W_hn multiplies):
    du_t        = W_hn^T dL/da_n          (a second, smaller product per step: unavoidable, since
    dL/da_r     = du_t * h_{t-1} * r_t (1 - r_t)                  dL/da_r needs it)
    delta_{t-1} = delta_t (1 - z_t) + du_t * r_t + W_hr^T dL/da_r + W_hz^T dL/da_z
    dL/dW_h[r, z] = sum_t dL/da_[r, z] h_{t-1}^T,  dL/dW_hn = sum_t dL/da_n u_t^T,  dL/db_h = dL/db
  reset_after (v_t = W_hn h_{t-1} + b_hn is what r scales; e_t = [dL/da_r; dL/da_z; dL/dv_t]):
    dL/dv_t     = dL/da_n * r_t,           dL/da_r = dL/da_n * v_t * r_t (1 - r_t)
    delta_{t-1} = delta_t (1 - z_t) + W_h^T e_t                       (one product per step)
    dL/dW_h = sum_t e_t h_{t-1}^T,  dL/db_h = sum_t e_t    (the recurrent path sees dL/dv, not dL/da_n)
  both: dL/dW_x = sum_t dL/da_t x_t^T,  dL/db = sum_t dL/da_t.
The local factors (everything above except delta and du) are formed for all steps at once before the
loop; the weight gradients are one product per gate over all steps after it. Speed otherwise follows
``rnn.py``; the internal gate-major layout (shared with lstm.py) is described in ``_seq.py``.

Recurrent dropout (``h_mask`` m, (B, H), the same at every step; Gal & Ghahramani 2016): every
recurrent product reads m * h_{t-1} in place of h_{t-1} (seed form: u_t = r_t * (m * h_{t-1})), the
carry (1 - z_t) h_{t-1} and dL/da_z's (n_t - h_{t-1}) stay unmasked. So the part of delta_{t-1} that
comes through the products (du_t * r_t + W_hr^T dL/da_r + W_hz^T dL/da_z, or W_h^T e_t) is multiplied
by m, and dL/dW_h uses m * h_{t-1} (and dL/da_r the masked h_{t-1}).
"""
from __future__ import annotations

import numpy as np

from . import _checks, _kernels, _seq
from . import _kernel_glue as _glue
from ._seq import batch_first, block_grads, fuse_blocks, gate_blocks, sum_blocks_matmul

NAME = "gru"
GATES = 3
GATE_NAMES = ("r", "z", "n")
STATE_NAMES = ("h",)
OPTIONS = {"reset_after": (False, True)}            # option -> allowed values, the default first
_TIME_BLOCKS_MAX_BATCH = 4   # up to this batch size the forward loop runs on a time-major buffer


def param_shapes(input_size: int, hidden_size: int) -> dict:
    """Shapes of the GRU's weights for input size D and hidden size H: three gates fused by rows.

    G = 3 gates in the order [r, z, n] (n = the candidate h~; rows k*H:(k+1)*H are gate k): W_x (3H, D),
    W_h (3H, H), b (3H,), b_h (3H,). The seed's per-gate ``W_z · [h_{t-1}, x_t]`` is the column split
    ``W_hz h + W_xz x`` of one matrix, stacked by rows here (seed §4.2).

    Parameters
    ----------
    input_size : int
        D, the number of input features.
    hidden_size : int
        H, the number of hidden units.

    Returns
    -------
    dict
        ``{"W_x": (3H, D), "W_h": (3H, H), "b": (3H,), "b_h": (3H,)}``, shapes as tuples.

    Examples
    --------
    >>> from rnnkit.ops import gru
    >>> gru.param_shapes(3, 2)
    {'W_x': (6, 3), 'W_h': (6, 2), 'b': (6,), 'b_h': (6,)}
    """
    return _seq.param_shapes(input_size, hidden_size, GATES)


def init_bias(hidden_size: int, dtype) -> np.ndarray:
    """The initial bias ``b`` of the GRU: zeros.

    No gate is favoured at the start (``b_h`` starts at zero too).

    Parameters
    ----------
    hidden_size : int
        H, the number of hidden units.
    dtype : numpy.dtype or type
        The weights' dtype, float32 or float64.

    Returns
    -------
    numpy.ndarray
        (3H,) zeros of ``dtype``, in the gate order [r, z, n].

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import gru
    >>> gru.init_bias(2, np.float64)
    array([0., 0., 0., 0., 0., 0.])
    """
    return np.zeros(GATES * hidden_size, dtype=dtype)


# ----------------------------------------------------------------------------------------------

def forward(params, x, state0=None, lengths=None, *, h_mask=None, keep_cache=True, reset_after=False):
    """Run the GRU over a batch of sequences, validating every input (seed §4.2).

    ``reset_after=False`` (the default) is the seed exactly: the reset gate scales h_{t-1} *before* the
    product,

        r_t = sigma(W_xr x_t + W_hr h_{t-1} + b_r + b_hr),   z_t = sigma(W_xz x_t + W_hz h_{t-1} + b_z + b_hz)
        n_t = tanh(W_xn x_t + W_hn (r_t * h_{t-1}) + b_n + b_hn),   h_t = (1 - z_t) * h_{t-1} + z_t * n_t

    ``reset_after=True`` is the PyTorch / cuDNN / Keras form, n_t = tanh(W_xn x_t + b_n + r_t * (W_hn h_{t-1}
    + b_hn)), which lets the three gates share one product per step. In both, z_t is the share of the *new*
    candidate (PyTorch's z is our 1 - z; ``rnnkit.interop.torch`` maps the weights exactly).

    With ``lengths`` a sequence stops at its own length: later steps leave its state unchanged, output
    zeros and get no gradient. ``h_mask`` applies recurrent (variational) dropout, the same mask m at every
    step: every recurrent product reads m * h_{t-1} (seed form: r and z read W_h (m * h_{t-1}) and the
    candidate W_hn (r_t * (m * h_{t-1})); reset_after: all three read W_h (m * h_{t-1})); the carry
    (1 - z_t) h_{t-1} is not masked.

    After the checks this is ``run``. The time loop runs as a compiled kernel when numba is installed
    (``RNNKIT_KERNELS=auto|numba|numpy``, see ``rnnkit/ops/_kernels.py``); the NumPy loops are the
    reference the kernels are tested against.

    Parameters
    ----------
    params : dict of numpy.ndarray
        The weights, all float32 or all float64 (see ``param_shapes``), gate rows [r, z, n]:
        ``W_x`` (3H, D), ``W_h`` (3H, H), ``b`` (3H,), ``b_h`` (3H,).
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
    reset_after : bool, default False
        False: the seed's form; True: the PyTorch / cuDNN form (reset applied after the product).

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
        [1, T]; ``reset_after`` is not a bool; ``RNNKIT_KERNELS`` names an unknown mode.
    ImportError
        ``RNNKIT_KERNELS=numba`` and numba is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import gru
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in gru.param_shapes(3, 2).items()}
    >>> out, (h,), cache = gru.forward(params, rng.normal(size=(2, 5, 3)), lengths=[5, 2], reset_after=True)
    >>> out.shape, h.shape, out.dtype
    ((2, 5, 2), (2, 2), dtype('float64'))
    >>> bool(np.allclose(h[1], out[1, 1])), bool((out[1, 2:] == 0).all())
    (True, True)
    """
    opts = _checks.check_options({"reset_after": reset_after}, OPTIONS, NAME)
    x, state0, sched, m = _seq.prepare(params, x, state0, lengths, h_mask, param_shapes, STATE_NAMES)
    return run(params, x, state0, sched, m, keep_cache, **opts)


def run(params, x, state0, schedule, h_mask=None, keep_cache=True, reset_after=False):
    """``forward`` on inputs already checked, with the batch's length ``schedule``.

    The trusted entry: no validation (layers call it once their inputs are checked, sharing one
    ``_seq.Schedule`` per batch between their sub-RNNs). The input projections of all steps are formed
    before the loop; the r and z rows are halved once (exact) so that one tanh per step gives both sigmoids
    (sigma(a) = 0.5 tanh(a/2) + 0.5, bit-identical to ``activations.sigmoid``). The loop runs as a compiled
    kernel when numba is installed (``RNNKIT_KERNELS=auto|numba|numpy``, see ``rnnkit/ops/_kernels.py``);
    the NumPy loops are the reference.

    Parameters
    ----------
    params : dict of numpy.ndarray
        ``W_x`` (3H, D), ``W_h`` (3H, H), ``b`` (3H,), ``b_h`` (3H,), gate rows [r, z, n], one float dtype
        (float32 or float64).
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
    reset_after : bool, default False
        False: the seed's form; True: the PyTorch / cuDNN form (not checked here).

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
    >>> from rnnkit.ops import gru
    >>> from rnnkit.ops._seq import Schedule
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in gru.param_shapes(3, 2).items()}
    >>> x = rng.normal(size=(2, 5, 3))
    >>> out, (h,), cache = gru.run(params, x, None, Schedule(None, 2, 5))
    >>> bool(np.allclose(out, gru.forward(params, x)[0]))
    True
    """
    W_x, W_h = params["W_x"], params["W_h"]
    (B, T, D), H, dtype = x.shape, W_h.shape[-1], W_x.dtype
    sched = schedule
    xt, (hs,), m = _seq.begin_run(params, x, state0, sched, h_mask, 1)   # hs[t+1] = h_t; hs[0] = h0
    b, b_h = params["b"], params["b_h"]
    if reset_after:
        bias = b.copy()
        bias[:2 * H] += b_h[:2 * H]                               # b_hn stays inside r * (...)
    else:
        bias = b + b_h
    K = _kernels.get(NAME)
    if K is not None:                                             # the compiled loop (``_numba_gru``)
        kstate = _glue.gru_forward(K, params, xt, hs, sched, m, bias, reset_after, bool(keep_cache))
        cache = (params, xt, hs, kstate, sched, m) if keep_cache else None
        return batch_first(hs[1:], sched), _seq.final_states([hs], sched), cache
    # The r and z rows of W_x, W_h and the bias are halved once (exact: a power of two), so that one
    # tanh gives tanh(a/2) and sigma(a) = 0.5 tanh(a/2) + 0.5 (bit-identical to activations.sigmoid).
    scale = np.array([0.5, 0.5, 1], dtype=dtype)[:, None, None]   # new arrays below: params untouched
    W_xT = gate_blocks(W_x, GATES, transpose=True) * scale        # (3, D, H)
    bias = gate_blocks(bias, GATES) * scale[:, 0]                 # (3, H)
    if B <= _TIME_BLOCKS_MAX_BATCH:
        # small batch: the loop works on a time-major (T, 3, B, H) buffer, so that a step's gates are
        # one contiguous (3, B, H) array (strided 3-D views cost ~1 us more per ufunc at these sizes);
        # it is turned into the gate-major layout for the cache with one copy
        pre = xt.reshape(T * B, D) @ W_xT.transpose(1, 0, 2).reshape(D, GATES * H)
        pre += bias.reshape(-1)
        gtm = np.ascontiguousarray(pre.reshape(T, B, GATES, H).transpose(0, 2, 1, 3))
        del pre
    else:
        gates = np.matmul(xt.reshape(T * B, D), W_xT)             # all steps at once
        gates += bias[:, None, :]
        gates = gates.reshape(GATES, T, B, H)                     # pre-activations, then (in place) gates
        gtm = gates.transpose(1, 0, 2, 3)                         # (T, 3, B, H) view for the loop
    # aux[t] = r_t * (m *) h_{t-1} (seed form) or W_hn (m *) h_{t-1} + b_hn (reset_after): for backward
    aux = np.zeros((T, B, H), dtype=dtype)
    W_hT = gate_blocks(W_h, GATES, transpose=True) * scale       # (3, H, H); r, z halved
    (_loop_reset_after if reset_after else _loop_seed)(W_hT, b_h[2 * H:], gtm, hs, aux, sched, m)
    if B <= _TIME_BLOCKS_MAX_BATCH:
        gates = np.ascontiguousarray(gtm.transpose(1, 0, 2, 3))  # gate-major (3, T, B, H) for backward

    out = batch_first(hs[1:], sched)
    cache = (params, xt, hs, gates, aux, sched, bool(reset_after), m) if keep_cache else None
    return out, _seq.final_states([hs], sched), cache


def _update(a, h, h_new):
    """h_t = (1 - z) h_{t-1} + z n, written as h + z (n - h), into h_new."""
    np.subtract(a[2], h, out=h_new)
    h_new *= a[1]
    h_new += h


def _step_views(gates, hs, m, hm, t, n):
    """Step t's gates (3, n, H) [r, z, n], h_{t-1} and what the products read (m * h_{t-1} with
    recurrent dropout, into ``hm``), for the n running sequences."""
    h = hs[t, :n]
    return gates[t, :, :n], h, (h if m is None else np.multiply(h, m[:n], out=hm[:n]))


def _sigma_rz(rz, rec, half):
    """r, z = sigma(pre-activation + recurrent product), in place (rows pre-halved: one tanh)."""
    rz += rec
    np.tanh(rz, out=rz)
    rz *= half
    rz += half


def _loop_seed(W_hT, b_hn, gates, hs, rh, sched, m):
    """Seed-form loop over ``gates``, a time-major (T, 3, B, H) array or view; gates in place."""
    T, _, B, H = gates.shape
    W_rzT, W_nT = W_hT[:2], W_hT[2]
    half = gates.dtype.type(0.5)
    rec = np.empty((2, B, H), dtype=gates.dtype)
    recn = np.empty((B, H), dtype=gates.dtype)
    hm = None if m is None else np.empty((B, H), dtype=gates.dtype)
    for t in range(T):
        n = sched.active[t]
        a, h, hr = _step_views(gates, hs, m, hm, t, n)
        np.matmul(hr, W_rzT, out=rec[:, :n])                      # r and z in one (batched) product
        _sigma_rz(a[:2], rec[:, :n], half)
        u = rh[t, :n]
        np.multiply(a[0], hr, out=u)                              # r * h_{t-1}
        np.matmul(u, W_nT, out=recn[:n])                          # W_hn (r * h_{t-1})
        a[2] += recn[:n]
        np.tanh(a[2], out=a[2])
        _update(a, h, hs[t + 1, :n])
        if n < B:
            gates[t, :, n:] = 0                                   # padded steps: no gates, no gradient


def _loop_reset_after(W_hT, b_hn, gates, hs, v, sched, m):
    """reset_after loop over ``gates``, a time-major (T, 3, B, H) array or view; gates in place."""
    T, _, B, H = gates.shape
    half = gates.dtype.type(0.5)
    rec = np.empty((GATES, B, H), dtype=gates.dtype)
    tmp = np.empty((B, H), dtype=gates.dtype)
    hm = None if m is None else np.empty((B, H), dtype=gates.dtype)
    for t in range(T):
        n = sched.active[t]
        a, h, hr = _step_views(gates, hs, m, hm, t, n)
        np.matmul(hr, W_hT, out=rec[:, :n])                       # one (batched) product, three gates
        _sigma_rz(a[:2], rec[:2, :n], half)
        vt = v[t, :n]
        np.add(rec[2, :n], b_hn, out=vt)                          # W_hn h_{t-1} + b_hn
        np.multiply(a[0], vt, out=tmp[:n])
        a[2] += tmp[:n]                                           # + r * (...)
        np.tanh(a[2], out=a[2])
        _update(a, h, hs[t + 1, :n])
        if n < B:
            gates[t, :, n:] = 0


def backward(cache, d_out=None, d_state=None, *, record=None):
    """Backpropagation through time for ``forward`` (seed §4.2), in either variant.

    With delta_t = dL/dh_t (from the output at t and from step t+1), dL/da_n = delta_t * z_t * (1 - n_t^2)
    and dL/da_z = delta_t * (n_t - h_{t-1}) * z_t (1 - z_t). In the seed form (u_t = r_t * h_{t-1}) a second,
    smaller product per step gives du_t = W_hn^T dL/da_n, then dL/da_r = du_t * h_{t-1} * r_t (1 - r_t) and
    delta_{t-1} = delta_t (1 - z_t) + du_t * r_t + W_hr^T dL/da_r + W_hz^T dL/da_z. With ``reset_after``
    (v_t = W_hn h_{t-1} + b_hn, e_t = [dL/da_r; dL/da_z; dL/dv_t]) it is one product per step,
    delta_{t-1} = delta_t (1 - z_t) + W_h^T e_t. With recurrent dropout the part through the products is
    multiplied by m. The weight gradients are one product per gate over all steps after the loop. The loop
    runs compiled when ``forward`` ran the compiled kernel (numba; ``RNNKIT_KERNELS``), the NumPy loops
    otherwise.

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
        If a list, one (T,) float64 array is appended: at index t, the mean over the running sequences of
        ||dL/dh_t||_2 (delta_t, the full gradient reaching h_t); see ``rnn.backward``. Default None: nothing
        extra is computed.

    Returns
    -------
    dx : numpy.ndarray
        (B, T, D), dL/dx (zeros past a sequence's length).
    d_state0 : tuple of numpy.ndarray
        ``(dh0,)``, dh0 (B, H) = dL/dh0.
    grads : dict of numpy.ndarray
        dL/d params keyed like ``params``, rows [r, z, n]: ``W_x`` (3H, D), ``W_h`` (3H, H), ``b`` (3H,),
        ``b_h`` (3H,). In the seed form ``b`` and ``b_h`` are equal; with ``reset_after`` the n rows differ
        (``b_h``'s get dL/dv, not dL/da_n).

    Raises
    ------
    ValueError
        If ``cache`` is None: forward ran with ``keep_cache=False``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import gru
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in gru.param_shapes(3, 2).items()}
    >>> out, state, cache = gru.forward(params, rng.normal(size=(2, 5, 3)))
    >>> dx, (dh0,), grads = gru.backward(cache, d_out=np.ones_like(out))
    >>> dx.shape, dh0.shape, grads["W_h"].shape, bool(np.allclose(grads["b"], grads["b_h"]))
    ((2, 5, 3), (2, 2), (6, 2), True)
    """
    if len(_seq.check_cache(cache)) == 6:                         # forward ran the compiled loop
        params, xt, hs, kstate, sched, m = cache
        (T, B, D, _, _), (dh,), d_out_tm, norms = _seq.begin_backward(params, xt, sched, d_out, d_state, 1, record)
        dx, grads = _glue.gru_backward(params, xt, hs, kstate, m, dh, d_out_tm, norms)
        if record is not None:
            record.append(norms)
        return batch_first(dx.reshape(T, B, D), sched), (sched.unsort(dh),), grads
    params, xt, hs, gates, aux, sched, reset_after, m = cache
    W_x, W_h = params["W_x"], params["W_h"]
    (T, B, D, H, dtype), (dh,), d_out_tm, norms = _seq.begin_backward(params, xt, sched, d_out, d_state, 1,
                                                                       record)

    # Local factors for all steps at once (padded rows have zero gates, hence zero factors).
    R, Z, N = gates                                               # each (T, B, H)
    h_prev = hs[:-1]
    hm_prev = h_prev if m is None else h_prev * m                 # what the recurrent products read
    Z1 = np.subtract(1, Z)                                        # dh_t/dh_{t-1} directly: 1 - z
    da = np.empty_like(gates)                 # starts as local factors, becomes the gradient in the loop
    Pr, Pz, Pn = da
    np.multiply(N, N, out=Pn)                                     # dh/da_n = z (1 - n^2)
    np.subtract(1, Pn, out=Pn)
    Pn *= Z
    np.subtract(N, h_prev, out=Pz)                                # dh/da_z = (n - h_{t-1}) z (1 - z)
    Pz *= Z
    Pz *= Z1
    np.subtract(1, R, out=Pr)                                     # r (1 - r)
    Pr *= R
    W_h3 = gate_blocks(W_h, GATES)                                # (3, H, H)
    rec = np.empty((GATES, B, H), dtype=dtype)
    tmp = np.empty((B, H), dtype=dtype)
    TB = T * B
    da3 = da.reshape(GATES, TB, H)

    if not reset_after:
        Pr *= hm_prev                                             # dL/da_r = du * (m *) h_{t-1} r (1 - r)
        W_n = W_h3[2]
        for t in range(T - 1, -1, -1):
            n = sched.active[t]
            g = _seq.delta_t(dh, d_out_tm, t, n, norms)        # dL/dh_t, complete here
            d = da[:, t, :n]
            d[1:] *= g                                            # dL/da_z, dL/da_n
            du = tmp[:n]
            np.matmul(d[2], W_n, out=du)                          # du = W_hn^T dL/da_n
            d[0] *= du                                            # dL/da_r
            du *= R[t, :n]
            g *= Z1[t, :n]
            r = rec[:2, :n]
            np.matmul(d[:2], W_h3[:2], out=r)                     # W_hr^T dL/da_r, W_hz^T dL/da_z
            if m is None:
                g += du
                g += r[0]
                g += r[1]                                         # delta_{t-1}
            else:
                du += r[0]
                du += r[1]
                du *= m[:n]                                       # the products read m * h_{t-1}
                g += du
        grads = {
            "W_x": block_grads(da3, xt.reshape(TB, D)),
            "W_h": np.concatenate([block_grads(da3[:2], hm_prev.reshape(TB, H)),
                                   da3[2].T @ aux.reshape(TB, H)]),
            "b": fuse_blocks(da3.sum(axis=1)),
        }
        grads["b_h"] = grads["b"].copy()
        dx = sum_blocks_matmul(da3, gate_blocks(W_x, GATES))
        if record is not None:
            record.append(norms)
        return batch_first(dx.reshape(T, B, D), sched), (sched.unsort(dh),), grads

    # reset_after: da holds the gradient of the recurrent products [a_r; a_z; v] (one batched product
    # per step); the input path differs only in the n block (dL/da_n instead of dL/dv = dL/da_n r).
    Pn = Pn.copy()
    Pr *= aux                                                     # dL/da_r / delta = z (1-n^2) v r (1-r)
    Pr *= Pn
    da[2] *= R                                                    # dL/dv / delta = z (1-n^2) r
    dan = np.zeros((T, B, H), dtype=dtype)                        # dL/da_n
    for t in range(T - 1, -1, -1):
        n = sched.active[t]
        g = _seq.delta_t(dh, d_out_tm, t, n, norms)        # dL/dh_t, complete here
        d = da[:, t, :n]
        d *= g                                                    # dL/da_r, dL/da_z, dL/dv
        np.multiply(g, Pn[t, :n], out=dan[t, :n])
        g *= Z1[t, :n]
        r = rec[:, :n]
        np.matmul(d, W_h3, out=r)
        if m is None:
            g += r[0]
            g += r[1]
            g += r[2]                                             # delta_{t-1}
        else:
            s = tmp[:n]
            np.add(r[0], r[1], out=s)
            s += r[2]
            s *= m[:n]
            g += s
    dax = [da3[0], da3[1], dan.reshape(TB, H)]                    # gradient of the input projection
    grads = {
        "W_x": block_grads(dax, xt.reshape(TB, D)),
        "W_h": block_grads(da3, hm_prev.reshape(TB, H)),
        "b": np.concatenate([blk.sum(axis=0) for blk in dax]),
        "b_h": fuse_blocks(da3.sum(axis=1)),
    }
    dx = sum_blocks_matmul(dax, gate_blocks(W_x, GATES))
    if record is not None:
        record.append(norms)
    return batch_first(dx.reshape(T, B, D), sched), (sched.unsort(dh),), grads


def step(params, x_t, state, reset_after=False):
    """One time step of the GRU for streaming inference, in either variant.

    No validation and no cache: this is the latency path (use ``forward`` for training). The r and z
    sigmoids come from one tanh (sigma(a) = 0.5 tanh(a/2) + 0.5). It is one compiled call when numba is
    installed and the arrays are float32/float64 (B, D) and (B, H) of the weights' dtype
    (``RNNKIT_KERNELS``, see ``rnnkit/ops/_kernels.py``), the NumPy expression otherwise.

    Parameters
    ----------
    params : dict of numpy.ndarray
        ``W_x`` (3H, D), ``W_h`` (3H, H), ``b`` (3H,), ``b_h`` (3H,), gate rows [r, z, n], float32 or
        float64.
    x_t : numpy.ndarray
        (B, D), the input at this step, in the weights' dtype.
    state : tuple of numpy.ndarray
        ``(h,)`` with h (B, H), the previous state.
    reset_after : bool, default False
        False: the seed's form; True: the PyTorch / cuDNN form (not checked).

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
    >>> from rnnkit.ops import gru
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(0, 0.5, s) for k, s in gru.param_shapes(3, 2).items()}
    >>> x = rng.normal(size=(2, 5, 3))
    >>> state = (np.zeros((2, 2)),)
    >>> for t in range(5):
    ...     state = gru.step(params, x[:, t], state, reset_after=True)
    >>> bool(np.allclose(state[0], gru.forward(params, x, reset_after=True)[1][0]))
    True
    """
    h = state[0]
    K = _kernels.get(NAME)
    args = None if K is None else _glue.step_args(params, x_t, h)
    if args is not None:                                          # one compiled call (``_numba_gru.step``)
        return (K.step(*args, bool(reset_after)),)
    H = h.shape[-1]
    H2 = 2 * H
    W_h, b, b_h = params["W_h"], params["b"], params["b_h"]
    a = x_t @ params["W_x"].T
    rz = a[..., :H2]
    half = a.dtype.type(0.5) if a.dtype.kind == "f" else 0.5
    if reset_after:
        bias = b.copy()
        bias[:H2] += b_h[:H2]
        a += bias
        rec = h @ W_h.T
        rz += rec[..., :H2]
        rz *= half                                                # sigma(a) = 0.5 tanh(a/2) + 0.5
        np.tanh(rz, out=rz)
        rz *= half
        rz += half
        v = rec[..., H2:]
        v += b_h[H2:]
        v *= a[..., :H]
        a[..., H2:] += v
    else:
        a += b + b_h
        rz += h @ W_h[:H2].T
        rz *= half
        np.tanh(rz, out=rz)
        rz *= half
        rz += half
        a[..., H2:] += (a[..., :H] * h) @ W_h[H2:].T
    np.tanh(a[..., H2:], out=a[..., H2:])
    h_new = a[..., H2:] - h
    h_new *= a[..., H:H2]
    h_new += h
    return (h_new,)
