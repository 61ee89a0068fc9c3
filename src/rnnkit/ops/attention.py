r"""Attention over a source sequence: scores, a softmax over the valid source steps, context vectors
(seed §6, the hybrids of recurrent networks with attention).

A batch of queries ``q`` (B, Tq, Dq) attends over keys ``k`` (B, Tk, Dk) and values ``val``
(B, Tk, Dv) (usually ``k`` and ``val`` are the same encoder outputs); ``lengths`` (B,) or None gives
each sequence's number of valid source steps. For query ``i`` and source step ``j``:

    additive (Bahdanau)    e_ij = v^T tanh(W_q q_i + W_k k_j)     W_q (A, Dq), W_k (A, Dk), v (A,)
    dot (Luong)            e_ij = q_i . k_j                       no weights; Dq == Dk
    general (Luong)        e_ij = q_i^T W_a k_j                   W_a (Dq, Dk)

    a_ij = exp(e_ij) / sum_{j' < L} exp(e_ij')  for j < L,   a_ij = 0 for j >= L   (L = lengths[b])
    c_i  = sum_j a_ij val_j

Backward (``d_c`` given; ``d_a`` optional, for a loss on the weights themselves):

    d_a_ij = d_c_i . val_j + d_a_ij          d_val_j = sum_i a_ij d_c_i
    d_e_ij = a_ij (d_a_ij - sum_j' a_ij' d_a_ij')                      (softmax Jacobian)
    additive:  Z_ij = tanh(W_q q_i + W_k k_j),  G_ij = d_e_ij v * (1 - Z_ij^2),  d_v = sum_ij d_e_ij Z_ij,
               d_q_i = W_q^T sum_j G_ij,  d_k_j = W_k^T sum_i G_ij,
               d_W_q = sum_i (sum_j G_ij) q_i^T,  d_W_k = sum_j (sum_i G_ij) k_j^T
    dot:       d_q_i = sum_j d_e_ij k_j,   d_k_j = sum_i d_e_ij q_i
    general:   with K'_j = W_a k_j: d_q_i = sum_j d_e_ij K'_j,  d_K'_j = sum_i d_e_ij q_i,
               d_k_j = W_a^T d_K'_j,  d_W_a = sum d_K'_j k_j^T

Padding: a masked step's score never enters the softmax (``-inf`` before ``exp``), so its weight is
exactly 0; then its ``d_e`` is exactly 0 (it is ``a`` times something), and so are the gradients
reaching its key and its value (design section 2). The weights fix the dtype (design section 3);
the dot score has no weights, so there the queries fix it.

``forward`` validates its inputs; ``run`` trusts them (layers call it). The pieces (``scores`` /
``scores_backward``, ``masked_softmax`` / ``masked_softmax_backward``, ``context`` /
``context_backward``) are public too, for models that combine them differently.
"""
from __future__ import annotations

import numpy as np

from . import _checks

SCORES = ("additive", "dot", "general")


def check_score(score) -> str:
    """Validate an attention score name.

    Parameters
    ----------
    score : str
        One of ``"additive"`` (Bahdanau), ``"dot"`` or ``"general"`` (Luong).

    Returns
    -------
    str
        ``score`` unchanged.

    Raises
    ------
    ValueError
        If ``score`` is not one of the three names.

    Examples
    --------
    >>> from rnnkit.ops import attention
    >>> attention.check_score("dot")
    'dot'
    """
    if score not in SCORES:
        raise ValueError(f"score: expected one of {SCORES}, got {score!r:.50}")
    return score


def param_shapes(score: str, query_size: int, key_size: int, attn_size: int | None = None) -> dict:
    """Shapes of a score's weights, ``{name: shape}``.

    Parameters
    ----------
    score : str
        ``"additive"``, ``"dot"`` or ``"general"``.
    query_size : int
        Dq, the queries' feature size.
    key_size : int
        Dk, the keys' feature size.
    attn_size : int, optional
        A, the additive score's hidden size. Default None (A = ``query_size``); unused by the other scores.

    Returns
    -------
    dict of str to tuple of int
        ``{"W_q": (A, Dq), "W_k": (A, Dk), "v": (A,)}`` for additive, ``{"W_a": (Dq, Dk)}`` for general,
        ``{}`` for dot.

    Raises
    ------
    ValueError
        If ``score`` is unknown, or the dot score gets ``query_size != key_size``.

    Examples
    --------
    >>> from rnnkit.ops import attention
    >>> attention.param_shapes("additive", 4, 6, attn_size=3)
    {'W_q': (3, 4), 'W_k': (3, 6), 'v': (3,)}
    """
    check_score(score)
    if score == "additive":
        A = query_size if attn_size is None else attn_size
        return {"W_q": (A, query_size), "W_k": (A, key_size), "v": (A,)}
    if score == "general":
        return {"W_a": (query_size, key_size)}
    if query_size != key_size:
        raise ValueError(f"dot score: queries and keys need the same size, got {query_size} and {key_size}")
    return {}


# -- the pieces ----------------------------------------------------------------------------------
def scores(params: dict, q: np.ndarray, k: np.ndarray, score: str):
    """Raw attention scores e_ij of every query against every key, unmasked.

    Inputs are trusted (not validated).

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        The score's weights (see :func:`param_shapes`); ``{}`` for dot.
    q : numpy.ndarray
        Queries, (B, Tq, Dq), float32 or float64.
    k : numpy.ndarray
        Keys, (B, Tk, Dk), same dtype.
    score : str
        ``"additive"``, ``"dot"`` or ``"general"``.

    Returns
    -------
    e : numpy.ndarray
        Scores, (B, Tq, Tk).
    cache : tuple
        What :func:`scores_backward` needs.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.standard_normal((2, 1, 4)), rng.standard_normal((2, 3, 4))
    >>> e, cache = attention.scores({}, q, k, "dot")
    >>> e.shape
    (2, 1, 3)
    """
    if score == "additive":
        Pq = q @ params["W_q"].T                                  # (B, Tq, A)
        Pk = k @ params["W_k"].T                                  # (B, Tk, A)
        Z = np.tanh(Pq[:, :, None, :] + Pk[:, None, :, :])        # (B, Tq, Tk, A)
        return Z @ params["v"], (score, params, q, k, Z)
    if score == "general":
        Kp = k @ params["W_a"].T                                  # (B, Tk, Dq): W_a k_j
        return q @ Kp.transpose(0, 2, 1), (score, params, q, k, Kp)
    return q @ k.transpose(0, 2, 1), (score, params, q, k, None)


def scores_backward(cache, d_e: np.ndarray):
    """Backward pass of :func:`scores`.

    Parameters
    ----------
    cache : tuple
        The cache :func:`scores` returned.
    d_e : numpy.ndarray
        Gradient with respect to the scores, (B, Tq, Tk).

    Returns
    -------
    d_q : numpy.ndarray
        Gradient with respect to the queries, (B, Tq, Dq).
    d_k : numpy.ndarray
        Gradient with respect to the keys, (B, Tk, Dk).
    grads : dict of str to numpy.ndarray
        Gradients of the score's weights, keyed and shaped like ``params`` (``{}`` for dot).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.standard_normal((2, 1, 4)), rng.standard_normal((2, 3, 4))
    >>> e, cache = attention.scores({}, q, k, "dot")
    >>> d_q, d_k, grads = attention.scores_backward(cache, np.ones_like(e))
    >>> d_q.shape, d_k.shape, grads
    ((2, 1, 4), (2, 3, 4), {})
    """
    score, params, q, k, aux = cache
    if score == "additive":
        Z, v = aux, params["v"]
        d_v = np.einsum("bqk,bqka->a", d_e, Z)
        dZ = d_e[..., None] * v * (1 - Z * Z)                     # through tanh
        dPq, dPk = dZ.sum(axis=2), dZ.sum(axis=1)                 # (B, Tq, A), (B, Tk, A)
        W_q, W_k = params["W_q"], params["W_k"]
        grads = {"W_q": dPq.reshape(-1, W_q.shape[0]).T @ q.reshape(-1, W_q.shape[1]),
                 "W_k": dPk.reshape(-1, W_k.shape[0]).T @ k.reshape(-1, W_k.shape[1]), "v": d_v}
        return dPq @ W_q, dPk @ W_k, grads
    if score == "general":
        Kp, W_a = aux, params["W_a"]
        d_q = d_e @ Kp
        dKp = d_e.transpose(0, 2, 1) @ q                          # (B, Tk, Dq)
        grads = {"W_a": dKp.reshape(-1, W_a.shape[0]).T @ k.reshape(-1, W_a.shape[1])}
        return d_q, dKp @ W_a, grads
    return d_e @ k, d_e.transpose(0, 2, 1) @ q, {}


def valid_mask(lengths, batch: int, time: int):
    """Boolean mask of each sequence's valid source steps.

    Parameters
    ----------
    lengths : numpy.ndarray or None
        Valid steps per sequence, (B,) integers.
    batch : int
        B (unused; kept for a uniform signature).
    time : int
        Tk, the padded source length.

    Returns
    -------
    numpy.ndarray or None
        (B, 1, Tk) booleans, True at steps ``j < lengths[b]``; None when ``lengths`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> attention.valid_mask(np.array([3, 1]), 2, 3)[:, 0]
    array([[ True,  True,  True],
           [ True, False, False]])
    """
    if lengths is None:
        return None
    return (np.arange(time)[None, :] < lengths[:, None])[:, None, :]


def masked_softmax(e: np.ndarray, lengths=None) -> np.ndarray:
    """Softmax over the last axis of e (B, Tq, Tk) counting only the steps ``j < lengths[b]``.

    The others get weight exactly 0. Every length is >= 1, so each row has a valid step.

    Parameters
    ----------
    e : numpy.ndarray
        Scores, (B, Tq, Tk), float32 or float64.
    lengths : numpy.ndarray, optional
        Valid source steps per sequence, (B,) integers >= 1. Default None (all steps valid).

    Returns
    -------
    numpy.ndarray
        Attention weights a, (B, Tq, Tk), same dtype; each row sums to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> attention.masked_softmax(np.zeros((1, 1, 3)), np.array([2]))
    array([[[0.5, 0.5, 0. ]]])
    """
    valid = valid_mask(lengths, e.shape[0], e.shape[2])
    if valid is not None:
        e = np.where(valid, e, -np.inf)                           # exp(-inf) is exactly 0
    a = np.exp(e - e.max(axis=-1, keepdims=True))
    a /= a.sum(axis=-1, keepdims=True)
    return a


def masked_softmax_backward(a: np.ndarray, d_a: np.ndarray) -> np.ndarray:
    """Gradient through :func:`masked_softmax`: d_e from d_a.

    d_e is 0 wherever a is 0 (the masked steps), whatever d_a holds.

    Parameters
    ----------
    a : numpy.ndarray
        Attention weights from :func:`masked_softmax`, (B, Tq, Tk).
    d_a : numpy.ndarray
        Gradient with respect to ``a``, same shape.

    Returns
    -------
    numpy.ndarray
        Gradient with respect to the scores, d_e, (B, Tq, Tk).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> a = attention.masked_softmax(np.zeros((1, 1, 3)), np.array([2]))
    >>> attention.masked_softmax_backward(a, np.array([[[1.0, 0.0, 5.0]]]))
    array([[[ 0.25, -0.25,  0.  ]]])
    """
    return a * (d_a - np.sum(a * d_a, axis=-1, keepdims=True))


def context(a: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Context vectors c = a @ val, the weighted sums of the values.

    Parameters
    ----------
    a : numpy.ndarray
        Attention weights, (B, Tq, Tk).
    val : numpy.ndarray
        Values, (B, Tk, Dv).

    Returns
    -------
    numpy.ndarray
        Context vectors c, (B, Tq, Dv).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> attention.context(np.array([[[0.5, 0.5]]]), np.array([[[1.0, 0.0], [3.0, 2.0]]]))
    array([[[2., 1.]]])
    """
    return a @ val


def context_backward(a: np.ndarray, val: np.ndarray, d_c: np.ndarray):
    """Backward pass of :func:`context`.

    Parameters
    ----------
    a : numpy.ndarray
        Attention weights, (B, Tq, Tk).
    val : numpy.ndarray
        Values, (B, Tk, Dv).
    d_c : numpy.ndarray
        Gradient with respect to the context vectors, (B, Tq, Dv).

    Returns
    -------
    d_a : numpy.ndarray
        Gradient with respect to the weights, (B, Tq, Tk).
    d_val : numpy.ndarray
        Gradient with respect to the values, (B, Tk, Dv).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> a, val = np.full((2, 1, 3), 1 / 3), np.ones((2, 3, 4))
    >>> d_a, d_val = attention.context_backward(a, val, np.ones((2, 1, 4)))
    >>> d_a.shape, d_val.shape
    ((2, 1, 3), (2, 3, 4))
    """
    return d_c @ val.transpose(0, 2, 1), a.transpose(0, 2, 1) @ d_c


# -- the whole attention -------------------------------------------------------------------------
def forward(params, q, k, val=None, lengths=None, *, score: str = "additive"):
    """Attention of queries over keys/values: context vectors, weights and the cache of ``backward``.

    ``val`` None means the values are the keys. Validates everything, then calls ``run``.

    Parameters
    ----------
    params : dict of str to numpy.ndarray or None
        The score's weights (see :func:`param_shapes`), float32 or float64; they fix the dtype.
        ``{}`` or None for the dot score.
    q : array_like
        Queries, (B, Tq, Dq), float.
    k : array_like
        Keys, (B, Tk, Dk), float.
    val : array_like, optional
        Values, (B, Tk, Dv). Default None (the values are the keys).
    lengths : array_like, optional
        Valid source steps per sequence, (B,) integers in [1, Tk]. Default None (all valid).
    score : str, optional
        ``"additive"`` (default), ``"dot"`` or ``"general"``. Keyword-only.

    Returns
    -------
    c : numpy.ndarray
        Context vectors, (B, Tq, Dv).
    a : numpy.ndarray
        Attention weights, (B, Tq, Tk); exactly 0 at padded source steps.
    cache : tuple
        What :func:`backward` needs.

    Raises
    ------
    ValueError
        If ``score`` is unknown, an array has the wrong rank, shape, batch or time size, contains NaN/inf,
        the weights do not match the score, or ``lengths`` is out of range.
    TypeError
        If an input is not a float array or its dtype differs from the weights'.
    KeyError
        If ``params`` lacks one of the score's weights.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.standard_normal((2, 1, 4)), rng.standard_normal((2, 3, 4))
    >>> shapes = attention.param_shapes("additive", 4, 4, attn_size=3)
    >>> params = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    >>> c, a, cache = attention.forward(params, q, k, lengths=np.array([3, 2]))
    >>> c.shape, a.shape, float(a[1, 0, 2])
    ((2, 1, 4), (2, 1, 3), 0.0)
    """
    check_score(score)
    q = _checks.as_float_array(q, "q", ndim=3)
    params = {} if params is None else params
    key_size = np.shape(k)[-1] if np.ndim(k) == 3 else None
    if key_size is None:
        raise ValueError(f"k: expected a 3-D array (batch, time, features), got shape {np.shape(k)}")
    attn = params["v"].shape[0] if score == "additive" and "v" in params else None
    shapes = param_shapes(score, q.shape[2], key_size, attn)
    dtype = _checks.check_params(params, shapes) if shapes else q.dtype
    if sorted(params) != sorted(shapes):
        raise ValueError(f"params: the {score} score takes the weights {sorted(shapes)}, got {sorted(params)}")
    q = _checks.check_sequence_batch(q, "q", dtype=dtype)
    k = _checks.check_sequence_batch(k, "k", dtype=dtype)
    B, Tk = k.shape[:2]
    if q.shape[0] != B:
        raise ValueError(f"q: batch of {q.shape[0]}, but k has a batch of {B}")
    if val is not None:
        val = _checks.check_sequence_batch(val, "val", dtype=dtype)
        if val.shape[:2] != (B, Tk):
            raise ValueError(f"val: expected (batch, time) = {(B, Tk)} like k, got shape {val.shape}")
    lengths = _checks.check_lengths(lengths, B, Tk)
    return run(params, q, k, val, lengths, score)


def run(params, q, k, val, lengths, score):
    """``forward`` on trusted inputs (``val`` None or an array, ``lengths`` int64 or None).

    Nothing is validated; layers call this.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        The score's weights (see :func:`param_shapes`); ``{}`` for dot.
    q : numpy.ndarray
        Queries, (B, Tq, Dq), the weights' dtype.
    k : numpy.ndarray
        Keys, (B, Tk, Dk).
    val : numpy.ndarray or None
        Values, (B, Tk, Dv), or None when the values are the keys.
    lengths : numpy.ndarray or None
        Valid source steps per sequence, (B,) int64, or None (all valid).
    score : str
        ``"additive"``, ``"dot"`` or ``"general"``.

    Returns
    -------
    c : numpy.ndarray
        Context vectors, (B, Tq, Dv).
    a : numpy.ndarray
        Attention weights, (B, Tq, Tk).
    cache : tuple
        What :func:`backward` needs.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.standard_normal((2, 1, 4)), rng.standard_normal((2, 3, 4))
    >>> c, a, cache = attention.run({}, q, k, None, None, "dot")
    >>> c.shape, bool(np.allclose(a.sum(-1), 1))
    ((2, 1, 4), True)
    """
    shared = val is None
    val = k if shared else val
    e, s_cache = scores(params, q, k, score)
    a = masked_softmax(e, lengths)
    return context(a, val), a, (s_cache, a, val, shared)


def backward(cache, d_c=None, d_a=None):
    """Backward pass of :func:`forward` / :func:`run`.

    When ``forward`` got ``val=None`` (values are the keys), ``d_val`` is None and ``d_k`` holds both
    paths. ``grads`` has the score's weight names.

    Parameters
    ----------
    cache : tuple
        The cache :func:`forward` or :func:`run` returned.
    d_c : array_like, optional
        Gradient with respect to the context vectors, (B, Tq, Dv). Default None (zeros).
    d_a : array_like, optional
        Gradient with respect to the attention weights, (B, Tq, Tk), for a loss on the weights
        themselves. Default None (zeros).

    Returns
    -------
    d_q : numpy.ndarray
        Gradient with respect to the queries, (B, Tq, Dq).
    d_k : numpy.ndarray
        Gradient with respect to the keys, (B, Tk, Dk) (both paths when the values are the keys).
    d_val : numpy.ndarray or None
        Gradient with respect to the values, (B, Tk, Dv); None when ``val`` was None.
    grads : dict of str to numpy.ndarray
        Gradients of the score's weights, keyed and shaped like ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import attention
    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.standard_normal((2, 1, 4)), rng.standard_normal((2, 3, 4))
    >>> c, a, cache = attention.forward({}, q, k, score="dot")
    >>> d_q, d_k, d_val, grads = attention.backward(cache, d_c=np.ones_like(c))
    >>> d_q.shape, d_k.shape, d_val, grads
    ((2, 1, 4), (2, 3, 4), None, {})
    """
    s_cache, a, val, shared = cache
    if d_c is None:
        d_a_total, d_val = np.zeros_like(a), np.zeros_like(val)
    else:
        d_c = np.asarray(d_c, dtype=a.dtype)                      # no widening: keep the op's dtype
        d_a_total, d_val = context_backward(a, val, d_c)
    if d_a is not None:
        d_a_total = d_a_total + np.asarray(d_a, dtype=a.dtype)
    d_q, d_k, grads = scores_backward(s_cache, masked_softmax_backward(a, d_a_total))
    if shared:
        return d_q, d_k + d_val, None, grads
    return d_q, d_k, d_val, grads
