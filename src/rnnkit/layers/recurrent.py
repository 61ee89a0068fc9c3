"""Recurrent layers: RNN, LSTM, GRU with ``num_layers`` (deep, seed §4.4) and ``bidirectional`` (§4.3).

One class, ``Recurrent``, drives any cell registered in ``rnnkit.ops.CELLS`` through the cell protocol
(``Recurrent(64, cell="lstm")``); ``RNN``, ``LSTM`` and ``GRU`` are ``Recurrent`` with the cell fixed.

Deep RNNs. The seed writes h_t^(l) = RNN_l(h_t^(l-1), x_t), leaving out the layer's own previous
state h_{t-1}^(l). We use the standard stacked recurrence (PyTorch, Keras): layer l reads the
outputs of layer l-1 as its input sequence and keeps its own recurrence, h_t^(l) = f(W_x^(l) h_t^(l-1)
+ W_h^(l) h_{t-1}^(l) + b^(l)); the network input x_t enters layer 0 only.

Bidirectional. The reverse direction runs over each sequence's *valid* steps only, from its last
step to its first, so padding never leaks into it. Outputs are merged per step by ``merge``:
"concat" (default; [h_fwd, h_bwd] as the seed's §4.3), "sum" or "mean".

Parameters are named like PyTorch's: ``W_x_l0``, ``W_h_l0``, ``b_l0``, ``b_h_l0`` and, for the reverse
direction, the same with ``_reverse``. Initial and final states use PyTorch's layout too:
(num_layers * num_directions, B, H), a tuple (h, c) for the LSTM.

Dropout. ``dropout`` drops the outputs passed between stacked layers (a fresh mask per element).
``recurrent_dropout`` is variational dropout on the recurrence (Gal & Ghahramani, 2016): in training,
each sub-RNN (layer and direction) draws one (B, H) mask per batch, entries 0 with probability p and
1/(1-p) otherwise, and its recurrent products read m * h_{t-1} at every step (see the ops:
the GRU carry and the LSTM cell path stay unmasked). Off at inference.

Gradient diagnostics (seed §3.2). Set ``layer.record_dh = []`` and every ``backward`` appends one dict
{sub-RNN suffix ("_l0", "_l0_reverse", ...): (T,) array}, the batch-mean norm of dL/dh_t at each step
of that sub-RNN (the ops' ``backward(..., record=)``); a reverse sub-RNN's array is in its own processing
order (index 0 = each sequence's last valid step). ``None`` (the default) records nothing;
``rnnkit.diagnostics.GradientRecorder`` manages this during ``fit``.
"""
from __future__ import annotations

import numpy as np

from ..ops import _checks, get_cell
from ..ops._seq import Schedule
from .base import Layer, glorot_uniform, orthogonal


def reverse_padded(x, lengths):
    """Reverse each sequence of a batch-first array within its own length (an involution)."""
    B, T = x.shape[:2]
    if lengths is None:
        return x[:, ::-1]
    t = np.arange(T)
    idx = np.where(t[None, :] < lengths[:, None], lengths[:, None] - 1 - t[None, :], t[None, :])
    return np.take_along_axis(x, idx.reshape(B, T, *([1] * (x.ndim - 2))), axis=1)


MERGES = ("concat", "sum", "mean")
_WEIGHTS = ("W_x", "W_h", "b", "b_h")


class Recurrent(Layer):
    """A (deep, bidirectional) recurrent layer over any registered cell: ``cell`` "rnn", "lstm", "gru"
    with that cell's options (``nonlinearity`` for "rnn", ``reset_after`` for "gru")."""

    CELL = None                     # subclasses fix the cell; the base class takes it as an argument

    def __init__(self, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 return_sequences: bool = False, merge: str = "concat", dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, cell: str = "rnn", **cell_options):
        super().__init__()
        self.cell = get_cell(self.CELL or cell)
        self.cell_options = self.cell.options(**cell_options)
        self.hidden_size = _checks.check_int(hidden_size, "hidden_size", minimum=1)
        self.num_layers = _checks.check_int(num_layers, "num_layers", minimum=1)
        if merge not in MERGES:
            raise ValueError(f"merge: expected one of {MERGES}, got {merge!r}")
        self.bidirectional = _checks.check_bool(bidirectional, "bidirectional")
        self.return_sequences = _checks.check_bool(return_sequences, "return_sequences")
        self.merge = merge
        self.dropout = _checks.check_float(dropout, "dropout", low=0, high=1, high_open=True)
        self.recurrent_dropout = _checks.check_float(recurrent_dropout, "recurrent_dropout", low=0, high=1,
                                                     high_open=True)
        self.record_dh = None  # a list -> backward appends {sub-RNN suffix: (T,) dL/dh_t norms} per call
        self.rng = None

    # -- structure ---------------------------------------------------------------------------
    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def suffixes(self):
        """(layer, direction, key suffix) for every sub-RNN, in PyTorch's order."""
        return [(l, d, f"_l{l}" + ("_reverse" if d else ""))
                for l in range(self.num_layers) for d in range(self.num_directions)]

    def _merged_size(self):
        return self.hidden_size * (2 if self.bidirectional and self.merge == "concat" else 1)

    def output_size(self, input_size):
        return self._merged_size()

    def returns_sequence(self, input_is_sequence):
        if not input_is_sequence:
            raise ValueError(f"{type(self).__name__}: expects input with a time axis (batch, time, features)")
        return self.return_sequences

    def num_weight_arrays(self):
        return 4 * self.num_layers * self.num_directions

    def param_shapes(self, input_size):
        shapes = {}
        for l, _, s in self.suffixes():
            D = input_size if l == 0 else self._merged_size()
            shapes.update({k + s: v for k, v in self.cell.param_shapes(D, self.hidden_size).items()})
        return shapes

    def init_params(self, input_size, rng, dtype):
        H, G = self.hidden_size, self.cell.gates
        params = {}
        for l, _, s in self.suffixes():
            D = input_size if l == 0 else self._merged_size()
            W_h = np.concatenate([orthogonal(rng, H, dtype) for _ in range(G)])  # orthogonal per gate
            params.update({f"W_x{s}": glorot_uniform(rng, G * H, D, dtype), f"W_h{s}": W_h,
                           f"b{s}": self.cell.init_bias(H, dtype), f"b_h{s}": np.zeros(G * H, dtype=dtype)})
        return params

    def sub_params(self, suffix):
        """One sub-RNN's weights under the ops' names: {"W_x": params["W_x" + suffix], ...}."""
        return {k: self.params[k + suffix] for k in _WEIGHTS}

    # -- states in PyTorch's layout ----------------------------------------------------------
    def _split_state(self, state, B, dtype, name="initial_state"):
        """(L*dirs, B, H) array, or a tuple of them for the LSTM -> per sub-RNN tuples (or None)."""
        if state is None:
            return [None] * (self.num_layers * self.num_directions)
        n = self.cell.n_states
        parts = state if n > 1 else (state,)
        if not isinstance(parts, (tuple, list)) or len(parts) != n:
            raise TypeError(f"{name}: expected a tuple {self.cell.state_names} for the "
                             f"{self.cell.name} cell, got {type(state).__name__}")
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        arrs = []
        for sname, s in zip(self.cell.state_names, parts):
            s = _checks.as_float_array(s, f"{name} {sname}", ndim=3, dtype=dtype)
            if s.shape != shape:
                raise ValueError(f"{name} {sname}: expected shape {shape} "
                                 f"(num_layers*num_directions, batch, hidden), got {s.shape}")
            arrs.append(s)
        return [tuple(a[k] for a in arrs) for k in range(shape[0])]

    def _join_state(self, states):
        stacked = tuple(np.stack([s[j] for s in states]) for j in range(self.cell.n_states))
        return stacked if self.cell.n_states > 1 else stacked[0]

    # -- forward / backward ------------------------------------------------------------------
    def check_input(self, x, lengths):
        self.ensure_built(x)
        x = _checks.check_sequence_batch(x, "x", features=self.input_size, dtype=self.params["W_x_l0"].dtype)
        return x, _checks.check_lengths(lengths, x.shape[0], x.shape[1])

    def forward(self, x, lengths=None, training=False, initial_state=None, return_state=False):
        """x (B, T, F) -> outputs (B, T, H*) if return_sequences else the final state (B, H*).

        ``initial_state`` and, with ``return_state=True``, the returned final states are in PyTorch's
        layout: (num_layers * num_directions, B, H), a tuple (h, c) for the LSTM.
        """
        x, lengths = self.check_input(x, lengths)
        init = self._split_state(initial_state, x.shape[0], x.dtype)
        return self.call(x, lengths, training, init, return_state)

    def call(self, x, lengths, training=False, init=None, return_state=False):
        """``forward`` on checked inputs; ``init`` is None or one state tuple per sub-RNN."""
        dtype = x.dtype
        B, T, _ = x.shape
        sched = Schedule(lengths, B, T)        # one length schedule for every sub-RNN of this batch
        init = init or [None] * (self.num_layers * self.num_directions)
        caches, finals, masks = [], [], []
        inp = x
        for l in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                k = l * self.num_directions + d
                s = f"_l{l}" + ("_reverse" if d else "")
                xi = reverse_padded(inp, lengths) if d else inp
                h_mask = None
                if training and self.recurrent_dropout > 0:  # one mask per batch and sub-RNN, all steps
                    keep = 1 - self.recurrent_dropout
                    h_mask = ((self.rng.random((B, self.hidden_size)) < keep).astype(dtype)
                              / dtype.type(keep))
                out, state, cache = self.cell.run(self.sub_params(s), xi, init[k], sched, h_mask,
                                                  **self.cell_options)
                outs.append(reverse_padded(out, lengths) if d else out)
                caches.append(cache)
                finals.append(state)
            inp = self._merge(outs)
            mask = None
            if training and self.dropout > 0 and l < self.num_layers - 1:
                mask = (self.rng.random(inp.shape) >= self.dropout).astype(dtype) / dtype.type(1 - self.dropout)
                inp = inp * mask
            masks.append(mask)
        self._cache = (caches, masks, lengths, B, T)
        if self.return_sequences:
            y = inp
        else:
            last = finals[-self.num_directions:]
            y = self._merge([s[0] for s in last])
        return (y, self._join_state(finals)) if return_state else y

    def _merge(self, parts):
        if len(parts) == 1:
            return parts[0]
        if self.merge == "concat":
            return np.concatenate(parts, axis=-1)
        y = parts[0] + parts[1]
        return y * y.dtype.type(0.5) if self.merge == "mean" else y

    def _unmerge(self, dy):
        if self.num_directions == 1:
            return [dy]
        if self.merge == "concat":
            H = self.hidden_size
            return [dy[..., :H], dy[..., H:]]
        g = dy * dy.dtype.type(0.5) if self.merge == "mean" else dy
        return [g, g]

    def backward(self, dy, d_state=None):
        """dy: gradient of the layer output. ``d_state`` (PyTorch layout) adds gradient on the final states.

        Returns dx; the gradient for the initial state is kept in ``self.d_initial_state``.
        """
        caches, masks, lengths, B, T = self._cache
        dtype = dy.dtype
        n_sub = self.num_layers * self.num_directions
        n_states = self.cell.n_states
        d_fin = self._split_state(d_state, B, dtype, "d_state") if d_state is not None else [None] * n_sub
        d_seq = None
        if self.return_sequences:
            d_seq = dy
        else:
            for d, g in enumerate(self._unmerge(dy)):
                k = n_sub - self.num_directions + d
                prev = d_fin[k]
                h = g if prev is None else prev[0] + g
                d_fin[k] = (h,) + ((None,) * (n_states - 1) if prev is None else tuple(prev[1:]))
        d_init = [None] * n_sub
        recorded = {} if self.record_dh is not None else None
        for l in range(self.num_layers - 1, -1, -1):
            if d_seq is not None and masks[l] is not None:
                d_seq = d_seq * masks[l]
            parts = self._unmerge(d_seq) if d_seq is not None else [None] * self.num_directions
            d_in = None
            for d in range(self.num_directions):
                k = l * self.num_directions + d
                s = f"_l{l}" + ("_reverse" if d else "")
                g = parts[d]
                if g is not None and d:
                    g = reverse_padded(g, lengths)
                rec = None if recorded is None else []
                dx, d0, grads = self.cell.backward(caches[k], g, d_fin[k], record=rec)
                if rec is not None:
                    recorded[s] = rec[0]
                if d:
                    dx = reverse_padded(dx, lengths)
                d_in = dx if d_in is None else d_in + dx
                d_init[k] = d0
                for name, v in grads.items():
                    self.grads[name + s] = v
            d_seq = d_in
        if recorded is not None:
            self.record_dh.append({s: recorded[s] for _, _, s in self.suffixes()})
        self.d_initial_state = self._join_state(d_init)
        return d_seq

    # -- streaming ---------------------------------------------------------------------------
    def initial_state(self, batch_size=1):
        """Zero state in PyTorch's layout, for ``step``."""
        dtype = self.params["W_x_l0"].dtype
        zeros = tuple(np.zeros((self.num_layers, batch_size, self.hidden_size), dtype)
                      for _ in range(self.cell.n_states))
        return zeros if self.cell.n_states > 1 else zeros[0]

    def step(self, x_t, state=None):
        """One time step of a unidirectional layer: x_t (B, F) -> (y_t (B, H), new state).

        Equal to the whole-sequence forward, one step at a time (seed §6.2, §7.1: real-time use).
        The input state is not modified. Shapes and dtypes are checked; values are not scanned for
        NaN/inf (that would cost as much as the step itself on small layers).
        """
        if self.bidirectional:
            raise ValueError("step: a bidirectional layer needs the whole sequence (its reverse "
                             "direction starts at the end); use forward()")
        self.ensure_built(x_t)
        x_t = self._check_step_input(x_t)
        if state is None:
            state = self.initial_state(x_t.shape[0])
        parts = self._check_step_state(state, x_t.shape[0], x_t.dtype)
        step, options, params = self.cell.step, self.cell_options, self.params
        inp, layers = x_t, []
        for l in range(self.num_layers):
            s = f"_l{l}"
            sub = {"W_x": params["W_x" + s], "W_h": params["W_h" + s], "b": params["b" + s], "b_h": params["b_h" + s]}
            layers.append(step(sub, inp, tuple(p[l] for p in parts), **options))
            inp = layers[-1][0]
        # one layer: a view with the layer axis added, no copy (this is the latency path)
        out = tuple(layers[0][j][None] if len(layers) == 1 else np.stack([st[j] for st in layers])
                    for j in range(len(parts)))
        return inp, (out if self.cell.n_states > 1 else out[0])

    def _check_step_input(self, x_t):
        dtype = self.params["W_x_l0"].dtype
        if not (isinstance(x_t, np.ndarray) and x_t.dtype == dtype and x_t.ndim == 2):
            x_t = _checks.as_float_array(x_t, "x_t", ndim=2, dtype=dtype)
        if x_t.shape[1] != self.input_size:
            raise ValueError(f"x_t: expected shape (batch, {self.input_size}), got {x_t.shape}")
        return x_t

    def _check_step_state(self, state, B, dtype):
        parts = state if self.cell.n_states > 1 else (state,)
        want = (self.num_layers, B, self.hidden_size)
        if (isinstance(parts, tuple) and len(parts) == self.cell.n_states
                and all(isinstance(p, np.ndarray) and p.shape == want and p.dtype == dtype for p in parts)):
            return parts                                          # the latency path: nothing else to do
        if not isinstance(parts, (tuple, list)) or len(parts) != self.cell.n_states:
            raise TypeError(f"state: expected a tuple {self.cell.state_names} for the {self.cell.name} "
                             f"cell, got {type(state).__name__}")
        for name, p in zip(self.cell.state_names, parts):
            if not isinstance(p, np.ndarray) or p.shape != want or p.dtype != dtype:
                got = f"shape {p.shape}, dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
                raise ValueError(f"state {name}: expected a {dtype} array of shape {want} "
                                 f"(num_layers, batch, hidden), got {got}")
        return parts

    def get_config(self):
        config = {"hidden_size": self.hidden_size, "num_layers": self.num_layers,
                  "bidirectional": self.bidirectional, "return_sequences": self.return_sequences,
                  "merge": self.merge, "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout}
        if self.CELL is None:
            config["cell"] = self.cell.name
        return {**config, **self.cell_options}


class RNN(Recurrent):
    """Vanilla RNN layer (seed §2.2-2.4); ``nonlinearity`` "tanh" (default) or "relu"."""
    CELL = "rnn"

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, return_sequences=False,
                 merge="concat", dropout=0.0, nonlinearity="tanh", recurrent_dropout=0.0):
        super().__init__(hidden_size, num_layers, bidirectional, return_sequences, merge, dropout,
                         recurrent_dropout, nonlinearity=nonlinearity)


class LSTM(Recurrent):
    """LSTM layer (seed §4.1); gate rows [i, f, g, o]."""
    CELL = "lstm"

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, return_sequences=False,
                 merge="concat", dropout=0.0, recurrent_dropout=0.0):
        super().__init__(hidden_size, num_layers, bidirectional, return_sequences, merge, dropout,
                         recurrent_dropout)


class GRU(Recurrent):
    """GRU layer (seed §4.2); gate rows [r, z, n]. ``reset_after=True`` is the PyTorch/cuDNN variant."""
    CELL = "gru"

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, return_sequences=False,
                 merge="concat", dropout=0.0, reset_after=False, recurrent_dropout=0.0):
        super().__init__(hidden_size, num_layers, bidirectional, return_sequences, merge, dropout,
                         recurrent_dropout, reset_after=reset_after)
