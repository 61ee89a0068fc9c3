"""Turning user data into padded batches: ragged lists, lengths, bucketing by length."""
from __future__ import annotations

import numpy as np


def pad_sequences(seqs, dtype=None, value=0, maxlen=None, name="X"):
    """Pad a list of variable-length sequences into one batch array and its lengths.

    Sequence ``i`` of shape ``(T_i, ...)`` is copied into row ``i`` of a ``(B, T, ...)`` array filled
    with ``value``; sequences longer than ``maxlen`` are cut. Empty sequences are refused: every
    sequence needs at least one step.

    Parameters
    ----------
    seqs : sequence of array_like
        ``B`` sequences of shape ``(T_i, ...)``; the trailing step shape must be the same for all.
    dtype : numpy dtype, optional
        dtype of the padded array. Default: the common dtype of the sequences
        (``np.result_type``).
    value : scalar, default 0
        Value written at the padded steps.
    maxlen : int, optional
        Length ``T`` of the padded axis. Default: the longest sequence. Longer sequences are cut to
        their first ``maxlen`` steps.
    name : str, default "X"
        Name of the argument, used in error messages.

    Returns
    -------
    padded : numpy.ndarray
        Shape ``(B, T, ...)``, the sequences padded with ``value`` after their end.
    lengths : numpy.ndarray
        ``int64``, shape ``(B,)``: each sequence's length, capped at ``T``.

    Raises
    ------
    ValueError
        If ``seqs`` is empty, a sequence is empty (or a scalar), or the step shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.data.batching import pad_sequences
    >>> X, lengths = pad_sequences([np.ones((3, 2)), np.ones((1, 2))])
    >>> X.shape, lengths.tolist()
    ((2, 3, 2), [3, 1])
    >>> X[1, :, 0].tolist()
    [1.0, 0.0, 0.0]
    """
    if len(seqs) == 0:
        raise ValueError(f"{name}: empty list of sequences")
    arrs = [np.asarray(s) for s in seqs]
    for i, a in enumerate(arrs):
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError(f"{name}[{i}]: empty sequence (every sequence needs at least one step)")
        if a.shape[1:] != arrs[0].shape[1:]:
            raise ValueError(f"{name}[{i}]: expected steps of shape {arrs[0].shape[1:]} like {name}[0], "
                             f"got {a.shape[1:]}")
    lengths = np.array([a.shape[0] for a in arrs], dtype=np.int64)
    T = int(lengths.max()) if maxlen is None else int(maxlen)
    dtype = dtype or np.result_type(*[a.dtype for a in arrs])
    out = np.full((len(arrs), T) + arrs[0].shape[1:], value, dtype=dtype)
    for i, a in enumerate(arrs):
        n = min(len(a), T)
        out[i, :n] = a[:n]
    return out, np.minimum(lengths, T)


def length_mask(lengths, T):
    """Boolean mask of the valid (non-padded) steps of a padded batch.

    Parameters
    ----------
    lengths : array_like of int
        Shape ``(B,)``: the length of each sequence.
    T : int
        Length of the padded time axis.

    Returns
    -------
    numpy.ndarray
        ``bool``, shape ``(B, T)``: ``mask[b, t]`` is True when ``t < lengths[b]``.

    Examples
    --------
    >>> from rnnkit.data.batching import length_mask
    >>> length_mask([3, 1], 4).astype(int)
    array([[1, 1, 1, 0],
           [1, 0, 0, 0]])
    """
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def bucket_batches(lengths, batch_size: int, rng: np.random.Generator | None = None):
    """Indices of batches whose sequences have similar lengths, so padding is little wasted work.

    Sequences are sorted by length (ties broken at random when ``rng`` is given), cut into batches,
    and the batch order is shuffled with ``rng``; without ``rng`` the order is deterministic.

    Parameters
    ----------
    lengths : array_like of int
        Shape ``(N,)``: the length of each of the ``N`` sequences.
    batch_size : int
        Number of sequences per batch (the last batch may be smaller); at least 1.
    rng : numpy.random.Generator, optional
        Breaks length ties and shuffles the batch order. Default None: sorted, deterministic order.

    Returns
    -------
    list of numpy.ndarray
        ``ceil(N / batch_size)`` arrays of ``int64`` indices into ``lengths``; together they cover
        every index once.

    Raises
    ------
    ValueError
        If ``batch_size`` is smaller than 1.

    Examples
    --------
    >>> from rnnkit.data.batching import bucket_batches
    >>> [b.tolist() for b in bucket_batches([5, 2, 9, 3], batch_size=2)]
    [[1, 3], [0, 2]]
    >>> import numpy as np
    >>> batches = bucket_batches([5, 2, 9, 3], 2, rng=np.random.default_rng(0))
    >>> sorted(int(i) for b in batches for i in b)
    [0, 1, 2, 3]
    """
    n = len(lengths)
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    key = np.asarray(lengths)
    if rng is not None:
        order = np.lexsort((rng.random(n), key))
    else:
        order = np.argsort(key, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
