"""Input validation shared by the ops: fail early, name the argument, the expected and the received."""
from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_array(x, name: str, ndim: int | None = None, dtype=None) -> np.ndarray:
    """Return ``x`` as a float32/float64 array with the expected rank, finite values, and no widening."""
    arr = np.asarray(x)
    if arr.dtype not in FLOAT_DTYPES:
        # Integers, booleans and float16 are promoted to the weights' dtype (float32 by default).
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
                or arr.dtype == bool):
            raise TypeError(f"{name}: expected a float array, got dtype {arr.dtype}")
        arr = arr.astype(np.float32 if dtype is None else dtype)
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype).name} (same as the weights), got {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def check_sequence_batch(x, name: str = "x", features: int | None = None, dtype=None) -> np.ndarray:
    """A batch-first sequence batch ``(batch, time, features)``, non-empty, finite."""
    x = as_float_array(x, name, ndim=3, dtype=dtype)
    if x.shape[0] == 0:
        raise ValueError(f"{name}: empty batch (shape {x.shape})")
    if x.shape[1] == 0:
        raise ValueError(f"{name}: empty sequences (time axis of length 0, shape {x.shape})")
    if features is not None and x.shape[2] != features:
        raise ValueError(f"{name}: expected {features} features on the last axis, got shape {x.shape}")
    return x


def check_lengths(lengths, batch: int, time: int, name: str = "lengths") -> np.ndarray | None:
    """Integer lengths in ``[1, time]``, one per sequence; ``None`` means every sequence is full."""
    if lengths is None:
        return None
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise ValueError(f"{name}: expected shape ({batch},), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected integers, got dtype {arr.dtype}")
    if arr.size and arr.min() < 1:
        raise ValueError(f"{name}: every length must be >= 1, got min {arr.min()}")
    if arr.size and arr.max() > time:
        raise ValueError(f"{name}: lengths must be <= the padded time axis ({time}), got max {arr.max()}")
    return arr.astype(np.int64, copy=False)


def check_state(s, name: str, batch: int, hidden: int, dtype) -> np.ndarray:
    arr = as_float_array(s, name, ndim=2, dtype=dtype)
    if arr.shape != (batch, hidden):
        raise ValueError(f"{name}: expected shape ({batch}, {hidden}), got {arr.shape}")
    return arr


def check_params(params: dict, shapes: dict, name: str = "params"):
    """Every expected weight present with the expected shape and one common float dtype."""
    dtype = None
    for key, shape in shapes.items():
        if key not in params:
            raise KeyError(f"{name}: missing weight {key!r} (expected keys {sorted(shapes)})")
        w = params[key]
        if not isinstance(w, np.ndarray) or w.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}[{key!r}]: expected a float32/float64 ndarray, got {type(w).__name__}"
                            f"{'' if not isinstance(w, np.ndarray) else ' of dtype ' + str(w.dtype)}")
        if w.shape != shape:
            raise ValueError(f"{name}[{key!r}]: expected shape {shape}, got {w.shape}")
        if dtype is None:
            dtype = w.dtype
        elif w.dtype != dtype:
            raise TypeError(f"{name}[{key!r}]: dtype {w.dtype} differs from the other weights ({dtype})")
    return dtype
