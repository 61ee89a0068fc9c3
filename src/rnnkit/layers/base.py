"""The layer protocol: a thin object holding parameters and their gradients around pure ops.

A layer is built lazily from its input feature size, so models can be declared without shapes. A
layer used on its own builds itself on its first ``forward`` / ``step`` from the input's last axis,
with ``np.random.default_rng(0)`` and the input's dtype (float32 unless the input is float64); call
``build(input_size, rng, dtype)`` first for another generator or dtype.
``forward`` is the public entry: it checks its inputs (``check_input``) and runs ``call``, which trusts
them (``Sequential`` validates a batch once and calls ``call``). ``call`` keeps what ``backward`` needs
on the layer (one pending backward at a time), and ``backward`` fills ``grads`` (same keys as
``params``) and returns the gradient for the input.

Sequence convention: x is (B, T, F) with ``lengths`` (B,) or None, or (B, F) with no time axis.
"""
from __future__ import annotations

import numpy as np

from ..ops import _checks


class Layer:
    params: dict
    grads: dict

    def __init__(self):
        self.params, self.grads = {}, {}
        self.built = False
        self.input_size = None
        self._cache = None

    # -- building --------------------------------------------------------------------------
    def build(self, input_size: int, rng: np.random.Generator | None = None, dtype=np.float32,
              params: dict | None = None) -> None:
        """Create the weights for inputs of ``input_size`` features (a vocabulary size for Embedding).

        They are drawn from ``rng`` (default ``np.random.default_rng(0)``: reproducible) or, with
        ``params`` ({name: array} of exactly ``param_shapes(input_size)``), taken from there without
        drawing anything. The layer keeps ``rng`` for its dropout masks.
        """
        input_size = _checks.check_int(input_size, "input_size", minimum=1)
        dtype = np.dtype(dtype)
        if dtype not in _checks.FLOAT_DTYPES:
            raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
        rng = np.random.default_rng(0) if rng is None else rng
        shapes = self.param_shapes(input_size)
        if params is None:
            params = self.init_params(input_size, rng, dtype)
        else:
            if sorted(params) != sorted(shapes):
                raise ValueError(f"params: expected the weights {sorted(shapes)}, got {sorted(params)}")
            for k, shape in shapes.items():
                if np.shape(params[k]) != shape:
                    raise ValueError(f"params[{k!r}]: expected shape {shape}, got {np.shape(params[k])}")
            params = {k: np.array(params[k], dtype=dtype, copy=True) for k in shapes}
        self.params = params
        self.input_size, self.dtype, self.rng = input_size, dtype, rng
        self.built = True
        self.zero_grads()

    def num_weight_arrays(self) -> int:
        """How many weight arrays the layer has (known before its shapes are)."""
        return len(self.param_shapes(1))

    def reset(self):
        """Forget the weights: back to the state before ``build``."""
        self.params, self.grads = {}, {}
        self.built, self.input_size, self._cache = False, None, None

    def param_shapes(self, input_size: int) -> dict:
        """{name: shape} of the weights for ``input_size`` input features (none by default)."""
        return {}

    def init_params(self, input_size: int, rng: np.random.Generator, dtype) -> dict:
        """Freshly initialised weights, {name: array} with the shapes of ``param_shapes``."""
        return {}

    def output_size(self, input_size: int) -> int:
        return input_size

    def returns_sequence(self, input_is_sequence: bool) -> bool:
        """Whether the output keeps a time axis, given whether the input has one."""
        return input_is_sequence

    # -- computing -------------------------------------------------------------------------
    def forward(self, x, lengths=None, training=False):
        """The layer's output for ``x`` (checked here first); ``training`` turns dropout on."""
        x, lengths = self.check_input(x, lengths)
        return self.call(x, lengths, training)

    def check_input(self, x, lengths):
        """``(x, lengths)`` validated for this layer: raises with a message naming the problem."""
        self.ensure_built(x)
        x = _checks.as_float_array(x, "x", dtype=self.dtype)
        if x.ndim == 3:
            return x, _checks.check_lengths(lengths, x.shape[0], x.shape[1])
        if lengths is not None:
            raise ValueError("lengths: given, but x has no time axis")
        return x, None

    def ensure_built(self, x):
        """Build on first use from ``x`` (see the module docstring); nothing if already built."""
        if self.built:
            return
        a = x if isinstance(x, np.ndarray) else np.asarray(x)
        if a.ndim < 2 or a.dtype.kind not in "fiub":
            raise ValueError(f"x: {type(self).__name__} is not built and builds itself from the last axis of "
                             f"a numeric (batch, ..., features) input; got dtype {a.dtype}, shape {a.shape} "
                             "(or call layer.build(input_size))")
        self.build(self.input_size_of(a), dtype=a.dtype if a.dtype in _checks.FLOAT_DTYPES else np.float32)

    def input_size_of(self, x) -> int:
        """The ``input_size`` to build for when ``x`` is the first input (its feature axis)."""
        return x.shape[-1]

    def call(self, x, lengths, training=False):
        """``forward`` on inputs already checked."""
        raise NotImplementedError

    def infer(self, x, lengths):
        """The output for inference on checked inputs (``Sequential.predict``): ``call`` without
        dropout; a layer that can skip what only ``backward`` needs overrides it."""
        return self.call(x, lengths, False)

    def backward(self, dy):
        raise NotImplementedError

    def zero_grads(self):
        for k, v in self.params.items():
            self.grads[k] = np.zeros_like(v)

    # -- saving ----------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Constructor arguments: with ``type(self)(**config)`` and the weights, the layer is rebuilt."""
        return {}

    def num_params(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def glorot_uniform(rng, fan_out, fan_in, dtype):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_out, fan_in)).astype(dtype)


def orthogonal(rng, n, dtype):
    """A random orthogonal (n, n) matrix (QR of a Gaussian, signs fixed so it is uniform)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.sign(np.diag(r))).astype(dtype)
