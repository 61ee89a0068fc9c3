"""Temporal pooling: a sequence of outputs (B, T, F) -> one vector per sequence (B, F).

A recurrent layer without ``return_sequences`` summarises a sequence by its last state; on long
series that state has forgotten the start (the vanishing gradient of seed §3.2). Pooling over every
valid step gives each step a direct path to the loss instead.

``mode="mean"``: y_b = (1 / L_b) sum_{t < L_b} x_{b,t}, so dL/dx_{b,t} = dL/dy_b / L_b for t < L_b.
``mode="max"``: y_{b,f} = max_{t < L_b} x_{b,t,f}; the gradient goes to the arg max step alone (the
first one on ties), the subgradient every framework uses. Steps past a sequence's length never
count and get zero gradient (design section 2).
"""
from __future__ import annotations

import numpy as np

from .base import Layer

MODES = ("mean", "max")


class TemporalPooling(Layer):
    """The mean or the max over each sequence's valid time steps: (B, T, F) with lengths -> (B, F).

    Put it after a recurrent layer with ``return_sequences=True``: every valid step then has a
    direct path to the loss (see the module docstring for the gradients). It has no weights.

    Parameters
    ----------
    mode : {"mean", "max"}, optional
        The mean over the valid steps (default) or their elementwise max.

    Raises
    ------
    ValueError
        If ``mode`` is not "mean" or "max".

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import TemporalPooling
    >>> x = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    >>> print(TemporalPooling("mean").forward(x, lengths=np.array([3, 1])))
    [[2. 3.]
     [6. 7.]]
    >>> print(TemporalPooling("max").forward(x, lengths=np.array([3, 1])))
    [[4. 5.]
     [6. 7.]]
    """

    def __init__(self, mode: str = "mean"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r:.50}")
        self.mode = mode

    def returns_sequence(self, input_is_sequence):
        """Whether the output has a time axis: never (the time axis is pooled away).

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
            raise ValueError("TemporalPooling: expects input with a time axis (batch, time, features); "
                             "put it after a recurrent layer with return_sequences=True")
        return False

    def check_input(self, x, lengths):
        """Validate ``(x, lengths)`` (see ``Layer.check_input``): x must have a time axis.

        Parameters
        ----------
        x : array_like
            (B, T, F).
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
            If ``x`` is not (B, T, F) or ``lengths`` does not fit it.
        """
        x, lengths = super().check_input(x, lengths)
        if x.ndim != 3:
            raise ValueError(f"x: TemporalPooling expects (batch, time, features), got shape {x.shape}")
        return x, lengths

    def call(self, x, lengths, training=False):
        """``forward`` on checked inputs: the mean or max over each sequence's first ``lengths`` steps.

        Parameters
        ----------
        x : ndarray
            (B, T, F), float32 or float64.
        lengths : ndarray or None
            (B,) valid lengths, or None (all T steps).
        training : bool, optional
            Unused. Default False.

        Returns
        -------
        ndarray
            (B, F), the dtype of ``x``.
        """
        B, T, _ = x.shape
        valid = None if lengths is None else np.arange(T)[None, :] < lengths[:, None]    # (B, T)
        if self.mode == "mean":
            if valid is None:
                y = x.mean(axis=1)
                count = np.full(B, T, dtype=x.dtype)
            else:
                count = lengths.astype(x.dtype)
                y = np.einsum("btf,bt->bf", x, valid.astype(x.dtype)) / count[:, None]
            self._cache = (x.shape, valid, count)
            return y
        masked = x if valid is None else np.where(valid[..., None], x, -np.inf)
        idx = masked.argmax(axis=1)                                                       # (B, F)
        self._cache = (x.shape, idx)
        return np.take_along_axis(x, idx[:, None, :], axis=1)[:, 0]

    def backward(self, dy):
        """dL/dx for the last ``call``: spread over the valid steps (mean) or to the arg max step (max).

        Parameters
        ----------
        dy : array_like
            dL/dy (B, F).

        Returns
        -------
        ndarray
            dL/dx (B, T, F), zero past each sequence's length.
        """
        shape = self._cache[0]
        dy = np.asarray(dy)
        if self.mode == "mean":
            _, valid, count = self._cache
            dx = np.broadcast_to((dy / count[:, None])[:, None, :], shape).copy()
            if valid is not None:
                dx *= valid[..., None]
            return dx
        idx = self._cache[1]
        dx = np.zeros(shape, dtype=dy.dtype)
        np.put_along_axis(dx, idx[:, None, :], dy[:, None, :], axis=1)
        return dx

    def get_config(self):
        """The constructor arguments (``TemporalPooling(**config)`` rebuilds the layer).

        Returns
        -------
        dict
            ``{"mode": "mean" or "max"}``.
        """
        return {"mode": self.mode}
