"""Gradient diagnostics for recurrent models: watch gradients vanish or explode through time (seed §3.2).

The seed (§3.2) explains the trouble with plain RNNs by the repeated product of Jacobians in BPTT:
dL/dh_t = sum_{k>=t} (prod_{j=t+1..k} dh_j/dh_{j-1})^T dL_k/dh_k, with dh_j/dh_{j-1} = diag(f'(a_j)) W_h
for the vanilla cell, so the norm of the gradient reaching h_t shrinks or grows roughly geometrically
in the distance to the loss, at a rate bounded by the largest singular value of W_h (times max |f'|).
LSTM and GRU (§4) add an additive path (the cell state, the (1 - z) carry) meant to keep it flat.
This module measures exactly those quantities:

- ``dh_norms``: for every step t, the norm of dL/dh_t (the full gradient reaching h_t, from the
  output at t and from h_{t+1}; for the LSTM with c_t held fixed). Per optimizer step, per sub-RNN, it
  is a (T,) array: the mean over the batch's sequences (those still running at t) of the per-sequence
  L2 norm ||dL/dh_t||_2. The ops compute it inside BPTT (``backward(..., record=[])``), no extra pass.
- ``sigma_max``: the largest singular value (spectral norm) of the recurrent weights, per gate block
  for gated cells ({"i", "f", "g", "o"} for the LSTM, {"r", "z", "n"} for the GRU, each an (H, H)
  block) and of the whole fused W_h ("W_h", (G*H, H)); for the vanilla RNN only "W_h". The values are
  those of the weights *used* in that step's forward/backward (before the optimizer's update).
- ``grad_norm`` / ``grad_norm_clipped``: the global gradient norm over all parameters before and after
  clipping (``Sequential.train_step`` sets ``last_grad_norm`` / ``last_grad_norm_clipped``).

``GradientRecorder`` collects them during ``fit``; ``measure`` takes one measurement without training
(e.g. at initialisation); ``plot_dh_norms`` and ``plot_grad_norms`` draw them (matplotlib, Agg).
"""
from __future__ import annotations

import numpy as np

from . import optim
from .callbacks import Callback
from .layers import Recurrent
from .model import TrainingError
from .ops import get_cell


def recurrent_layers(model):
    """The recurrent layers of ``model``, named "INDEX.CELL" (e.g. "0.lstm").

    Parameters
    ----------
    model : rnnkit.model.Sequential
        The model (built or not).

    Returns
    -------
    list of tuple of (str, rnnkit.layers.Recurrent)
        ``[(name, layer)]`` for every recurrent layer, in the model's order.

    Examples
    --------
    >>> from rnnkit.diagnostics import recurrent_layers
    >>> from rnnkit.layers import GRU, LSTM, Dense
    >>> from rnnkit.model import Sequential
    >>> model = Sequential([LSTM(3, return_sequences=True), GRU(3), Dense(1)])
    >>> [name for name, layer in recurrent_layers(model)]
    ['0.lstm', '1.gru']
    """
    return [(f"{i}.{layer.cell.name}", layer) for i, layer in enumerate(model.layers)
            if isinstance(layer, Recurrent)]


def sigma_max(W_h, cell: str = "rnn") -> dict:
    """Largest singular values of a fused recurrent matrix ``W_h`` (G*H, H).

    For the vanilla cell sigma_max(W_h) (times max |f'|) bounds the rate at which ||dL/dh_t|| shrinks
    or grows per step back in time (seed §3.2).

    Parameters
    ----------
    W_h : array_like
        The fused recurrent weights, (G*H, H): G = 1 (RNN), 4 (LSTM) or 3 (GRU) gate blocks of (H, H),
        in the fused row order.
    cell : str, optional
        The cell: "rnn" (default), "lstm" or "gru".

    Returns
    -------
    dict of str to float
        {"W_h": sigma of the whole matrix} plus, for gated cells, one entry per (H, H) gate block in the
        fused row order ({"i", "f", "g", "o"} LSTM, {"r", "z", "n"} GRU).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.diagnostics import sigma_max
    >>> W_h = np.vstack([1.0 * np.eye(2), 2.0 * np.eye(2), 3.0 * np.eye(2), 0.5 * np.eye(2)])    # (4*2, 2)
    >>> {gate: round(s, 4) for gate, s in sigma_max(W_h, "lstm").items()}
    {'W_h': 3.7749, 'i': 1.0, 'f': 2.0, 'g': 3.0, 'o': 0.5}
    """
    W = np.asarray(W_h, dtype=np.float64)
    out = {"W_h": float(np.linalg.norm(W, 2))}
    names = get_cell(cell).gate_names
    if names:
        H = W.shape[1]
        for k, name in enumerate(names):
            out[name] = float(np.linalg.norm(W[k * H:(k + 1) * H], 2))
    return out


def _weights(layers):
    """Copies of every sub-RNN's W_h: {layer name: {suffix: array}} (cheap; SVDs come later if needed)."""
    return {name: {s: layer.params["W_h" + s].copy() for _, _, s in layer.suffixes()}
            for name, layer in layers}


def _layer_record(layers, weights, dh_entries, with_sigma=True):
    rec = {}
    for name, layer in layers:
        entry = dh_entries.get(name) or {}
        rec[name] = {}
        for _, _, s in layer.suffixes():
            sub = {"dh_norms": entry.get(s)}
            if with_sigma:
                sub["sigma_max"] = sigma_max(weights[name][s], layer.cell.name)
            rec[name][s] = sub
    return rec


def measure(model, X, y, lengths=None):
    """One measurement on (X, y) without training: the record ``GradientRecorder`` keeps per step.

    Runs the model forward (inference mode: no dropout) and backward on the whole of X as one batch
    (pass a sample of moderate size); the weights do not change (the layers' ``grads`` are
    overwritten).

    Parameters
    ----------
    model : rnnkit.model.Sequential
        A compiled model (built on first use).
    X : numpy.ndarray or list of numpy.ndarray
        The inputs: a padded (B, T, D) array (with ``lengths``), a ragged list of (T_i, D) arrays, or
        token ids for an ``Embedding``.
    y : numpy.ndarray
        The targets, as for ``fit``.
    lengths : array_like of int or None, optional
        (B,) valid lengths of a padded ``X``; None (default): every step counts.

    Returns
    -------
    dict
        ``{"loss": float, "grad_norm": float, "layers": {name: {suffix: {"dh_norms": (T,) array,
        "sigma_max": dict}}}}``, layer names as in ``recurrent_layers``, suffixes "_l0", "_l0_reverse", ...

    Raises
    ------
    RuntimeError
        If the model is not compiled.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.diagnostics import measure
    >>> from rnnkit.layers import LSTM, Dense
    >>> from rnnkit.model import Sequential
    >>> X = np.random.default_rng(0).normal(size=(4, 5, 2))
    >>> rec = measure(Sequential([LSTM(3), Dense(1)], seed=0).compile("mse"), X, X.sum(axis=(1, 2)))
    >>> sorted(rec), rec["layers"]["0.lstm"]["_l0"]["dh_norms"].shape
    (['grad_norm', 'layers', 'loss'], (5,))
    """
    if model.loss is None:
        raise RuntimeError("measure: compile the model first (the loss defines dL/dh_t)")
    layers = recurrent_layers(model)
    saved = [layer.record_dh for _, layer in layers]
    try:
        for _, layer in layers:
            layer.record_dh = []
        loss, grads = model.compute_gradients(X, y, lengths, training=False)
        entries = {name: (layer.record_dh[-1] if layer.record_dh else {}) for name, layer in layers}
    finally:
        for (_, layer), s in zip(layers, saved):
            layer.record_dh = s
    return {"loss": float(loss), "grad_norm": optim.global_norm(grads),
            "layers": _layer_record(layers, _weights(layers), entries)}


class GradientRecorder(Callback):
    """Records gradient diagnostics during ``fit`` (seed §3.2); use it as a callback.

    ``every="step"`` keeps a full record for every optimizer step; ``every="epoch"`` keeps the full
    record of the last optimizer step of each epoch (``steps`` still has every step's scalars).
    ``sigma=False`` skips the singular values. ``dh_norms`` and ``sigma_max`` are described in the
    module docstring; for a bidirectional layer the "_reverse" arrays are in that direction's
    processing order.

    How it hooks in: while training, each recurrent layer's ``record_dh`` is a list (the layers then
    pass ``record`` down to the ops' backward), and the model's ``train_step`` is wrapped to collect
    the records and the global norms after each step. Both are undone when training ends, also when
    it stops with an exception: a ``TrainingError`` (NaN/inf) is noted as a last step with
    ``"failed": True`` and the non-finite norm, then re-raised. ``recorder.failed`` is the step index.

    Parameters
    ----------
    every : {"step", "epoch"}, optional
        Keep a full record for every optimizer step (default) or for the last step of each epoch.
    sigma : bool, optional
        Compute the singular values of the recurrent weights (default True).

    Attributes
    ----------
    steps : list of dict
        Every optimizer step: {"step", "epoch", "loss", "grad_norm", "grad_norm_clipped"}.
    records : list of dict
        The full records: the same keys plus "layers":
        {layer name: {sub-RNN suffix: {"dh_norms": (T,), "sigma_max": {...}}}}.
    failed : int or None
        The index of the step that stopped on NaN/inf, if any.

    Raises
    ------
    ValueError
        If ``every`` is neither "step" nor "epoch".

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.diagnostics import GradientRecorder
    >>> from rnnkit.layers import LSTM, Dense
    >>> from rnnkit.model import Sequential
    >>> X, rec = np.random.default_rng(0).normal(size=(4, 5, 2)), GradientRecorder(every="epoch")
    >>> model = Sequential([LSTM(3), Dense(1)], seed=0).compile("mse")
    >>> _ = model.fit(X, X.sum(axis=(1, 2)), epochs=2, batch_size=2, verbose=0, callbacks=[rec])
    >>> len(rec.steps), len(rec.records), rec.series("grad_norm").shape, rec.dh_norms().shape
    (4, 2, (4,), (5,))
    """

    def __init__(self, every: str = "step", sigma: bool = True):
        if every not in ("step", "epoch"):
            raise ValueError(f"every: expected 'step' or 'epoch', got {every!r}")
        self.every, self.sigma = every, bool(sigma)
        self.steps, self.records = [], []
        self.failed = None
        self._installed = False

    # -- callback hooks ----------------------------------------------------------------------
    def on_train_begin(self):
        """Start recording on the callback's model (``attach``)."""
        self.attach(self.model)

    def on_epoch_begin(self, epoch):
        """Note the epoch, for the records of its steps.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based.
        """
        self._epoch = epoch
        self._pending = None

    def on_epoch_end(self, epoch, logs):
        """With ``every="epoch"``: keep the full record of the epoch's last step.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based.
        logs : dict of str to float
            The epoch's logs (unused).
        """
        if self.every == "epoch" and self._pending is not None:
            self.records.append(self._finish(*self._pending))
            self._pending = None

    def on_train_end(self):
        """Stop recording (``detach``)."""
        self.detach()

    # -- hooking into a model ----------------------------------------------------------------
    def attach(self, model):
        """Start recording on ``model`` (done by ``fit`` through the callback hooks); nothing if attached already.

        Parameters
        ----------
        model : rnnkit.model.Sequential
            The model whose training steps to record.

        Returns
        -------
        GradientRecorder
            This recorder (``rec = GradientRecorder().attach(model)``).
        """
        if self._installed:
            return self
        self.model = model
        self._layers = recurrent_layers(model)
        for _, layer in self._layers:
            layer.record_dh = []
        self._epoch, self._pending = 0, None
        original = model.train_step          # the bound method; restored by ``detach``

        def train_step(*batch):
            weights = _weights(self._layers) if self.sigma else None
            try:
                loss, out = original(*batch)
            except BaseException as exc:
                self._on_failure(exc)
                raise
            self._after_step(loss, weights)
            return loss, out

        model.train_step = train_step
        self._installed = True
        return self

    def detach(self):
        """Stop recording: restore the model's ``train_step`` and the layers' ``record_dh = None``."""
        if not self._installed:
            return
        self.model.__dict__.pop("train_step", None)
        for _, layer in self._layers:
            layer.record_dh = None
        self._installed = False

    # -- per step ----------------------------------------------------------------------------
    def _collect_dh(self):
        entries = {}
        for name, layer in self._layers:
            entries[name] = layer.record_dh[-1] if layer.record_dh else {}
            layer.record_dh.clear()
        return entries

    def _after_step(self, loss, weights):
        m = self.model
        row = {"step": len(self.steps), "epoch": self._epoch, "loss": float(loss),
               "grad_norm": float(m.last_grad_norm),
               "grad_norm_clipped": float(getattr(m, "last_grad_norm_clipped", m.last_grad_norm))}
        self.steps.append(row)
        pending = (row, weights, self._collect_dh())
        if self.every == "step":
            self.records.append(self._finish(*pending))
        else:
            self._pending = pending

    def _finish(self, row, weights, entries):
        return {**row, "layers": _layer_record(self._layers, weights, entries, with_sigma=self.sigma)}

    def _on_failure(self, exc):
        if isinstance(exc, TrainingError):
            with np.errstate(over="ignore", invalid="ignore"):
                norm = optim.global_norm(self.model._grads())
            self.failed = len(self.steps)
            self.steps.append({"step": self.failed, "epoch": self._epoch, "loss": float("nan"),
                               "grad_norm": norm, "grad_norm_clipped": float("nan"), "failed": True})
        if self._pending is not None:           # every="epoch": keep the last good step's record
            self.records.append(self._finish(*self._pending))
            self._pending = None
        self.detach()

    # -- convenience -------------------------------------------------------------------------
    def series(self, key):
        """One scalar per optimizer step as an array, e.g. ``series("grad_norm")``.

        Parameters
        ----------
        key : str
            A key of the ``steps`` rows: "step", "epoch", "loss", "grad_norm" or "grad_norm_clipped".

        Returns
        -------
        numpy.ndarray of float64
            (number of steps,) values.
        """
        return np.array([row[key] for row in self.steps], dtype=float)

    def dh_norms(self, layer=None, suffix="_l0", index=-1):
        """The dL/dh_t norms of one full record for one layer and sub-RNN.

        Parameters
        ----------
        layer : str or None, optional
            The layer's name, as in ``recurrent_layers`` (e.g. "0.lstm"); None (default): the first
            recurrent layer.
        suffix : str, optional
            The sub-RNN: "_l0" (default) for the first (forward) one, "_l1", "_l0_reverse", ...
        index : int, optional
            The record, an index into ``records`` (default -1: the last).

        Returns
        -------
        numpy.ndarray
            (T,) the mean over the batch's sequences of ||dL/dh_t||_2, for every step t.

        Raises
        ------
        ValueError
            If nothing has been recorded yet.
        """
        if not self.records:
            raise ValueError("dh_norms: nothing recorded yet")
        rec = self.records[index]["layers"]
        name = layer if layer is not None else next(iter(rec))
        return rec[name][suffix]["dh_norms"]


# ----------------------------------------------------------------------------------------------
# Plots (matplotlib, Agg: files only)

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_dh_norms(records, path, title=None):
    """Plot ||dL/dh_t|| against t on a log scale, one curve per entry of ``records``.

    Zeros (underflow) and NaNs are left out of the log plot. Drawn with matplotlib (Agg: files only).

    Parameters
    ----------
    records : dict
        {label: (T,) array} (e.g. {"rnn": ..., "lstm": ..., "gru": ...}) or
        {label: {sublabel: (T,) array}} (e.g. {"rnn": {"init": ..., "trained": ...}}: one colour per label,
        one line style per sublabel).
    path : str or os.PathLike
        The image file to write (its extension chooses the format, e.g. ".png").
    title : str or None, optional
        The plot's title (default: "Gradient reaching h_t through time").

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from rnnkit.diagnostics import plot_dh_norms
    >>> plot_dh_norms({"rnn": np.array([1e-3, 1e-2, 1e-1, 1.0]), "lstm": np.ones(4)}, "dh.png")
    >>> Path("dh.png").exists()
    True
    """
    plt = _pyplot()
    styles = ["-", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, (label, val) in enumerate(records.items()):
        curves = val.items() if isinstance(val, dict) else [(None, val)]
        for j, (sub, arr) in enumerate(curves):
            a = np.asarray(arr, dtype=float).copy()
            a[~(a > 0)] = np.nan
            ax.plot(np.arange(len(a)), a, styles[j % len(styles)], color=f"C{i}", lw=1.6,
                    label=label if sub is None else f"{label} ({sub})")
    ax.set_yscale("log")
    ax.set_xlabel("time step t (the loss reads the last step)")
    ax.set_ylabel("mean ||dL/dh_t||")
    ax.set_title(title or "Gradient reaching h_t through time")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_grad_norms(runs, path, title=None):
    """Global gradient norm per optimizer step (before clipping: solid; after: dashed) and the loss,
    for several runs.

    A run that stopped on NaN/inf is marked with an x at its last step. Drawn with matplotlib (Agg:
    files only).

    Parameters
    ----------
    runs : dict
        {label: GradientRecorder or list of its ``steps`` rows}.
    path : str or os.PathLike
        The image file to write (its extension chooses the format, e.g. ".png").
    title : str or None, optional
        The figure's title (default: "Gradient clipping").

    Examples
    --------
    >>> from pathlib import Path
    >>> from rnnkit.diagnostics import plot_grad_norms
    >>> steps = [{"step": i, "loss": 1.0 / (i + 1), "grad_norm": 2.0, "grad_norm_clipped": 1.0} for i in range(3)]
    >>> plot_grad_norms({"clip_norm=1": steps}, "grad_norms.png")
    >>> Path("grad_norms.png").exists()
    True
    """
    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for i, (label, rec) in enumerate(runs.items()):
        rows = rec.steps if isinstance(rec, GradientRecorder) else list(rec)
        ok = [r for r in rows if not r.get("failed")]
        s = np.array([r["step"] for r in ok])
        g = np.array([r["grad_norm"] for r in ok], float)
        gc = np.array([r["grad_norm_clipped"] for r in ok], float)
        loss = np.array([r["loss"] for r in ok], float)
        c = f"C{i}"
        mk = dict(marker="o", ms=4) if len(ok) < 20 else {}      # short runs stay visible
        a1.plot(s, g, "-", color=c, lw=1, label=f"{label}: before clipping", **mk)
        if not np.allclose(g, gc, equal_nan=True):
            a1.plot(s, gc, "--", color=c, lw=1, label=f"{label}: after clipping")
        a2.plot(s, loss, "-", color=c, lw=1, label=label, **mk)
        if len(ok) < len(rows):                                   # stopped on NaN/inf: mark where
            bad = rows[-1]["step"]
            a2.plot([bad], [np.nanmax(loss) if len(loss) else 1.0], "x", color=c, ms=10, mew=2,
                    label=f"{label}: NaN/inf at step {bad}, stopped")
    a1.set_yscale("log")
    a1.set_xlabel("optimizer step (0 = first)")
    a1.set_ylabel("global gradient norm")
    a2.set_yscale("log")
    a2.set_xlabel("optimizer step (0 = first)")
    a2.set_ylabel("training loss (batch)")
    for a in (a1, a2):
        a.grid(alpha=0.3, which="both")
        a.legend(fontsize=7)
    fig.suptitle(title or "Gradient clipping")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
