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
    """A (deep, bidirectional) recurrent layer over any registered cell.

    ``cell`` is "rnn", "lstm" or "gru" (any name in ``rnnkit.ops.CELLS``) with that cell's options
    (``nonlinearity`` for "rnn", ``reset_after`` for "gru"); ``RNN``, ``LSTM`` and ``GRU`` fix the cell.
    Inputs are batch-first, x (B, T, F) with optional ``lengths`` (B,); the weights are created on
    the first input (or by ``build``), named as in the module docstring. H* below is the output
    size: 2H for a bidirectional layer merged by "concat", else H.

    Parameters
    ----------
    hidden_size : int
        H, the state size of each direction of each layer.
    num_layers : int, optional
        Stacked layers (seed §4.4); layer l > 0 reads layer l-1's merged outputs. Default 1.
    bidirectional : bool, optional
        Add a reverse direction over each sequence's valid steps (seed §4.3). Default False.
    return_sequences : bool, optional
        Output every step (B, T, H*) instead of the last state (B, H*). Default False.
    merge : {"concat", "sum", "mean"}, optional
        How the two directions' outputs are combined per step; "concat" (default) gives H* = 2H,
        the others H* = H. Ignored without ``bidirectional``.
    dropout : float, optional
        Dropout rate on the outputs passed between stacked layers, in [0, 1); training only. Default 0.
    recurrent_dropout : float, optional
        Variational dropout rate on the recurrence (one (B, H) mask per batch and sub-RNN), in
        [0, 1); training only. Default 0.
    cell : str, optional
        The cell: "rnn" (default), "lstm" or "gru". Subclasses fix it and take no such argument.
    **cell_options
        The cell's own options: ``nonlinearity`` ("tanh" or "relu") for "rnn", ``reset_after``
        (bool) for "gru"; "lstm" takes none.

    Raises
    ------
    ValueError
        If a size is below 1, ``merge`` is unknown, a rate is not in [0, 1), or a cell option has an
        invalid value.
    TypeError
        If an argument has the wrong type, or the cell does not take an option.
        Also ``ValueError`` for an unknown ``cell``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Recurrent
    >>> layer = Recurrent(4, cell="gru", bidirectional=True)
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    >>> y = layer.forward(x, lengths=np.array([5, 3]))
    >>> y.shape, y.dtype
    ((2, 8), dtype('float32'))
    >>> [s for _, _, s in layer.suffixes()]
    ['_l0', '_l0_reverse']
    """

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
        """2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    def suffixes(self):
        """(layer, direction, key suffix) for every sub-RNN, in PyTorch's order.

        Returns
        -------
        list of tuple
            ``(l, d, suffix)`` per sub-RNN: layer index ``l``, direction ``d`` (0 forward, 1 reverse)
            and the weight-name suffix, e.g. ``(0, 1, "_l0_reverse")``.
        """
        return [(l, d, f"_l{l}" + ("_reverse" if d else ""))
                for l in range(self.num_layers) for d in range(self.num_directions)]

    def _merged_size(self):
        return self.hidden_size * (2 if self.bidirectional and self.merge == "concat" else 1)

    def output_size(self, input_size):
        """The output feature size H*: 2 * hidden_size if bidirectional with "concat", else hidden_size.

        Parameters
        ----------
        input_size : int
            The number of input features (unused).

        Returns
        -------
        int
            H*.
        """
        return self._merged_size()

    def returns_sequence(self, input_is_sequence):
        """Whether the output has a time axis: ``return_sequences``.

        Parameters
        ----------
        input_is_sequence : bool
            Whether the input has a time axis; it must.

        Returns
        -------
        bool
            ``return_sequences``.

        Raises
        ------
        ValueError
            If ``input_is_sequence`` is False.
        """
        if not input_is_sequence:
            raise ValueError(f"{type(self).__name__}: expects input with a time axis (batch, time, features)")
        return self.return_sequences

    def num_weight_arrays(self):
        """How many weight arrays the layer has: 4 per sub-RNN (W_x, W_h, b, b_h).

        Returns
        -------
        int
            4 * num_layers * num_directions.
        """
        return 4 * self.num_layers * self.num_directions

    def param_shapes(self, input_size):
        """The weight shapes for ``input_size`` input features, keyed like PyTorch's.

        Parameters
        ----------
        input_size : int
            F, the input features of layer 0 (later layers read H* features).

        Returns
        -------
        dict
            {name: shape}: per sub-RNN ``W_x`` (G*H, D), ``W_h`` (G*H, H), ``b`` and ``b_h`` (G*H,),
            with G the cell's gate count (1 rnn, 4 lstm, 3 gru) and D its input size.
        """
        shapes = {}
        for l, _, s in self.suffixes():
            D = input_size if l == 0 else self._merged_size()
            shapes.update({k + s: v for k, v in self.cell.param_shapes(D, self.hidden_size).items()})
        return shapes

    def init_params(self, input_size, rng, dtype):
        """Fresh weights: ``W_x`` Glorot-uniform, ``W_h`` orthogonal per gate, the cell's bias, ``b_h`` zeros.

        Parameters
        ----------
        input_size : int
            F, the input features of layer 0.
        rng : numpy.random.Generator
            The generator the weights are drawn from.
        dtype : numpy.dtype
            float32 or float64.

        Returns
        -------
        dict
            {name: ndarray} with the shapes of ``param_shapes(input_size)``, of ``dtype``.
        """
        H, G = self.hidden_size, self.cell.gates
        params = {}
        for l, _, s in self.suffixes():
            D = input_size if l == 0 else self._merged_size()
            W_h = np.concatenate([orthogonal(rng, H, dtype) for _ in range(G)])  # orthogonal per gate
            params.update({f"W_x{s}": glorot_uniform(rng, G * H, D, dtype), f"W_h{s}": W_h,
                           f"b{s}": self.cell.init_bias(H, dtype), f"b_h{s}": np.zeros(G * H, dtype=dtype)})
        return params

    def sub_params(self, suffix):
        """One sub-RNN's weights under the ops' names: {"W_x": params["W_x" + suffix], ...}.

        Parameters
        ----------
        suffix : str
            The sub-RNN's suffix, e.g. "_l0" or "_l1_reverse" (see ``suffixes``).

        Returns
        -------
        dict
            ``{"W_x", "W_h", "b", "b_h"}`` -> the layer's arrays (not copies).
        """
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
        """Validate ``(x, lengths)``, building the layer on first use.

        Parameters
        ----------
        x : array_like
            (B, T, F) with F the layer's input size.
        lengths : array_like of int or None
            (B,) valid lengths in 1 .. T, or None (every step valid).

        Returns
        -------
        x : ndarray
            ``x`` as an array of the layer's dtype (float32 or float64).
        lengths : ndarray or None
            The checked lengths (B,), or None.

        Raises
        ------
        ValueError
            If ``x`` is not (B, T, F) with the layer's input size, or ``lengths`` does not fit it.
        """
        self.ensure_built(x)
        x = _checks.check_sequence_batch(x, "x", features=self.input_size, dtype=self.params["W_x_l0"].dtype)
        return x, _checks.check_lengths(lengths, x.shape[0], x.shape[1])

    def forward(self, x, lengths=None, training=False, initial_state=None, return_state=False):
        """x (B, T, F) -> outputs (B, T, H*) if return_sequences else the final state (B, H*).

        ``initial_state`` and, with ``return_state=True``, the returned final states are in PyTorch's
        layout: (num_layers * num_directions, B, H), a tuple (h, c) for the LSTM. The final state
        of each sequence is the one at its own last valid step.

        Parameters
        ----------
        x : array_like
            (B, T, F), float32 or float64 (converted to the layer's dtype).
        lengths : array_like of int or None, optional
            (B,) valid lengths; default None (every step valid). Outputs past a length are zero.
        training : bool, optional
            Turn ``dropout`` and ``recurrent_dropout`` on. Default False.
        initial_state : ndarray or tuple of ndarray, optional
            (num_layers * num_directions, B, H), a tuple (h, c) for the LSTM; default None (zeros).
        return_state : bool, optional
            Also return the final states. Default False.

        Returns
        -------
        y : ndarray
            (B, T, H*) if ``return_sequences`` else (B, H*), the layer's dtype.
        state : ndarray or tuple of ndarray
            Only with ``return_state=True``: the final states, (num_layers * num_directions, B, H)
            (a tuple (h, c) for the LSTM).

        Raises
        ------
        ValueError
            If ``x``, ``lengths`` or ``initial_state`` has the wrong shape.
        TypeError
            If ``initial_state`` is not the cell's kind of state (e.g. not a tuple for the LSTM).
        """
        x, lengths = self.check_input(x, lengths)
        init = self._split_state(initial_state, x.shape[0], x.dtype)
        return self.call(x, lengths, training, init, return_state)

    def infer(self, x, lengths):
        """The output for inference on checked inputs, keeping nothing for ``backward``.

        ``call(x, lengths, keep_cache=False)``: the cells run with ``keep_cache=False``, so the
        per-step buffers of backward are not kept (with the compiled kernels, not even written); a
        ``backward`` after it raises a ValueError. ``Sequential.predict`` and its relatives use it.

        Parameters
        ----------
        x : ndarray
            (B, T, F), the layer's dtype.
        lengths : ndarray or None
            (B,) valid lengths, or None.

        Returns
        -------
        ndarray
            As ``forward`` with ``training=False``.
        """
        return self.call(x, lengths, False, keep_cache=False)

    def call(self, x, lengths, training=False, init=None, return_state=False, keep_cache=True):
        """``forward`` on checked inputs; ``init`` is None or one state tuple per sub-RNN.

        Parameters
        ----------
        x : ndarray
            (B, T, F), the layer's dtype.
        lengths : ndarray or None
            (B,) valid lengths, or None.
        training : bool, optional
            Turn the dropouts on. Default False.
        init : list of tuple, optional
            One state tuple of (B, H) arrays per sub-RNN, in ``suffixes`` order; default None (zeros).
        return_state : bool, optional
            Also return the final states. Default False.
        keep_cache : bool, optional
            False keeps nothing for ``backward`` (inference; see ``infer``). Default True.

        Returns
        -------
        y : ndarray
            (B, T, H*) or (B, H*), as ``forward``.
        state : ndarray or tuple of ndarray
            Only with ``return_state=True``: as ``forward``.
        """
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
                                                  keep_cache=keep_cache, **self.cell_options)
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
        """Backpropagation through time for the last ``call``; fills ``grads``.

        The gradient for the initial state is kept in ``self.d_initial_state`` (PyTorch layout); with
        ``record_dh`` a list, the per-step norms of dL/dh_t are appended to it (module docstring).

        Parameters
        ----------
        dy : ndarray
            dL/dy, the shape of the last output: (B, T, H*) or (B, H*).
        d_state : ndarray or tuple of ndarray, optional
            Extra gradient on the final states, (num_layers * num_directions, B, H) (a tuple (dh, dc)
            for the LSTM); default None.

        Returns
        -------
        ndarray
            dL/dx (B, T, F), zero past each sequence's length.
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
        """Zero state in PyTorch's layout, for ``step``.

        Parameters
        ----------
        batch_size : int, optional
            B. Default 1.

        Returns
        -------
        ndarray or tuple of ndarray
            Zeros (num_layers, B, H) in the layer's dtype; a tuple (h, c) of them for the LSTM.
        """
        dtype = self.params["W_x_l0"].dtype
        zeros = tuple(np.zeros((self.num_layers, batch_size, self.hidden_size), dtype)
                      for _ in range(self.cell.n_states))
        return zeros if self.cell.n_states > 1 else zeros[0]

    def step(self, x_t, state=None):
        """One time step of a unidirectional layer: x_t (B, F) -> (y_t (B, H), new state).

        Equal to the whole-sequence forward, one step at a time (seed §6.2, §7.1: real-time use).
        The input state is not modified. Shapes and dtypes are checked; values are not scanned for
        NaN/inf (that would cost as much as the step itself on small layers).

        Parameters
        ----------
        x_t : array_like
            (B, F), one step of the input (converted to the layer's dtype).
        state : ndarray or tuple of ndarray, optional
            (num_layers, B, H) in the layer's dtype (a tuple (h, c) for the LSTM), e.g. the previous
            call's; default None (``initial_state(B)``).

        Returns
        -------
        y_t : ndarray
            (B, H), the last layer's output at this step.
        state : ndarray or tuple of ndarray
            The new state, shaped as ``state``.

        Raises
        ------
        ValueError
            If the layer is bidirectional, or ``x_t`` or ``state`` has the wrong shape or dtype.
        TypeError
            If ``state`` is not the cell's kind of state (e.g. not a tuple for the LSTM).
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
        """The constructor arguments (``type(layer)(**config)`` rebuilds the layer, without its weights).

        Returns
        -------
        dict
            The sizes, flags and rates, ``cell`` for ``Recurrent`` itself, and the cell's options.
        """
        config = {"hidden_size": self.hidden_size, "num_layers": self.num_layers,
                  "bidirectional": self.bidirectional, "return_sequences": self.return_sequences,
                  "merge": self.merge, "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout}
        if self.CELL is None:
            config["cell"] = self.cell.name
        return {**config, **self.cell_options}


class RNN(Recurrent):
    """Vanilla RNN layer (seed §2.2-2.4): h_t = f(W_x x_t + W_h h_{t-1} + b + b_h).

    ``Recurrent`` with the "rnn" cell; see ``Recurrent`` for shapes and states.

    Parameters
    ----------
    hidden_size : int
        H, the state size of each direction of each layer.
    num_layers : int, optional
        Stacked layers (seed §4.4); layer l > 0 reads layer l-1's merged outputs. Default 1.
    bidirectional : bool, optional
        Add a reverse direction over each sequence's valid steps (seed §4.3). Default False.
    return_sequences : bool, optional
        Output every step (B, T, H*) instead of the last state (B, H*). Default False.
    merge : {"concat", "sum", "mean"}, optional
        How the two directions' outputs are combined per step; "concat" (default) gives H* = 2H,
        the others H* = H. Ignored without ``bidirectional``.
    dropout : float, optional
        Dropout rate on the outputs passed between stacked layers, in [0, 1); training only. Default 0.
    nonlinearity : {"tanh", "relu"}, optional
        f. Default "tanh".
    recurrent_dropout : float, optional
        Variational dropout rate on the recurrence (one (B, H) mask per batch and sub-RNN), in
        [0, 1); training only. Default 0.

    Raises
    ------
    ValueError
        If a size is below 1, ``merge`` is unknown, a rate is not in [0, 1), or a cell option has an
        invalid value.
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import RNN
    >>> layer = RNN(4, num_layers=2, return_sequences=True)
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    >>> y = layer.forward(x, lengths=np.array([5, 2]))
    >>> y.shape, sorted(layer.params)[:4]
    ((2, 5, 4), ['W_h_l0', 'W_h_l1', 'W_x_l0', 'W_x_l1'])
    >>> print(y[1, 2:].max())
    0.0
    """
    CELL = "rnn"

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, return_sequences=False,
                 merge="concat", dropout=0.0, nonlinearity="tanh", recurrent_dropout=0.0):
        super().__init__(hidden_size, num_layers, bidirectional, return_sequences, merge, dropout,
                         recurrent_dropout, nonlinearity=nonlinearity)


class LSTM(Recurrent):
    """LSTM layer (seed §4.1); gate rows [i, f, g, o].

    ``Recurrent`` with the "lstm" cell; its state is the pair (h, c). See ``Recurrent`` for shapes.

    Parameters
    ----------
    hidden_size : int
        H, the state size of each direction of each layer.
    num_layers : int, optional
        Stacked layers (seed §4.4); layer l > 0 reads layer l-1's merged outputs. Default 1.
    bidirectional : bool, optional
        Add a reverse direction over each sequence's valid steps (seed §4.3). Default False.
    return_sequences : bool, optional
        Output every step (B, T, H*) instead of the last state (B, H*). Default False.
    merge : {"concat", "sum", "mean"}, optional
        How the two directions' outputs are combined per step; "concat" (default) gives H* = 2H,
        the others H* = H. Ignored without ``bidirectional``.
    dropout : float, optional
        Dropout rate on the outputs passed between stacked layers, in [0, 1); training only. Default 0.
    recurrent_dropout : float, optional
        Variational dropout rate on the recurrence (one (B, H) mask per batch and sub-RNN), in
        [0, 1); training only. Default 0.

    Raises
    ------
    ValueError
        If a size is below 1, ``merge`` is unknown, a rate is not in [0, 1), or a cell option has an
        invalid value.
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import LSTM
    >>> layer = LSTM(4, return_sequences=True)
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    >>> y, (h, c) = layer.forward(x, return_state=True)
    >>> y.shape, h.shape, c.shape
    ((2, 5, 4), (1, 2, 4), (1, 2, 4))
    >>> layer.backward(np.ones_like(y)).shape
    (2, 5, 3)
    """
    CELL = "lstm"

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, return_sequences=False,
                 merge="concat", dropout=0.0, recurrent_dropout=0.0):
        super().__init__(hidden_size, num_layers, bidirectional, return_sequences, merge, dropout,
                         recurrent_dropout)


class GRU(Recurrent):
    """GRU layer (seed §4.2); gate rows [r, z, n]. ``reset_after=True`` is the PyTorch/cuDNN variant.

    ``Recurrent`` with the "gru" cell; see ``Recurrent`` for shapes and states.

    Parameters
    ----------
    hidden_size : int
        H, the state size of each direction of each layer.
    num_layers : int, optional
        Stacked layers (seed §4.4); layer l > 0 reads layer l-1's merged outputs. Default 1.
    bidirectional : bool, optional
        Add a reverse direction over each sequence's valid steps (seed §4.3). Default False.
    return_sequences : bool, optional
        Output every step (B, T, H*) instead of the last state (B, H*). Default False.
    merge : {"concat", "sum", "mean"}, optional
        How the two directions' outputs are combined per step; "concat" (default) gives H* = 2H,
        the others H* = H. Ignored without ``bidirectional``.
    dropout : float, optional
        Dropout rate on the outputs passed between stacked layers, in [0, 1); training only. Default 0.
    reset_after : bool, optional
        Apply the reset gate after the recurrent product, r * (W_hn h + b_hn) (PyTorch, cuDNN),
        instead of before it, W_hn (r * h) (the seed's form, default False).
    recurrent_dropout : float, optional
        Variational dropout rate on the recurrence (one (B, H) mask per batch and sub-RNN), in
        [0, 1); training only. Default 0.

    Raises
    ------
    ValueError
        If a size is below 1, ``merge`` is unknown, a rate is not in [0, 1), or a cell option has an
        invalid value.
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import GRU
    >>> layer = GRU(4, reset_after=True)
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    >>> y_t, state = layer.step(x[:, 0])
    >>> y_t.shape, state.shape
    ((2, 4), (1, 2, 4))
    >>> bool(np.allclose(y_t, layer.forward(x[:, :1])))
    True
    """
    CELL = "gru"

    def __init__(self, hidden_size, num_layers=1, bidirectional=False, return_sequences=False,
                 merge="concat", dropout=0.0, reset_after=False, recurrent_dropout=0.0):
        super().__init__(hidden_size, num_layers, bidirectional, return_sequences, merge, dropout,
                         recurrent_dropout, reset_after=reset_after)
