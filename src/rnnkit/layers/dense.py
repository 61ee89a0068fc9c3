"""Dense, Embedding, Dropout, Activation: the non-recurrent layers."""
from __future__ import annotations

import numpy as np

from ..ops import _checks
from ..ops import activations as A
from .base import Layer, glorot_uniform


class Dense(Layer):
    """y = f(W_y h + c) on the last axis (seed §2.3.2; the hidden layer of §2.1 is the same map).

    Applied to the last axis, it works on (B, F) and per time step on (B, T, F). ``activation`` is
    an elementwise name from ``ops.activations`` or None (linear: the usual output layer, whose
    sigmoid/softmax is folded into the loss for stability).
    """

    def __init__(self, units: int, activation: str | None = None):
        super().__init__()
        self.units = _checks.check_int(units, "units", minimum=1)
        if activation is not None and not isinstance(activation, str):
            raise TypeError(f"activation: expected a name or None, got {activation!r}")
        self.activation = activation
        self._f, self._fgrad = A.get(activation or "linear")

    def param_shapes(self, input_size):
        return {"W_y": (self.units, input_size), "c": (self.units,)}

    def init_params(self, input_size, rng, dtype):
        return {"W_y": glorot_uniform(rng, self.units, input_size, dtype), "c": np.zeros(self.units, dtype=dtype)}

    def output_size(self, input_size):
        return self.units

    def check_input(self, x, lengths):
        x, lengths = super().check_input(x, lengths)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"x: expected (batch, {self.input_size}) or (batch, time, {self.input_size}), "
                             f"got shape {x.shape}")
        return x, lengths

    def call(self, x, lengths, training=False):
        W, c = self.params["W_y"], self.params["c"]
        y = x @ W.T
        y += c
        y = self._f(y)
        self._cache = (x, y)
        return y

    def backward(self, dy):
        x, y = self._cache
        dy = np.asarray(dy, dtype=y.dtype)            # no widening: gradients keep the layer's dtype
        if self.activation:
            dy = dy * self._fgrad(y)
        W = self.params["W_y"]
        dy2 = dy.reshape(-1, W.shape[0])
        self.grads["W_y"] = dy2.T @ x.reshape(-1, W.shape[1])
        self.grads["c"] = dy2.sum(axis=0)
        return dy @ W

    def get_config(self):
        return {"units": self.units, "activation": self.activation}


class Embedding(Layer):
    """Token ids (B, T) -> vectors (B, T, dim), row ``E[id]`` per id.

    ``padding_idx``: the id the inputs are padded with, whose row starts at zero and never trains
    (its gradient is zero). Default None: every id is a real token and every row trains. Pass the
    vocabulary's own (``data.text.Vocabulary.padding_idx`` is 0, ``CharVocabulary.padding_idx`` None).
    """

    def __init__(self, vocab_size: int, dim: int, padding_idx: int | None = None):
        super().__init__()
        self.vocab_size = _checks.check_int(vocab_size, "vocab_size", minimum=1)
        self.dim = _checks.check_int(dim, "dim", minimum=1)
        self.padding_idx = (None if padding_idx is None else
                            _checks.check_int(padding_idx, "padding_idx", minimum=0, maximum=self.vocab_size - 1))

    def param_shapes(self, input_size):
        return {"E": (self.vocab_size, self.dim)}

    def init_params(self, input_size, rng, dtype):
        E = (rng.standard_normal((self.vocab_size, self.dim)) * 0.1).astype(dtype)
        if self.padding_idx is not None:
            E[self.padding_idx] = 0
        return {"E": E}

    def output_size(self, input_size):
        return self.dim

    def input_size_of(self, x):
        return self.vocab_size

    def check_input(self, x, lengths):
        self.ensure_built(x)
        ids = _checks.check_token_ids(x, self.vocab_size)
        return ids, _checks.check_lengths(lengths, ids.shape[0], ids.shape[1])

    def call(self, ids, lengths, training=False):
        self._cache = ids
        return self.params["E"][ids]

    def backward(self, dy):
        ids = self._cache
        g = np.zeros_like(self.params["E"])
        np.add.at(g, ids.reshape(-1), dy.reshape(-1, self.dim))
        if self.padding_idx is not None:
            g[self.padding_idx] = 0
        self.grads["E"] = g
        return None  # nothing flows into integer ids

    def get_config(self):
        return {"vocab_size": self.vocab_size, "dim": self.dim, "padding_idx": self.padding_idx}


class Dropout(Layer):
    """Inverted dropout: at training time zero a fraction ``rate`` and scale the rest by 1/(1-rate)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = _checks.check_float(rate, "rate", low=0, high=1, high_open=True)
        self.rng = None

    def call(self, x, lengths, training=False):
        if not training or self.rate == 0:
            self._cache = None
            return x
        keep = (self.rng.random(x.shape) >= self.rate) / x.dtype.type(1 - self.rate)
        self._cache = keep.astype(x.dtype)
        return x * self._cache

    def backward(self, dy):
        return dy if self._cache is None else dy * self._cache

    def get_config(self):
        return {"rate": self.rate}


class Flatten(Layer):
    """(B, steps, F) -> (B, steps*F): feeds a fixed-length window to the feed-forward baseline (seed §2.1)."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = _checks.check_int(steps, "steps", minimum=1)

    def output_size(self, input_size):
        return self.steps * input_size

    def returns_sequence(self, input_is_sequence):
        return False

    def get_config(self):
        return {"steps": self.steps}

    def call(self, x, lengths, training=False):
        if x.ndim != 3 or x.shape[1] != self.steps:
            raise ValueError(f"x: Flatten expects windows of {self.steps} steps (batch, {self.steps}, features), "
                             f"got shape {x.shape}")
        if lengths is not None and np.any(np.asarray(lengths) != x.shape[1]):
            raise ValueError("lengths: Flatten needs sequences of one fixed length (the feed-forward "
                             "baseline has no hidden state to carry a variable-length sequence)")
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._cache)
