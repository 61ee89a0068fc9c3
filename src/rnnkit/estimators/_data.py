"""What the estimators do to X before ``Sequential`` sees it: the three input forms as one padded
array, per-channel standardisation, and the checks scikit-learn's conventions ask for (scikit-learn's
own ``check_array``, so its messages for NaN, complex, object and empty data are the familiar ones)."""
from __future__ import annotations

import numbers

import numpy as np

try:
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import check_array
except ImportError as e:                # pragma: no cover - the extra is installed wherever tests run
    raise ImportError("rnnkit.estimators needs scikit-learn: pip install 'rnnkit[sklearn]'") from e


def as_sequences(X, dtype):
    """X -> ``(padded (N, T, F) array of dtype, lengths (N,) or None, table)``.

    X is a 3-D array (N, T, F), a list of (T_i, F) or (T_i,) arrays (ragged), or a 2-D array (N, T):
    a table of univariate series whose columns are the time steps (``table`` True). ``lengths`` is
    None when every sequence fills the time axis. A 1-D object array of sequences reads as their list."""
    if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1:
        X = list(X)
    if isinstance(X, (list, tuple)) and _ragged(X):
        seqs = []
        for i, s in enumerate(X):
            a = check_array(s, ensure_2d=False, dtype=dtype, input_name=f"X[{i}]")
            if a.ndim > 2:
                raise ValueError(f"X[{i}]: expected one sequence (time, channels) or (time,), got shape {a.shape}")
            seqs.append(a[:, None] if a.ndim == 1 else a)
        channels = sorted({a.shape[1] for a in seqs})
        if len(channels) > 1:
            raise ValueError(f"X: the sequences have different numbers of channels {channels}; every (time, "
                             "channels) array needs the same channels")
        lengths = np.array([len(a) for a in seqs], dtype=np.int64)
        Xp = np.zeros((len(seqs), int(lengths.max()), channels[0]), dtype=dtype)
        for i, a in enumerate(seqs):
            Xp[i, :len(a)] = a
        return Xp, (None if (lengths == lengths[0]).all() else lengths), False
    X = check_array(X, allow_nd=True, dtype=dtype)
    if X.ndim > 3:
        raise ValueError(f"X: expected (samples, time, channels), (samples, time) or a list of (time, channels) "
                         f"arrays, got shape {X.shape}")
    return (X[:, :, None], None, True) if X.ndim == 2 else (X, None, False)


def _ragged(X):
    """Whether a list holds sequences of different shapes (a list of equal rows is an array)."""
    try:
        return len(X) > 0 and len({np.shape(s) for s in X}) > 1
    except ValueError:                  # a nested list that is itself ragged: its items are sequences
        return True


def valid_steps(Xp, lengths):
    """The (steps, F) values of every valid step (padding left out)."""
    if lengths is None:
        return Xp.reshape(-1, Xp.shape[-1])
    return Xp[np.arange(Xp.shape[1])[None, :] < lengths[:, None]]


def chunk_factor(T, max_steps):
    """How many consecutive steps one model step reads so that ``T`` steps become at most ``max_steps``
    (None: 1, every step its own)."""
    if max_steps is None:
        return 1
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps: expected an integer >= 1 or None, got {max_steps!r:.50}")
    return max(1, -(-int(T) // int(max_steps)))


def chunk(Xp, lengths, k):
    """(N, T, F) -> (N, ceil(T / k), k * F): step j of the result holds steps jk .. jk + k - 1 of every
    channel side by side (time-major within the step), zeros past the end; lengths become
    ceil(length / k). Nothing is averaged away, so a short pattern survives; the recurrence runs k
    times fewer steps, which is what lets it learn on series of hundreds to thousands of steps."""
    if k == 1:
        return Xp, lengths
    N, T, F = Xp.shape
    pad = (-T) % k
    if pad:
        Xp = np.concatenate([Xp, np.zeros((N, pad, F), Xp.dtype)], axis=1)
    out = Xp.reshape(N, (T + pad) // k, k * F)
    return out, (None if lengths is None else -(-lengths // k))


def mean_and_scale(values):
    """Column means and standard deviations (float64); a constant column scales by 1."""
    mean = values.mean(axis=0, dtype=np.float64)
    std = values.std(axis=0, dtype=np.float64)
    return mean, np.where(std > 0, std, 1.0)


def sample_weight(sample_weight, n):
    """Sample weights as float64 (n,), or None. ``Sequential.fit`` checks their shape and sign;
    this adds scikit-learn's rule that they may not all be zero."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight: expected shape ({n},), one weight per sample, got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight: weights must be finite and >= 0")
    if not w.any():
        raise ValueError("sample_weight: all weights are zero; at least one must be non-zero")
    return w


def seed(random_state):
    """``random_state`` (None, an int or a ``numpy.random.RandomState``) as ``Sequential``'s seed;
    a RandomState gives a fresh draw at each call, as in scikit-learn."""
    if random_state is None or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)):
        return None if random_state is None else int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
