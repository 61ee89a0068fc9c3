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


def check_token_ids(x, vocab_size: int, name: str = "x") -> np.ndarray:
    """Integer token ids (batch, time), each in [0, vocab_size)."""
    ids = np.asarray(x)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{name}: expected integer token ids, got dtype {ids.dtype}")
    if ids.ndim != 2:
        raise ValueError(f"{name}: token ids must be (batch, time), got shape {ids.shape}")
    if ids.size == 0:
        raise ValueError(f"{name}: empty input (shape {ids.shape})")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"{name}: token ids must be in [0, {vocab_size - 1}], got range [{ids.min()}, {ids.max()}]")
    return ids


def check_int_vector(v, name: str, batch: int, minimum: int = 0) -> np.ndarray:
    """One integer per batch element (a length or a count), each ``>= minimum``, as int64.

    Integral floats (``5.0``) are accepted; fractional, NaN or inf values are refused."""
    arr = np.asarray(v)
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise ValueError(f"{name}: expected shape ({batch},), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if (np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all()
                and np.all(arr == np.round(arr))):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < minimum:
        raise ValueError(f"{name}: every length must be >= {minimum}, got min {arr.min()}")
    return arr


def check_lengths(lengths, batch: int, time: int, name: str = "lengths") -> np.ndarray | None:
    """Integer lengths in ``[1, time]``, one per sequence; ``None`` means every sequence is full."""
    if lengths is None:
        return None
    arr = check_int_vector(lengths, name, batch, minimum=1)
    if arr.size and arr.max() > time:
        raise ValueError(f"{name}: lengths must be <= the padded time axis ({time}), got max {arr.max()}")
    return arr


def check_state(s, name: str, batch: int, hidden: int, dtype) -> np.ndarray:
    arr = as_float_array(s, name, ndim=2, dtype=dtype)
    if arr.shape != (batch, hidden):
        raise ValueError(f"{name}: expected shape ({batch}, {hidden}), got {arr.shape}")
    return arr


def check_state_tuple(state, name: str, state_names, batch: int, hidden: int, dtype):
    """None, or a tuple with one entry per state array (``state_names``, e.g. ("h", "c")), each None
    (zeros) or a (batch, hidden) array. Returns None or the tuple of checked arrays (None kept)."""
    if state is None:
        return None
    n = len(state_names)
    want = "(" + ", ".join(state_names) + ("," if n == 1 else "") + ")"
    if not isinstance(state, (tuple, list)) or len(state) != n:
        got = type(state).__name__ + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else "")
        raise TypeError(f"{name}: expected None or a tuple {want} of {n} ({batch}, {hidden}) array(s), got {got}")
    return tuple(None if s is None else check_state(s, f"{name} {k}", batch, hidden, dtype)
                 for k, s in zip(state_names, state))


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


def check_options(options: dict, allowed: dict, cell: str) -> dict:
    """A cell's options, each one of its allowed values (``allowed``: name -> values, default first).

    Returns every option, defaults filled in, each normalised to the allowed value it equals."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"{cell}: unexpected option(s) {unknown}; this cell takes {sorted(allowed) or 'none'}")
    out = {}
    for name, values in allowed.items():
        v = options.get(name, values[0])
        matches = [a for a in values if type(a) is type(v) or (isinstance(a, bool) and isinstance(v, np.bool_))
                   or (isinstance(a, str) and isinstance(v, str))]
        if not any(a == v for a in matches):
            raise ValueError(f"{name}: expected one of {values}, got {v!r}")
        out[name] = next(a for a in matches if a == v)
    return out


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int: an integer (not a bool, a string or a fraction) within the bounds."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok and isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        ok = True                                   # 3.0 is the integer 3; 2.5 is not
    if not ok:
        raise TypeError(f"{name}: expected an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected an integer <= {maximum}, got {value}")
    return value


def check_float(value, name: str, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite Python float (not a bool or a string) within [low, high] (open ends if asked)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name}: expected a number {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name}: expected a number {'<' if high_open else '<='} {high}, got {value}")
    return value


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r} ({type(value).__name__})")
    return bool(value)
