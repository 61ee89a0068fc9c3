"""Running an exported model in onnxruntime: ``OnnxModel``, with ``Sequential``'s inference surface.

    rnnkit.Sequential(...).export_onnx("model.onnx")          # or rnnkit.export.onnx.export(model, ...)
    m = OnnxModel("model.onnx")
    m.predict(X)                  # the same inputs and outputs as Sequential.predict
    y_t, state = m.step(x_t)      # streaming, one step for a batch; feed ``state`` back next step

Only the ``.onnx`` file is needed (no rnnkit model file): the loss, ``classes_``, the user's metadata
and the graph's layout travel in its ``metadata_props`` (``rnnkit.export.onnx``). onnxruntime is an
optional dependency (``pip install 'rnnkit[onnx]'``), imported when an ``OnnxModel`` is created.
"""
from __future__ import annotations

import json
import os

import numpy as np

from . import _labels, _model_data
from ._optional import require
from .ops import _checks

__all__ = ["OnnxModel"]


def _as_float32(a, name, ndim):
    """A float32 array of rank ``ndim`` (the graph computes in float32: float64 is rounded, not refused)."""
    a = np.asarray(a)
    return _checks.as_float_array(a.astype(np.float32) if a.dtype.kind == "f" else a, name, ndim=ndim,
                                  dtype=np.float32)


class OnnxModel:
    """An ONNX file written by ``rnnkit.export.onnx.export``, run in onnxruntime (CPU).

    Attributes: ``loss`` (None if the model was not compiled), ``classes_``, ``metadata`` (the dict
    stored at export), ``layout`` (the graph's names and shapes), ``version`` (rnnkit's at export),
    ``state_names``, ``session``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.onnx`` file.
    threads : int, optional
        onnxruntime's intra-op thread count, >= 1. Default None (its default, one per core).

    Raises
    ------
    ValueError
        For a file without rnnkit's metadata, or ``threads`` < 1.
    TypeError
        If ``threads`` is not an integer.
    ImportError
        Without onnxruntime (``pip install 'rnnkit[onnx]'``).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit import Sequential
    >>> from rnnkit.layers import LSTM, Dense
    >>> from rnnkit.runtime import OnnxModel
    >>> model = Sequential([LSTM(4), Dense(3)], seed=0).build(2).compile("crossentropy")
    >>> m = OnnxModel(model.export_onnx("model.onnx"))
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 2)).astype(np.float32)
    >>> m.loss, bool(np.allclose(m.predict(x), model.predict(x), atol=1e-5))
    ('crossentropy', True)
    """

    def __init__(self, path, threads: int | None = None):
        ort = require("onnxruntime", "onnx", "rnnkit.runtime")
        options = ort.SessionOptions()
        options.log_severity_level = 3                # errors only: no notes on graph rewrites
        if threads is not None:
            options.intra_op_num_threads = _checks.check_int(threads, "threads", minimum=1)
            options.inter_op_num_threads = 1
        self.path = os.fspath(path)
        self.session = ort.InferenceSession(self.path, sess_options=options, providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        if "rnnkit.layout" not in props:
            raise ValueError(f"path: {self.path!r} was not written by rnnkit.export.onnx (no 'rnnkit.layout' "
                             "in its metadata_props); export the model with model.export_onnx(path)")
        self.layout = json.loads(props["rnnkit.layout"])
        self.loss = props.get("rnnkit.loss") or None
        self.classes_ = _labels.as_classes(json.loads(props.get("rnnkit.classes", "null")))
        self.metadata = json.loads(props.get("rnnkit.metadata", "{}"))
        self.version = props.get("rnnkit.version")
        self.state_names = tuple(n for s in self.layout["states"] for n in s["inputs"])
        self._state_shapes = [tuple(s["shape"]) for s in self.layout["states"] for _ in s["inputs"]]

    def __repr__(self):
        return f"OnnxModel({self.path!r})"

    # -- description ---------------------------------------------------------------------------
    @property
    def inputs(self):
        """The graph's inputs: [{"name", "shape", "type"}] (dynamic axes by name: "batch", "time")."""
        return [{"name": v.name, "shape": list(v.shape), "type": v.type} for v in self.session.get_inputs()]

    @property
    def outputs(self):
        """The graph's outputs: "y" first, then the final states."""
        return [{"name": v.name, "shape": list(v.shape), "type": v.type} for v in self.session.get_outputs()]

    # -- running -------------------------------------------------------------------------------
    def run(self, x, lengths=None, state=None):
        """One batch through the graph, unchecked.

        Parameters
        ----------
        x : numpy.ndarray
            Padded inputs: (B, T) int64 token ids or (B, T, F) float32.
        lengths : array_like, optional
            (B,) valid steps per sequence. Default None (full).
        state : tuple of numpy.ndarray, optional
            Initial states in ``state_names`` order, (num_layers, B, H) float32 each. Default None (zeros).

        Returns
        -------
        y : numpy.ndarray
            The graph's output ``"y"``, float32: (B, K), or (B, T, K) for per-step outputs.
        states : tuple of numpy.ndarray
            The final states, in ``state_names`` order.
        """
        B = x.shape[0]
        feed = {"x": x}
        if self.layout["lengths"]:
            feed["lengths"] = (np.full(B, x.shape[1], np.int32) if lengths is None
                               else np.asarray(lengths, dtype=np.int32))
        for k, name in enumerate(self.state_names):
            n, _, H = self._state_shapes[k]
            feed[name] = np.zeros((n, B, H), np.float32) if state is None else state[k]
        out = self.session.run(None, feed)
        return out[0], tuple(out[1:])

    def _forward(self, x, lengths, training=False):
        return self.run(x, lengths)[0]

    def _prepare(self, X, lengths, channels_first):
        lay = self.layout
        vocab = lay["vocab_size"] if lay["tokens"] else None
        features = None if vocab else lay["input_size"]
        X, lengths, seq = _model_data.inputs(X, lengths, np.float32, vocab, lay["sequence_input"], channels_first,
                                             features)
        if seq != lay["sequence_input"]:
            want = "(batch, time, features)" if lay["sequence_input"] else "(batch, features)"
            raise ValueError(f"X: this model reads {want}, got shape {X.shape}")
        if vocab is None and X.shape[-1] != lay["input_size"]:
            raise ValueError(f"X: the model was built for {lay['input_size']} input features, got {X.shape[-1]}")
        steps = lay["time_steps"]
        if steps is not None and (X.shape[1] != steps or (lengths is not None and np.any(lengths != steps))):
            raise ValueError(f"X: the model flattens windows of {steps} steps; every sequence needs exactly "
                             f"{steps} steps, got shape {X.shape}")
        return X.astype(np.int64) if vocab else X, lengths, seq

    def predict(self, X, lengths=None, batch_size=256, *, channels_first=None):
        """Raw outputs, as ``Sequential.predict``.

        Per-step outputs come back padded to X's time axis with zeros past each length.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded array (B, T, F) float or (B, T) token ids, with optional ``lengths``; a ragged list of
            (T_i, F) arrays or token-id arrays; or (B, F) for a model without a time axis.
        lengths : array_like, optional
            (B,) valid steps per sequence of a padded X. Default None (every step).
        batch_size : int, optional
            Sequences per onnxruntime call, >= 1. Default 256.
        channels_first : bool, optional
            Keyword-only; X is (B, F, T) when True, as ``Sequential.predict``. Default None (as
            ``Sequential.predict`` decides).

        Returns
        -------
        numpy.ndarray
            float32 outputs: (B, K), or (B, T, K) for a model with per-step outputs.

        Raises
        ------
        TypeError
            If ``batch_size`` is not an integer, or X has the wrong dtype.
        ValueError
            If X does not fit the model (rank, features, vocabulary, a fixed window's length) or
            ``batch_size`` < 1.
        """
        batch_size = _checks.check_int(batch_size, "batch_size", minimum=1)
        Xp, lp, seq = self._prepare(X, lengths, channels_first)
        return _model_data.outputs(self._forward, Xp, lp, seq, batch_size)

    def predict_proba(self, X, lengths=None, batch_size=256, *, channels_first=None):
        """Probabilities, as ``Sequential.predict_proba`` (softmax; binary: P(class 1)).

        Parameters
        ----------
        X : array_like or list of array_like
            A padded array (B, T, F) float or (B, T) token ids, with optional ``lengths``; a ragged list of
            (T_i, F) arrays or token-id arrays; or (B, F) for a model without a time axis.
        lengths : array_like, optional
            (B,) valid steps per sequence of a padded X. Default None (every step).
        batch_size : int, optional
            Sequences per onnxruntime call, >= 1. Default 256.
        channels_first : bool, optional
            Keyword-only; X is (B, F, T) when True, as ``Sequential.predict``. Default None (as
            ``Sequential.predict`` decides).

        Returns
        -------
        numpy.ndarray
            Class probabilities, (B, K) (per step: (B, T, K)); for a binary model P(class 1).

        Raises
        ------
        TypeError
            If ``batch_size`` is not an integer, or X has the wrong dtype.
        ValueError
            If X does not fit the model (rank, features, vocabulary, a fixed window's length) or
            ``batch_size`` < 1, or the model's loss is not a classification loss.
        """
        return _model_data.probabilities(self.predict(X, lengths, batch_size, channels_first=channels_first),
                                         self.loss)

    def predict_classes(self, X, lengths=None, batch_size=256, *, channels_first=None):
        """Labels, as ``Sequential.predict_classes``.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded array (B, T, F) float or (B, T) token ids, with optional ``lengths``; a ragged list of
            (T_i, F) arrays or token-id arrays; or (B, F) for a model without a time axis.
        lengths : array_like, optional
            (B,) valid steps per sequence of a padded X. Default None (every step).
        batch_size : int, optional
            Sequences per onnxruntime call, >= 1. Default 256.
        channels_first : bool, optional
            Keyword-only; X is (B, F, T) when True, as ``Sequential.predict``. Default None (as
            ``Sequential.predict`` decides).

        Returns
        -------
        numpy.ndarray or list of numpy.ndarray
            (B,) (per step: (B, T)) class ids, or ``classes_[id]`` when the model has classes; CTC: a list
            of greedy-decoded label sequences.

        Raises
        ------
        TypeError
            If ``batch_size`` is not an integer, or X has the wrong dtype.
        ValueError
            If X does not fit the model (rank, features, vocabulary, a fixed window's length) or
            ``batch_size`` < 1, or the model's loss is not a classification loss.
        """
        batch_size = _checks.check_int(batch_size, "batch_size", minimum=1)
        Xp, lp, seq = self._prepare(X, lengths, channels_first)
        return _model_data.labels(_model_data.outputs(self._forward, Xp, lp, seq, batch_size), lp, self.loss,
                                  self.classes_, self.layout["ctc_blank"])

    # -- streaming -----------------------------------------------------------------------------
    def initial_state(self, batch_size: int = 1):
        """Zero states for ``step``.

        Parameters
        ----------
        batch_size : int, optional
            B, >= 1. Default 1.

        Returns
        -------
        tuple of numpy.ndarray
            (num_layers, B, H) float32 zeros, in ``state_names`` order.

        Raises
        ------
        TypeError
            If ``batch_size`` is not an integer.
        ValueError
            If ``batch_size`` < 1.
        """
        B = _checks.check_int(batch_size, "batch_size", minimum=1)
        return tuple(np.zeros((n, B, H), np.float32) for n, _, H in self._state_shapes)

    def step(self, x_t, state=None):
        """One time step for a batch, for streaming.

        Stepping through a sequence equals ``predict`` on the whole of it.

        Parameters
        ----------
        x_t : array_like
            This step's inputs: (B, F) floats or (B,) token ids.
        state : tuple of numpy.ndarray, optional
            None (zeros) or the tuple the previous step returned (``state_names`` order: h (and c) of each
            recurrent layer, (num_layers, B, H) each). Default None.

        Returns
        -------
        y_t : numpy.ndarray
            The output at this step, (B, K) float32; for a model returning the last step only, what it
            would return if the sequences ended here.
        state : tuple of numpy.ndarray
            The new states, to feed to the next step.

        Raises
        ------
        ValueError
            For a bidirectional model, one with TemporalPooling or one without a time axis (they need the
            whole sequence), or an ``x_t`` or ``state`` of the wrong shape or values.
        TypeError
            If ``state`` is not a tuple of the right length, or ``x_t`` has the wrong dtype.
        """
        lay = self.layout
        if not lay["sequence_input"] or lay["time_steps"] is not None:
            raise ValueError("step: this model has no recurrence over time (no time axis, or a fixed window "
                             "flattened by Flatten); use predict()")
        if lay.get("pooling"):          # files from before TemporalPooling was exported have no key
            raise ValueError(f"step: TemporalPooling({lay['pooling'][0]!r}) pools over the whole sequence, so no "
                             "single step has the model's output; use predict()")
        if any(s["bidirectional"] for s in lay["states"]):
            raise ValueError("step: a bidirectional layer needs the whole sequence (its reverse direction starts "
                             "at the end); use predict()")
        if lay["tokens"]:
            if np.ndim(x_t) != 1:
                raise ValueError(f"x_t: expected (batch,) token ids, got shape {np.shape(x_t)}")
            x = _checks.check_token_ids(np.asarray(x_t)[:, None], lay["vocab_size"], "x_t").astype(np.int64)
        else:
            x_t = _as_float32(x_t, "x_t", 2)
            if x_t.shape[1] != lay["input_size"]:
                raise ValueError(f"x_t: expected shape (batch, {lay['input_size']}), got {x_t.shape}")
            x = x_t[:, None]
        state = self._check_state(state, x.shape[0])
        y, new = self.run(x, None, state)
        return (y[:, 0] if lay["sequence_output"] else y), new

    def _check_state(self, state, B):
        if state is None:
            return None
        if not isinstance(state, (tuple, list)) or len(state) != len(self.state_names):
            raise TypeError(f"state: expected a tuple of {len(self.state_names)} arrays {self.state_names} "
                            f"(what step returned), got {type(state).__name__}")
        out = []
        for name, s, (n, _, H) in zip(self.state_names, state, self._state_shapes):
            s = _as_float32(s, f"state {name}", 3)
            if s.shape != (n, B, H):
                raise ValueError(f"state {name}: expected shape {(n, B, H)} (layers*directions, batch, hidden), "
                                 f"got {s.shape}")
            out.append(s)
        return tuple(out)
