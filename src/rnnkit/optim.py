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
    """The joint L2 norm of all gradients: sqrt(sum over arrays of sum g^2).

    Parameters
    ----------
    grads : dict of str to numpy.ndarray
        The gradients ``{name: array}`` (any shapes).

    Returns
    -------
    float
        The global norm (0.0 for an empty dict).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.optim import global_norm
    >>> global_norm({"W": np.array([3.0, 4.0]), "b": np.array([0.0])})
    5.0
    """
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_by_global_norm(grads: dict, max_norm: float) -> float:
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``.

    When the global norm exceeds ``max_norm`` every gradient is multiplied by the same factor
    ``max_norm / norm``, so the direction of the joint gradient is kept (seed §3.2); otherwise
    nothing changes.

    Parameters
    ----------
    grads : dict of str to numpy.ndarray
        The gradients ``{name: array}``, modified in place (each keeps its dtype).
    max_norm : float
        The largest allowed global norm, > 0.

    Returns
    -------
    float
        The global norm before clipping.

    Raises
    ------
    ValueError
        If ``max_norm`` is not > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.optim import clip_by_global_norm
    >>> grads = {"W": np.array([3.0, 4.0])}
    >>> clip_by_global_norm(grads, 1.0)
    5.0
    >>> print(grads["W"])
    [0.6 0.8]
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm: expected > 0, got {max_norm!r}")
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm


def clip_by_value(grads: dict, limit: float) -> None:
    """Clip every gradient element into [-limit, limit] in place.

    Unlike ``clip_by_global_norm`` this can change the gradient's direction.

    Parameters
    ----------
    grads : dict of str to numpy.ndarray
        The gradients ``{name: array}``, modified in place.
    limit : float
        The largest allowed absolute value, > 0.

    Raises
    ------
    ValueError
        If ``limit`` is not > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.optim import clip_by_value
    >>> grads = {"W": np.array([-2.0, 0.5, 3.0])}
    >>> clip_by_value(grads, 1.0)
    >>> print(grads["W"])
    [-1.   0.5  1. ]
    """
    if limit <= 0:
        raise ValueError(f"limit: expected > 0, got {limit!r}")
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)


def penalty(params: dict, l1: float = 0.0, l2: float = 0.0, names=None):
    """The L1/L2 penalty value and its gradient, over ``names`` (default: every parameter).

    value = l2 ||theta||_2^2 + l1 ||theta||_1, gradient = 2 l2 theta + l1 sign(theta) (seed §3.3).

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        The parameters ``{name: array}``.
    l1 : float, optional
        The L1 coefficient lambda_1 (default 0.0: none).
    l2 : float, optional
        The L2 coefficient lambda_2 (default 0.0: none).
    names : collection of str or None, optional
        The parameter names to penalise; None (default) penalises every parameter.

    Returns
    -------
    value : float
        The penalty added to the loss.
    grads : dict of str to numpy.ndarray
        Its gradient for each penalised parameter (same shape and dtype as the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.optim import penalty
    >>> params = {"W": np.array([1.0, -2.0]), "b": np.array([1.0])}
    >>> value, grads = penalty(params, l1=0.1, l2=0.5, names=["W"])
    >>> round(value, 4), grads["W"], sorted(grads)
    (2.8, array([ 1.1, -2.1]), ['W'])
    """
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
    """Base class of the optimisers: in-place updates of ``{name: array}`` parameters.

    ``state`` holds per-parameter moments by name (created at a parameter's first step),
    ``iterations`` the number of steps; ``get_state`` / ``set_state`` save and restore both.
    A subclass implements ``_update(key, w, g)`` (update ``w`` in place) and, if it keeps moments,
    ``slots``.

    Parameters
    ----------
    lr : float
        The learning rate, > 0.

    Raises
    ------
    ValueError
        If ``lr`` is not a number > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.optim import Optimizer
    >>> class PlainSGD(Optimizer):
    ...     def _update(self, key, w, g):
    ...         w -= w.dtype.type(self.lr) * g
    >>> opt, params = PlainSGD(lr=0.1), {"w": np.array([1.0, 2.0])}
    >>> opt.step(params, {"w": np.array([1.0, -1.0])})
    >>> print(params["w"])
    [0.9 2.1]
    >>> opt.iterations, opt.get_config()
    (1, {'lr': 0.1})
    """

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
        """The optimiser's state, to save and later restore with ``set_state``.

        Returns
        -------
        dict
            ``{"iterations": int, "slots": {slot: {parameter name: array}}}``: copies of the moments of
            every parameter stepped so far (each array has its parameter's shape and dtype).
        """
        slots = {s: {} for s in self.slots}
        for key, entry in self.state.items():
            for s, a in zip(self.slots, self._slot_arrays(entry)):
                slots[s][key] = a.copy()
        return {"iterations": self.iterations, "slots": slots}

    def set_state(self, state: dict, params: dict | None = None) -> None:
        """Restore ``get_state()``'s output (copied in).

        Parameters
        ----------
        state : dict
            ``{"iterations": int >= 0, "slots": {slot: {parameter name: float array}}}``, with exactly
            this optimiser's ``slots``, each holding the same parameter names.
        params : dict of str to numpy.ndarray or None, optional
            The parameters ``{name: array}``: when given, every state array must belong to a parameter
            and match its shape and dtype. None (default) skips that check.

        Raises
        ------
        ValueError
            If ``state`` is malformed or does not fit ``params``, naming the problem (the optimiser is
            left unchanged).
        """
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
        """One update of every parameter, in place, from its gradient; ``iterations`` grows by one.

        Parameters
        ----------
        params : dict of str to numpy.ndarray
            The parameters ``{name: array}``, updated in place.
        grads : dict of str to numpy.ndarray
            The gradients, with at least the keys of ``params`` and the same shapes.
        """
        self.iterations += 1
        for k, w in params.items():
            self._update(k, w, grads[k])

    def _update(self, key, w, g):
        raise NotImplementedError

    def get_config(self):
        """The constructor's keyword arguments (what a model file stores).

        Returns
        -------
        dict
            ``{"lr": float}``.
        """
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
    """Stochastic gradient descent with optional (Nesterov) momentum.

    v <- momentum * v + g, w <- w - lr * v (PyTorch's convention; v starts as the first gradient);
    ``nesterov`` looks ahead: w <- w - lr * (g + momentum * v). Without momentum, w <- w - lr * g.

    Parameters
    ----------
    lr : float, optional
        The learning rate, > 0 (default 0.01).
    momentum : float, optional
        The momentum coefficient, in [0, 1) (default 0.0: plain SGD, no state).
    nesterov : bool, optional
        Use Nesterov momentum (default False).

    Raises
    ------
    ValueError
        If a value is out of its range.
    TypeError
        If ``nesterov`` is not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.optim import SGD
    >>> opt, params = SGD(lr=0.1, momentum=0.9), {"w": np.array([1.0, 2.0])}
    >>> opt.step(params, {"w": np.array([0.5, -0.5])})
    >>> print(params["w"])
    [0.95 2.05]
    >>> opt.slots, opt.get_state()["iterations"]
    (('momentum',), 1)
    """

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
        """``("momentum",)`` (the velocity v) when ``momentum`` > 0, else ``()``."""
        return ("momentum",) if self.momentum else ()      # the velocity v

    def _slot_arrays(self, entry):
        return (entry,)

    def _slot_entry(self, arrays):
        return arrays[0]

    def get_config(self):
        """The constructor's keyword arguments (what a model file stores).

        Returns
        -------
        dict
            ``{"lr": float, "momentum": float, "nesterov": bool}``.
        """
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; ``weight_decay`` is decoupled (AdamW) when > 0.

    m <- beta1 m + (1 - beta1) g, v <- beta2 v + (1 - beta2) g^2, then
    w <- w - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps), after w <- w - lr weight_decay w.

    Parameters
    ----------
    lr : float, optional
        The learning rate, > 0 (default 1e-3).
    beta1 : float, optional
        Decay of the first moment m, in [0, 1) (default 0.9).
    beta2 : float, optional
        Decay of the second moment v, in [0, 1) (default 0.999).
    eps : float, optional
        Added to the denominator, > 0 (default 1e-8).
    weight_decay : float, optional
        Decoupled weight decay, >= 0 (default 0.0: none).

    Raises
    ------
    ValueError
        If a value is out of its range.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.optim import Adam
    >>> opt, params = Adam(lr=0.1), {"w": np.array([1.0, 2.0])}
    >>> opt.step(params, {"w": np.array([0.5, -0.5])})
    >>> print(params["w"])
    [0.9 2.1]
    >>> opt.slots
    ('m', 'v')
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr)
        self.beta1 = check_float(beta1, "beta1", low=0, high=1, high_open=True)
        self.beta2 = check_float(beta2, "beta2", low=0, high=1, high_open=True)
        self.eps = check_float(eps, "eps", low=0, low_open=True)
        self.weight_decay = check_float(weight_decay, "weight_decay", low=0)

    def step(self, params, grads):
        """One Adam update of every parameter, in place, with the bias correction of step ``t``.

        Parameters
        ----------
        params : dict of str to numpy.ndarray
            The parameters ``{name: array}``, updated in place.
        grads : dict of str to numpy.ndarray
            The gradients, with at least the keys of ``params`` and the same shapes.
        """
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
        """``("m", "v")``: the first and second moments."""
        return ("m", "v")                                   # first and second moments

    def get_config(self):
        """The constructor's keyword arguments (what a model file stores).

        Returns
        -------
        dict
            ``{"lr", "beta1", "beta2", "eps", "weight_decay"}``, floats.
        """
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "weight_decay": self.weight_decay}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(spec, lr=None) -> Optimizer:
    """An optimiser from a name ("sgd", "adam") or an instance.

    Parameters
    ----------
    spec : str or Optimizer
        "sgd" or "adam" (a new optimiser with its defaults), or an ``Optimizer``, returned as it is.
    lr : float or None, optional
        The learning rate of a new optimiser; None (default) keeps the class's default. With an
        instance it must be None or equal to the instance's ``lr``.

    Returns
    -------
    Optimizer
        The optimiser.

    Raises
    ------
    ValueError
        If ``spec`` is not a known name or an ``Optimizer``, or ``lr`` contradicts the instance's.

    Examples
    --------
    >>> from rnnkit import optim
    >>> opt = optim.get("adam", lr=0.01)
    >>> type(opt).__name__, opt.lr, optim.get(opt) is opt
    ('Adam', 0.01, True)
    """
    if isinstance(spec, Optimizer):
        if lr is not None and lr != spec.lr:
            raise ValueError(f"lr: given as {lr!r} and inside the optimizer ({spec.lr!r}); give it in one place")
        return spec
    try:
        cls = OPTIMIZERS[spec]
    except (KeyError, TypeError):
        raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZERS)} or an Optimizer, got {spec!r}") from None
    return cls() if lr is None else cls(lr=lr)
