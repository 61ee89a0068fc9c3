"""Activation functions and their derivatives (seed §2.5.1).

Each derivative is written in terms of the activation's *output* ``y``: that is what the forward pass
keeps, so backward needs no recomputation (``tanh' = 1 - y^2``, ``sigmoid' = y (1 - y)``).
All functions keep the input's dtype and are stable for inputs up to ±1e4 (no overflow warnings).
"""
from __future__ import annotations

import numpy as np


def sigmoid(x, out=None):
    """Logistic sigmoid, sigma(x) = 1 / (1 + e^{-x}).

    Computed as 0.5 (1 + tanh(x / 2)): same value, never overflows.

    Parameters
    ----------
    x : array_like
        Input of any shape; float32 or float64 (the dtype is kept).
    out : numpy.ndarray, optional
        Array of ``x``'s shape to write the result into. Default None (a new array).

    Returns
    -------
    numpy.ndarray
        sigma(x), same shape and dtype as ``x`` (``out`` itself when given).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import sigmoid
    >>> sigmoid(np.array([-1e4, 0.0, 1e4], dtype=np.float32))
    array([0. , 0.5, 1. ], dtype=float32)
    """
    x = np.asarray(x)
    out = np.multiply(x, x.dtype.type(0.5) if x.dtype.kind == "f" else 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def sigmoid_grad(y):
    """Derivative of the sigmoid, d sigma / dx, from the output y = sigma(x): y (1 - y).

    Parameters
    ----------
    y : numpy.ndarray
        Output of :func:`sigmoid`, any shape, float32 or float64.

    Returns
    -------
    numpy.ndarray
        y (1 - y), same shape and dtype as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import sigmoid, sigmoid_grad
    >>> sigmoid_grad(sigmoid(np.zeros(2)))
    array([0.25, 0.25])
    """
    return y * (1 - y)


def tanh(x, out=None):
    """Hyperbolic tangent, elementwise (``np.tanh``).

    Parameters
    ----------
    x : array_like
        Input of any shape; float32 or float64 (the dtype is kept).
    out : numpy.ndarray, optional
        Array of ``x``'s shape to write the result into. Default None (a new array).

    Returns
    -------
    numpy.ndarray
        tanh(x), same shape and dtype as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import tanh
    >>> tanh(np.array([0.0, 1e4]))
    array([0., 1.])
    """
    return np.tanh(x, out=out)


def tanh_grad(y):
    """Derivative of tanh, d tanh / dx, from the output y = tanh(x): 1 - y^2.

    Parameters
    ----------
    y : numpy.ndarray
        Output of :func:`tanh`, any shape, float32 or float64.

    Returns
    -------
    numpy.ndarray
        1 - y^2, same shape and dtype as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import tanh_grad
    >>> tanh_grad(np.array([0.0, 0.5]))
    array([1.  , 0.75])
    """
    return 1 - y * y


def relu(x, out=None):
    """Rectified linear unit, max(x, 0), elementwise.

    Parameters
    ----------
    x : array_like
        Input of any shape; float32 or float64 (the dtype is kept).
    out : numpy.ndarray, optional
        Array of ``x``'s shape to write the result into. Default None (a new array).

    Returns
    -------
    numpy.ndarray
        max(x, 0), same shape and dtype as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import relu
    >>> relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    return np.maximum(x, 0, out=out)


def relu_grad(y):
    """Derivative of the ReLU, d relu / dx, from its output.

    The derivative at 0 is taken as 0, as PyTorch does.

    Parameters
    ----------
    y : numpy.ndarray
        Output of :func:`relu`, any shape, float32 or float64.

    Returns
    -------
    numpy.ndarray
        1 where ``y > 0``, else 0; same shape and dtype as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import relu_grad
    >>> relu_grad(np.array([0.0, 2.0]))
    array([0., 1.])
    """
    return (y > 0).astype(y.dtype)


def leaky_relu(x, alpha=0.01, out=None):
    """Leaky ReLU: x where x > 0, alpha x elsewhere.

    Parameters
    ----------
    x : array_like
        Input of any shape; float32 or float64 (the dtype is kept).
    alpha : float, optional
        Slope for negative inputs, > 0. Default 0.01.
    out : None, optional
        Accepted for a signature like the other activations; ignored (a new array is returned).

    Returns
    -------
    numpy.ndarray
        The activation, same shape and dtype as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import leaky_relu
    >>> leaky_relu(np.array([-2.0, 3.0]), alpha=0.1)
    array([-0.2,  3. ])
    """
    x = np.asarray(x)
    return np.where(x > 0, x, x * x.dtype.type(alpha))


def leaky_relu_grad(y, alpha=0.01):
    """Derivative of the leaky ReLU from its output.

    Computed from the output: a leaky ReLU keeps the sign of its input (alpha > 0).

    Parameters
    ----------
    y : numpy.ndarray
        Output of :func:`leaky_relu`, any shape, float32 or float64.
    alpha : float, optional
        The slope used in the forward pass. Default 0.01.

    Returns
    -------
    numpy.ndarray
        1 where ``y > 0``, else ``alpha``; same shape and dtype as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import leaky_relu_grad
    >>> leaky_relu_grad(np.array([-0.2, 3.0]), alpha=0.1)
    array([0.1, 1. ])
    """
    return np.where(y > 0, 1, alpha).astype(y.dtype)


def softmax(x, axis=-1):
    """Softmax along an axis, softmax(x_i) = e^{x_i} / sum_j e^{x_j}.

    The input is shifted by its max so large logits cannot overflow.

    Parameters
    ----------
    x : array_like
        Logits of any shape; float32 or float64 (the dtype is kept).
    axis : int, optional
        Axis to normalise over. Default -1 (the last).

    Returns
    -------
    numpy.ndarray
        Probabilities, same shape and dtype as ``x``, summing to 1 along ``axis``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import softmax
    >>> softmax(np.array([[0.0, 0.0], [1e4, 0.0]]))
    array([[0.5, 0.5],
           [1. , 0. ]])
    """
    x = np.asarray(x)
    z = x - x.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def log_softmax(x, axis=-1):
    """Logarithm of the softmax along an axis, computed stably: (x - max) - log sum exp(x - max).

    Parameters
    ----------
    x : array_like
        Logits of any shape; float32 or float64 (the dtype is kept).
    axis : int, optional
        Axis to normalise over. Default -1 (the last).

    Returns
    -------
    numpy.ndarray
        Log-probabilities, same shape and dtype as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import log_softmax, softmax
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> bool(np.allclose(np.exp(log_softmax(x)), softmax(x)))
    True
    """
    x = np.asarray(x)
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def softmax_backward(dy, y, axis=-1):
    """Vector-Jacobian product of the softmax: dx = y * (dy - sum(dy * y)).

    Parameters
    ----------
    dy : numpy.ndarray
        Gradient of the loss with respect to the softmax output, same shape as ``y``.
    y : numpy.ndarray
        Output of :func:`softmax`, float32 or float64.
    axis : int, optional
        The axis the softmax normalised over. Default -1.

    Returns
    -------
    numpy.ndarray
        Gradient with respect to the logits, same shape and dtype as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import softmax, softmax_backward
    >>> y = softmax(np.array([0.0, 1.0]))
    >>> softmax_backward(np.ones(2), y)  # a constant upstream gradient has no effect
    array([0., 0.])
    """
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def identity(x, out=None):
    """The linear (identity) activation: returns ``x`` unchanged.

    Parameters
    ----------
    x : numpy.ndarray
        Input of any shape and dtype.
    out : None, optional
        Accepted for a signature like the other activations; ignored.

    Returns
    -------
    numpy.ndarray
        ``x`` itself (no copy).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import identity
    >>> x = np.arange(3.0)
    >>> identity(x) is x
    True
    """
    return x


def identity_grad(y):
    """Derivative of the identity activation: ones.

    Parameters
    ----------
    y : numpy.ndarray
        Output of :func:`identity`, any shape.

    Returns
    -------
    numpy.ndarray
        Ones, same shape and dtype as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.activations import identity_grad
    >>> identity_grad(np.zeros(2, dtype=np.float32))
    array([1., 1.], dtype=float32)
    """
    return np.ones_like(y)


# name -> (function, derivative from the output). Softmax is not elementwise and lives apart.
ELEMENTWISE = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "linear": (identity, identity_grad),
}


def get(name: str):
    """Look up an elementwise activation and its derivative by name.

    Parameters
    ----------
    name : str
        One of ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"linear"``.

    Returns
    -------
    tuple of (callable, callable)
        ``(f, f_grad_from_output)``: the activation and its derivative written in terms of the output.

    Raises
    ------
    ValueError
        If ``name`` is not a known elementwise activation.

    Examples
    --------
    >>> from rnnkit.ops import activations
    >>> f, df = activations.get("tanh")
    >>> f is activations.tanh, df is activations.tanh_grad
    (True, True)
    """
    try:
        return ELEMENTWISE[name]
    except KeyError:
        raise ValueError(f"activation: expected one of {sorted(ELEMENTWISE)}, got {name!r}") from None
