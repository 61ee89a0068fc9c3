import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # lets tests import the shared gradcheck helper


import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Small matrices: one BLAS thread is faster and keeps results independent of the thread count."""
    from rnnkit._threads import blas_threads
    with blas_threads(1):
        yield
