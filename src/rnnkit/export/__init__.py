"""Exporting trained models to other runtimes.

``rnnkit.export.onnx.export(model, path)`` (or ``model.export_onnx(path)``) writes an ONNX graph of a
built ``Sequential`` made of ONNX's own operators; ``rnnkit.runtime.OnnxModel`` runs it in
onnxruntime. onnx and onnxruntime are optional (``pip install 'rnnkit[onnx]'``) and imported only
when used.
"""
from . import onnx

__all__ = ["onnx"]
