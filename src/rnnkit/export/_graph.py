"""A tiny, dependency-free graph builder: nodes and initializers as plain Python data.

The layer emitters (``_layers.py``) build the whole graph here with NumPy alone; ``onnx.py`` turns it
into an ``onnx.ModelProto`` in one place, so that onnx stays an optional dependency imported lazily.
A node is ``Node(op_type, inputs, outputs, attrs)``; an empty input name means "optional input
omitted", as in ONNX. Weights are float32 initializers; with ``fp16=True`` they are stored as float16
and a ``Cast`` to float32 feeds the graph (weights-only half precision: compute stays float32).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

FLOAT16_MAX = float(np.finfo(np.float16).max)


class Node(NamedTuple):
    op_type: str
    inputs: tuple
    outputs: tuple
    attrs: dict


class Value(NamedTuple):
    """A graph input or output: name, element type ("float32" or "int32" / "int64") and shape
    (ints, or strings for dynamic axes)."""
    name: str
    dtype: str
    shape: tuple


class Graph:
    """Nodes, initializers, inputs and outputs of one graph; names are made unique here."""

    def __init__(self, fp16: bool = False):
        self.nodes: list[Node] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.fp16 = fp16
        self._used: set[str] = set()

    def fresh(self, hint: str) -> str:
        """A new tensor name starting with ``hint``."""
        name, k = hint, 1
        while name in self._used:
            name, k = f"{hint}_{k}", k + 1
        self._used.add(name)
        return name

    def input(self, name, dtype, shape) -> str:
        self._used.add(name)
        self.inputs.append(Value(name, dtype, tuple(shape)))
        return name

    def output(self, name, dtype, shape) -> None:
        self.outputs.append(Value(name, dtype, tuple(shape)))

    def const(self, value, hint: str = "const", dtype=np.int64) -> str:
        """An initializer holding a constant (shapes, axes, scalars): never converted to fp16."""
        name = self.fresh(hint)
        self.initializers[name] = np.asarray(value, dtype=dtype)
        return name

    def weight(self, value, hint: str) -> str:
        """A float32 weight initializer (float16 plus a Cast with ``fp16``); the name the graph reads."""
        value = np.ascontiguousarray(value, dtype=np.float32)
        if not self.fp16:
            return self.const(value, hint, np.float32)
        if value.size and np.abs(value).max() > FLOAT16_MAX:
            raise ValueError(f"quantize='fp16': the weight {hint!r} has values beyond float16's range "
                             f"(|w| > {FLOAT16_MAX:g}); export in float32 (quantize=None) or int8")
        stored = self.const(value, hint + "_fp16", np.float16)
        return self.op("Cast", [stored], hint, to="float32")

    def op(self, op_type: str, inputs, hint: str | None = None, n_out: int = 1, outputs=None, **attrs):
        """Append a node; returns its output name (or a tuple of ``n_out`` names). ``outputs`` fixes
        the names (an empty one leaves that optional output out)."""
        if outputs is None:
            base = hint or op_type.lower()
            outputs = [self.fresh(base if n_out == 1 else f"{base}_{k}") for k in range(n_out)]
        else:
            self._used.update(o for o in outputs if o)
        self.nodes.append(Node(op_type, tuple(inputs), tuple(outputs), attrs))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)
