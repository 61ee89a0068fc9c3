"""Optional dependencies, imported when a feature needs them: ``require("onnx", "onnx", "ONNX
export")`` returns the module, or raises an ImportError naming the extra that installs it, so a
missing extra never surfaces as a bare ModuleNotFoundError."""
from __future__ import annotations

import importlib


def require(module: str, extra: str, purpose: str):
    """``module`` imported (e.g. "onnxruntime.quantization"); ImportError "``purpose`` needs <package>:
    pip install 'rnnkit[<extra>]'" without it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{purpose} needs {module.split('.')[0]}: pip install 'rnnkit[{extra}]'") from e
