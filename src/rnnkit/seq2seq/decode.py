"""Decoding an encoder-decoder: greedy and beam search with length normalisation, both through the
decoder cell's ``step`` (one token at a time, the previous token's embedding as input).

Beam search (every source's hypotheses side by side in one batch): for each source, at each step
every live hypothesis is extended by every token; of all its extensions, the ``beam - finished`` best
by cumulative log-probability are kept (the beam shrinks as hypotheses finish, so beam 1 is greedy decoding). An
extension ending in ``end_id`` is finished; at ``max_len`` the remaining ones are finished without
it. The winner maximises the normalised score ``log p(y) / len(y) ** alpha``, ``len`` counting the
end token when there is one (alpha 0: the raw log-probability; 1: per-token average). Output
sequences never contain the end token.
"""
from __future__ import annotations

import numpy as np

from . import graph


def greedy(p, cfg, src, src_lengths, max_len):
    """Greedy decoding: the most likely next token at each step until ``end_id`` or ``max_len`` tokens.

    Inputs are trusted (``Seq2Seq.greedy`` validates them).

    Parameters
    ----------
    p : dict of str to numpy.ndarray
        The parameters, named as in the module docstring (``Seq2Seq.params``).
    cfg : Seq2Seq
        The configuration: anything with ``Seq2Seq``'s ``cell``, ``cell_options``, ``bidirectional``,
        ``merge``, ``hidden`` and ``attention`` attributes (normally the model itself).
    src : numpy.ndarray
        Source token ids, (B, Ts) int64.
    src_lengths : numpy.ndarray
        Valid source steps per sequence, (B,) int64.
    max_len : int
        Most tokens generated per sequence, >= 1.

    Returns
    -------
    list of numpy.ndarray
        One 1-D int64 token array per sequence (the end token left out).

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq, decode
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len = model.prepare([[3, 4, 5], [4, 3]])
    >>> out = decode.greedy(model.params, model, src, src_len, max_len=4)
    >>> len(out), out[0].dtype, all(len(o) <= 4 for o in out)
    (2, dtype('int64'), True)
    """
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


def beam_search(p, cfg, src, src_lengths, beam, max_len, alpha):
    """Beam search with length normalisation (the module docstring describes the rule).

    Batched: the ``beam`` hypotheses of every source are rows ``b * beam + k`` of one decoder batch.
    A slot without a live hypothesis holds log-probability -inf, so its extensions sort last and are
    never kept; a source whose hypotheses have all finished keeps riding along until every source
    is done (its rows are computed and ignored). Inputs are trusted (``Seq2Seq.beam_search`` validates
    them).

    Parameters
    ----------
    p : dict of str to numpy.ndarray
        The parameters, named as in the module docstring (``Seq2Seq.params``).
    cfg : Seq2Seq
        The configuration: anything with ``Seq2Seq``'s ``cell``, ``cell_options``, ``bidirectional``,
        ``merge``, ``hidden`` and ``attention`` attributes (normally the model itself).
    src : numpy.ndarray
        Source token ids, (B, Ts) int64.
    src_lengths : numpy.ndarray
        Valid source steps per sequence, (B,) int64.
    beam : int
        Beam width, >= 1 (1 is greedy decoding).
    max_len : int
        Most tokens generated per sequence, >= 1.
    alpha : float
        Length-normalisation exponent, >= 0: the winner maximises ``log p(y) / len(y) ** alpha``.

    Returns
    -------
    list of tuple
        Per sequence ``(tokens, score, log_p)``: the 1-D int64 token array (end token left out), the
        normalised score (float) and the log-probability (float).

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq, decode
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len = model.prepare([[3, 4, 5], [4, 3]])
    >>> tokens, score, log_p = decode.beam_search(model.params, model, src, src_len, 2, 4, 0.0)[0]
    >>> tokens.dtype, score == log_p, log_p < 0
    (dtype('int64'), True, True)
    """
    enc, state, _ = graph.encode(p, cfg, src, src_lengths)
    B, K = src.shape[0], beam
    enc_k, len_k = np.repeat(enc, K, axis=0), np.repeat(src_lengths, K)
    state = tuple(np.repeat(s, K, axis=0) for s in state)
    logps = np.full((B, K), -np.inf)
    logps[:, 0] = 0.0
    tokens = np.zeros((B, K, 0), dtype=np.int64)
    prev = np.full(B * K, cfg.start_id, dtype=np.int64)
    finished = [[] for _ in range(B)]                     # per source: (tokens, log p, length)
    active = np.ones(B, dtype=bool)
    for t in range(1, max_len + 1):
        lp, state, _ = graph.decoder_step(p, cfg, enc_k, len_k, prev, state)
        V = lp.shape[1]
        cand = (logps[:, :, None] + lp.reshape(B, K, V)).reshape(B, K * V)
        order = np.argsort(-cand, axis=1, kind="stable")
        new_logps = np.full((B, K), -np.inf)
        parents = np.zeros((B, K), dtype=np.int64)
        new_tokens = np.full((B, K), cfg.start_id, dtype=np.int64)
        for b in np.flatnonzero(active):
            n = 0
            for idx in order[b, :K - len(finished[b])]:
                if cand[b, idx] == -np.inf:               # fewer live extensions than free places
                    break
                k, v = divmod(int(idx), V)
                if v == cfg.end_id:
                    finished[b].append((tokens[b, k].tolist(), float(cand[b, idx]), t))
                elif t == max_len:
                    finished[b].append((tokens[b, k].tolist() + [v], float(cand[b, idx]), t))
                else:
                    new_logps[b, n], parents[b, n], new_tokens[b, n] = cand[b, idx], k, v
                    n += 1
            active[b] = n > 0
        if not active.any():
            break
        tokens = np.concatenate([np.take_along_axis(tokens, parents[:, :, None], axis=1),
                                 new_tokens[:, :, None]], axis=2)
        rows = (np.arange(B)[:, None] * K + parents).ravel()
        state = tuple(s[rows] for s in state)
        prev, logps = new_tokens.ravel(), new_logps
    out = []
    for f in finished:
        best = max(f, key=lambda h: h[1] / h[2] ** alpha)
        out.append((np.array(best[0], dtype=np.int64), best[1] / best[2] ** alpha, best[1]))
    return out
