"""Compile the kernels ahead of their first use: ``python -m rnnkit.ops._warm`` (``make setup`` runs it).

numba compiles a kernel the first time it runs, once per dtype (measured from an empty cache: see the
closing figures in ``benchmarks/README.md``), and caches the result on disk; this runs each once on a
tiny batch so that a user's first call, in any later process, only loads the cache (about 1 s, mostly
importing numba).
Without numba it does nothing.
"""
from __future__ import annotations

import time

import numpy as np

from . import _kernels, gru, lstm, rnn


def warm_up() -> dict:
    """Run every compiled kernel once per dtype and option; returns {cell: seconds} (empty without numba)."""
    took = {}
    for op, variants in ((lstm, [{}]), (gru, [{"reset_after": False}, {"reset_after": True}]),
                         (rnn, [{"nonlinearity": "tanh"}])):
        if _kernels.get(op.NAME) is None:
            continue
        start = time.perf_counter()
        for dtype in (np.float32, np.float64):
            params = {k: np.full(s, 0.1, dtype=dtype) for k, s in op.param_shapes(2, 3).items()}
            for options in variants:
                for lengths in (None, np.array([2, 1])):
                    out, _, cache = op.forward(params, np.ones((2, 2, 2), dtype=dtype), lengths=lengths, **options)
                    op.backward(cache, out, record=[])
        took[op.NAME] = time.perf_counter() - start
    return took


if __name__ == "__main__":
    print("rnnkit kernels compiled:", ", ".join(f"{k} {v:.1f} s" for k, v in warm_up().items()) or "none (no numba)")
