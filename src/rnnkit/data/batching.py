"""Turning user data into padded batches: ragged lists, lengths, bucketing by length."""
from __future__ import annotations

import numpy as np


def pad_sequences(seqs, dtype=None, value=0, maxlen=None, name="X"):
    """List of (T_i, ...) arrays -> (padded (B, T, ...), lengths (B,)). Empty sequences are refused."""
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
    """(B, T) boolean mask of the valid steps."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def bucket_batches(lengths, batch_size: int, rng: np.random.Generator | None = None):
    """Indices of batches whose sequences have similar lengths, so padding is little wasted work.

    Sequences are sorted by length (ties broken at random when ``rng`` is given), cut into batches,
    and the batch order is shuffled with ``rng``; without ``rng`` the order is deterministic.
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
