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
    """The mean or the max over each sequence's valid time steps: (B, T, F) with lengths -> (B, F)."""

    def __init__(self, mode: str = "mean"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r:.50}")
        self.mode = mode

    def returns_sequence(self, input_is_sequence):
        if not input_is_sequence:
            raise ValueError("TemporalPooling: expects input with a time axis (batch, time, features); "
                             "put it after a recurrent layer with return_sequences=True")
        return False

    def check_input(self, x, lengths):
        x, lengths = super().check_input(x, lengths)
        if x.ndim != 3:
            raise ValueError(f"x: TemporalPooling expects (batch, time, features), got shape {x.shape}")
        return x, lengths

    def call(self, x, lengths, training=False):
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
        return {"mode": self.mode}
