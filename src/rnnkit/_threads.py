"""How many threads NumPy's BLAS may use.

rnnkit's matrices are small (a batch by a hidden size per time step). For them a multi-threaded
BLAS spends more time waking and synchronising its workers than computing, and on a busy 2-core
machine its spinning workers fight the main thread: runs were measured 5-10x slower than with one
thread. The command line therefore runs with one BLAS thread unless told otherwise (``--threads``);
library users choose for themselves with this context manager.
"""
from __future__ import annotations

import contextlib


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Limit BLAS to ``n`` threads inside the block (threadpoolctl); ``None`` leaves it alone."""
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the BLAS keeps its own default
        yield
        return
    try:    # the compiled kernels' products run on SciPy's BLAS: load it first so that the limit covers it
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:
        pass
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield
