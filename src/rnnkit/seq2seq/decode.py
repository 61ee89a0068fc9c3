"""Decoding an encoder-decoder: greedy and beam search with length normalisation, both through the
decoder cell's ``step`` (one token at a time, the previous token's embedding as input).

Beam search (per source sequence, the live hypotheses as the batch): at each step every live
hypothesis is extended by every token; of all extensions, the ``beam - finished`` best by cumulative
log-probability are kept (the beam shrinks as hypotheses finish, so beam 1 is greedy decoding). An
extension ending in ``end_id`` is finished; at ``max_len`` the remaining ones are finished without
it. The winner maximises the normalised score ``log p(y) / len(y) ** alpha``, ``len`` counting the
end token when there is one (alpha 0: the raw log-probability; 1: per-token average). Output
sequences never contain the end token.
"""
from __future__ import annotations

import numpy as np

from . import graph


def greedy(p, cfg, src, src_lengths, max_len):
    """The most likely next token at each step until ``end_id`` or ``max_len`` tokens; a list of
    int arrays, one per sequence."""
    enc, state, _ = graph.encode(p, cfg, src, src_lengths)
    B = src.shape[0]
    prev = np.full(B, cfg.start_id, dtype=np.int64)
    done = np.zeros(B, dtype=bool)
    out = [[] for _ in range(B)]
    for _ in range(max_len):
        logp, state, _ = graph.decoder_step(p, cfg, enc, src_lengths, prev, state)
        prev = logp.argmax(axis=-1)
        for b in np.flatnonzero(~done):
            if prev[b] == cfg.end_id:
                done[b] = True
            else:
                out[b].append(int(prev[b]))
        if done.all():
            break
    return [np.array(o, dtype=np.int64) for o in out]


def _beam_one(p, cfg, enc1, len1, state1, beam, max_len, alpha):
    """Beam search for one source (enc1 (1, Ts, He), len1 (1,), state1 tuple of (1, H)):
    (tokens, normalised score, log-probability)."""
    tokens, logps, state = [[]], np.zeros(1), state1
    prev = np.array([cfg.start_id], dtype=np.int64)
    finished = []                                         # (tokens, log p, length)
    for t in range(1, max_len + 1):
        n = len(tokens)
        lp, state, _ = graph.decoder_step(p, cfg, np.repeat(enc1, n, axis=0), np.repeat(len1, n), prev, state)
        cand = (logps[:, None] + lp).ravel()
        V = lp.shape[1]
        keep = []
        for idx in np.argsort(-cand, kind="stable")[:beam - len(finished)]:
            i, v = divmod(int(idx), V)
            if v == cfg.end_id:
                finished.append((tokens[i], float(cand[idx]), t))
            elif t == max_len:
                finished.append((tokens[i] + [v], float(cand[idx]), t))
            else:
                keep.append(idx)
        if not keep:
            break
        keep = np.array(keep)
        parents, prev = keep // V, keep % V
        tokens = [tokens[i] + [int(v)] for i, v in zip(parents, prev)]
        logps = cand[keep]
        state = tuple(s[parents] for s in state)
    best = max(finished, key=lambda f: f[1] / f[2] ** alpha)
    return np.array(best[0], dtype=np.int64), best[1] / best[2] ** alpha, best[1]


def beam_search(p, cfg, src, src_lengths, beam, max_len, alpha):
    """Per sequence: (tokens (int array), normalised score, log-probability)."""
    enc, state, _ = graph.encode(p, cfg, src, src_lengths)
    return [_beam_one(p, cfg, enc[b:b + 1], src_lengths[b:b + 1], tuple(s[b:b + 1] for s in state),
                      beam, max_len, alpha) for b in range(src.shape[0])]
