"""Activation functions and their derivatives (seed §2.5.1).

Each derivative is written in terms of the activation's *output* ``y``: that is what the forward pass
keeps, so backward needs no recomputation (``tanh' = 1 - y^2``, ``sigmoid' = y (1 - y)``).
All functions keep the input's dtype and are stable for inputs up to ±1e4 (no overflow warnings).
"""
from __future__ import annotations

import numpy as np


def sigmoid(x, out=None):
    """sigma(x) = 1 / (1 + e^{-x}), computed as 0.5 (1 + tanh(x / 2)): same value, never overflows."""
    x = np.asarray(x)
    out = np.multiply(x, x.dtype.type(0.5) if x.dtype.kind == "f" else 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def sigmoid_grad(y):
    """d sigma / dx from the output y = sigma(x)."""
    return y * (1 - y)


def tanh(x, out=None):
    return np.tanh(x, out=out)


def tanh_grad(y):
    """d tanh / dx from the output y = tanh(x)."""
    return 1 - y * y


def relu(x, out=None):
    return np.maximum(x, 0, out=out)


def relu_grad(y):
    """d relu / dx from the output (the derivative at 0 is taken as 0, as PyTorch does)."""
    return (y > 0).astype(y.dtype)


def leaky_relu(x, alpha=0.01, out=None):
    x = np.asarray(x)
    return np.where(x > 0, x, x * x.dtype.type(alpha))


def leaky_relu_grad(y, alpha=0.01):
    """From the output: a leaky ReLU keeps the sign of its input (alpha > 0)."""
    return np.where(y > 0, 1, alpha).astype(y.dtype)


def softmax(x, axis=-1):
    """Softmax(x_i) = e^{x_i} / sum_j e^{x_j}; shifted by the max so large logits cannot overflow."""
    x = np.asarray(x)
    z = x - x.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def log_softmax(x, axis=-1):
    x = np.asarray(x)
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def softmax_backward(dy, y, axis=-1):
    """Vector-Jacobian product of softmax: dx = y * (dy - sum(dy * y))."""
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def identity(x, out=None):
    return x


def identity_grad(y):
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
    """(f, f_grad_from_output) for an elementwise activation name, with a clear error otherwise."""
    try:
        return ELEMENTWISE[name]
    except KeyError:
        raise ValueError(f"activation: expected one of {sorted(ELEMENTWISE)}, got {name!r}") from None
