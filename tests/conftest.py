"""Session settings and the fixtures shared by the whole suite."""
import sys

import pytest

from tests.helpers.cells import CELL_KINDS, CellKind


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Small matrices: one BLAS thread is faster and keeps results independent of the thread count."""
    from rnnkit._threads import blas_threads
    with blas_threads(1):
        yield


@pytest.fixture(autouse=True)
def _torch_default_dtype_untouched():
    """No test, and no test module at import, may leave torch's default dtype changed: use the
    ``torch_float64`` fixture, which restores it."""
    yield
    torch = sys.modules.get("torch")
    if torch is not None:
        assert torch.get_default_dtype() == torch.float32, (
            f"torch's default dtype is {torch.get_default_dtype()} after this test (PyTorch's default is "
            "float32): set it through the torch_float64 fixture, never at import time")


@pytest.fixture
def torch_float64():
    """torch with float64 as its default dtype for this test; the previous default is restored after."""
    import torch
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield torch
    finally:
        torch.set_default_dtype(previous)


@pytest.fixture(params=CELL_KINDS)
def cell_kind(request):
    """Each cell kind in turn: "rnn-tanh", "rnn-relu", "lstm", "gru-seed", "gru-reset-after".

    Yields a ``tests.helpers.cells.CellKind``: ``.cell`` (the registry entry), ``.options``, ``.op``
    (forward / run / backward / step with the options bound), ``.layer(hidden, **kw)``,
    ``.torch_module(input, hidden, **kw)`` / ``.torch_cell(...)`` (None for gru-seed; in torch's
    default dtype unless ``dtype`` is given, so parity tests take ``torch_float64``) and the PyTorch
    layout mapping. Narrow it with ``@pytest.mark.parametrize("cell_kind", TORCH_KINDS,
    indirect=True)`` (or any other subset of ``CELL_KINDS``).
    """
    return CellKind(request.param)
