"""The cell kinds that every recurrent test runs over, with factories for ops, layers and PyTorch.

A kind is a registered cell (``rnnkit.ops.CELLS``) plus its options:

=================  ======  ========================  ===========================================
kind               cell    options                   PyTorch counterpart
=================  ======  ========================  ===========================================
rnn-tanh           rnn     nonlinearity="tanh"       nn.RNN(nonlinearity="tanh"), nn.RNNCell
rnn-relu           rnn     nonlinearity="relu"       nn.RNN(nonlinearity="relu"), nn.RNNCell
lstm               lstm    (none)                    nn.LSTM, nn.LSTMCell
gru-seed           gru     reset_after=False         none (the seed's GRU, seed §4.2)
gru-reset-after    gru     reset_after=True          nn.GRU, nn.GRUCell (z rows negated)
=================  ======  ========================  ===========================================

Tests take the ``cell_kind`` fixture (``tests/conftest.py``), which yields a ``CellKind`` for each;
a test that needs PyTorch narrows it with
``@pytest.mark.parametrize("cell_kind", TORCH_KINDS, indirect=True)``.
"""
from __future__ import annotations

import numpy as np

from rnnkit.interop.torch import from_torch_layout, to_torch_layout
from rnnkit.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.ops import get_cell
from rnnkit.ops.activations import sigmoid

# kind -> (registered cell name, options)
KINDS = {
    "rnn-tanh": ("rnn", {"nonlinearity": "tanh"}),
    "rnn-relu": ("rnn", {"nonlinearity": "relu"}),
    "lstm": ("lstm", {}),
    "gru-seed": ("gru", {"reset_after": False}),
    "gru-reset-after": ("gru", {"reset_after": True}),
}
CELL_KINDS = tuple(KINDS)
TORCH_KINDS = tuple(k for k in CELL_KINDS if k != "gru-seed")
LAYER_CLASSES = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class BoundOp:
    """A cell's op functions with a kind's options bound: the protocol's surface, options fixed."""

    def __init__(self, cell, options):
        self.cell, self.options = cell, dict(options)

    def forward(self, params, x, state0=None, lengths=None, *, h_mask=None):
        return self.cell.forward(params, x, state0, lengths, h_mask=h_mask, **self.options)

    def run(self, params, x, state0, schedule, h_mask=None):
        return self.cell.run(params, x, state0, schedule, h_mask, **self.options)

    def backward(self, cache, d_out=None, d_state=None, *, record=None):
        return self.cell.backward(cache, d_out, d_state, record=record)

    def step(self, params, x_t, state):
        return self.cell.step(params, x_t, state, **self.options)


class CellKind:
    """One cell kind: ``cell`` (the registry entry), ``options``, ``op`` (bound op functions) and
    factories for rnnkit layers and the equivalent PyTorch modules."""

    def __init__(self, kind: str):
        cell_name, options = KINDS[kind]
        self.kind = kind
        self.cell = get_cell(cell_name)
        self.options = dict(options)
        self.op = BoundOp(self.cell, self.options)

    def __repr__(self):
        return f"CellKind({self.kind!r})"

    @property
    def n_states(self) -> int:
        return self.cell.n_states

    @property
    def has_torch(self) -> bool:
        return self.kind in TORCH_KINDS

    # -- arrays ------------------------------------------------------------------------------
    def params(self, D, H, rng, dtype=np.float64, scale=0.5) -> dict:
        """Random weights of the fused shapes ``param_shapes(D, H)``, every array non-trivial."""
        return {k: (rng.standard_normal(s) * scale).astype(dtype)
                for k, s in self.cell.param_shapes(D, H).items()}

    def state(self, B, H, rng, dtype=np.float64, scale=0.5) -> tuple:
        """A random op-level state: one (B, H) array per entry of STATE_NAMES."""
        return tuple((rng.standard_normal((B, H)) * scale).astype(dtype) for _ in range(self.n_states))

    # -- rnnkit layers -----------------------------------------------------------------------
    def layer(self, hidden_size, **kw):
        """The rnnkit layer class with this cell fixed (RNN / LSTM / GRU), with the kind's options."""
        return LAYER_CLASSES[self.cell.name](hidden_size, **self.options, **kw)

    def recurrent(self, hidden_size, **kw):
        """The same layer through the generic ``Recurrent(..., cell=name, **options)``."""
        return Recurrent(hidden_size, cell=self.cell.name, **self.options, **kw)

    # -- PyTorch -----------------------------------------------------------------------------
    def _torch_kwargs(self, kw):
        if self.cell.name == "rnn":
            kw.setdefault("nonlinearity", self.options["nonlinearity"])
        return kw

    def torch_module(self, input_size, hidden_size, **kw):
        """nn.RNN / nn.LSTM / nn.GRU with the kind's options (batch-first unless told otherwise; torch's
        default dtype unless ``dtype`` is given: see the ``torch_float64`` fixture), or None for gru-seed."""
        if not self.has_torch:
            return None
        import torch
        kw.setdefault("batch_first", True)
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[self.cell.name]
        return cls(input_size, hidden_size, **self._torch_kwargs(kw))

    def torch_cell(self, input_size, hidden_size, **kw):
        """nn.RNNCell / nn.LSTMCell / nn.GRUCell with the kind's options, or None for gru-seed."""
        if not self.has_torch:
            return None
        import torch
        cls = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[self.cell.name]
        return cls(input_size, hidden_size, **self._torch_kwargs(kw))

    def to_torch_layout(self, params) -> dict:
        """One sub-RNN's weights in PyTorch's names and layout (``rnnkit.interop.torch``)."""
        self._need_torch()
        return to_torch_layout(self.cell.name, params)

    def from_torch_layout(self, tparams) -> dict:
        """PyTorch's weights (or gradients) of one sub-RNN in our names and layout."""
        self._need_torch()
        return from_torch_layout(self.cell.name, tparams)

    def load_torch(self, module, params, suffix="_l0"):
        """Copy our ``params`` into a PyTorch module's (or cell's, ``suffix=""``) weights, exactly."""
        import torch
        with torch.no_grad():
            for name, v in self.to_torch_layout(params).items():
                getattr(module, name + suffix).copy_(torch.from_numpy(v))
        return module

    def torch_grads(self, module, suffix="_l0") -> dict:
        """A PyTorch module's parameter gradients, in our names and layout."""
        return self.from_torch_layout({name: getattr(module, name + suffix).grad
                                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})

    def _need_torch(self):
        if not self.has_torch:
            raise ValueError(f"{self.kind}: has no PyTorch counterpart")


def make_case(kind: CellKind, B=3, T=4, D=2, H=3, seed=0, dtype=np.float64, scale=0.5):
    """(rng, params, x (B, T, D), state0 tuple) for an op-level test, all random and non-trivial."""
    rng = np.random.default_rng(seed)
    params = kind.params(D, H, rng, dtype, scale)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    return rng, params, x, kind.state(B, H, rng, dtype)


def reference_step(kind: CellKind, params, x_t, state, mask=None):
    """One step of the (optionally masked) recurrence, written from the equations, independently of
    the ops' internals: every recurrent product reads ``mask * h_{t-1}``; the LSTM cell path and the
    GRU carry ``(1 - z) h_{t-1}`` read the unmasked state. Returns the new state tuple."""
    h = state[0]
    hm = h if mask is None else h * mask
    W_x, W_h, b, b_h = params["W_x"], params["W_h"], params["b"], params["b_h"]
    H = W_h.shape[1]
    ax = x_t @ W_x.T + b
    if kind.cell.name == "rnn":
        a = ax + hm @ W_h.T + b_h
        return (np.tanh(a) if kind.options["nonlinearity"] == "tanh" else np.maximum(a, 0),)
    if kind.cell.name == "lstm":
        a = ax + hm @ W_h.T + b_h
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
        c = f * state[1] + i * np.tanh(a[:, 2 * H:3 * H])
        return o * np.tanh(c), c
    if kind.options["reset_after"]:
        ah = hm @ W_h.T + b_h
        r = sigmoid(ax[:, :H] + ah[:, :H])
        z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    else:
        r = sigmoid(ax[:, :H] + hm @ W_h[:H].T + b_h[:H])
        z = sigmoid(ax[:, H:2 * H] + hm @ W_h[H:2 * H].T + b_h[H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + (r * hm) @ W_h[2 * H:].T + b_h[2 * H:])
    return ((1 - z) * h + z * n,)
