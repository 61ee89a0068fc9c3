"""What ``Sequential`` does to the user's data before the network sees it: validation (once, here),
channels-first layouts, padding of ragged lists, targets aligned with the output (labels are encoded
by ``_labels`` first), sample and class weights, the validation split, batches trimmed to their own
length, and the unweighted scores of ``evaluate``."""
from __future__ import annotations

import numpy as np

from . import _labels
from .data.batching import bucket_batches, length_mask, pad_sequences
from .ops import _checks, ctc_decode
from .ops import activations as A

_X_FORMS = ("a padded array (batch, time, features) with optional lengths, a list of (time, features) or "
            "(time,) arrays, or (batch, features) for a model without a time axis")


def inputs(X, lengths, dtype, vocab_size=None, sequences=True, channels_first=None, features=None):
    """User input -> (padded array, lengths or None, is_sequence). ``vocab_size``: the model starts
    with an Embedding and takes token ids below it. ``sequences``: the model has a recurrent layer, so
    a list of 1-D arrays is a set of univariate series; without, such a list holds the rows of a
    (batch, features) array. A list of 2-D arrays is always a ragged set of (time, features) sequences.
    ``channels_first``: see ``channels_last``; ``features``: the model's input size if built."""
    if X is None or isinstance(X, (str, bytes, dict)):
        raise TypeError(f"X: expected {_X_FORMS}; got {type(X).__name__}")
    X = channels_last(X, channels_first, vocab_size, features)
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


def channels_last(X, channels_first, vocab_size=None, features=None):
    """``channels_first=True``: a padded (N, C, T) array -> (N, T, C), a list of (C, T_i) arrays ->
    (T_i, C). None: a 3-D float array that looks channels-first is a ValueError saying how to transpose
    it: X.shape[1] == the model's ``features`` != X.shape[2], or, for a model not built yet, a time axis
    of length 1 with several features. False: taken as it is."""
    if channels_first is not None and not isinstance(channels_first, (bool, np.bool_)):
        raise TypeError(f"channels_first: expected True, False or None, got {channels_first!r:.50}")
    if channels_first and vocab_size is not None:
        raise ValueError("channels_first: the model starts with an Embedding and reads token ids (batch, time); "
                         "there is no channel axis")
    if channels_first:
        if isinstance(X, (list, tuple)):
            for i, s in enumerate(X):
                if np.ndim(s) != 2:
                    raise ValueError(f"X[{i}]: channels_first=True expects (channels, time) arrays, got "
                                     f"{np.ndim(s)} dimension(s)")
            return [np.asarray(s).T for s in X]
        X = np.asarray(X)
        if X.ndim != 3:
            raise ValueError(f"X: channels_first=True expects a (batch, channels, time) array, got shape {X.shape}")
        return X.transpose(0, 2, 1)
    if channels_first is None and isinstance(X, np.ndarray) and X.ndim == 3 and X.dtype.kind == "f":
        N, A, B = X.shape
        if (A == 1 < B) if features is None else (A == features != B):
            raise ValueError(f"X: shape {X.shape} looks channels-first (batch, channels, time): read as (batch, "
                             f"time, features) it has {A} time step(s) of {B} features. If it is (batch, channels, "
                             "time), pass channels_first=True or X.transpose(0, 2, 1); if it really is (batch, "
                             "time, features), pass channels_first=False")
    return X


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


def split_validation(n, fraction, seed, strata=None):
    """``(validation rows, training rows)``, both sorted: a ``fraction`` of the n rows held out, drawn
    with ``seed``. With ``strata`` (each row's class) every class gives round(fraction * n_c) rows (at
    least 1 of a class with >= 2 rows, and always keeps one for training); else the rows are random."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split: expected a fraction in (0, 1), got {fraction!r}")
    rng = np.random.default_rng(seed)
    val = []
    if strata is not None:
        for c in np.unique(strata):
            rows = rng.permutation(np.flatnonzero(strata == c))
            k = min(max(int(round(fraction * len(rows))), 1), len(rows) - 1)
            val.extend(rows[:k].tolist())
    if not val:                        # no strata, or only single-row classes: a random split
        val = rng.permutation(n)[:max(1, int(round(n * fraction)))]
    val = np.sort(np.asarray(val, dtype=np.int64))
    return val, np.setdiff1d(np.arange(n), val)


def rows(Xp, yp, lp, idx):
    """``(X, y, lengths)`` of rows ``idx``."""
    return Xp[idx], take(yp, idx), None if lp is None else lp[idx]


def sample_weights(sample_weight, loss, n, T, seq_out, lengths):
    """User sample weights -> float64 (n,) per sequence, or (n, T) per step for per-step outputs (a
    (n,) weight then weighs every step of its sequence; a ragged list gives one weight per step).
    None if not given. ValueError / TypeError for a bad shape or value."""
    if sample_weight is None:
        return None
    if loss == "ctc":
        raise ValueError("sample_weight: not supported with the ctc loss (weigh by repeating samples instead)")
    if isinstance(sample_weight, (list, tuple)) and len(sample_weight) and np.ndim(sample_weight[0]) >= 1:
        steps = np.full(n, T) if lengths is None else lengths
        if not seq_out or len(sample_weight) != n or any(len(w) != k for w, k in zip(sample_weight, steps)):
            raise ValueError("sample_weight: a list of per-step weights needs per-step outputs and one weight "
                             "per step of each sequence of X")
        sample_weight = pad_sequences(sample_weight, maxlen=T, name="sample_weight")[0]
    w = np.asarray(sample_weight)
    if w.dtype == object or w.dtype.kind not in "fiub":
        raise TypeError(f"sample_weight: expected numbers, got dtype {w.dtype}")
    want = [(n,), (n, T)] if seq_out else [(n,)]
    if w.shape not in want:
        raise ValueError(f"sample_weight: expected shape {' or '.join(map(str, want))} (one weight per sequence"
                         f"{', or per step' if seq_out else ''}), got {w.shape}")
    w = w.astype(np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight: weights must be finite and >= 0")
    return np.repeat(w[:, None], T, axis=1) if seq_out and w.ndim == 1 else w


def fit_weights(sw, class_weight, loss, classes, yp, lp, T, seq_out, K):
    """The training targets' weights: sample weights times class weights (``_labels.class_weights``),
    (n,) or (n, T); None when neither is given. ValueError if every counted target weighs 0."""
    if class_weight is None and sw is None:
        return None
    mask = step_mask(lp, T, seq_out)
    w = sw
    if class_weight is not None:
        cw = _labels.class_weights(class_weight, loss, classes, yp, mask, K)
        w = cw if w is None else w * cw
    if not (w if mask is None else w[mask]).sum() > 0:
        raise ValueError("sample_weight / class_weight: every training target has weight 0; nothing to learn from")
    return w


def batch_weights(w, idx, mask, T, dtype):
    """The loss's weights of batch ``idx``: the boolean step ``mask`` if there are no weights, else the
    weights (trimmed to the batch's T steps) times the mask, of the model's ``dtype``."""
    if w is None:
        return mask
    wb = w[idx] if w.ndim == 1 else w[idx, :T]
    return (wb if mask is None else wb * mask).astype(dtype)


def scores(model, Xp, lp, seq, seq_out, yp, batch_size=256):
    """``evaluate``'s {"loss": ..., metric: ...} on checked data, in inference mode (unweighted)."""
    out = outputs(model._forward, Xp, lp, seq, batch_size)
    mask = step_mask(lp, Xp.shape[1] if seq else None, seq_out)
    logs = {}
    if model.loss == "ctc":
        total = 0.0
        for i in range(0, len(Xp), batch_size):
            sl = slice(i, i + batch_size)
            lb = None if lp is None else lp[sl]
            o = out[sl] if lb is None else out[sl, :int(lb.max())]
            total += model._loss(o, yp[sl], lb, None)[0] * len(o)
        logs["loss"] = total / len(Xp)
    else:
        logs["loss"] = float(model._loss(out, yp, lp, mask)[0])
    for name, fn in model.metrics.items():
        logs[name] = fn(out, yp, mask, model.loss)
    return logs


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


def probabilities(out, loss):
    """Raw outputs -> probabilities for a classification ``loss`` (softmax; binary: P(class 1)), as
    ``Sequential.predict_proba`` and ``runtime.OnnxModel.predict_proba`` return them."""
    if loss == "binary_crossentropy":
        return A.sigmoid(out)
    if loss in ("crossentropy", "ctc"):
        return A.softmax(out)
    raise ValueError(f"predict_proba: the model's loss is {loss!r}, not a classification loss")


def labels(out, lengths, loss, classes, ctc_blank):
    """Raw outputs -> labels: 0/1 (binary), argmax ids, ``classes[id]`` when the model has classes,
    or for CTC the greedy-decoded label sequences (``predict_classes`` of both model kinds)."""
    if loss == "binary_crossentropy":
        ids = (out[..., 0] > 0).astype(np.int64) if out.shape[-1] == 1 else (out > 0).astype(np.int64)
        return _labels.decode(ids, classes)
    if loss == "crossentropy":
        return _labels.decode(out.argmax(-1), classes)
    if loss == "ctc":
        return ctc_decode.greedy_decode(out, lengths, blank=ctc_blank)
    raise ValueError(f"predict_classes: the model's loss is {loss!r}, not a classification loss")
