"""Attention pooling: a learned query attends over a sequence's valid steps, (B, T, F) -> (B, F)
(seed §6; the ops are ``rnnkit.ops.attention``).

A drop-in for the last state or ``TemporalPooling`` after a recurrent layer with
``return_sequences=True``: instead of a fixed summary, the layer learns which steps matter,

    a_t = softmax_{t < L}(score(q, h_t)),     y = sum_{t < L} a_t h_t,

with a learned query vector ``q`` (F,). With the additive score, ``v^T tanh(W_q q + W_k h_t)``,
``W_q q`` is a learned bias, so this is the attention of hierarchical attention networks
(Yang et al. 2016, ``u_t = tanh(W h_t + b)``, ``a_t ∝ exp(u_t . u_w)``). The dot score is
``q . h_t``; the general score ``q^T W_a h_t`` computes the same family as dot (``W_a^T q`` is one
vector) with more weights, and is kept for symmetry with the op.

Steps past a sequence's length get weight exactly 0 and zero gradient. After each forward the weights
of that batch are in ``attention_weights`` (B, T); ``attention(x, lengths)`` computes them for
inspection (``model.forward(X, lengths)`` fills it for a layer inside a model).
"""
from __future__ import annotations

import numpy as np

from ..ops import _checks
from ..ops import attention as att
from .base import Layer, glorot_uniform


class AttentionPooling(Layer):
    """A learned query attending over each sequence's valid steps: (B, T, F) with lengths -> (B, F).

    ``score``: "additive" (default), "dot" or "general"; ``units``: the additive score's hidden size
    (default: the input size)."""

    def __init__(self, score: str = "additive", units: int | None = None):
        super().__init__()
        self.score = att.check_score(score)
        if units is not None:
            units = _checks.check_int(units, "units", minimum=1)
            if score != "additive":
                raise ValueError(f"units: only the additive score has a hidden size, got units={units} "
                                 f"with score={score!r}")
        self.units = units
        self.attention_weights = None

    def param_shapes(self, input_size):
        return {"q": (input_size,), **att.param_shapes(self.score, input_size, input_size, self.units)}

    def init_params(self, input_size, rng, dtype):
        out = {}
        for name, shape in self.param_shapes(input_size).items():
            # vectors as one-row matrices: the same Glorot scale as a (1, n) weight
            w = glorot_uniform(rng, *shape, dtype) if len(shape) == 2 else glorot_uniform(rng, 1, shape[0], dtype)[0]
            out[name] = w
        return out

    def returns_sequence(self, input_is_sequence):
        if not input_is_sequence:
            raise ValueError("AttentionPooling: expects input with a time axis (batch, time, features); "
                             "put it after a recurrent layer with return_sequences=True")
        return False

    def check_input(self, x, lengths):
        x, lengths = super().check_input(x, lengths)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"x: AttentionPooling expects (batch, time, {self.input_size}), got shape {x.shape}")
        return x, lengths

    def call(self, x, lengths, training=False):
        ops_params = {k: v for k, v in self.params.items() if k != "q"}
        q = np.broadcast_to(self.params["q"], (x.shape[0], 1, x.shape[2]))
        c, a, cache = att.run(ops_params, q, x, None, lengths, self.score)
        self._cache = cache
        self.attention_weights = a[:, 0]
        return c[:, 0]

    def backward(self, dy):
        dy = np.asarray(dy, dtype=self.dtype)
        d_q, dx, _, grads = att.backward(self._cache, dy[:, None, :])
        self.grads.update(grads)
        self.grads["q"] = d_q.sum(axis=(0, 1))
        return dx

    def attention(self, x, lengths=None) -> np.ndarray:
        """The attention weights (B, T) for ``x`` (checked): zero past each sequence's length."""
        self.forward(x, lengths)
        return self.attention_weights

    def get_config(self):
        return {"score": self.score, "units": self.units}
