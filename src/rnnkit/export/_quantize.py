"""int8 export: onnxruntime's dynamic quantization of the exported float32 graph, then int8 weights for
the ``GRU`` and ``RNN`` ops, which it leaves float32.

``onnxruntime.quantization.quantize_dynamic`` (weights int8, activations quantized on the fly) covers,
in the graphs ``rnnkit.export`` writes:

- ``MatMul`` with a constant weight (every Dense layer) -> ``DynamicQuantizeLinear`` of the input and
  ``MatMulInteger`` with the int8 weight (onnxruntime fuses them into ``DynamicQuantizeMatMul``);
- ``LSTM`` -> ``DynamicQuantizeLSTM`` (W and R int8, per output row; biases stay float32);
- ``Gather`` (the Embedding table) -> an 8-bit table (uint8 with a zero point) and a
  ``DequantizeLinear`` after the lookup.

Weights are quantized per output channel (``per_channel=True``) with 7-bit ranges (``reduce_range=True``):
on x86 CPUs without VNNI (AVX2 only) onnxruntime's u8 x s8 kernels add pairs of products in 16 bits,
which saturate with full 8-bit ranges (measured: max deviation 0.06-0.08 instead of ~0.01 on a
bidirectional GRU model); one bit less keeps them from saturating on every CPU.

ONNX ``RNN`` and ``GRU`` have no quantized kernel in onnxruntime, so ``_recurrent_int8`` quantizes their
weights only: each ``W`` and ``R`` initializer (dirs, gates * H, in) is stored as int8 with one float32
scale per row (one output unit of one direction; ``rnnkit.quantize.quantize_int8``'s symmetric format,
full range [-127, 127]), and ``Cast`` to float32 then ``Mul`` by the (dirs, gates * H, 1) scales rebuild
the float32 weight in the graph. The recurrent arithmetic stays float32 (no integer saturation to
avoid), and every weight is off by at most half a step of its row: |W_rc - W'_rc| <= s_r / 2 with
s_r = max_c |W_rc| / 127 (``rnnkit.quantize``); the product q * s is rounded once to float32, as in
``dequantize_int8``. The rows are rnnkit's own rows reordered (GRU's z rows negated, which the
symmetric rounding keeps), so the weights equal those of ``model.save(path, quantize="int8")`` for a
float32 model. Biases stay float32. Cast and Mul rather than ``DequantizeLinear``: onnxruntime folds
them into a float32 constant when the session loads, whereas it keeps a ``DequantizeLinear`` of a
constant and runs it on every call (measured: +20% time per ``step`` of a 2-layer GRU(128)), and
onnxruntime 1.32 has no ``DequantizeLinear`` for opset 28.
"""
from __future__ import annotations

import logging
import os
import tempfile

from .. import quantize as _q
from .._optional import require

OP_TYPES = ("MatMul", "LSTM", "Gather")
#: the ops whose W (input 1) and R (input 2) ``_recurrent_int8`` stores as int8
RECURRENT_OPS = ("GRU", "RNN")



class _DropPreprocessHint(logging.Filter):
    """quantize_dynamic logs (on the root logger) a hint to run its shape pre-processing first: our
    graphs have their shapes declared, so the hint is noise."""

    def filter(self, record):
        return "pre-processing before quantization" not in record.getMessage()


def int8(onnx, proto):
    """``proto`` (an onnx ModelProto) with its weights quantized to int8; a new ModelProto."""
    q = require("onnxruntime.quantization", "onnx", "quantize='int8'")
    with tempfile.TemporaryDirectory(prefix="rnnkit-int8-") as tmp:
        src, dst = os.path.join(tmp, "float32.onnx"), os.path.join(tmp, "int8.onnx")
        onnx.save_model(proto, src)
        hint, root = _DropPreprocessHint(), logging.getLogger()
        root.addFilter(hint)
        try:
            q.quantize_dynamic(src, dst, op_types_to_quantize=list(OP_TYPES), per_channel=True,
                               reduce_range=True, weight_type=q.QuantType.QInt8,
                               extra_options={"MatMulConstBOnly": True})
        finally:
            root.removeFilter(hint)
        out = onnx.load_model(dst)
    _recurrent_int8(onnx, out)
    return out


def _recurrent_int8(onnx, proto):
    """Store the W and R initializers of every ``GRU`` / ``RNN`` node of ``proto`` as int8 + one float32
    scale per row, rebuilt to float32 in the graph (module docstring); modifies ``proto`` in place.

    A W or R that is not a float32 initializer (a graph input, a node's output) is left as it is; one
    shared by several nodes is quantized once, and every consumer reads the same rebuilt tensor."""
    g, helper, to_tensor = proto.graph, onnx.helper, onnx.numpy_helper.from_array
    inits = {t.name: t for t in g.initializer}
    fed = {v.name for v in g.input}             # an initializer that is also an input can be overridden
    taken = set(inits) | fed | {o for n in g.node for o in n.output} | {n.name for n in g.node}

    def fresh(base):
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    names = [n.input[k] for n in g.node if n.op_type in RECURRENT_OPS for k in (1, 2) if len(n.input) > k]
    new_nodes = []
    for name in dict.fromkeys(names):           # each once, in graph order
        t = inits.get(name)
        if t is None or name in fed or t.data_type != onnx.TensorProto.FLOAT or len(t.dims) != 3:
            continue
        w = onnx.numpy_helper.to_array(t)
        q, scale = _q.quantize_int8(w.reshape(-1, w.shape[-1]), name)     # a row: one unit of one direction
        q_name, s_name, f_name = fresh(name + "_int8"), fresh(name + "_scale"), fresh(name + "_float")
        g.initializer.remove(t)
        g.initializer.extend([to_tensor(q.reshape(w.shape), q_name),
                              to_tensor(scale.reshape(*w.shape[:2], 1), s_name)])
        new_nodes += [helper.make_node("Cast", [q_name], [f_name], to=onnx.TensorProto.FLOAT, name=fresh(f_name)),
                      helper.make_node("Mul", [f_name, s_name], [name], name=fresh(name + "_dequantize"))]
    if new_nodes:                               # their inputs are initializers: first keeps the order valid
        nodes = new_nodes + list(g.node)
        del g.node[:]
        g.node.extend(nodes)
