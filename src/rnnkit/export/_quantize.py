"""int8 export: onnxruntime's dynamic quantization of the exported float32 graph.

``onnxruntime.quantization.quantize_dynamic`` (weights int8, activations quantized on the fly) covers,
in the graphs ``rnnkit.export`` writes:

- ``MatMul`` with a constant weight (every Dense layer) -> ``DynamicQuantizeLinear`` of the input and
  ``MatMulInteger`` with the int8 weight (onnxruntime fuses them into ``DynamicQuantizeMatMul``);
- ``LSTM`` -> ``DynamicQuantizeLSTM`` (W and R int8, per output row; biases stay float32);
- ``Gather`` (the Embedding table) -> an 8-bit table (uint8 with a zero point) and a
  ``DequantizeLinear`` after the lookup.

ONNX ``RNN`` and ``GRU`` have no quantized kernel in onnxruntime: their weights stay float32 (a
GRU or RNN model shrinks only by its Dense and Embedding weights). Weights are quantized per output
channel (``per_channel=True``) with 7-bit ranges (``reduce_range=True``): on x86 CPUs without VNNI
(AVX2 only) onnxruntime's u8 x s8 kernels add pairs of products in 16 bits, which saturate with full
8-bit ranges (measured: max deviation 0.06-0.08 instead of ~0.01 on a bidirectional GRU model); one bit
less keeps them from saturating on every CPU.
"""
from __future__ import annotations

import logging
import os
import tempfile

_HINT = "pip install 'rnnkit[onnx]'"
OP_TYPES = ("MatMul", "LSTM", "Gather")


def _import_quantization():
    try:
        from onnxruntime import quantization  # noqa: PLC0415  (lazy: optional dependency)
    except ImportError as e:
        raise ImportError(f"quantize='int8' needs onnxruntime: {_HINT}") from e
    return quantization


class _DropPreprocessHint(logging.Filter):
    """quantize_dynamic logs (on the root logger) a hint to run its shape pre-processing first: our
    graphs have their shapes declared, so the hint is noise."""

    def filter(self, record):
        return "pre-processing before quantization" not in record.getMessage()


def int8(onnx, proto):
    """``proto`` (an onnx ModelProto) with its weights quantized to int8; a new ModelProto."""
    q = _import_quantization()
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
        return onnx.load_model(dst)
