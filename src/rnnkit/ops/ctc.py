r"""Connectionist Temporal Classification (CTC): loss and gradient (seed §2.6).

The seed (§2.6) defines the CTC loss as

    CTC Loss = -log P(y | x),

where P(y | x) sums the probabilities of *all* frame-level alignments of the network outputs x
(``T`` frames of class scores) that collapse to the label sequence ``y = (y_1, ..., y_L)``
(Graves et al., 2006). An alignment picks one class per frame, including a special *blank*
class; it collapses to a labelling by first merging runs of repeated classes and then dropping
the blanks (``a a - a b b -`` -> ``a a b``). Repeated labels therefore need a blank between them.

Extended label sequence
-----------------------
The sum over alignments is computed by dynamic programming over the *extended* sequence

    l' = (blank, y_1, blank, y_2, ..., blank, y_L, blank),     S' = |l'| = 2 L + 1,

so even positions ``s`` are blanks and odd positions are labels. A valid alignment is a
monotone path through the grid (t, s): it starts at ``s = 0`` or ``s = 1`` at ``t = 0``, ends at
``s = S'-1`` or ``s = S'-2`` at ``t = T-1``, and at each frame moves from ``s`` to ``s``,
``s + 1``, or ``s + 2`` -- the skip ``s -> s + 2`` only over a blank between two *different*
labels (``l'_{s+2} != blank`` and ``l'_{s+2} != l'_s``). A sequence with ``r`` adjacent repeats
needs at least ``L + r`` frames; with fewer, no alignment exists, the loss is ``+inf``.

Recursions (all in log space)
-----------------------------
With per-frame log-probabilities ``lp[t, k] = log_softmax(logits[t])_k`` (the op applies the
log-softmax itself, stably) and ``e[t, s] = lp[t, l'_s]``, the forward variables are

    alpha[0, 0] = e[0, 0],   alpha[0, 1] = e[0, 1],   alpha[0, s > 1] = -inf
    alpha[t, s] = e[t, s] + logsumexp(alpha[t-1, s], alpha[t-1, s-1], [alpha[t-1, s-2] if skip(s)])

and the backward variables (here *including* the emission at ``t``) mirror them:

    beta[T-1, S'-1] = e[T-1, S'-1],   beta[T-1, S'-2] = e[T-1, S'-2]
    beta[t, s] = e[t, s] + logsumexp(beta[t+1, s], beta[t+1, s+1], [beta[t+1, s+2] if skip(s+2)])

    log P(y | x) = logsumexp(alpha[T-1, S'-1], alpha[T-1, S'-2]).

The backward recursion is the forward one run on the time-reversed frames and the reversed
extended sequence (whose skip rule is the same), so this module runs both at once as one
forward recursion over a batch of ``2 * batch`` rows: one Python loop over time, NumPy over
(batch, s). Each three-term log-sum-exp subtracts its own element-wise maximum, as in PyTorch.

Gradient
--------
``gamma[t, s] = exp(alpha[t, s] + beta[t, s] - e[t, s] - log P)`` is the posterior probability
that the alignment is at position ``s`` at frame ``t``; for each valid frame it sums to 1 over s.
Since ``P`` is a sum of products of one ``exp(lp[t, .])`` per frame, ``d(-log P)/d lp[t, k] =
-sum_{s : l'_s = k} gamma[t, s]``; through the log-softmax (whose Jacobian is ``I - softmax``
and the gammas sum to 1) the gradient with respect to the raw scores is

    d loss / d logits[t, k] = softmax(logits[t])_k - sum_{s : l'_s = k} gamma[t, s]

for ``t < input_length`` and 0 for padded frames, then scaled by the reduction. The code
normalises ``gamma`` per frame (dividing by its sum over ``s``) instead of by the global ``P``:
equal in exact arithmetic, and it cancels the rounding that alpha and beta accumulate over
time, which matters in float32 for long sequences and large losses. Here ``T`` is each
sample's ``input_length``, and ``L`` its ``target_length``. Samples with no
valid alignment have ``loss = +inf`` and a NaN gradient (as in PyTorch), or loss 0 and gradient 0
with ``zero_infinity=True``.

Reductions follow ``torch.nn.functional.ctc_loss``: ``'none'`` gives the per-sample losses,
``'sum'`` their sum, ``'mean'`` the batch mean of ``loss_b / max(target_length_b, 1)``.

Decoding (best path and prefix beam search) lives in :mod:`rnnkit.ops.ctc_decode`.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_int_vector
from .activations import log_softmax

__all__ = ["forward", "backward", "required_frames"]

_REDUCTIONS = ("none", "sum", "mean")


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------
def _check_logits(logits, name: str = "logits") -> np.ndarray:
    """(batch, time, classes) float32/float64 scores, finite, at least one class (integers and
    float16 are computed in the library default, float32)."""
    x = as_float_array(logits, name, ndim=3)
    if x.shape[2] == 0:
        raise ValueError(f"{name}: expected at least one class on the last axis, got shape {x.shape}")
    return x


def _check_blank(blank, classes: int) -> int:
    if isinstance(blank, (bool, np.bool_)) or not isinstance(blank, (int, np.integer)):
        raise TypeError(f"blank: expected an int class index, got {type(blank).__name__}")
    if not 0 <= blank < classes:
        raise ValueError(f"blank: expected an index in [0, {classes}) (number of classes), got {blank}")
    return int(blank)


def _check_input_lengths(input_lengths, batch: int, time: int) -> np.ndarray:
    if input_lengths is None:
        return np.full(batch, time, dtype=np.int64)
    arr = check_int_vector(input_lengths, "input_lengths", batch)
    if arr.size and arr.max() > time:
        raise ValueError(f"input_lengths: expected lengths <= the padded time axis of logits ({time}), "
                         f"got max {int(arr.max())}")
    return arr


def _check_targets(targets, target_lengths, batch: int, classes: int, blank: int):
    """Return (padded int64 targets (batch, Lmax) with only valid entries meaningful, lengths)."""
    if isinstance(targets, (list, tuple)):
        if len(targets) != batch:
            raise ValueError(f"targets: expected {batch} sequences (batch size of logits), got {len(targets)}")
        seqs = []
        for i, t in enumerate(targets):
            a = np.asarray(t)
            if a.ndim != 1:
                raise ValueError(f"targets[{i}]: expected a 1-D label sequence, got shape {a.shape}")
            if a.size and not np.issubdtype(a.dtype, np.integer):
                raise TypeError(f"targets[{i}]: expected integer labels, got dtype {a.dtype}")
            seqs.append(a.astype(np.int64, copy=False))
        own = np.array([len(s) for s in seqs], dtype=np.int64)
        if target_lengths is None:
            lengths = own
        else:
            lengths = check_int_vector(target_lengths, "target_lengths", batch)
            if not np.array_equal(lengths, own):
                bad = int(np.flatnonzero(lengths != own)[0])
                raise ValueError(f"target_lengths: expected the lengths of the target sequences "
                                 f"({own.tolist()}), got {lengths.tolist()} (first mismatch at index {bad})")
        width = int(own.max()) if batch else 0
        padded = np.full((batch, width), blank, dtype=np.int64)
        for i, s in enumerate(seqs):
            padded[i, :len(s)] = s
    else:
        padded = np.asarray(targets)
        if padded.ndim != 2:
            raise ValueError(f"targets: expected a padded 2-D int array (batch, max_target_length) or a "
                             f"list of 1-D arrays, got shape {padded.shape}")
        if padded.shape[0] != batch:
            raise ValueError(f"targets: expected {batch} rows (batch size of logits), got shape {padded.shape}")
        if padded.size and not np.issubdtype(padded.dtype, np.integer):
            raise TypeError(f"targets: expected integer labels, got dtype {padded.dtype}")
        padded = padded.astype(np.int64, copy=False)
        if target_lengths is None:
            raise ValueError("target_lengths: required when targets is a padded 2-D array, got None")
        lengths = check_int_vector(target_lengths, "target_lengths", batch)
        if lengths.size and lengths.max() > padded.shape[1]:
            raise ValueError(f"target_lengths: expected lengths <= the padded target width "
                             f"({padded.shape[1]}), got max {int(lengths.max())}")
    width = padded.shape[1]
    valid = np.arange(width)[None, :] < lengths[:, None]
    if valid.any():
        labels = padded[valid]
        if labels.min() < 0 or labels.max() >= classes:
            bad = labels[(labels < 0) | (labels >= classes)][0]
            raise ValueError(f"targets: expected labels in [0, {classes}) (number of classes), got {int(bad)}")
        if np.any(labels == blank):
            raise ValueError(f"targets: labels must not equal the blank index ({blank})")
    return padded, lengths


# ----------------------------------------------------------------------------------------------
# loss
# ----------------------------------------------------------------------------------------------
def required_frames(targets) -> np.ndarray:
    """The fewest frames that can emit each label sequence.

    That is its length plus one blank between every two equal adjacent labels (seed §2.6). A sample
    with fewer input frames has no alignment.

    Parameters
    ----------
    targets : sequence of array_like
        One 1-D integer label sequence per sample (lists or arrays; lengths may differ).

    Returns
    -------
    numpy.ndarray
        (batch,) int64, the minimum number of frames per sample (0 for an empty sequence).

    Examples
    --------
    >>> from rnnkit.ops import ctc
    >>> ctc.required_frames([[1, 2, 2], [3, 3, 3], []])
    array([4, 5, 0])
    """
    return np.array([len(t) + int(np.count_nonzero(np.diff(np.asarray(t)) == 0)) if len(t) else 0
                     for t in targets], dtype=np.int64)


def forward(logits, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
            zero_infinity: bool = False):
    """CTC loss ``-log P(y | x)`` (seed §2.6) and a cache for :func:`backward`.

    Parameters
    ----------
    logits : array_like
        ``(batch, T, classes)`` raw scores (float32 or float64); log-softmax is applied here.
    targets : array_like or list of array_like
        Padded int array ``(batch, S)`` (entries past ``target_lengths`` ignored), or a list of 1-D int
        arrays (then ``target_lengths`` may be ``None``). Labels lie in ``[0, classes)`` and are never
        ``blank``.
    input_lengths : array_like or None
        ``(batch,)`` valid frames per sample, ``<= T`` (``None``: all ``T``).
    target_lengths : array_like or None
        ``(batch,)`` label counts; required for padded ``targets``.
    blank : int, optional
        Index of the blank class, in ``[0, classes)``. Default 0.
    reduction : {"mean", "sum", "none"}, optional
        ``'none'`` -> ``(batch,)``; ``'sum'``; ``'mean'`` (loss / max(target_length, 1), averaged over the
        batch) -- as ``torch.nn.functional.ctc_loss``. Default ``'mean'``.
    zero_infinity : bool, optional
        Impossible samples (infinite loss) contribute loss 0 and gradient 0. Default False.

    Returns
    -------
    loss : numpy.floating or numpy.ndarray
        Scalar for ``'mean'``/``'sum'``, ``(batch,)`` for ``'none'``; the dtype of ``logits``. ``+inf``
        for a sample with no valid alignment (unless ``zero_infinity``).
    cache : dict
        What :func:`backward` needs.

    Raises
    ------
    ValueError
        If ``reduction`` is unknown, or ``logits``, ``blank``, the lengths or the targets are malformed
        (wrong rank or shape, NaN/inf, out-of-range values, a label equal to ``blank``, padded targets
        without ``target_lengths``).
    TypeError
        If ``logits`` is not a float array, or ``blank``, the lengths or the labels are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import ctc
    >>> logits = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    >>> loss, cache = ctc.forward(logits, [np.array([1, 2]), np.array([3])], None, None)
    >>> round(float(loss), 4), loss.dtype
    (3.6062, dtype('float32'))
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
    x = _check_logits(logits)
    B, T, C = x.shape
    dtype = x.dtype
    blank = _check_blank(blank, C)
    Tl = _check_input_lengths(input_lengths, B, T)
    padded, L = _check_targets(targets, target_lengths, B, C, blank)

    lp = log_softmax(x)                                        # (B, T, C)
    Lmax = int(L.max()) if B else 0
    S = 2 * Lmax + 1                                           # padded extended length
    Sb = 2 * L + 1                                             # extended length per sample
    R, W = 2 * B, S + 2
    s_idx = np.arange(S)

    # extended labels l' (padding positions hold blank) and their one-hot map (B, C, S)
    ext = np.full((B, S), blank, dtype=np.int64)
    if Lmax:
        ext[:, 1::2] = np.where(np.arange(Lmax)[None, :] < L[:, None], padded[:, :Lmax], blank)
    onehot = (ext[:, None, :] == np.arange(C)[None, :, None]).astype(dtype)

    # Rows 0..B-1 run alpha over (t, s); rows B..2B-1 run the same recursion over (T-1-t, S-1-s),
    # whose values are beta. e[r, t, s] is the log-probability that row r emits at its (t, s):
    # a gather by one-hot product (exact: each sum holds one lp value and zeros).
    e = np.empty((R, T, S), dtype=dtype)
    np.matmul(lp, onehot, out=e[:B])
    np.matmul(lp[:, ::-1], onehot[:, :, ::-1], out=e[B:])
    # reversed rows: padding positions come first there, so they must stay impossible
    np.copyto(e[B:], dtype.type(-np.inf), where=(s_idx[None, :] < (S - Sb)[:, None])[:, None, :])

    # "can skip" mask s-2 -> s: into a label different from the one two places back. Column 1
    # (s = 1) may always take its c-term: that is how a row's start value (below) reaches s = 1.
    ext2 = np.concatenate([ext, ext[:, ::-1]])
    skip = np.zeros((R, S), dtype=bool)
    if S > 1:
        skip[:, 1] = True
    if S > 2:
        skip[:, 2:] = (ext2[:, 2:] != blank) & (ext2[:, 2:] != ext2[:, :-2])
    skip_add = np.where(skip, 0.0, -np.inf).astype(dtype)

    # A[r, t, 2 + s]; columns 0, 1 stand for s = -2, -1. A row starts by a log-value 0 placed one
    # frame before its first frame, one column before its first position: alpha rows at t = -1,
    # s = -1; beta rows (first frame T - Tl, first position S - Sb) at t = T - Tl - 1, s = S - Sb - 1.
    # The recursion then gives e at the two start positions, exactly the textbook initialisation.
    A = np.empty((R, T, W), dtype=dtype)
    A[:, :, :2] = -np.inf
    init = np.full((R, W), -np.inf, dtype=dtype)
    init[:B, 1] = 0
    start_col = 1 + S - Sb                                     # = 2 + (S - Sb - 1)
    start_t = T - Tl
    now = np.flatnonzero((start_t == 0) & (Tl > 0))
    init[B + now, start_col[now]] = 0
    inject = {}
    for b in np.flatnonzero((start_t > 0) & (Tl > 0)):
        inject.setdefault(int(start_t[b]) - 1, []).append(b)
    inject = {t: (B + np.array(bs), start_col[bs]) for t, bs in inject.items()}

    floor = dtype.type(-np.finfo(dtype).max)                   # stands in for a -inf maximum
    m = np.empty((R, S), dtype=dtype)
    acc = np.empty_like(m)
    tmp = np.empty_like(m)
    with np.errstate(divide="ignore"):                         # log(0) = -inf for unreachable (t, s)
        for t in range(T):
            prev = init if t == 0 else A[:, t - 1]
            a, b, c = prev[:, 2:], prev[:, 1:-1], prev[:, :-2]  # s, s-1, s-2
            np.add(c, skip_add, out=tmp)
            np.maximum(a, b, out=m)
            np.maximum(m, tmp, out=m)
            np.maximum(m, floor, out=m)
            np.subtract(tmp, m, out=tmp)
            np.exp(tmp, out=tmp)
            np.subtract(a, m, out=acc)
            np.exp(acc, out=acc)
            acc += tmp
            np.subtract(b, m, out=tmp)
            np.exp(tmp, out=tmp)
            acc += tmp
            np.log(acc, out=acc)
            out = A[:, t, 2:]
            np.add(acc, m, out=out)
            out += e[:, t]
            if t in inject:
                rows, cols = inject[t]
                A[rows, t, cols] = 0

    # log P(y|x) from the alpha rows at each sample's last frame
    logp = np.zeros(B, dtype=dtype)
    bb = np.flatnonzero(Tl > 0)
    if bb.size:
        tl = Tl[bb] - 1
        end1 = A[bb, tl, 2 + Sb[bb] - 1]
        end2 = np.where(L[bb] > 0, A[bb, tl, 2 + np.maximum(Sb[bb] - 2, 0)], -np.inf).astype(dtype)
        logp[bb] = np.logaddexp(end1, end2)
    logp[(Tl == 0) & (L > 0)] = -np.inf                        # labels but no frames: impossible
    nll = -logp
    impossible = np.isinf(nll)
    if zero_infinity:
        nll = np.where(impossible, dtype.type(0), nll)

    if reduction == "none":
        loss = nll.astype(dtype, copy=False)
    elif reduction == "sum":
        loss = dtype.type(nll.sum(dtype=dtype))
    else:
        per = nll / np.maximum(L, 1).astype(dtype)
        loss = dtype.type(per.mean(dtype=dtype)) if B else dtype.type(np.nan)

    cache = {"lp": lp, "e": e, "A": A, "onehot": onehot, "Tl": Tl, "L": L, "Sb": Sb,
             "impossible": impossible, "zero_infinity": bool(zero_infinity), "reduction": reduction,
             "dtype": dtype}
    return loss, cache


def backward(cache: dict, d_loss=1.0) -> np.ndarray:
    """Gradient of the CTC loss with respect to ``logits``, ``(batch, T, classes)``.

    Frames past ``input_lengths`` get 0. Impossible samples get NaN (like PyTorch) unless the forward
    pass used ``zero_infinity=True``, which gives them 0.

    Parameters
    ----------
    cache : dict
        The cache :func:`forward` returned.
    d_loss : float or array_like, optional
        The upstream gradient: a scalar for ``'mean'``/``'sum'``, shape ``(batch,)`` for ``'none'``;
        finite. Default 1.0.

    Returns
    -------
    numpy.ndarray
        ``(batch, T, classes)`` gradient with respect to the raw ``logits``, in their dtype.

    Raises
    ------
    TypeError
        If ``d_loss`` is not numeric.
    ValueError
        If ``d_loss`` has the wrong shape for the reduction, or is NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops import ctc
    >>> logits = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    >>> loss, cache = ctc.forward(logits, [np.array([1, 2]), np.array([3])], None, None)
    >>> grad = ctc.backward(cache)
    >>> grad.shape, grad.dtype, bool(np.allclose(grad.sum(-1), 0, atol=1e-6))
    ((2, 5, 4), dtype('float32'), True)
    """
    lp, e, A, onehot = cache["lp"], cache["e"], cache["A"], cache["onehot"]
    Tl, L, Sb = cache["Tl"], cache["L"], cache["Sb"]
    dtype, reduction = cache["dtype"], cache["reduction"]
    B, T, C = lp.shape
    S = onehot.shape[2]

    g = np.asarray(d_loss)
    if not (np.issubdtype(g.dtype, np.integer) or np.issubdtype(g.dtype, np.floating)):
        raise TypeError(f"d_loss: expected a float scalar or array, got dtype {g.dtype}")
    if reduction == "none":
        if g.shape != (B,):
            raise ValueError(f"d_loss: expected shape ({B},) for reduction='none', got {g.shape}")
        scale = g.astype(dtype)
    else:
        if g.ndim != 0:
            raise ValueError(f"d_loss: expected a scalar for reduction={reduction!r}, got shape {g.shape}")
        scale = np.full(B, g, dtype=dtype)
        if reduction == "mean":
            scale /= (np.maximum(L, 1) * B).astype(dtype)
    if not np.isfinite(g).all():
        raise ValueError("d_loss: expected finite values, got NaN or inf")

    impossible = cache["impossible"]
    tvalid = np.arange(T)[None, :] < Tl[:, None]               # (B, T)
    grad = np.exp(lp)                                          # softmax
    if B and T:
        # log(P * gamma[b, t, s]) = alpha + beta - e; beta is the reversed rows read backwards
        logocc = A[:B, :, 2:] + A[B:, ::-1, 2:][:, :, ::-1]
        logocc -= e[:B]
        ninf = dtype.type(-np.inf)
        np.copyto(logocc, ninf, where=(np.arange(S)[None, :] >= Sb[:, None])[:, None, :])
        np.copyto(logocc, ninf, where=~tvalid[:, :, None])
        # gamma sums to one over s on each valid frame: normalise per frame rather than by the
        # global log P, which cancels the rounding that alpha and beta accumulate along time
        # (same result in float64, markedly more accurate in float32 for large losses)
        top = logocc.max(axis=2, keepdims=True)
        np.maximum(top, np.finfo(dtype).min, out=top)           # frames with no path: all -inf
        logocc -= top
        np.exp(logocc, out=logocc)
        z = logocc.sum(axis=2, keepdims=True)
        z[z == 0] = 1
        logocc /= z                                             # gamma (B, T, S)
        grad -= np.matmul(logocc, onehot.transpose(0, 2, 1))    # sum over s with l'_s = k
    grad *= tvalid[:, :, None]
    grad *= scale[:, None, None]
    if impossible.any():
        bad = impossible[:, None] & tvalid                      # (B, T)
        grad[bad] = 0.0 if cache["zero_infinity"] else np.nan
    return grad
