"""Dense, Embedding, Dropout, Activation: the non-recurrent layers."""
from __future__ import annotations

import numpy as np

from ..ops import _checks
from ..ops import activations as A
from .base import Layer, glorot_uniform


class Dense(Layer):
    """A fully connected layer on the last axis: y = f(W_y h + c).

    The output map of seed §2.3.2; the hidden layer of §2.1 is the same map. Applied to the last
    axis, it works on (B, F) and per time step on (B, T, F). The weights are ``W_y`` (units, F),
    Glorot-uniform, and ``c`` (units,), zeros; they are created on the first input (or by ``build``).

    Parameters
    ----------
    units : int
        The output size (>= 1).
    activation : str or None, optional
        An elementwise activation name from ``rnnkit.ops.activations`` ("tanh", "relu", "sigmoid",
        ...) or None (default: linear, the usual output layer, whose sigmoid/softmax is folded into
        the loss for stability).

    Raises
    ------
    ValueError
        If ``units`` is below 1, or ``activation`` is an unknown name.
    TypeError
        If ``units`` is not an integer, or ``activation`` is neither a string nor None.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> layer = Dense(2, activation="tanh")
    >>> x = np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32)
    >>> y = layer.forward(x)
    >>> y.shape, y.dtype, layer.params["W_y"].shape
    ((4, 5, 2), dtype('float32'), (2, 3))
    >>> layer.backward(np.ones_like(y)).shape
    (4, 5, 3)
    """

    def __init__(self, units: int, activation: str | None = None):
        super().__init__()
        self.units = _checks.check_int(units, "units", minimum=1)
        if activation is not None and not isinstance(activation, str):
            raise TypeError(f"activation: expected a name or None, got {activation!r}")
        self.activation = activation
        self._f, self._fgrad = A.get(activation or "linear")

    def param_shapes(self, input_size):
        """The weight shapes for ``input_size`` input features.

        Parameters
        ----------
        input_size : int
            The number of input features F.

        Returns
        -------
        dict
            ``{"W_y": (units, input_size), "c": (units,)}``.
        """
        return {"W_y": (self.units, input_size), "c": (self.units,)}

    def init_params(self, input_size, rng, dtype):
        """Fresh weights: ``W_y`` Glorot-uniform, ``c`` zeros.

        Parameters
        ----------
        input_size : int
            The number of input features F.
        rng : numpy.random.Generator
            The generator ``W_y`` is drawn from.
        dtype : numpy.dtype
            float32 or float64.

        Returns
        -------
        dict
            ``{"W_y": ndarray (units, input_size), "c": ndarray (units,)}`` of ``dtype``.
        """
        return {"W_y": glorot_uniform(rng, self.units, input_size, dtype), "c": np.zeros(self.units, dtype=dtype)}

    def output_size(self, input_size):
        """The output feature size: ``units``, whatever the input size.

        Parameters
        ----------
        input_size : int
            The number of input features (unused).

        Returns
        -------
        int
            ``units``.
        """
        return self.units

    def check_input(self, x, lengths):
        """Validate ``(x, lengths)``, building the layer on first use (see ``Layer.check_input``).

        Parameters
        ----------
        x : array_like
            (B, F) or (B, T, F) with F the layer's input size.
        lengths : array_like of int or None
            (B,) valid lengths for a (B, T, F) input, or None.

        Returns
        -------
        x : ndarray
            ``x`` as an array of the layer's dtype (float32 or float64).
        lengths : ndarray or None
            The checked lengths (B,), or None.

        Raises
        ------
        ValueError
            If ``x`` is not (B, F) or (B, T, F) with the layer's input size, or ``lengths`` does not fit.
        """
        x, lengths = super().check_input(x, lengths)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"x: expected (batch, {self.input_size}) or (batch, time, {self.input_size}), "
                             f"got shape {x.shape}")
        return x, lengths

    def call(self, x, lengths, training=False):
        """``forward`` on checked inputs: y = f(x W_y^T + c), keeping what ``backward`` needs.

        Parameters
        ----------
        x : ndarray
            (B, F) or (B, T, F), the layer's dtype.
        lengths : ndarray or None
            Unused: every step is mapped (the loss masks padded steps).
        training : bool, optional
            Unused (no dropout here). Default False.

        Returns
        -------
        ndarray
            (B, units) or (B, T, units), the layer's dtype.
        """
        W, c = self.params["W_y"], self.params["c"]
        y = x @ W.T
        y += c
        y = self._f(y)
        self._cache = (x, y)
        return y

    def backward(self, dy):
        """Backpropagate through the last ``call``: fills ``grads["W_y"]`` and ``grads["c"]``.

        Parameters
        ----------
        dy : array_like
            dL/dy, the shape of the last output: (B, units) or (B, T, units).

        Returns
        -------
        ndarray
            dL/dx, the shape of the last input, in the layer's dtype.
        """
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
        """The constructor arguments (``Dense(**config)`` rebuilds the layer, without its weights).

        Returns
        -------
        dict
            ``{"units": int, "activation": str or None}``.
        """
        return {"units": self.units, "activation": self.activation}


class Embedding(Layer):
    """A lookup table: token ids (B, T) -> vectors (B, T, dim), row ``E[id]`` per id.

    The table ``E`` (vocab_size, dim) starts as N(0, 0.1^2) draws. As the first layer of a model it
    takes the input's place: the model's input size is then the vocabulary size.

    Parameters
    ----------
    vocab_size : int
        The number of distinct ids (ids are 0 .. vocab_size - 1).
    dim : int
        The size of each vector.
    padding_idx : int or None, optional
        The id the inputs are padded with, whose row starts at zero and never trains (its gradient is
        zero). Default None: every id is a real token and every row trains. Pass the vocabulary's own
        (``data.text.Vocabulary.padding_idx`` is 0, ``CharVocabulary.padding_idx`` None).

    Raises
    ------
    ValueError
        If ``vocab_size`` or ``dim`` is below 1, or ``padding_idx`` is not in 0 .. vocab_size - 1.
    TypeError
        If one of them is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Embedding
    >>> layer = Embedding(10, 4, padding_idx=0)
    >>> y = layer.forward(np.array([[1, 2, 0], [3, 0, 0]]), lengths=np.array([2, 1]))
    >>> y.shape, y.dtype
    ((2, 3, 4), dtype('float32'))
    >>> print(y[0, 2])
    [0. 0. 0. 0.]
    """

    def __init__(self, vocab_size: int, dim: int, padding_idx: int | None = None):
        super().__init__()
        self.vocab_size = _checks.check_int(vocab_size, "vocab_size", minimum=1)
        self.dim = _checks.check_int(dim, "dim", minimum=1)
        self.padding_idx = (None if padding_idx is None else
                            _checks.check_int(padding_idx, "padding_idx", minimum=0, maximum=self.vocab_size - 1))

    def param_shapes(self, input_size):
        """The table's shape.

        Parameters
        ----------
        input_size : int
            The model's input size (the vocabulary size; unused).

        Returns
        -------
        dict
            ``{"E": (vocab_size, dim)}``.
        """
        return {"E": (self.vocab_size, self.dim)}

    def init_params(self, input_size, rng, dtype):
        """A fresh table: N(0, 0.1^2) entries, the ``padding_idx`` row zero.

        Parameters
        ----------
        input_size : int
            Unused (the table's shape is fixed by the constructor).
        rng : numpy.random.Generator
            The generator the entries are drawn from.
        dtype : numpy.dtype
            float32 or float64.

        Returns
        -------
        dict
            ``{"E": ndarray (vocab_size, dim)}`` of ``dtype``.
        """
        E = (rng.standard_normal((self.vocab_size, self.dim)) * 0.1).astype(dtype)
        if self.padding_idx is not None:
            E[self.padding_idx] = 0
        return {"E": E}

    def output_size(self, input_size):
        """The output feature size: ``dim``.

        Parameters
        ----------
        input_size : int
            The vocabulary size (unused).

        Returns
        -------
        int
            ``dim``.
        """
        return self.dim

    def input_size_of(self, x):
        """The ``input_size`` to build for: the vocabulary size, not an axis of ``x``.

        Parameters
        ----------
        x : ndarray
            The first input, token ids (B, T) (unused).

        Returns
        -------
        int
            ``vocab_size``.
        """
        return self.vocab_size

    def check_input(self, x, lengths):
        """Validate token ids and lengths, building the layer on first use.

        Parameters
        ----------
        x : array_like of int
            Token ids (B, T), each in 0 .. vocab_size - 1.
        lengths : array_like of int or None
            (B,) valid lengths, or None (every step valid).

        Returns
        -------
        ids : ndarray of int
            The checked ids (B, T).
        lengths : ndarray or None
            The checked lengths (B,), or None.

        Raises
        ------
        ValueError
            If ``x`` is not (B, T), has an id outside 0 .. vocab_size - 1, or ``lengths`` does not fit.
        TypeError
            If ``x`` does not hold integers.
        """
        self.ensure_built(x)
        ids = _checks.check_token_ids(x, self.vocab_size)
        return ids, _checks.check_lengths(lengths, ids.shape[0], ids.shape[1])

    def call(self, ids, lengths, training=False):
        """``forward`` on checked ids: the rows ``E[ids]``.

        Parameters
        ----------
        ids : ndarray of int
            (B, T) token ids.
        lengths : ndarray or None
            Unused (padded steps look up ``padding_idx``'s row).
        training : bool, optional
            Unused. Default False.

        Returns
        -------
        ndarray
            (B, T, dim), the layer's dtype.
        """
        self._cache = ids
        return self.params["E"][ids]

    def backward(self, dy):
        """Accumulate dL/dE from the last ``call`` into ``grads["E"]`` (zero on ``padding_idx``'s row).

        Parameters
        ----------
        dy : ndarray
            dL/dy (B, T, dim).

        Returns
        -------
        None
            Nothing flows into integer ids.
        """
        ids = self._cache
        g = np.zeros_like(self.params["E"])
        np.add.at(g, ids.reshape(-1), dy.reshape(-1, self.dim))
        if self.padding_idx is not None:
            g[self.padding_idx] = 0
        self.grads["E"] = g
        return None  # nothing flows into integer ids

    def get_config(self):
        """The constructor arguments (``Embedding(**config)`` rebuilds the layer, without its weights).

        Returns
        -------
        dict
            ``{"vocab_size": int, "dim": int, "padding_idx": int or None}``.
        """
        return {"vocab_size": self.vocab_size, "dim": self.dim, "padding_idx": self.padding_idx}


class Dropout(Layer):
    """Inverted dropout: at training time zero a fraction ``rate`` and scale the rest by 1/(1-rate).

    At inference (``training=False``) the layer is the identity, so no rescaling is needed then. The
    masks are drawn from the generator the layer is built with (the model's, seeded by its ``seed``).

    Parameters
    ----------
    rate : float
        The probability of zeroing each element, in [0, 1).

    Raises
    ------
    ValueError
        If ``rate`` is not in [0, 1).
    TypeError
        If ``rate`` is not a number.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Dropout
    >>> layer = Dropout(0.5)
    >>> x = np.ones((2, 4), dtype=np.float32)
    >>> print(layer.forward(x, training=True))
    [[2. 0. 0. 0.]
     [2. 2. 2. 2.]]
    >>> bool((layer.forward(x) == x).all())
    True
    """

    def __init__(self, rate: float):
        super().__init__()
        self.rate = _checks.check_float(rate, "rate", low=0, high=1, high_open=True)
        self.rng = None

    def call(self, x, lengths, training=False):
        """``forward`` on checked inputs: x times a fresh mask in training, x itself otherwise.

        Parameters
        ----------
        x : ndarray
            Any shape, e.g. (B, F) or (B, T, F); float32 or float64.
        lengths : ndarray or None
            Unused.
        training : bool, optional
            Drop (True) or pass ``x`` through unchanged (False, the default).

        Returns
        -------
        ndarray
            The shape and dtype of ``x``.
        """
        if not training or self.rate == 0:
            self._cache = None
            return x
        keep = (self.rng.random(x.shape) >= self.rate) / x.dtype.type(1 - self.rate)
        self._cache = keep.astype(x.dtype)
        return x * self._cache

    def backward(self, dy):
        """dL/dx: ``dy`` times the last call's mask (``dy`` itself after an inference call).

        Parameters
        ----------
        dy : ndarray
            dL/dy, the shape of the last output.

        Returns
        -------
        ndarray
            dL/dx, the shape of ``dy``.
        """
        return dy if self._cache is None else dy * self._cache

    def get_config(self):
        """The constructor arguments (``Dropout(**config)`` rebuilds the layer).

        Returns
        -------
        dict
            ``{"rate": float}``.
        """
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
