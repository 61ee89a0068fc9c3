"""Quantized weights, for smaller model files: int8 with one scale per row, or float16 copies.

    model.save("model-int8.npz", quantize="int8")    # about 4x smaller for a model made of weight matrices
    model = Sequential.load("model-int8.npz")         # an ordinary float model; model.quantized == "int8"

This module is the arithmetic only; ``rnnkit.io`` stores its output (the file format is documented there).

Which arrays. The weight matrices (every 2-D weight: ``W_x``, ``W_h``, ``W_y``, ``E``) are quantized;
1-D arrays (the biases ``b``, ``b_h``, ``c``) stay in the model's dtype: they are a small part of a
model, and a bias error shifts every output of its unit. A row is one output unit of ``W_x``, ``W_h``
or ``W_y`` (rnnkit's ``(out, in)`` orientation) or one token of an Embedding ``E``: each gets its own range.

int8, symmetric, one float32 scale per row. A matrix W (R, C) is stored as q (R, C) int8 and s (R,) float32:

    s_r  = max_c |W_rc| / 127   (rounded up to the next float32, so that |W_rc| / s_r <= 127)
    q_rc = round(W_rc / s_r)    in [-127, 127] (round half to even; -128 is never used)
    W'_rc = q_rc * s_r          (dequantized: exact in float64, rounded once to the model's dtype)

so |W_rc - W'_rc| <= s_r / 2 for every entry (up to the quotient's float64 rounding, s_r * 2**-46,
and the rounding of W' to float32 in a float32 model). A row of zeros gets s_r = 0 and q = 0.

float16: a float16 copy, |W - W'| <= max(2**-11 |W|, 2**-25) (half an ulp; the second term for values
below float16's normal range, 6.1e-5). Weights beyond float16's range (|W| > 65504) are refused.
"""
from __future__ import annotations

import numpy as np

from .ops import _checks

__all__ = ["MODES", "quantize_int8", "dequantize_int8", "quantize_float16", "dequantize_float16",
           "is_quantized", "check_mode", "quantize_weights", "dequantize_weights"]

#: The quantization modes: stored dtype of the weight matrices.
MODES = {"int8": np.dtype(np.int8), "float16": np.dtype(np.float16)}
QMAX = 127
_F16_MAX = float(np.finfo(np.float16).max)


def quantize_int8(w, name: str = "w"):
    """Quantize a matrix to int8 with one float32 scale per row (symmetric; module docstring).

    ``w ~ q * scale[:, None]``, with |w - q * scale[:, None]| <= scale / 2 per row.

    Parameters
    ----------
    w : array_like
        The weight matrix, (R, C), float32 or float64.
    name : str, optional
        Names ``w`` in error messages. Default ``"w"``.

    Returns
    -------
    q : numpy.ndarray
        (R, C) int8 in [-127, 127].
    scale : numpy.ndarray
        (R,) float32 row scales (0 for a row of zeros).

    Raises
    ------
    ValueError
        For a non-2-D, NaN/inf or float32-overflowing (|w| > ~4e40) ``w``.
    TypeError
        If ``w`` is not a float array.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.quantize import quantize_int8
    >>> q, scale = quantize_int8(np.array([[1.27, -0.5], [0.0, 0.0]]))
    >>> q, scale
    (array([[127, -50],
           [  0,   0]], dtype=int8), array([0.01, 0.  ], dtype=float32))
    """
    w = _checks.as_float_array(w, name, ndim=2).astype(np.float64)
    amax = np.max(np.abs(w), axis=1, initial=0.0)
    with np.errstate(over="ignore"):
        scale = (amax / QMAX).astype(np.float32)
    if not np.isfinite(scale).all():
        raise ValueError(f"{name}: values up to {amax.max():.3g} are beyond what int8 with a float32 scale "
                         "holds (about 4e40); save without quantize, or with quantize=None")
    low = scale.astype(np.float64) * QMAX < amax          # rounded down: round up, so |w| / s <= 127
    scale[low] = np.nextafter(scale[low], np.float32(np.inf))
    s = scale.astype(np.float64)
    q = np.rint(w / np.where(s > 0, s, 1.0)[:, None])
    return np.clip(q, -QMAX, QMAX).astype(np.int8), scale


def dequantize_int8(q, scale, dtype=np.float32):
    """Dequantize int8 rows: q * scale[:, None] as ``dtype``.

    Parameters
    ----------
    q : numpy.ndarray
        (R, C) int8 in [-127, 127].
    scale : numpy.ndarray
        (R,) float32 row scales, finite and >= 0.
    dtype : numpy dtype, optional
        float32 or float64. Default float32.

    Returns
    -------
    numpy.ndarray
        (R, C) array of ``dtype``.

    Raises
    ------
    ValueError
        For the wrong dtypes or shapes, a negative, NaN or inf scale, or a q of -128 (outside the
        symmetric range this format writes).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.quantize import dequantize_int8
    >>> dequantize_int8(np.array([[127, -64]], dtype=np.int8), np.array([0.5], dtype=np.float32))
    array([[ 63.5, -32. ]], dtype=float32)
    """
    q, scale, dtype = np.asarray(q), np.asarray(scale), np.dtype(dtype)
    if q.dtype != np.int8 or q.ndim != 2:
        raise ValueError(f"q: expected a 2-D int8 array, got dtype {q.dtype} shape {q.shape}")
    if scale.dtype != np.float32 or scale.shape != q.shape[:1]:
        raise ValueError(f"scale: expected a float32 array of shape {q.shape[:1]} (one per row of q), "
                         f"got dtype {scale.dtype} shape {scale.shape}")
    if dtype not in _checks.FLOAT_DTYPES:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
    if not (np.isfinite(scale).all() and (scale >= 0).all()):
        raise ValueError("scale: every row scale must be finite and >= 0")
    if q.size and q.min() < -QMAX:
        raise ValueError(f"q: values must lie in [-{QMAX}, {QMAX}] (symmetric int8), found -128")
    # one correctly rounded product in ``dtype``: exact in float64 (7 bits of q times 24 of the scale),
    # rounded once in float32; no float64 temporary four times the size of a float32 model
    return q.astype(dtype) * scale.astype(dtype)[:, None]


def quantize_float16(w, name: str = "w"):
    """A float16 copy of a float array.

    Parameters
    ----------
    w : array_like
        Weights of any shape, float32 or float64.
    name : str, optional
        Names ``w`` in error messages. Default ``"w"``.

    Returns
    -------
    numpy.ndarray
        float16 array of ``w``'s shape.

    Raises
    ------
    ValueError
        For NaN/inf or |w| > 65504 (float16's largest).
    TypeError
        If ``w`` is not a float array.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.quantize import quantize_float16
    >>> quantize_float16(np.array([1.0, 0.1]))
    array([1. , 0.1], dtype=float16)
    """
    w = _checks.as_float_array(w, name)
    if w.size and np.abs(w).max() > _F16_MAX:
        raise ValueError(f"{name}: values up to {np.abs(w).max():.3g} overflow float16 (largest {_F16_MAX:g}); "
                         "use quantize='int8' or no quantization")
    return w.astype(np.float16)


def dequantize_float16(h, dtype=np.float32):
    """A float16 array converted to ``dtype``, exactly (every float16 is representable).

    Parameters
    ----------
    h : numpy.ndarray
        float16 array of any shape.
    dtype : numpy dtype, optional
        float32 or float64. Default float32.

    Returns
    -------
    numpy.ndarray
        ``h`` as ``dtype``, same shape.

    Raises
    ------
    ValueError
        If ``h`` is not float16 or ``dtype`` is not float32/float64.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.quantize import dequantize_float16
    >>> dequantize_float16(np.array([0.5, 2.0], dtype=np.float16), np.float64)
    array([0.5, 2. ])
    """
    h, dtype = np.asarray(h), np.dtype(dtype)
    if h.dtype != np.float16:
        raise ValueError(f"expected a float16 array, got dtype {h.dtype}")
    if dtype not in _checks.FLOAT_DTYPES:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
    return h.astype(dtype)


def is_quantized(shape) -> bool:
    """Whether a weight of this shape is quantized (the matrices, ndim 2) or stored as it is.

    Parameters
    ----------
    shape : tuple of int
        The weight's shape.

    Returns
    -------
    bool
        True for a 2-D shape.

    Examples
    --------
    >>> from rnnkit.quantize import is_quantized
    >>> is_quantized((3, 4)), is_quantized((4,))
    (True, False)
    """
    return len(shape) == 2


def check_mode(mode):
    """Validate a quantization mode.

    Parameters
    ----------
    mode : str or None
        None, ``"int8"`` or ``"float16"``; ``"fp16"`` (the ONNX export's name) is read as ``"float16"``.

    Returns
    -------
    str or None
        The mode, ``"fp16"`` normalised to ``"float16"``.

    Raises
    ------
    ValueError
        Naming the choices, for any other value.

    Examples
    --------
    >>> from rnnkit.quantize import check_mode
    >>> check_mode("fp16"), check_mode(None)
    ('float16', None)
    """
    mode = "float16" if mode == "fp16" else mode
    if mode is not None and (not isinstance(mode, str) or mode not in MODES):
        raise ValueError(f"quantize: expected None, 'int8' or 'float16' ('fp16'), got {mode!r:.50}")
    return mode


def quantize_weights(arrays: dict, mode: str):
    """Quantize a model's weights: the matrices to ``mode``, the rest as given.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        ``{name: array}``, float32 or float64.
    mode : str
        ``"int8"`` or ``"float16"`` (``"fp16"``).

    Returns
    -------
    stored : dict of str to numpy.ndarray
        The same names in the same order, the matrices quantized to ``mode`` and the rest as given.
    scales : dict of str to numpy.ndarray
        ``{matrix name: (R,) float32}`` for ``"int8"``, ``{}`` for ``"float16"``.

    Raises
    ------
    ValueError
        For an unknown ``mode``, or naming a weight that cannot be quantized.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.quantize import quantize_weights
    >>> weights = {"W_y": np.ones((2, 3), np.float32), "c": np.zeros(2, np.float32)}
    >>> stored, scales = quantize_weights(weights, "int8")
    >>> stored["W_y"].dtype, stored["c"].dtype, list(scales)
    (dtype('int8'), dtype('float32'), ['W_y'])
    """
    check_mode(mode)
    stored, scales = {}, {}
    for name, w in arrays.items():
        if not is_quantized(np.shape(w)):
            stored[name] = w
        elif mode == "int8":
            stored[name], scales[name] = quantize_int8(w, f"weight {name!r}")
        else:
            stored[name] = quantize_float16(w, f"weight {name!r}")
    return stored, scales


def dequantize_weights(stored: dict, scales: dict, mode: str, dtype) -> dict:
    """Inverse of ``quantize_weights``: every array as ``dtype``, the matrices dequantized.

    Parameters
    ----------
    stored : dict of str to numpy.ndarray
        The ``stored`` arrays of :func:`quantize_weights`.
    scales : dict of str to numpy.ndarray
        Its ``scales`` (``{}`` for float16).
    mode : str
        ``"int8"`` or ``"float16"`` (``"fp16"``), as quantized.
    dtype : numpy dtype
        float32 or float64, the model's dtype.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{name: array}`` in the same order, every array as ``dtype``.

    Raises
    ------
    ValueError
        For an unknown ``mode``, or (naming the weight) a missing scale or values this format never writes.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.quantize import dequantize_weights, quantize_weights
    >>> weights = {"W_y": np.ones((2, 3), np.float32), "c": np.zeros(2, np.float32)}
    >>> out = dequantize_weights(*quantize_weights(weights, "int8"), "int8", np.float32)
    >>> bool(np.allclose(out["W_y"], 1)), out["c"].dtype
    (True, dtype('float32'))
    """
    check_mode(mode)
    out = {}
    for name, a in stored.items():
        try:
            if not is_quantized(np.shape(a)):
                out[name] = np.asarray(a, dtype=dtype)
            elif mode == "int8":
                if name not in scales:
                    raise ValueError("no scale stored for it")
                out[name] = dequantize_int8(a, scales[name], dtype)
            else:
                out[name] = dequantize_float16(a, dtype)
        except ValueError as e:
            raise ValueError(f"weight {name!r}: {e}") from None
    return out
