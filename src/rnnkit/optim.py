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
    """Base class. ``state`` holds per-parameter moments by name (created at a parameter's first
    step), ``iterations`` the number of steps; ``get_state`` / ``set_state`` save and restore both."""

    def __init__(self, lr: float):
        self.lr = check_float(lr, "lr", low=0, low_open=True)
        self.state: dict = {}
        self.iterations = 0

    @property
    def slots(self) -> tuple:
        """Names of the per-parameter state arrays (e.g. Adam's ("m", "v")); () if none."""
        return ()

    def _slot_arrays(self, entry) -> tuple:
        """A ``state`` entry as a tuple of arrays, one per slot."""
        return tuple(entry)

    def _slot_entry(self, arrays: tuple):
        """The ``state`` entry made of one array per slot (the inverse of ``_slot_arrays``)."""
        return tuple(arrays)

    def get_state(self) -> dict:
        """``{"iterations": int, "slots": {slot: {parameter name: array}}}``: copies of the moments of
        every parameter stepped so far (each array has its parameter's shape and dtype)."""
        slots = {s: {} for s in self.slots}
        for key, entry in self.state.items():
            for s, a in zip(self.slots, self._slot_arrays(entry)):
                slots[s][key] = a.copy()
        return {"iterations": self.iterations, "slots": slots}

    def set_state(self, state: dict, params: dict | None = None) -> None:
        """Restore ``get_state()``'s output (copied in). With ``params`` ({name: array}) every state
        array must belong to a parameter and match its shape and dtype. Raises ValueError naming the
        problem (the optimiser is left unchanged)."""
        if not isinstance(state, dict) or set(state) != {"iterations", "slots"}:
            raise ValueError("optimizer state: expected a dict with keys 'iterations' and 'slots' "
                             "(from Optimizer.get_state())")
        it = state["iterations"]
        if not isinstance(it, (int, np.integer)) or isinstance(it, bool) or it < 0:
            raise ValueError(f"optimizer state 'iterations': expected a non-negative integer, got {it!r:.50}")
        slots = state["slots"]
        if not isinstance(slots, dict) or sorted(slots) != sorted(self.slots):
            got = sorted(slots) if isinstance(slots, dict) else type(slots).__name__
            raise ValueError(f"optimizer state: {type(self).__name__} keeps the slots {list(self.slots)}, "
                             f"the state has {got}")
        names = [list(arrays) if isinstance(arrays, dict) else None for arrays in slots.values()]
        if any(n is None or sorted(n) != sorted(names[0]) for n in names):
            raise ValueError(f"optimizer state: every slot must hold the same parameters, got "
                             f"{dict(zip(slots, names))!r:.300}")
        for s, arrays in slots.items():
            for k, a in arrays.items():
                _check_slot_array(s, k, a, params)
        keys = names[0] if names else []
        self.state = {k: self._slot_entry(tuple(np.array(slots[s][k]) for s in self.slots)) for k in keys}
        self.iterations = int(it)

    def step(self, params: dict, grads: dict) -> None:
        self.iterations += 1
        for k, w in params.items():
            self._update(k, w, grads[k])

    def _update(self, key, w, g):
        raise NotImplementedError

    def get_config(self):
        return {"lr": self.lr}


def _check_slot_array(slot, name, a, params):
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
        raise ValueError(f"optimizer state {slot!r} of {name!r}: expected a float array, got "
                         f"{getattr(a, 'dtype', type(a).__name__)}")
    if params is None:
        return
    if name not in params:
        raise ValueError(f"optimizer state {slot!r} of {name!r}: the model has no such parameter "
                         f"(parameters: {sorted(params)!r:.300})")
    w = params[name]
    if a.shape != w.shape or a.dtype != w.dtype:
        raise ValueError(f"optimizer state {slot!r} of {name!r}: shape {a.shape} dtype {a.dtype}, the "
                         f"parameter has shape {w.shape} dtype {w.dtype}")


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

    @property
    def slots(self):
        return ("momentum",) if self.momentum else ()      # the velocity v

    def _slot_arrays(self, entry):
        return (entry,)

    def _slot_entry(self, arrays):
        return arrays[0]

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

    @property
    def slots(self):
        return ("m", "v")                                   # first and second moments

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
