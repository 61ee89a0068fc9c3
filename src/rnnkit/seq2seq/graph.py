r"""The encoder-decoder's computation on a parameter dict: forward with teacher forcing and its
hand-derived backward, composed from the ops' own backward functions (seed §6).

Luong-style attention *without input feeding*: the decoder RNN reads only the previous target
token's embedding, so the whole decoder recurrence is one ordinary sequence op (``cell.run`` over the
teacher-forced inputs) and its backward is one BPTT call. For each decoder output h_t (B, Tt, H):

    c_t = attention(query h_t, keys = values = encoder outputs, masked by the source lengths)
    h~_t = tanh(W_y^comb [c_t; h_t] + c^comb)            (without attention: tanh(W_y^comb h_t + c^comb))
    logits_t = W_y^out h~_t + c^out,   loss = mean over valid target steps of -log softmax(logits_t)[y_t]

The encoder's final states (both directions) start the decoder: with ``merge="concat"`` they are
concatenated and projected by one Dense per state entry (``bridge_h.``, ``bridge_c.`` for the LSTM's
cell), with ``merge="sum"`` (or a unidirectional encoder) they are used as they are. The encoder outputs
are merged the same way (concat: 2H features; sum: H).

Backward, in reverse: softmax cross-entropy -> d_logits; the two Dense layers (d_u = W^T (d_h~ (1-h~^2)));
d_u splits into d_c (attention's ``backward``, whose d_k carries the gradient into the encoder
outputs, keys and values being the same array) and d_h; the decoder's ``backward`` gets d_h and
returns d_state0, which flows back through the bridge into the encoder's ``d_state``; the encoder
directions' ``backward`` get their share of d_enc; the embeddings collect dx by ``np.add.at``.

Parameter names: ``E_src``, ``E_tgt``; ``enc.W_x`` ... (``enc.W_x_reverse`` ... for the reverse
direction), ``dec.W_x`` ...; ``att.W_a`` (general) or ``att.W_q``, ``att.W_k``, ``att.v`` (additive);
``bridge_h.W_y``, ``bridge_h.c`` (and ``bridge_c.``); ``comb.W_y``, ``comb.c``; ``out.W_y``, ``out.c``.
"""
from __future__ import annotations

import numpy as np

from ..layers.recurrent import reverse_padded
from ..ops import attention as att
from ..ops.activations import log_softmax
from ..ops.losses import softmax_cross_entropy

_CELL_WEIGHTS = ("W_x", "W_h", "b", "b_h")


def sub(params, prefix, suffix=""):
    """The entries ``prefix + name + suffix`` of ``params`` under their short names."""
    if prefix in ("enc.", "dec."):
        return {k: params[prefix + k + suffix] for k in _CELL_WEIGHTS}
    n = len(prefix)
    return {k[n:]: v for k, v in params.items() if k.startswith(prefix)}


def _dense_grads(grads, prefix, x, dy):
    """Gradients of y = x W^T + c over all leading axes, stored under ``prefix``."""
    grads[prefix + "W_y"] = dy.reshape(-1, dy.shape[-1]).T @ x.reshape(-1, x.shape[-1])
    grads[prefix + "c"] = dy.reshape(-1, dy.shape[-1]).sum(axis=0)


def _embed_grad(E, ids, dx):
    g = np.zeros_like(E)
    np.add.at(g, ids.ravel(), dx.reshape(-1, E.shape[1]))
    return g


# -- encoder -------------------------------------------------------------------------------------
def encode(p, cfg, src, src_lengths):
    """(encoder outputs (B, Ts, He), decoder initial state tuple, cache)."""
    cell, opts = cfg.cell, cfg.cell_options
    x = p["E_src"][src]
    out_f, fin_f, cache_f = cell.forward(sub(p, "enc."), x, None, src_lengths, **opts)
    if not cfg.bidirectional:
        return out_f, fin_f, (src, cache_f, None, None)
    xr = reverse_padded(x, src_lengths)
    out_b, fin_b, cache_b = cell.forward(sub(p, "enc.", "_reverse"), xr, None, src_lengths, **opts)
    out_b = reverse_padded(out_b, src_lengths)
    if cfg.merge == "sum":
        return out_f + out_b, tuple(f + b for f, b in zip(fin_f, fin_b)), (src, cache_f, cache_b, None)
    fins = [np.concatenate([f, b], axis=-1) for f, b in zip(fin_f, fin_b)]
    state0 = tuple(s @ p[f"bridge_{n}.W_y"].T + p[f"bridge_{n}.c"] for n, s in zip(cell.state_names, fins))
    return np.concatenate([out_f, out_b], axis=-1), state0, (src, cache_f, cache_b, fins)


def encode_backward(p, cfg, cache, src_lengths, d_enc, d_state0, grads):
    """Fill the encoder's, the bridge's and ``E_src``'s gradients from d_enc and d_state0."""
    src, cache_f, cache_b, fins = cache
    cell, H = cfg.cell, cfg.hidden
    if cache_b is None:
        dx, _, g = cell.backward(cache_f, d_enc, d_state0)
        grads.update({"enc." + k: v for k, v in g.items()})
        grads["E_src"] = _embed_grad(p["E_src"], src, dx)
        return
    if cfg.merge == "sum":
        d_f = d_b = d_enc
        d_fin_f = d_fin_b = d_state0
    else:
        d_f, d_b = d_enc[..., :H], d_enc[..., H:]
        d_fins = []
        for n, s, d in zip(cell.state_names, fins, d_state0):
            _dense_grads(grads, f"bridge_{n}.", s, d)
            d_fins.append(d @ p[f"bridge_{n}.W_y"])
        d_fin_f = tuple(d[:, :H] for d in d_fins)
        d_fin_b = tuple(d[:, H:] for d in d_fins)
    dx, _, g = cell.backward(cache_f, d_f, d_fin_f)
    grads.update({"enc." + k: v for k, v in g.items()})
    dxr, _, g = cell.backward(cache_b, reverse_padded(d_b, src_lengths), d_fin_b)
    grads.update({"enc." + k + "_reverse": v for k, v in g.items()})
    grads["E_src"] = _embed_grad(p["E_src"], src, dx + reverse_padded(dxr, src_lengths))


# -- readout: attention, combination, output layer ----------------------------------------------------
def readout(p, cfg, hd, enc, src_lengths):
    """Logits (B, Tq, V) for decoder outputs hd (B, Tq, H), the attention weights (or None), a cache."""
    a = a_cache = None
    if cfg.attention is None:
        u = hd
    else:
        ctx, a, a_cache = att.run(sub(p, "att."), hd, enc, None, src_lengths, cfg.attention)
        u = np.concatenate([ctx, hd], axis=-1)
    z = np.tanh(u @ p["comb.W_y"].T + p["comb.c"])
    return z @ p["out.W_y"].T + p["out.c"], a, (u, a_cache, z)


def readout_backward(p, cfg, cache, d_logits, grads):
    """(d_hd, d_enc or None) from d_logits; fills the readout's gradients."""
    u, a_cache, z = cache
    _dense_grads(grads, "out.", z, d_logits)
    dpre = (d_logits @ p["out.W_y"]) * (1 - z * z)
    _dense_grads(grads, "comb.", u, dpre)
    du = dpre @ p["comb.W_y"]
    if a_cache is None:
        return du, None
    Dv = du.shape[-1] - cfg.hidden
    d_q, d_enc, _, g = att.backward(a_cache, du[..., :Dv])
    grads.update({"att." + k: v for k, v in g.items()})
    return du[..., Dv:] + d_q, d_enc


# -- the whole model ------------------------------------------------------------------------------
def forward(p, cfg, src, src_lengths, tgt_in, tgt_lengths):
    """Teacher-forced logits (B, Tt, V) and the cache of ``backward``."""
    enc, state0, e_cache = encode(p, cfg, src, src_lengths)
    y = p["E_tgt"][tgt_in]
    hd, _, d_cache = cfg.cell.forward(sub(p, "dec."), y, state0, tgt_lengths, **cfg.cell_options)
    logits, _, r_cache = readout(p, cfg, hd, enc, src_lengths)
    return logits, (e_cache, d_cache, r_cache, enc, tgt_in)


def backward(p, cfg, cache, src_lengths, d_logits):
    """Every parameter's gradient (a dict keyed like ``p``) from d_logits."""
    e_cache, d_cache, r_cache, enc, tgt_in = cache
    grads = {}
    d_hd, d_enc = readout_backward(p, cfg, r_cache, d_logits, grads)
    dy, d_state0, g = cfg.cell.backward(d_cache, d_hd, None)
    grads.update({"dec." + k: v for k, v in g.items()})
    grads["E_tgt"] = _embed_grad(p["E_tgt"], tgt_in, dy)
    encode_backward(p, cfg, e_cache, src_lengths, np.zeros_like(enc) if d_enc is None else d_enc,
                    d_state0, grads)
    return grads


def target_mask(tgt_lengths, T):
    return np.arange(T)[None, :] < tgt_lengths[:, None]


def loss_and_grads(p, cfg, src, src_lengths, tgt_in, tgt_out, tgt_lengths):
    """Mean cross-entropy over the valid target steps and its gradient for every parameter."""
    logits, cache = forward(p, cfg, src, src_lengths, tgt_in, tgt_lengths)
    loss, d_logits = softmax_cross_entropy(logits, tgt_out, target_mask(tgt_lengths, tgt_out.shape[1]))
    return float(loss), backward(p, cfg, cache, src_lengths, d_logits)


def log_likelihood(p, cfg, src, src_lengths, tgt_in, tgt_out, tgt_lengths):
    """Per sequence, sum over its valid steps of log p(y_t | y_<t, x) (B,), teacher-forced."""
    logits, _ = forward(p, cfg, src, src_lengths, tgt_in, tgt_lengths)
    picked = np.take_along_axis(log_softmax(logits), tgt_out[..., None], axis=-1)[..., 0]
    return np.where(target_mask(tgt_lengths, tgt_out.shape[1]), picked, 0).sum(axis=1)


def attention_weights(p, cfg, src, src_lengths, tgt_in, tgt_lengths):
    """Teacher-forced attention weights (B, Tt, Ts): row t is where the decoder looked when it
    predicted the target after ``tgt_in[:, t]``; zero on padded source steps."""
    enc, state0, _ = encode(p, cfg, src, src_lengths)
    hd, _, _ = cfg.cell.forward(sub(p, "dec."), p["E_tgt"][tgt_in], state0, tgt_lengths, **cfg.cell_options)
    return readout(p, cfg, hd, enc, src_lengths)[1]


def decoder_step(p, cfg, enc, src_lengths, prev_ids, state):
    """One decoding step through the cell's ``step``: (log-probabilities (B, V), new state, weights)."""
    state = cfg.cell.step(sub(p, "dec."), p["E_tgt"][prev_ids], state, **cfg.cell_options)
    logits, a, _ = readout(p, cfg, state[0][:, None, :], enc, src_lengths)
    return log_softmax(logits[:, 0]), state, (None if a is None else a[:, 0])
