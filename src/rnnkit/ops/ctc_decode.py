"""CTC decoding (seed §2.6): turn per-frame class scores into label sequences.

:func:`greedy_decode` takes the best path (argmax per frame, merge repeats, drop blanks);
:func:`beam_search_decode` runs CTC prefix beam search, which merges the alignments of each
prefix and is exact with an unbounded beam. The loss and its gradient are in :mod:`rnnkit.ops.ctc`.
"""
from __future__ import annotations

import math

import numpy as np

from .activations import log_softmax
from .ctc import _check_blank, _check_input_lengths, _check_logits

__all__ = ["greedy_decode", "beam_search_decode"]


def _check_decode_args(logits, input_lengths, blank):
    x = _check_logits(logits, "logits")
    B, T, C = x.shape
    blank = _check_blank(blank, C)
    Tl = _check_input_lengths(input_lengths, B, T)
    return x, Tl, blank


def greedy_decode(logits, input_lengths=None, blank: int = 0) -> list:
    """Best-path decoding: argmax class per frame, merge repeats, drop blanks.

    Parameters
    ----------
    logits : array_like
        Raw scores or log-probabilities ``(batch, T, classes)``, float32 or float64 (the argmax is the
        same).
    input_lengths : array_like, optional
        ``(batch,)`` valid frames per sample, ``<= T``. Default None (all ``T``).
    blank : int, optional
        Index of the blank class. Default 0.

    Returns
    -------
    list of numpy.ndarray
        One 1-D int64 label array per sample, using only its first ``input_lengths`` frames.

    Raises
    ------
    ValueError
        If ``logits`` is not 3-D, has no class or NaN/inf, or ``blank``/``input_lengths`` is out of range.
    TypeError
        If ``logits`` is not float, or ``blank``/``input_lengths`` are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.ctc_decode import greedy_decode
    >>> probs = np.array([[[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]])
    >>> greedy_decode(np.log(probs))
    [array([1, 2])]
    """
    x, Tl, blank = _check_decode_args(logits, input_lengths, blank)
    best = x.argmax(axis=-1)                                   # (B, T)
    out = []
    for b in range(x.shape[0]):
        p = best[b, :Tl[b]]
        keep = np.ones(p.shape, dtype=bool)
        keep[1:] = p[1:] != p[:-1]
        keep &= p != blank
        out.append(p[keep].astype(np.int64))
    return out


def _logaddexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    if a < b:
        a, b = b, a
    return a + math.log1p(math.exp(b - a))


def beam_search_decode(logits, input_lengths=None, beam_width: int = 10, blank: int = 0,
                       return_scores: bool = False):
    """CTC prefix beam search in log space.

    Each prefix keeps two log-probabilities: ending in blank (``p_b``) and ending in its last label
    (``p_nb``). Per frame, a prefix (i) stays the same by emitting blank, (ii) stays the same by
    repeating its last label (from ``p_nb`` only), (iii) extends by a label ``c``: from ``p_b`` only
    when ``c`` repeats the last label (a blank must separate repeats), else from ``p_b + p_nb``.
    The ``beam_width`` most probable prefixes survive each frame. ``logits`` may be raw scores
    or log-probabilities (log-softmax is applied; it leaves log-probabilities unchanged).

    Parameters
    ----------
    logits : array_like
        Raw scores or log-probabilities ``(batch, T, classes)``, float32 or float64.
    input_lengths : array_like, optional
        ``(batch,)`` valid frames per sample, ``<= T``. Default None (all ``T``).
    beam_width : int, optional
        Number of prefixes kept per frame, >= 1. Default 10.
    blank : int, optional
        Index of the blank class. Default 0.
    return_scores : bool, optional
        Also return the scores. Default False.

    Returns
    -------
    labels : list of numpy.ndarray
        One 1-D int64 label array per sample (the most probable prefix).
    scores : numpy.ndarray
        Only with ``return_scores=True``: ``(batch,)`` float64 log-probabilities ``log P(prefix | x)``
        of the returned labellings (summed over the alignments the beam kept).

    Raises
    ------
    ValueError
        If ``beam_width`` is not a positive int, ``logits`` is not 3-D, has no class or NaN/inf, or
        ``blank``/``input_lengths`` is out of range.
    TypeError
        If ``logits`` is not float, or ``blank``/``input_lengths`` are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.ctc_decode import beam_search_decode
    >>> probs = np.array([[[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]])
    >>> labels, scores = beam_search_decode(np.log(probs), beam_width=4, return_scores=True)
    >>> labels, scores.round(4)
    ([array([1, 2])], array([-0.4228]))
    """
    x, Tl, blank = _check_decode_args(logits, input_lengths, blank)
    if isinstance(beam_width, (bool, np.bool_)) or not isinstance(beam_width, (int, np.integer)) or beam_width < 1:
        raise ValueError(f"beam_width: expected a positive int, got {beam_width!r}")
    lp_all = log_softmax(x.astype(np.float64))
    B, T, C = x.shape
    ninf = -math.inf
    labels = [c for c in range(C) if c != blank]
    results, scores = [], np.zeros(B, dtype=np.float64)
    for bi in range(B):
        beams = {(): (0.0, ninf)}                               # prefix -> (log p_b, log p_nb)
        for t in range(Tl[bi]):
            lp = lp_all[bi, t].tolist()
            lp_blank = lp[blank]
            nxt: dict = {}
            for prefix, (pb, pnb) in beams.items():
                ptot = _logaddexp(pb, pnb)
                # (i) + (ii): prefix unchanged
                nb, nnb = nxt.get(prefix, (ninf, ninf))
                nb = _logaddexp(nb, ptot + lp_blank)
                last = prefix[-1] if prefix else None
                if last is not None:
                    nnb = _logaddexp(nnb, pnb + lp[last])
                nxt[prefix] = (nb, nnb)
                # (iii): extend by a label
                for c in labels:
                    src = pb if c == last else ptot
                    if src == ninf:
                        continue
                    new = prefix + (c,)
                    eb, enb = nxt.get(new, (ninf, ninf))
                    nxt[new] = (eb, _logaddexp(enb, src + lp[c]))
            if len(nxt) > beam_width:
                ranked = sorted(nxt.items(), key=lambda kv: _logaddexp(*kv[1]), reverse=True)
                beams = dict(ranked[:beam_width])
            else:
                beams = nxt
        best, (pb, pnb) = max(beams.items(), key=lambda kv: _logaddexp(*kv[1]))
        results.append(np.asarray(best, dtype=np.int64))
        scores[bi] = _logaddexp(pb, pnb)
    return (results, scores) if return_scores else results
