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
    """The entries ``prefix + name + suffix`` of ``params`` under their short names.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        The model's parameters.
    prefix : str
        Name prefix, e.g. ``"enc."``, ``"dec."`` (a cell's four weights) or ``"att."`` (every entry that
        starts with it).
    suffix : str, optional
        Suffix of the cell weights' names, e.g. ``"_reverse"`` for the reverse encoder. Default ``""``.

    Returns
    -------
    dict of str to numpy.ndarray
        The selected arrays (not copies) under their short names.

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> sorted(graph.sub(model.params, "enc.", "_reverse"))
    ['W_h', 'W_x', 'b', 'b_h']
    """
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
    """Run the encoder: embeddings, one or two RNN directions, and the bridge to the decoder.

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

    Returns
    -------
    enc : numpy.ndarray
        Encoder outputs, (B, Ts, He); He = 2H with ``merge="concat"`` and a bidirectional encoder, else H.
    state0 : tuple of numpy.ndarray
        The decoder's initial state, one (B, H) array per state name of the cell.
    cache : tuple
        What :func:`encode_backward` needs.

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> enc, state0, cache = graph.encode(model.params, model, src, src_len)
    >>> enc.shape, [s.shape for s in state0]
    ((2, 3, 6), [(2, 3), (2, 3)])
    """
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
    """Fill the encoder's, the bridge's and ``E_src``'s gradients from d_enc and d_state0.

    Parameters
    ----------
    p : dict of str to numpy.ndarray
        The parameters, named as in the module docstring (``Seq2Seq.params``).
    cfg : Seq2Seq
        The configuration: anything with ``Seq2Seq``'s ``cell``, ``cell_options``, ``bidirectional``,
        ``merge``, ``hidden`` and ``attention`` attributes (normally the model itself).
    cache : tuple
        The cache :func:`encode` returned.
    src_lengths : numpy.ndarray
        Valid source steps per sequence, (B,) int64.
    d_enc : numpy.ndarray
        Gradient with respect to the encoder outputs, (B, Ts, He).
    d_state0 : tuple of numpy.ndarray
        Gradient with respect to the decoder's initial state, one (B, H) array per state name.
    grads : dict of str to numpy.ndarray
        Filled in place with ``"enc.*"``, ``"bridge_*"`` and ``"E_src"`` gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> enc, state0, cache = graph.encode(model.params, model, src, src_len)
    >>> grads = {}
    >>> graph.encode_backward(model.params, model, cache, src_len, np.ones_like(enc), state0, grads)
    >>> grads["E_src"].shape, "bridge_h.W_y" in grads
    ((6, 4), True)
    """
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
    """Output layer on the decoder outputs: attention, combination layer and vocabulary logits.

    Parameters
    ----------
    p : dict of str to numpy.ndarray
        The parameters, named as in the module docstring (``Seq2Seq.params``).
    cfg : Seq2Seq
        The configuration: anything with ``Seq2Seq``'s ``cell``, ``cell_options``, ``bidirectional``,
        ``merge``, ``hidden`` and ``attention`` attributes (normally the model itself).
    hd : numpy.ndarray
        Decoder outputs, (B, Tq, H).
    enc : numpy.ndarray
        Encoder outputs, (B, Ts, He).
    src_lengths : numpy.ndarray
        Valid source steps per sequence, (B,) int64.

    Returns
    -------
    logits : numpy.ndarray
        (B, Tq, V) scores over the target vocabulary.
    a : numpy.ndarray or None
        Attention weights, (B, Tq, Ts); None without attention.
    cache : tuple
        What :func:`readout_backward` needs.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> enc, state0, _ = graph.encode(model.params, model, src, src_len)
    >>> logits, a, cache = graph.readout(model.params, model, np.zeros((2, 4, 3), np.float32), enc, src_len)
    >>> logits.shape, a.shape
    ((2, 4, 5), (2, 4, 3))
    """
    a = a_cache = None
    if cfg.attention is None:
        u = hd
    else:
        ctx, a, a_cache = att.run(sub(p, "att."), hd, enc, None, src_lengths, cfg.attention)
        u = np.concatenate([ctx, hd], axis=-1)
    z = np.tanh(u @ p["comb.W_y"].T + p["comb.c"])
    return z @ p["out.W_y"].T + p["out.c"], a, (u, a_cache, z)


def readout_backward(p, cfg, cache, d_logits, grads):
    """Backward pass of :func:`readout`; fills the readout's gradients.

    Parameters
    ----------
    p : dict of str to numpy.ndarray
        The parameters, named as in the module docstring (``Seq2Seq.params``).
    cfg : Seq2Seq
        The configuration: anything with ``Seq2Seq``'s ``cell``, ``cell_options``, ``bidirectional``,
        ``merge``, ``hidden`` and ``attention`` attributes (normally the model itself).
    cache : tuple
        The cache :func:`readout` returned.
    d_logits : numpy.ndarray
        Gradient with respect to the logits, (B, Tq, V).
    grads : dict of str to numpy.ndarray
        Filled in place with ``"out.*"``, ``"comb.*"`` and ``"att.*"`` gradients.

    Returns
    -------
    d_hd : numpy.ndarray
        Gradient with respect to the decoder outputs, (B, Tq, H).
    d_enc : numpy.ndarray or None
        Gradient with respect to the encoder outputs, (B, Ts, He); None without attention.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> enc, state0, _ = graph.encode(model.params, model, src, src_len)
    >>> logits, a, cache = graph.readout(model.params, model, np.zeros((2, 4, 3), np.float32), enc, src_len)
    >>> grads = {}
    >>> d_hd, d_enc = graph.readout_backward(model.params, model, cache, np.ones_like(logits), grads)
    >>> d_hd.shape, d_enc.shape, sorted(grads)
    ((2, 4, 3), (2, 3, 6), ['att.W_a', 'comb.W_y', 'comb.c', 'out.W_y', 'out.c'])
    """
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
    """Teacher-forced forward pass: encoder, decoder over ``tgt_in``, readout.

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
    tgt_in : numpy.ndarray
        Teacher-forced decoder inputs, (B, Tt) int64.
    tgt_lengths : numpy.ndarray
        Valid target steps per sequence, (B,) int64.

    Returns
    -------
    logits : numpy.ndarray
        (B, Tt, V) scores over the target vocabulary.
    cache : tuple
        What :func:`backward` needs.

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> logits, cache = graph.forward(model.params, model, src, src_len, tgt_in, tgt_len)
    >>> logits.shape
    (2, 3, 5)
    """
    enc, state0, e_cache = encode(p, cfg, src, src_lengths)
    y = p["E_tgt"][tgt_in]
    hd, _, d_cache = cfg.cell.forward(sub(p, "dec."), y, state0, tgt_lengths, **cfg.cell_options)
    logits, _, r_cache = readout(p, cfg, hd, enc, src_lengths)
    return logits, (e_cache, d_cache, r_cache, enc, tgt_in)


def backward(p, cfg, cache, src_lengths, d_logits):
    """Backward pass of :func:`forward`: every parameter's gradient from d_logits.

    Parameters
    ----------
    p : dict of str to numpy.ndarray
        The parameters, named as in the module docstring (``Seq2Seq.params``).
    cfg : Seq2Seq
        The configuration: anything with ``Seq2Seq``'s ``cell``, ``cell_options``, ``bidirectional``,
        ``merge``, ``hidden`` and ``attention`` attributes (normally the model itself).
    cache : tuple
        The cache :func:`forward` returned.
    src_lengths : numpy.ndarray
        Valid source steps per sequence, (B,) int64.
    d_logits : numpy.ndarray
        Gradient with respect to the logits, (B, Tt, V).

    Returns
    -------
    dict of str to numpy.ndarray
        Every parameter's gradient, keyed and shaped like ``p``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> logits, cache = graph.forward(model.params, model, src, src_len, tgt_in, tgt_len)
    >>> grads = graph.backward(model.params, model, cache, src_len, np.ones_like(logits))
    >>> sorted(grads) == sorted(model.params)
    True
    """
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
    """Booleans marking each sequence's valid target steps.

    Parameters
    ----------
    tgt_lengths : numpy.ndarray
        Valid target steps per sequence, (B,) integers.
    T : int
        The padded target length.

    Returns
    -------
    numpy.ndarray
        (B, T) booleans, True at steps ``t < tgt_lengths[b]``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.seq2seq import graph
    >>> graph.target_mask(np.array([3, 1]), 3)
    array([[ True,  True,  True],
           [ True, False, False]])
    """
    return np.arange(T)[None, :] < tgt_lengths[:, None]


def loss_and_grads(p, cfg, src, src_lengths, tgt_in, tgt_out, tgt_lengths):
    """Mean cross-entropy over the valid target steps and its gradient for every parameter.

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
    tgt_in : numpy.ndarray
        Teacher-forced decoder inputs, (B, Tt) int64.
    tgt_out : numpy.ndarray
        Targets, (B, Tt) int64.
    tgt_lengths : numpy.ndarray
        Valid target steps per sequence, (B,) int64.

    Returns
    -------
    loss : float
        Teacher-forced mean cross-entropy over the valid target steps.
    grads : dict of str to numpy.ndarray
        Every parameter's gradient, keyed and shaped like ``p``.

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> loss, grads = graph.loss_and_grads(model.params, model, src, src_len, tgt_in, tgt_out, tgt_len)
    >>> loss > 0, sorted(grads) == sorted(model.params)
    (True, True)
    """
    logits, cache = forward(p, cfg, src, src_lengths, tgt_in, tgt_lengths)
    loss, d_logits = softmax_cross_entropy(logits, tgt_out, target_mask(tgt_lengths, tgt_out.shape[1]))
    return float(loss), backward(p, cfg, cache, src_lengths, d_logits)


def log_likelihood(p, cfg, src, src_lengths, tgt_in, tgt_out, tgt_lengths):
    """Per sequence, sum over its valid steps of log p(y_t | y_<t, x), teacher-forced.

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
    tgt_in : numpy.ndarray
        Teacher-forced decoder inputs, (B, Tt) int64.
    tgt_out : numpy.ndarray
        Targets, (B, Tt) int64.
    tgt_lengths : numpy.ndarray
        Valid target steps per sequence, (B,) int64.

    Returns
    -------
    numpy.ndarray
        (B,) log-likelihoods (<= 0), the parameters' dtype.

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> ll = graph.log_likelihood(model.params, model, src, src_len, tgt_in, tgt_out, tgt_len)
    >>> ll.shape, bool((ll < 0).all())
    ((2,), True)
    """
    logits, _ = forward(p, cfg, src, src_lengths, tgt_in, tgt_lengths)
    picked = np.take_along_axis(log_softmax(logits), tgt_out[..., None], axis=-1)[..., 0]
    return np.where(target_mask(tgt_lengths, tgt_out.shape[1]), picked, 0).sum(axis=1)


def attention_weights(p, cfg, src, src_lengths, tgt_in, tgt_lengths):
    """Teacher-forced attention weights.

    Row t is where the decoder looked when it predicted the target after ``tgt_in[:, t]``; zero on
    padded source steps. The model must have attention.

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
    tgt_in : numpy.ndarray
        Teacher-forced decoder inputs, (B, Tt) int64.
    tgt_lengths : numpy.ndarray
        Valid target steps per sequence, (B,) int64.

    Returns
    -------
    numpy.ndarray
        (B, Tt, Ts) attention weights (rows past a target's end are not zeroed here).

    Examples
    --------
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> a = graph.attention_weights(model.params, model, src, src_len, tgt_in, tgt_len)
    >>> a.shape, float(a[1, 0, 2])
    ((2, 3, 3), 0.0)
    """
    enc, state0, _ = encode(p, cfg, src, src_lengths)
    hd, _, _ = cfg.cell.forward(sub(p, "dec."), p["E_tgt"][tgt_in], state0, tgt_lengths, **cfg.cell_options)
    return readout(p, cfg, hd, enc, src_lengths)[1]


def decoder_step(p, cfg, enc, src_lengths, prev_ids, state):
    """One decoding step through the cell's ``step``.

    Parameters
    ----------
    p : dict of str to numpy.ndarray
        The parameters, named as in the module docstring (``Seq2Seq.params``).
    cfg : Seq2Seq
        The configuration: anything with ``Seq2Seq``'s ``cell``, ``cell_options``, ``bidirectional``,
        ``merge``, ``hidden`` and ``attention`` attributes (normally the model itself).
    enc : numpy.ndarray
        Encoder outputs, (B, Ts, He).
    src_lengths : numpy.ndarray
        Valid source steps per sequence, (B,) int64.
    prev_ids : numpy.ndarray
        The previous tokens, (B,) int64 (``start_id`` at the first step).
    state : tuple of numpy.ndarray
        The decoder state, one (B, H) array per state name.

    Returns
    -------
    log_probs : numpy.ndarray
        (B, V) log-probabilities of the next token.
    state : tuple of numpy.ndarray
        The new decoder state.
    a : numpy.ndarray or None
        (B, Ts) attention weights of this step; None without attention.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.seq2seq import Seq2Seq, graph
    >>> model = Seq2Seq(src_vocab=6, tgt_vocab=5, embed_dim=4, hidden=3)
    >>> src, src_len, tgt_in, tgt_out, tgt_len = model.prepare([[3, 4, 5], [4, 3]], [[3, 4], [4]])
    >>> enc, state, _ = graph.encode(model.params, model, src, src_len)
    >>> logp, state, a = graph.decoder_step(model.params, model, enc, src_len, np.array([1, 1]), state)
    >>> logp.shape, a.shape, bool(np.allclose(np.exp(logp).sum(-1), 1, atol=1e-5))
    ((2, 5), (2, 3), True)
    """
    state = cfg.cell.step(sub(p, "dec."), p["E_tgt"][prev_ids], state, **cfg.cell_options)
    logits, a, _ = readout(p, cfg, state[0][:, None, :], enc, src_lengths)
    return log_softmax(logits[:, 0]), state, (None if a is None else a[:, 0])
