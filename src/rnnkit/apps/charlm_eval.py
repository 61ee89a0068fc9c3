"""Held-out figures of a character language model (the charlm recipe): negative log-likelihood in
nats per character, the per-step cross-entropy of seed §2.6, measured three ways, and the n-gram
baselines (the Markov chains of seed §1.2.2).

- :func:`stream_nll`: the text read as parallel streams, the recurrent state carried (all context;
  :func:`streamed_at` picks the same figure at given positions, for paired comparisons);
- :func:`chunk_nll`: chunks each read from a zero state (the training condition);
- :func:`context_nll`: each character from exactly ``CONTEXT`` characters before it, zero state.

The network runs through :func:`forward_stateful` (each layer's ``forward``; recurrent layers take and
return their state), in inference mode.
"""
from __future__ import annotations

import numpy as np

from ..layers import Recurrent
from ..ops.activations import log_softmax

#: Characters of context of the fixed-window figure (``val_nats_per_char_context64``).
CONTEXT = 64


def ngram_baselines(train_ids, targets, contexts, V):
    """Cross-entropies (nats/char) of add-one unigram and bigram models on (context -> target) pairs."""
    uni = np.bincount(train_ids, minlength=V).astype(np.float64)
    p_uni = (uni + 1) / (uni.sum() + V)
    pairs = np.bincount(train_ids[:-1] * V + train_ids[1:], minlength=V * V).reshape(V, V).astype(np.float64)
    p_bi = (pairs + 1) / (pairs.sum(1, keepdims=True) + V)
    return {"unigram": float(-np.log(p_uni[targets]).mean()),
            "bigram": float(-np.log(p_bi[contexts, targets]).mean())}


def check_streamable(model):
    """Refuse a model with a bidirectional recurrent layer (reading a stream needs the past only)."""
    for layer in model.layers:
        if isinstance(layer, Recurrent) and layer.bidirectional:
            raise ValueError("a bidirectional layer cannot read text as a stream (it needs the future)")


def forward_stateful(model, ids, states):
    """Logits for token ids (B, T), each recurrent layer starting from ``states[i]`` (None: zeros).

    Returns (logits (B, T, V), new states). Inference mode (dropout off).
    """
    x, new = ids, dict(states)
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Recurrent):
            x, new[i] = layer.forward(x, initial_state=states.get(i), return_state=True)
        else:
            x = layer.forward(x, None, training=False)
    return x, new


def nll(logits, targets):
    """Negative log-likelihood (nats) of each target id under its logits (float64)."""
    logp = log_softmax(np.asarray(logits, np.float64))
    return -np.take_along_axis(logp, np.asarray(targets)[..., None], axis=-1)[..., 0]


def stream_nll_per_char(model, ids, n_streams=64, chunk=250):
    """``ids`` read as ``n_streams`` parallel contiguous streams, ``chunk`` characters at a time, the
    recurrent state carried (zero at each stream's start).

    Returns (nll (S, L-1), streams (S, L)): ``nll[s, j]`` is the negative log-likelihood (nats) of
    ``streams[s, j + 1]`` = ``ids[s * L + j + 1]``; the < S trailing characters are left out.
    """
    check_streamable(model)
    ids = np.asarray(ids, dtype=np.int64)
    S = max(1, min(int(n_streams), len(ids) // 2))
    L = len(ids) // S
    if L < 2:
        raise ValueError(f"ids: need at least 2 characters per stream, got {len(ids)} for {S} streams")
    streams = ids[:S * L].reshape(S, L)
    out, states = np.empty((S, L - 1)), {}
    for a in range(0, L - 1, int(chunk)):
        b = min(a + int(chunk), L - 1)
        logits, states = forward_stateful(model, streams[:, a:b], states)
        out[:, a:b] = nll(logits, streams[:, a + 1:b + 1])
    return out, streams


def stream_nll(model, ids, n_streams=64, chunk=250):
    """Mean negative log-likelihood (nats/char) of ``ids`` read as ``n_streams`` parallel streams.

    Returns (nll, targets, contexts): the predicted characters and the ones before them, for baselines
    scored on the same positions.
    """
    per, streams = stream_nll_per_char(model, ids, n_streams, chunk)
    return float(per.mean()), streams[:, 1:].reshape(-1), streams[:, :-1].reshape(-1)


def streamed_at(per, positions):
    """The values of :func:`stream_nll_per_char` at target positions ``positions`` of the text, where
    the streams predict them (not a stream's first character, nor the trailing ones)."""
    S, L = per.shape[0], per.shape[1] + 1
    t = np.asarray(positions)
    t = t[(t < S * L) & (t % L != 0)]
    return per[t // L, t % L - 1]


def chunk_nll(model, X, Y, batch=256):
    """Mean negative log-likelihood (nats/char) of the targets ``Y`` of chunks ``X``, each chunk read
    from a zero state (the training condition)."""
    total = 0.0
    for a in range(0, len(X), batch):
        logits, _ = forward_stateful(model, X[a:a + batch], {})
        total += nll(logits, Y[a:a + batch]).sum()
    return total / np.size(Y)


def context_positions(n, context=CONTEXT, positions=None):
    """Target positions t (``context <= t < n``) of the fixed-context figure: all of them, or
    ``positions`` of them spread evenly over the text."""
    count = int(n) - int(context)
    if count < 1:
        raise ValueError(f"ids: need more than {context} characters for a {context}-character context, got {n}")
    if positions is None or int(positions) >= count:
        return np.arange(context, n)
    return context + (np.arange(int(positions)) * count) // int(positions)


def context_nll(model, ids, context=CONTEXT, positions=None, batch=256):
    """NLL (nats) of ``ids[t]`` given exactly the ``context`` characters ``ids[t-context:t]`` read
    from a zero state, for each t of :func:`context_positions`; windows run ``batch`` at a time.

    Returns the per-position values (float64), whose mean is the fixed-context figure.
    """
    check_streamable(model)
    ids = np.asarray(ids, dtype=np.int64)
    t = context_positions(len(ids), context, positions)
    out = np.empty(len(t))
    for a in range(0, len(t), batch):
        tb = t[a:a + batch]
        windows = ids[tb[:, None] - context + np.arange(context)[None, :]]
        logits, _ = forward_stateful(model, windows, {})
        out[a:a + batch] = nll(logits[:, -1], ids[tb])
    return out
