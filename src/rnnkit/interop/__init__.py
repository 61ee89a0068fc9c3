"""Moving models between rnnkit and other frameworks.

``rnnkit.interop.torch`` converts layers and whole ``Sequential`` models to and from PyTorch modules,
exactly (bit for bit). PyTorch is not a dependency of rnnkit: it is imported only when a conversion
function is called.
"""
from .torch import from_torch, to_torch

__all__ = ["from_torch", "to_torch"]
