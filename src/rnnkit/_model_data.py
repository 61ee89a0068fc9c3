"""What ``Sequential`` does to the user's data before the network sees it: validation (once, here),
padding of ragged lists, targets aligned with the output, and batches trimmed to their own length."""
from __future__ import annotations

import numpy as np

from .data.batching import bucket_batches, length_mask, pad_sequences
from .ops import _checks

_X_FORMS = ("a padded array (batch, time, features) with optional lengths, a list of (time, features) or "
            "(time,) arrays, or (batch, features) for a model without a time axis")


def inputs(X, lengths, dtype, vocab_size=None, sequences=True):
    """User input -> (padded array, lengths or None, is_sequence). ``vocab_size``: the model starts
    with an Embedding and takes token ids below it. ``sequences``: the model has a recurrent layer, so
    a list of 1-D arrays is a set of univariate series; without, such a list holds the rows of a
    (batch, features) array. A list of 2-D arrays is always a ragged set of (time, features) sequences."""
    if X is None or isinstance(X, (str, bytes, dict)):
        raise TypeError(f"X: expected {_X_FORMS}; got {type(X).__name__}")
    if (isinstance(X, (list, tuple)) and not sequences and vocab_size is None
            and all(np.ndim(row) <= 1 for row in X)):
        try:
            X = np.asarray(X)
        except ValueError:
            raise ValueError("X: a list of rows of different lengths; this model has no time axis and "
                             "reads (batch, features)") from None
    if isinstance(X, (list, tuple)):
        if lengths is not None:
            raise ValueError("lengths: give lengths only with a padded array, not with a ragged list")
        X, lengths = pad_sequences(_ragged(X, vocab_size is None))
    X = np.asarray(X)
    if X.dtype == object or X.dtype.kind in "USV":
        raise TypeError(f"X: expected numbers, got dtype {X.dtype} ({_X_FORMS})")
    if X.ndim == 0 or X.size == 0 or X.shape[0] == 0:
        raise ValueError(f"X: empty input (shape {X.shape}); expected {_X_FORMS}")
    if vocab_size is not None:
        if not np.issubdtype(X.dtype, np.integer):
            raise TypeError(f"X: the model starts with an Embedding and expects integer token ids, got dtype {X.dtype}")
        if X.ndim != 2:
            raise ValueError(f"X: token ids must be (batch, time) or a list of 1-D arrays, got shape {X.shape}")
        X = _checks.check_token_ids(X, vocab_size, "X")
        seq = True
    else:
        if X.dtype.kind not in "fiub":
            raise TypeError(f"X: expected numbers, got dtype {X.dtype}")
        if X.ndim not in (2, 3):
            hint = "; one univariate sequence is X[None, :, None]" if X.ndim == 1 else ""
            raise ValueError(f"X: expected (batch, time, features) or (batch, features), got shape {X.shape}{hint}")
        X = X.astype(dtype, copy=False)
        if not np.isfinite(X).all():
            raise ValueError("X: contains NaN or inf")
        seq = X.ndim == 3
    if lengths is not None:
        if not seq:
            raise ValueError("lengths: given, but X has no time axis")
        lengths = _checks.check_lengths(lengths, X.shape[0], X.shape[1])
    return X, lengths, seq


def _ragged(seqs, features):
    """A list of sequences as arrays: numbers only; 1-D series become (time, 1) when the model reads
    feature vectors (``features``), and stay token-id rows otherwise."""
    if len(seqs) == 0:
        raise ValueError(f"X: empty list; expected {_X_FORMS}")
    out = []
    for i, s in enumerate(seqs):
        if s is None or isinstance(s, (str, bytes, dict)):
            raise TypeError(f"X[{i}]: expected an array of numbers (one sequence), got {type(s).__name__}")
        a = np.asarray(s)
        if a.dtype == object or a.dtype.kind not in "fiub":
            raise TypeError(f"X[{i}]: expected an array of numbers (one sequence), got dtype {a.dtype}")
        out.append(a[:, None] if (features and a.ndim == 1) else a)
    return out


def targets(y, n, T, seq_out, lengths, loss, K, dtype):
    """User targets -> an array aligned with the model's output (or label sequences for CTC).

    ``K`` outputs per step; ragged per-step targets must have one target per input step (``lengths``,
    the inputs' own).
    """
    if y is None or isinstance(y, (str, bytes, dict)):
        raise TypeError(f"y: expected an array or list of targets, got {type(y).__name__}")
    if loss == "ctc":
        if not isinstance(y, (list, tuple)) or len(y) != n:
            raise ValueError(f"y: CTC needs a list of {n} label sequences (one per input), got {type(y).__name__}")
        return [_label_sequence(s, i) for i, s in enumerate(y)]
    if isinstance(y, (list, tuple)) and len(y) and np.ndim(y[0]) >= 1 and seq_out:
        if len(y) == n:
            steps = np.full(n, T) if lengths is None else lengths
            for i, (s, L) in enumerate(zip(y, steps)):
                if len(s) != L:
                    raise ValueError(f"y[{i}]: expected {L} per-step targets (one per step of X[{i}]), "
                                     f"got {len(s)}")
        y, _ = pad_sequences(y, maxlen=T, name="y")
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(f"y: expected {n} targets (one per input sequence), got a scalar")
    if y.shape[0] != n:
        raise ValueError(f"y: expected {n} targets (one per input sequence), got {y.shape[0]}")
    want_ids = (n, T) if seq_out else (n,)
    if (loss == "crossentropy" and y.dtype.kind == "f" and y.shape == want_ids and np.isfinite(y).all()
            and (y == np.round(y)).all()):
        y = y.astype(np.int64)              # 0., 1., 2. read as class ids (as Keras' sparse targets)
    if loss == "crossentropy" and np.issubdtype(y.dtype, np.integer):
        want = (n, T) if seq_out else (n,)
        if y.shape[:len(want)] != want or y.ndim != len(want):
            raise ValueError(f"y: class ids need shape {want}, got {y.shape}")
        if y.min() < 0 or y.max() >= K:
            raise ValueError(f"y: class ids must be in [0, {K - 1}] (the model has {K} outputs), "
                             f"got range [{y.min()}, {y.max()}]")
        return y
    if y.dtype.kind not in "fiub":
        raise TypeError(f"y: expected numeric targets, got dtype {y.dtype}")
    y = y.astype(dtype)
    want = (n, T, K) if seq_out else (n, K)
    if y.shape == want[:-1] and K == 1:
        y = y[..., None]
    if y.shape != want:
        hint = (f" (class ids: integers of shape {want[:-1]}; probabilities: shape {want})"
                if loss == "crossentropy" else "")
        raise ValueError(f"y: expected shape {want} for this model's output, got {y.shape}{hint}")
    if not np.isfinite(y).all():
        raise ValueError("y: contains NaN or inf")
    if loss == "binary_crossentropy" and ((y < 0) | (y > 1)).any():
        raise ValueError("y: binary cross-entropy needs targets in [0, 1]")
    return y


def _label_sequence(s, i):
    a = np.asarray(s)
    if a.dtype == object or a.dtype.kind not in "iuf" or a.ndim > 1:
        raise TypeError(f"y[{i}]: expected a 1-D sequence of integer labels, got {a.dtype} of shape {a.shape}")
    if a.dtype.kind == "f" and not (np.isfinite(a).all() and (a == np.round(a)).all()):
        raise ValueError(f"y[{i}]: labels must be whole numbers, got {a[:5]}")
    return a.astype(np.int64).reshape(-1)


def take(y, idx):
    """Rows ``idx`` of a target array or of a list of label sequences."""
    if y is None:
        return None
    return [y[i] for i in idx] if isinstance(y, list) else y[idx]


def batch(Xp, yp, lp, idx, seq, seq_out):
    """Rows ``idx`` as one batch, trimmed to its own longest sequence; ``lengths`` None when all full.
    Returns ``(x, y, lengths, mask)``: ``mask`` (B, T) marks the counted steps of per-step outputs
    (None when every step counts), built once for the loss and the metrics."""
    xb = Xp[idx]
    lb = None if lp is None else lp[idx]
    yb = take(yp, idx)
    if seq and lb is not None:
        T = int(lb.max())
        xb = xb[:, :T]
        if seq_out and yb is not None and not isinstance(yb, list):
            yb = yb[:, :T]
        if (lb == T).all():
            lb = None
    return xb, yb, lb, step_mask(lb, xb.shape[1] if seq else None, seq_out)


def step_mask(lengths, T, seq_out):
    """The (B, T) mask of valid steps for per-step outputs with ``lengths``, else None."""
    return length_mask(lengths, T) if (seq_out and lengths is not None) else None


def outputs(forward, Xp, lp, seq, batch_size=256):
    """``forward(x, lengths, training=False)`` over all of Xp in batches of similar length, in Xp's
    order. Per-step outputs come back padded to Xp's time axis, zero past each length."""
    outs = []
    n = len(Xp)
    order = np.argsort(lp, kind="stable") if lp is not None else np.arange(n)
    for i in range(0, n, batch_size):
        bi = order[i:i + batch_size]
        xb, _, lb, _ = batch(Xp, None, lp, bi, seq, False)
        outs.append((bi, forward(xb, lb, training=False)))
    first = outs[0][1]
    if first.ndim == 3:  # per-step outputs: pad every batch back to the full time axis
        res = np.zeros((n, Xp.shape[1], first.shape[-1]), dtype=first.dtype)
        for bi, o in outs:
            T = o.shape[1]
            # steps past a sequence's length are padding: zero there, whatever the head computes
            res[bi, :T] = o if lp is None else o * length_mask(lp[bi], T)[..., None]
    else:
        res = np.zeros((n,) + first.shape[1:], dtype=first.dtype)
        for bi, o in outs:
            res[bi] = o
    return res


def split_validation(Xp, yp, lp, fraction, seed):
    """A random ``fraction`` of the rows (seeded) held out: ``(validation, training)``, each
    ``(X, y, lengths)``, both in their original order."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split: expected a fraction in (0, 1), got {fraction!r}")
    n = len(Xp)
    n_val = max(1, int(round(n * fraction)))
    idx = np.random.default_rng(seed).permutation(n)
    parts = []
    for rows in (np.sort(idx[:n_val]), np.sort(idx[n_val:])):
        parts.append((Xp[rows], take(yp, rows), None if lp is None else lp[rows]))
    return parts[0], parts[1]


def epoch_batches(lengths, n, batch_size, rng):
    """One epoch's batches of row indices: grouped by similar length for sequences (``lengths``), in
    order or shuffled by ``rng`` (None: no shuffling) for inputs without a time axis."""
    if lengths is not None:
        return bucket_batches(lengths, batch_size, rng)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def progress(batches, epoch, epochs, verbose):
    """The epoch's batches, wrapped in a tqdm progress bar when ``verbose == 1`` and tqdm is installed."""
    if verbose != 1:
        return batches
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: a bar is a convenience, never a requirement
        return batches
    return tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", leave=False, unit="batch")
