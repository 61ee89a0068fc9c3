"""Pure array functions: no hidden state, no I/O. Every layer and model is built on these.

The recurrent cells share one protocol, declared here: each is a module (``rnn``, ``lstm``, ``gru``)
with the same surface, registered in ``CELLS``::

    NAME, GATES, GATE_NAMES, STATE_NAMES, OPTIONS       # OPTIONS: option -> allowed values, default first
    param_shapes(input_size, hidden_size) -> {"W_x": (G*H, D), "W_h": (G*H, H), "b": (G*H,), "b_h": (G*H,)}
    init_bias(hidden_size, dtype) -> b
    out, state, cache = forward(params, x, state0=None, lengths=None, *, h_mask=None, keep_cache=True,
                                **options)
    out, state, cache = run(params, x, state0, schedule, h_mask=None, keep_cache=True, **options)  # trusted
    dx, d_state0, grads = backward(cache, d_out=None, d_state=None, *, record=None)
    state = step(params, x_t, state, **options)

``state`` and ``d_state`` are tuples with one (B, H) array per name in STATE_NAMES (("h",) or
("h", "c")); in ``state0`` and ``d_state`` an entry may be None (zeros). ``forward`` validates its
inputs; ``run`` trusts them and takes the batch's ``_seq.Schedule`` (one per layer and batch, shared by
its sub-RNNs). ``keep_cache=False`` is inference: the cache is None (``backward`` refuses it) and the
compiled kernels keep none of the per-step buffers backward needs. A new cell is one module with this
surface plus one line in ``CELLS``.
"""
from __future__ import annotations

from types import ModuleType

from . import _checks, gru, lstm, rnn


class Cell:
    """One registered recurrent cell: the facts layers need about it and its op functions
    (``cell.forward(...)`` is the module's ``forward``)."""

    def __init__(self, module: ModuleType):
        self.module = module
        self.name = module.NAME
        self.gates = module.GATES
        self.gate_names = module.GATE_NAMES
        self.state_names = module.STATE_NAMES
        self.n_states = len(module.STATE_NAMES)
        self.param_shapes = module.param_shapes
        self.init_bias = module.init_bias
        self.forward = module.forward
        self.run = module.run
        self.backward = module.backward
        self.step = module.step

    def options(self, **options) -> dict:
        """The cell's options checked, with defaults filled in (raises on unknown names or values)."""
        return _checks.check_options(options, self.module.OPTIONS, self.name)

    def __deepcopy__(self, memo):           # a registry entry is a constant: copies of layers share it
        return self

    def __repr__(self):
        return f"Cell({self.name!r})"


CELLS = {m.NAME: Cell(m) for m in (rnn, lstm, gru)}


def get_cell(name: str) -> Cell:
    """The registered cell called ``name`` ("rnn", "lstm", "gru")."""
    try:
        return CELLS[name]
    except (KeyError, TypeError):
        raise ValueError(f"cell: expected one of {sorted(CELLS)}, got {name!r}") from None
