"""Which implementation runs the recurrent loops: compiled kernels (numba) or the NumPy reference.

``RNNKIT_KERNELS`` chooses, read at every call so that tests can switch it:

- ``auto`` (default): the compiled kernels when numba is installed (``pip install 'rnnkit[fast]'``),
  else NumPy;
- ``numba``: the compiled kernels, an ImportError naming the install command without numba;
- ``numpy``: the readable NumPy loops, the reference the kernels are tested against.

The kernels are compiled on first use and cached on disk by numba (``cache=True``), so later
processes load them instead of compiling.
"""
from __future__ import annotations

import importlib
import os

ENV = "RNNKIT_KERNELS"
MODES = ("auto", "numba", "numpy")
_loaded: dict = {}


_chosen: dict = {}             # (RNNKIT_KERNELS as set, cell) -> module or None: ``step`` is ~2 us


def mode() -> str:
    """The kernel mode ``RNNKIT_KERNELS`` asks for (``auto`` when unset)."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        raise ValueError(f"{ENV}={value!r}: expected one of {', '.join(MODES)}")
    return value


def get(cell: str):
    """The compiled kernel module of ``cell`` ("lstm", "gru", "rnn"), or None when NumPy runs the loops."""
    key = (os.environ.get(ENV), cell)
    try:
        return _chosen[key]
    except KeyError:
        pass
    _chosen[key] = module = _choose(cell)
    return module


def _choose(cell: str):
    m = mode()
    if m == "numpy":
        return None
    if cell not in _loaded:
        try:
            _loaded[cell] = importlib.import_module(f"{__package__}._numba_{cell}")
            # numba's products run on SciPy's BLAS: load it now, so that a thread limit set later
            # (threadpoolctl, as the benchmarks do) applies to it as it does to NumPy's
            importlib.import_module("scipy.linalg.cython_blas")
        except ImportError:
            _loaded[cell] = None
    if _loaded[cell] is None and m == "numba":
        raise ImportError(f"{ENV}=numba needs numba: pip install 'rnnkit[fast]'")
    return _loaded[cell]


def path(cell: str) -> str:
    """"numba" or "numpy": the implementation ``cell``'s loops use now (benchmarks print it)."""
    return "numpy" if get(cell) is None else "numba"
