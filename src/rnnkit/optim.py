"""Optimisers, gradient clipping and L1/L2 penalties (seed §3.2-3.3).

Parameters and gradients travel as dicts ``{name: array}`` with matching keys; optimisers update
the parameter arrays in place (so layers keep their references) and keep their own moments by name.

- L2:  L_reg = L + lambda ||theta||_2^2   ->  dL_reg/dtheta = dL/dtheta + 2 lambda theta   (seed §3.3)
- L1:  L_reg = L + lambda ||theta||_1     ->  dL_reg/dtheta = dL/dtheta + lambda sign(theta)
- clipping by global norm rescales all gradients together when their joint norm exceeds the
  threshold, taming the exploding gradients of seed §3.2 without changing their direction.
"""
from __future__ import annotations

import numpy as np

from .ops._checks import check_bool, check_float


def global_norm(grads: dict) -> float:
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_by_global_norm(grads: dict, max_norm: float) -> float:
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``; returns the norm before."""
    if max_norm <= 0:
        raise ValueError(f"max_norm: expected > 0, got {max_norm!r}")
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm


def clip_by_value(grads: dict, limit: float) -> None:
    """Clip every gradient element into [-limit, limit] in place."""
    if limit <= 0:
        raise ValueError(f"limit: expected > 0, got {limit!r}")
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)


def penalty(params: dict, l1: float = 0.0, l2: float = 0.0, names=None):
    """The L1/L2 penalty value and its gradient (dict), over ``names`` (default: every parameter)."""
    value, grads = 0.0, {}
    for k, w in params.items():
        if names is not None and k not in names:
            continue
        g = np.zeros_like(w)
        if l2:
            value += l2 * float(np.vdot(w, w))
            g += w.dtype.type(2 * l2) * w
        if l1:
            value += l1 * float(np.abs(w).sum())
            g += w.dtype.type(l1) * np.sign(w)
        grads[k] = g
    return value, grads


class Optimizer:
    def __init__(self, lr: float):
        self.lr = check_float(lr, "lr", low=0, low_open=True)
        self.state: dict = {}
        self.iterations = 0

    def step(self, params: dict, grads: dict) -> None:
        self.iterations += 1
        for k, w in params.items():
            self._update(k, w, grads[k])

    def _update(self, key, w, g):
        raise NotImplementedError

    def get_config(self):
        return {"lr": self.lr}


class SGD(Optimizer):
    """w <- w - lr * v, v <- momentum * v + g (PyTorch's convention); ``nesterov`` looks ahead."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False):
        super().__init__(lr)
        self.momentum = check_float(momentum, "momentum", low=0, high=1, high_open=True)
        self.nesterov = check_bool(nesterov, "nesterov")

    def _update(self, key, w, g):
        lr = w.dtype.type(self.lr)
        if self.momentum == 0:
            w -= lr * g
            return
        v = self.state.get(key)
        if v is None:
            v = self.state[key] = g.copy()
        else:
            v *= w.dtype.type(self.momentum)
            v += g
        w -= lr * (g + w.dtype.type(self.momentum) * v if self.nesterov else v)

    def get_config(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; ``weight_decay`` is decoupled (AdamW) when > 0."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr)
        self.beta1 = check_float(beta1, "beta1", low=0, high=1, high_open=True)
        self.beta2 = check_float(beta2, "beta2", low=0, high=1, high_open=True)
        self.eps = check_float(eps, "eps", low=0, low_open=True)
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0)

    def step(self, params, grads):
        self.iterations += 1
        t = self.iterations
        self._c1 = 1 - self.beta1 ** t
        self._c2 = 1 - self.beta2 ** t
        for k, w in params.items():
            self._update(k, w, grads[k])

    def _update(self, key, w, g):
        T = w.dtype.type
        m, v = self.state.get(key, (None, None))
        if m is None:
            m, v = np.zeros_like(w), np.zeros_like(w)
            self.state[key] = (m, v)
        m *= T(self.beta1)
        m += T(1 - self.beta1) * g
        v *= T(self.beta2)
        v += T(1 - self.beta2) * (g * g)
        if self.weight_decay:
            w -= T(self.lr * self.weight_decay) * w
        step = T(self.lr / self._c1) * m / (np.sqrt(v / T(self._c2)) + T(self.eps))
        w -= step

    def get_config(self):
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "weight_decay": self.weight_decay}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(spec, lr=None) -> Optimizer:
    """An optimiser from a name ("sgd", "adam") or an instance."""
    if isinstance(spec, Optimizer):
        if lr is not None and lr != spec.lr:
            raise ValueError(f"lr: given as {lr!r} and inside the optimizer ({spec.lr!r}); give it in one place")
        return spec
    try:
        cls = OPTIMIZERS[spec]
    except (KeyError, TypeError):
        raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZERS)} or an Optimizer, got {spec!r}") from None
    return cls() if lr is None else cls(lr=lr)
