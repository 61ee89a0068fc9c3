"""Compile the kernels ahead of their first use: ``python -m rnnkit.ops._warm`` (``make setup`` runs it).

numba compiles a kernel the first time it runs, once per dtype (about 15 s for the LSTM's float32 and
float64 forward and backward), and caches the result on disk; this runs each once on a tiny batch so
that a user's first call, in any later process, only loads the cache (about 1 s, mostly importing numba).
Without numba it does nothing.
"""
from __future__ import annotations

import time

import numpy as np

from . import _kernels, lstm


def warm_up() -> dict:
    """Run every compiled kernel once per dtype; returns {"lstm": seconds, ...} (empty without numba)."""
    took = {}
    if _kernels.get("lstm") is None:
        return took
    start = time.perf_counter()
    for dtype in (np.float32, np.float64):
        params = {k: np.full(s, 0.1, dtype=dtype) for k, s in lstm.param_shapes(2, 3).items()}
        for lengths in (None, np.array([2, 1])):
            out, _, cache = lstm.forward(params, np.ones((2, 2, 2), dtype=dtype), lengths=lengths)
            lstm.backward(cache, out, record=[])
    took["lstm"] = time.perf_counter() - start
    return took


if __name__ == "__main__":
    print("rnnkit kernels compiled:", ", ".join(f"{k} {v:.1f} s" for k, v in warm_up().items()) or "none (no numba)")
