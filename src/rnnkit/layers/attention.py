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

    The weights are the query ``q`` (F,) and the score's own (``rnnkit.ops.attention.param_shapes``),
    Glorot-uniform. After each forward, ``attention_weights`` holds the batch's weights (B, T), which
    sum to 1 over each sequence's valid steps and are 0 past them.

    Parameters
    ----------
    score : {"additive", "dot", "general"}, optional
        The score function (see the module docstring). Default "additive".
    units : int or None, optional
        The additive score's hidden size (default None: the input size). Only for "additive".

    Raises
    ------
    ValueError
        If ``score`` is unknown, ``units`` is below 1, or ``units`` is given with another score.
    TypeError
        If ``units`` is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import AttentionPooling
    >>> layer = AttentionPooling()
    >>> x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    >>> y = layer.forward(x, lengths=np.array([4, 2]))
    >>> y.shape, layer.attention_weights.shape
    ((2, 3), (2, 4))
    >>> print(layer.attention_weights.sum(axis=1), layer.attention_weights[1, 2:])
    [1. 1.] [0. 0.]
    """

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
        """The weight shapes for ``input_size`` features: the query ``q`` and the score's weights.

        Parameters
        ----------
        input_size : int
            The number of input features F.

        Returns
        -------
        dict
            ``{"q": (F,), ...}`` with the score's weights (none for "dot").
        """
        return {"q": (input_size,), **att.param_shapes(self.score, input_size, input_size, self.units)}

    def init_params(self, input_size, rng, dtype):
        """Fresh Glorot-uniform weights (vectors scaled as one-row matrices).

        Parameters
        ----------
        input_size : int
            The number of input features F.
        rng : numpy.random.Generator
            The generator the weights are drawn from.
        dtype : numpy.dtype
            float32 or float64.

        Returns
        -------
        dict
            {name: ndarray} with the shapes of ``param_shapes(input_size)``, of ``dtype``.
        """
        out = {}
        for name, shape in self.param_shapes(input_size).items():
            # vectors as one-row matrices: the same Glorot scale as a (1, n) weight
            w = glorot_uniform(rng, *shape, dtype) if len(shape) == 2 else glorot_uniform(rng, 1, shape[0], dtype)[0]
            out[name] = w
        return out

    def returns_sequence(self, input_is_sequence):
        """Whether the output has a time axis: never (the steps are pooled).

        Parameters
        ----------
        input_is_sequence : bool
            Whether the input has a time axis; it must.

        Returns
        -------
        bool
            False.

        Raises
        ------
        ValueError
            If ``input_is_sequence`` is False.
        """
        if not input_is_sequence:
            raise ValueError("AttentionPooling: expects input with a time axis (batch, time, features); "
                             "put it after a recurrent layer with return_sequences=True")
        return False

    def check_input(self, x, lengths):
        """Validate ``(x, lengths)``, building the layer on first use (see ``Layer.check_input``).

        Parameters
        ----------
        x : array_like
            (B, T, F) with F the layer's input size.
        lengths : array_like of int or None
            (B,) valid lengths, or None (every step valid).

        Returns
        -------
        x : ndarray
            ``x`` as an array of the layer's dtype (float32 or float64).
        lengths : ndarray or None
            The checked lengths (B,), or None.

        Raises
        ------
        ValueError
            If ``x`` is not (B, T, F) with the layer's input size, or ``lengths`` does not fit it.
        """
        x, lengths = super().check_input(x, lengths)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"x: AttentionPooling expects (batch, time, {self.input_size}), got shape {x.shape}")
        return x, lengths

    def call(self, x, lengths, training=False):
        """``forward`` on checked inputs: y = sum_t a_t x_t; sets ``attention_weights``.

        Parameters
        ----------
        x : ndarray
            (B, T, F), the layer's dtype.
        lengths : ndarray or None
            (B,) valid lengths, or None (all T steps).
        training : bool, optional
            Unused. Default False.

        Returns
        -------
        ndarray
            (B, F), the layer's dtype.
        """
        ops_params = {k: v for k, v in self.params.items() if k != "q"}
        q = np.broadcast_to(self.params["q"], (x.shape[0], 1, x.shape[2]))
        c, a, cache = att.run(ops_params, q, x, None, lengths, self.score)
        self._cache = cache
        self.attention_weights = a[:, 0]
        return c[:, 0]

    def backward(self, dy):
        """Backpropagate through the last ``call``: fills ``grads`` (the query's and the score's).

        Parameters
        ----------
        dy : array_like
            dL/dy (B, F).

        Returns
        -------
        ndarray
            dL/dx (B, T, F), zero past each sequence's length.
        """
        dy = np.asarray(dy, dtype=self.dtype)
        d_q, dx, _, grads = att.backward(self._cache, dy[:, None, :])
        self.grads.update(grads)
        self.grads["q"] = d_q.sum(axis=(0, 1))
        return dx

    def attention(self, x, lengths=None) -> np.ndarray:
        """The attention weights (B, T) for ``x`` (checked): zero past each sequence's length.

        Runs ``forward`` (so it builds the layer on first use and replaces ``attention_weights``).

        Parameters
        ----------
        x : array_like
            (B, T, F).
        lengths : array_like of int or None, optional
            (B,) valid lengths; default None (every step valid).

        Returns
        -------
        ndarray
            (B, T), the layer's dtype; each row sums to 1 over the valid steps.

        Raises
        ------
        ValueError
            If ``x`` or ``lengths`` does not fit the layer (see ``check_input``).
        """
        self.forward(x, lengths)
        return self.attention_weights

    def get_config(self):
        """The constructor arguments (``AttentionPooling(**config)`` rebuilds the layer, without weights).

        Returns
        -------
        dict
            ``{"score": str, "units": int or None}``.
        """
        return {"score": self.score, "units": self.units}
