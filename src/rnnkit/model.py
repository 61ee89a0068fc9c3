"""``Sequential``: a stack of layers with fit / evaluate / predict (seed §2-§3).

    model = Sequential([Embedding(5000, 64), LSTM(64), Dense(1)], seed=0)
    model.compile(loss="binary_crossentropy", optimizer="adam", lr=1e-3, metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=10, batch_size=32, validation_split=0.1)
    model.predict(X_test)

X is a padded array (B, T, F) with optional ``lengths``, a ragged list of (T_i, F) float arrays or of
token-id arrays, or (B, F) for a model without a time axis. Targets are one per sequence, one per
time step (a recurrent layer with ``return_sequences=True``), or a label sequence for CTC.
Training batches group sequences of similar length (``data.batching.bucket_batches``).
"""
from __future__ import annotations

import copy

import numpy as np

from . import _labels, _model_config, _model_data, _training, export, io, optim
from ._training import TrainingError
from .layers import Dense, Embedding, Flatten, Layer, Recurrent
from .metrics import get as get_metric
from .ops import _checks, ctc
from .ops import losses as L

__all__ = ["Sequential", "TrainingError", "feedforward", "LOSSES"]

LOSSES = ("mse", "binary_crossentropy", "crossentropy", "ctc")


class Sequential:
    """A stack of layers trained as one model (seed §2).

    ``compile`` (loss, optimiser, clipping, L1/L2), ``fit``, ``evaluate``, ``predict`` /
    ``predict_proba`` / ``predict_classes``, ``save`` / ``load`` (``rnnkit.io``), ``export_onnx``.
    Inputs: a padded (batch, time, features) array with ``lengths``, a ragged list of (time, features)
    arrays, or token ids after an ``Embedding``. The model builds its layers on the first data it
    sees (or on ``build(input_size)``).

    Parameters
    ----------
    layers : iterable of Layer
        The layers in order (``Embedding``, ``LSTM``, ``AttentionPooling``, ``Dense``, ...); not empty.
    seed : int or None, optional
        Seeds the initial weights, shuffling and dropout (default 0); None: not reproducible.
    dtype : str or numpy.dtype, optional
        The weights' and computations' dtype: "float32" (default) or "float64".

    Raises
    ------
    TypeError
        If ``layers`` is empty or holds something that is not an rnnkit layer.
    ValueError
        If ``dtype`` is not float32 or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import LSTM, Dense
    >>> from rnnkit.model import Sequential
    >>> X = np.random.default_rng(0).standard_normal((8, 5, 3)).astype(np.float32)
    >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    >>> model = Sequential([LSTM(4), Dense(1)], seed=0).compile("binary_crossentropy", "adam", lr=0.01)
    >>> history = model.fit(X, y, epochs=2, batch_size=4, verbose=0)
    >>> model.predict(X[:2]).shape, model.predict_classes(X[:3]).shape, model.num_params()
    ((2, 1), (3,), 149)
    """
    quantized = None     # "int8" / "float16" when loaded from a quantized file (rnnkit.quantize)
    def __init__(self, layers, seed: int | None = 0, dtype="float32"):
        layers = list(layers)
        if not layers or not all(isinstance(l, Layer) for l in layers):
            raise TypeError("layers: expected a non-empty list of rnnkit layers")
        self.layers = layers
        self.seed = seed
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype: expected float32 or float64, got {self.dtype}")
        self.rng = np.random.default_rng(seed)
        self.input_size = None
        self.loss = None
        self.history = None
        self.stop_training = False
        self.classes_ = None     # the labels of class 0, 1, ... when fit on labels (rnnkit._labels)

    # -- set-up --------------------------------------------------------------------------------
    def compile(self, loss="mse", optimizer="adam", lr=None, metrics=(), clip_norm=None,
                clip_value=None, l1=0.0, l2=0.0, regularize=("*W_*", "*.E"), ctc_blank=0):
        """Choose the loss, the optimiser and the regularisation (seed §3.2-3.3).

        ``loss``: "mse", "binary_crossentropy" (from logits), "crossentropy" (softmax, from logits;
        integer targets or probabilities) or "ctc". ``l1``/``l2`` penalise the parameters whose
        "layer_index.name" matches one of the ``regularize`` patterns (fnmatch; default: every weight
        matrix and embedding, no biases); ``clip_norm`` clips the global gradient norm,
        ``clip_value`` each element.

        Parameters
        ----------
        loss : {"mse", "binary_crossentropy", "crossentropy", "ctc"}, optional
            The loss (default "mse"); the classification losses take logits.
        optimizer : str or optimiser, optional
            A name from ``rnnkit.optim`` ("adam", default; "sgd", ...) or an optimiser object.
        lr : float, optional
            The learning rate; default None (the optimiser's own default).
        metrics : str or sequence of str, optional
            Metric names from ``rnnkit.metrics`` (e.g. "accuracy"); default none.
        clip_norm : float, optional
            Clip the global gradient norm to this (> 0); default None (no clipping).
        clip_value : float, optional
            Clip each gradient element to [-clip_value, clip_value] (> 0); default None.
        l1, l2 : float, optional
            The L1 / L2 penalty weights (>= 0); default 0.
        regularize : str or sequence of str, optional
            fnmatch patterns of the penalised "layer_index.name" parameters; default
            ("*W_*", "*.E"): every weight matrix and embedding, no biases.
        ctc_blank : int, optional
            The blank label for the "ctc" loss. Default 0.

        Returns
        -------
        Sequential
            The model itself (so that ``Sequential(...).compile(...)`` chains).

        Raises
        ------
        ValueError
            If ``loss`` or a metric or optimiser name is unknown, or a number is out of range.
        TypeError
            If ``regularize`` holds something other than strings, or a number is not one.
        """
        if not isinstance(loss, str) or loss not in LOSSES:
            raise ValueError(f"loss: expected one of {LOSSES}, got {loss!r}")
        clip_norm, clip_value = (None if v is None else _checks.check_float(v, name, low=0, low_open=True)
                                 for name, v in (("clip_norm", clip_norm), ("clip_value", clip_value)))
        l1, l2 = (_checks.check_float(v, name, low=0) for name, v in (("l1", l1), ("l2", l2)))
        regularize = [regularize] if isinstance(regularize, str) else list(regularize)
        if not all(isinstance(p, str) for p in regularize):
            raise TypeError(f"regularize: expected name patterns (strings), got {regularize!r}")
        if isinstance(metrics, str):
            metrics = [metrics]
        metrics = {m: get_metric(m) for m in metrics}
        optimizer = optim.get(optimizer, lr)
        self.metrics, self.loss, self.optimizer = metrics, loss, optimizer
        self.clip_norm, self.clip_value, self.l1, self.l2 = clip_norm, clip_value, l1, l2
        self.regularize = regularize
        self.ctc_blank = _checks.check_int(ctc_blank, "ctc_blank", minimum=0)
        return self

    def build(self, input_size: int, weights: dict | None = None):
        """Create every layer's weights for inputs with ``input_size`` features (or a vocabulary).

        With ``weights`` ({"layer_index.name": array}, exactly ``weight_shapes(input_size)``) the
        layers take them instead of drawing random ones (this is how ``load`` builds). If building
        fails, no layer is left half built. Building an already built model again is a no-op.

        Parameters
        ----------
        input_size : int
            F, the input features (the vocabulary size when the first layer is an ``Embedding``).
        weights : dict, optional
            {"layer_index.name": array} with exactly ``weight_shapes(input_size)``; default None
            (random weights from the model's ``seed``).

        Returns
        -------
        Sequential
            The model itself.

        Raises
        ------
        ValueError
            If the model was built for another input size, ``weights`` does not match the
            architecture, or a layer built on its own expects another input size.
        """
        input_size = _checks.check_int(input_size, "input_size", minimum=1)
        if self.input_size is not None:
            if input_size != self.input_size:
                raise ValueError(f"X: the model was built for {self.input_size} input features, got {input_size}")
            return self
        if weights is not None:
            expected = self.weight_shapes(input_size)
            if sorted(weights) != sorted(expected):
                raise ValueError(f"weights: expected {sorted(expected)}, got {sorted(weights)}")
        size, built_now = input_size, []
        try:
            for i, layer in enumerate(self.layers):
                if not layer.built:
                    own = None if weights is None else {k.split(".", 1)[1]: v for k, v in weights.items()
                                                        if k.split(".", 1)[0] == str(i)}
                    layer.build(size, self.rng, self.dtype, params=own)
                    built_now.append(layer)
                elif layer.input_size != size:
                    raise ValueError(f"layers[{i}]: built for {layer.input_size} inputs, but receives {size}")
                elif layer.dtype != self.dtype:      # e.g. built on its own from float64 data
                    layer.build(size, self.rng, self.dtype, params=layer.params)
                size = layer.output_size(size)
        except BaseException:
            for layer in built_now:                 # leave the model as it was, and its draws too
                layer.reset()
            self.input_size, self.rng = None, np.random.default_rng(self.seed)
            raise
        self.input_size = input_size
        self.output_size = size
        return self

    def unbuild(self):
        """Back to the unbuilt model (as constructed, with a fresh generator from ``seed``)."""
        for layer in self.layers:
            layer.reset()
        self.input_size, self.rng = None, np.random.default_rng(self.seed)

    def weight_shapes(self, input_size: int, limit: int | None = None) -> dict:
        """{"layer_index.name": shape} of every weight for ``input_size`` inputs, without building.

        Parameters
        ----------
        input_size : int
            F, the input features (or the vocabulary size).
        limit : int, optional
            Refuse an architecture with more weight arrays than that; default None (no limit).

        Returns
        -------
        dict
            {"layer_index.name": tuple of int}, in layer order.

        Raises
        ------
        ValueError
            If the architecture has more than ``limit`` weight arrays.
        """
        shapes, size = {}, input_size
        for i, layer in enumerate(self.layers):
            if limit is not None and len(shapes) + layer.num_weight_arrays() > limit:
                raise ValueError(f"the architecture has more than {limit} weight arrays (far more than stored)")
            shapes.update({f"{i}.{k}": v for k, v in layer.param_shapes(size).items()})
            size = layer.output_size(size)
        return shapes

    @property
    def takes_tokens(self):
        """Whether the model reads token ids (its first layer is an ``Embedding``)."""
        return isinstance(self.layers[0], Embedding)

    def output_is_sequence(self, input_is_sequence=True):
        """Whether the model's output has a time axis, given whether its input has one.

        Parameters
        ----------
        input_is_sequence : bool, optional
            Whether the input has a time axis. Default True.

        Returns
        -------
        bool
            True when every layer keeps the time axis (e.g. ``return_sequences=True``).
        """
        seq = input_is_sequence
        for layer in self.layers:
            seq = layer.returns_sequence(seq)
        return seq

    # -- data ----------------------------------------------------------------------------------
    def _prepare(self, X, lengths=None, y=None, with_targets=False, channels_first=None, learn=False):
        """Validate a call's data against the model, then build it (only if everything fits).

        Returns ``(X, lengths, seq, seq_out, y)``: padded inputs, lengths or None, whether the input
        and the output have a time axis, and the targets aligned with the output (or None; labels
        encoded with ``classes_``, which ``learn`` sets from y's labels if the model has none).
        """
        vocab = self.layers[0].vocab_size if self.takes_tokens else None
        reads_sequences = any(isinstance(layer, (Recurrent, Flatten)) for layer in self.layers)
        X, lengths, seq = _model_data.inputs(X, lengths, self.dtype, vocab, reads_sequences, channels_first,
                                             self.input_size)
        feat = vocab if vocab is not None else X.shape[-1]
        if self.input_size is not None and feat != self.input_size:
            raise ValueError(f"X: the model was built for {self.input_size} input features, got {feat}")
        seq_out = self.output_is_sequence(seq)
        if with_targets:
            if self.loss is None:
                raise RuntimeError("compile the model first (compile(loss=...)): the loss defines the targets")
            size = feat
            for layer in self.layers:
                size = layer.output_size(size)
            y, classes = _labels.encode(y, self.loss, size, seq_out, self.classes_, learn)
            y = _model_data.targets(y, len(X), X.shape[1] if seq else None, seq_out, lengths, self.loss,
                                    size, self.dtype)
            self.classes_ = classes
        self.build(feat)
        return X, lengths, seq, seq_out, y

    # -- the network ---------------------------------------------------------------------------
    def forward(self, X, lengths=None, training=False):
        """The network's raw output for one batch (no batching, no padding of the result).

        Keeps what ``backward`` needs; builds the model on first use.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded (B, T, F) array, a ragged list of (T_i, F) arrays, token ids (B, T) or a list of
            id arrays after an ``Embedding``, or (B, F) for a model without a time axis.
        lengths : array_like of int, optional
            (B,) valid lengths of a padded X; default None (every step valid, or a ragged list's own).
        training : bool, optional
            Turn dropout on. Default False.

        Returns
        -------
        ndarray
            (B, T, out) or (B, out), the model's dtype (logits for classification losses).
        """
        X, lengths, *_ = self._prepare(X, lengths)
        return self._forward(X, lengths, training)

    def _forward(self, x, lengths, training):
        for layer in self.layers:           # inputs checked once, by _inputs
            x = layer.call(x, lengths, training)
        return x

    def backward(self, dy):
        """Backpropagate dL/d output through every layer (after a forward); fills each layer's grads.

        Parameters
        ----------
        dy : ndarray
            dL/d output, the shape of the last ``forward``'s output.

        Returns
        -------
        ndarray or None
            dL/dX, the shape of the input; None after an ``Embedding`` (integer ids).
        """
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def _loss(self, out, y, lengths, mask):
        """(loss, d_loss/d_out) for one batch; ``mask`` marks the counted steps or weighs the targets."""
        if self.loss == "ctc":
            B, T = out.shape[:2]
            in_len = np.full(B, T) if lengths is None else lengths
            loss, cache = ctc.forward(out, y, in_len, np.array([len(s) for s in y]),
                                      blank=self.ctc_blank, reduction="mean", zero_infinity=True)
            return loss, ctc.backward(cache, 1.0)
        return L.get(self.loss)(out, y, mask)

    def _params(self):
        return {f"{i}.{k}": v for i, l in enumerate(self.layers) for k, v in l.params.items()}

    def _grads(self):
        return {f"{i}.{k}": l.grads[k] for i, l in enumerate(self.layers) for k in l.params}

    def get_weights(self):
        """A deep copy of every weight, keyed "layer_index.name".

        Returns
        -------
        dict
            {"layer_index.name": ndarray} (copies), e.g. "0.W_x_l0".
        """
        return {k: v.copy() for k, v in self._params().items()}

    def set_weights(self, weights):
        """Copy weights into the built model, in place (a subset is fine).

        Parameters
        ----------
        weights : dict
            {"layer_index.name": array}, e.g. from ``get_weights``; each array of the weight's shape.

        Raises
        ------
        ValueError
            If a name is not one of the model's weights, or an array has another shape.
        """
        params = self._params()
        for k, v in weights.items():
            if k not in params or params[k].shape != np.shape(v):
                raise ValueError(f"weights: {k!r} does not fit this model")
            params[k][...] = v

    def compute_gradients(self, X, y, lengths=None, training=True):
        """``(loss, grads)`` on (X, y) as one batch, without changing the weights.

        The loss includes the L1/L2 penalty; the gradients are of every parameter.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded (B, T, F) array, a ragged list of (T_i, F) arrays, token ids (B, T) or a list of
            id arrays after an ``Embedding``, or (B, F) for a model without a time axis.
        y : array_like
            The targets, as for ``fit``.
        lengths : array_like of int, optional
            (B,) valid lengths of a padded X; default None (every step valid, or a ragged list's own).
        training : bool, optional
            Turn dropout on (as in ``fit``, the default True) or off.

        Returns
        -------
        loss : float
            The batch's loss with its penalty.
        grads : dict
            {"layer_index.name": ndarray} (copies), the shapes of the weights.

        Raises
        ------
        RuntimeError
            If the model is not compiled.
        """
        if self.loss is None:
            raise RuntimeError("compute_gradients: call compile(loss=...) first (the loss defines the gradient)")
        Xp, lp, seq, seq_out, yp = self._prepare(X, lengths, y, with_targets=True)
        mask = _model_data.step_mask(lp, Xp.shape[1] if seq else None, seq_out)
        with np.errstate(over="ignore", invalid="ignore"):
            loss, _, grads = _training.gradients(self, Xp, yp, lp, mask, training)
        return loss, {k: g.copy() for k, g in grads.items()}

    def train_step(self, xb, yb, lb, mask):
        """One gradient step on a checked batch (what ``fit`` runs per batch).

        Refuses to update on a non-finite loss or gradient (the weights stay the last good ones).
        Data-parallel inside ``rnnkit.distributed.data_parallel()`` or ``fit(..., distributed=True)``.

        Parameters
        ----------
        xb : ndarray
            The batch's padded inputs (B, T, F), token ids (B, T) or (B, F), the model's dtype.
        yb : ndarray or list
            The batch's encoded targets, aligned with the output (label sequences for CTC).
        lb : ndarray or None
            (B,) valid lengths, or None.
        mask : ndarray or None
            (B, T) valid steps or weights of the targets, or None.

        Returns
        -------
        loss : float
            The batch's loss (with the L1/L2 penalty).
        output : ndarray
            The model's output for the batch.

        Raises
        ------
        rnnkit.model.TrainingError
            If the loss or a gradient is NaN/inf (no update is made).
        """
        return _training.train_step(self, xb, yb, lb, mask)

    # -- public API ----------------------------------------------------------------------------
    def fit(self, X, y, epochs=1, batch_size=32, lengths=None, validation_data=None,
            validation_split=0.0, callbacks=(), shuffle=True, verbose=1, distributed=False, *,
            initial_epoch=0, sample_weight=None, class_weight=None, channels_first=None):
        """Train; returns the ``History`` (also kept as ``self.history``).

        X as for ``predict`` (padded with ``lengths``, a ragged list, or (B, F)); y one target per
        sequence, per step, or a label sequence (CTC); with a classification loss, labels of any kind
        (the first fit sets ``classes_``, their sorted unique values: class i = output i, binary's
        positive class ``classes_[1]``; an unknown label is a ValueError). ``validation_data`` (X, y)
        or (X, y, lengths), or ``validation_split``, a fraction held out (per class for one label per
        sequence, else at random; seeded by ``seed``); ``callbacks`` e.g. EarlyStopping;
        ``verbose`` 1 shows a progress bar (tqdm) and a line per epoch, 2 the lines only, 0 nothing.
        Batches group sequences of similar length. ``distributed=True``: data-parallel over the MPI
        job's ranks (``rnnkit.distributed``; no sample or class weights). Loop: ``rnnkit._training``.
        ``sample_weight`` (N,) per sequence, or (N, T) per step; ``class_weight`` {label: weight} (labels
        as in y; others weigh 1) or "balanced" (n / (n_classes * count_c)): the training loss becomes
        sum(w l) / sum(w); validation stays unweighted. ``channels_first`` as for ``predict``.

        ``initial_epoch`` (Keras' semantics): run epochs ``initial_epoch .. epochs-1`` (none if
        ``epochs <= initial_epoch``); callbacks and the progress lines get the true epoch. Shuffling
        and dropout masks are functions of (seed, epoch), so with a seed, ``fit(epochs=k)``, ``save``,
        ``load``, ``fit(initial_epoch=k, epochs=n)`` gives bit for bit the weights and history rows of
        ``fit(epochs=n)`` (with ``seed=None`` nothing is reproducible). Callbacks' own state
        (EarlyStopping's patience count, ReduceLROnPlateau's) is not saved: they start afresh.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded (B, T, F) array, a ragged list of (T_i, F) arrays, token ids (B, T) or a list of
            id arrays after an ``Embedding``, or (B, F) for a model without a time axis.
        y : array_like or list
            One target per sequence (N,) or (N, out), per step (N, T) or (N, T, out), or label
            sequences (CTC); labels of any kind with a classification loss.
        epochs : int, optional
            Train until this epoch (exclusive, counting from 0). Default 1.
        batch_size : int, optional
            Sequences per gradient step. Default 32.
        lengths : array_like of int, optional
            (B,) valid lengths of a padded X; default None (every step valid, or a ragged list's own).
        validation_data : tuple, optional
            (X, y) or (X, y, lengths) scored after each epoch; default None.
        validation_split : float, optional
            The fraction of the training data held out instead, in [0, 1). Default 0.
        callbacks : sequence, optional
            ``rnnkit.callbacks`` objects (EarlyStopping, ...); default none.
        shuffle : bool, optional
            Shuffle the batches each epoch. Default True.
        verbose : {0, 1, 2}, optional
            1 (default) a progress bar and a line per epoch, 2 the lines only, 0 nothing.
        distributed : bool, optional
            Data-parallel over the MPI job's ranks. Default False.
        initial_epoch : int, optional
            The epoch to start at (to resume training). Default 0.
        sample_weight : array_like, optional
            (N,) per sequence or (N, T) per step; default None.
        class_weight : dict or "balanced", optional
            {label: weight} or "balanced"; default None.
        channels_first : bool or None, optional
            True reads a (N, C, T) array or a list of (C, T_i) arrays; None (default) refuses a 3-D
            array that looks channels-first, naming the fix; False never checks.

        Returns
        -------
        rnnkit.callbacks.History
            ``history.history`` maps "loss", the metrics ("val_" too with validation data) and "lr"
            to one value per epoch.

        Raises
        ------
        RuntimeError
            If the model is not compiled.
        ValueError
            If the data, the targets or an argument does not fit the model.
        rnnkit.model.TrainingError
            If the loss or a gradient becomes NaN/inf (the weights stay the last good ones).
        """
        self.history = _training.fit(self, X, y, epochs, batch_size, lengths, validation_data,
                                     validation_split, callbacks, shuffle, verbose, distributed,
                                     initial_epoch=initial_epoch, sample_weight=sample_weight,
                                     class_weight=class_weight, channels_first=channels_first)
        return self.history

    def _outputs(self, Xp, lp, seq, batch_size=256):
        return _model_data.outputs(self._infer, Xp, lp, seq, batch_size)

    def _infer(self, x, lengths, training=False):
        """Outputs only (predict, evaluate): every layer's ``infer`` keeps nothing for backward."""
        for layer in self.layers:
            x = layer.infer(x, lengths)
        return x

    def predict(self, X, lengths=None, batch_size=256, *, channels_first=None):
        """Raw model outputs (logits for classification losses), in the order of X.

        Per-step outputs come back padded to X's time axis (zeros past each length); use
        ``predict_proba`` for probabilities and ``predict_classes`` for labels. ``channels_first``:
        True reads a (N, C, T) array or a list of (C, T_i) arrays (``lengths`` count time steps);
        None refuses a 3-D array that looks channels-first, naming the fix; False never checks.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded (B, T, F) array, a ragged list of (T_i, F) arrays, token ids (B, T) or a list of
            id arrays after an ``Embedding``, or (B, F) for a model without a time axis.
        lengths : array_like of int, optional
            (B,) valid lengths of a padded X; default None (every step valid, or a ragged list's own).
        batch_size : int, optional
            Sequences per forward pass (memory, not results). Default 256.
        channels_first : bool or None, optional
            True reads a (N, C, T) array or a list of (C, T_i) arrays; None (default) refuses a 3-D
            array that looks channels-first, naming the fix; False never checks.

        Returns
        -------
        ndarray
            (N, out) or, for per-step outputs, (N, T, out); the model's dtype.

        Raises
        ------
        ValueError
            If X does not fit the model.
        """
        batch_size = _checks.check_int(batch_size, "batch_size", minimum=1)
        Xp, lp, seq, *_ = self._prepare(X, lengths, channels_first=channels_first)
        return self._outputs(Xp, lp, seq, batch_size)

    def predict_proba(self, X, lengths=None, batch_size=256, *, channels_first=None):
        """Probabilities: softmax, columns in ``classes_`` order (when set); binary: P(class 1).

        P(class 1) is the positive class ``classes_[1]``. Arguments as for ``predict``.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded (B, T, F) array, a ragged list of (T_i, F) arrays, token ids (B, T) or a list of
            id arrays after an ``Embedding``, or (B, F) for a model without a time axis.
        lengths : array_like of int, optional
            (B,) valid lengths of a padded X; default None (every step valid, or a ragged list's own).
        batch_size : int, optional
            Sequences per forward pass (memory, not results). Default 256.
        channels_first : bool or None, optional
            True reads a (N, C, T) array or a list of (C, T_i) arrays; None (default) refuses a 3-D
            array that looks channels-first, naming the fix; False never checks.

        Returns
        -------
        ndarray
            The shape of ``predict``'s output: (N, n_classes), (N, 1) for binary, per step (N, T, ...).

        Raises
        ------
        ValueError
            If the loss is not a classification loss, or X does not fit the model.
        """
        return _model_data.probabilities(self.predict(X, lengths, batch_size, channels_first=channels_first),
                                         self.loss)

    def predict_classes(self, X, lengths=None, batch_size=256, *, channels_first=None):
        """Labels: 0/1 (binary), argmax class ids, or for CTC the greedy-decoded label sequences.

        The original labels (``classes_[id]``) if fit on labels. Arguments as for ``predict``.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded (B, T, F) array, a ragged list of (T_i, F) arrays, token ids (B, T) or a list of
            id arrays after an ``Embedding``, or (B, F) for a model without a time axis.
        lengths : array_like of int, optional
            (B,) valid lengths of a padded X; default None (every step valid, or a ragged list's own).
        batch_size : int, optional
            Sequences per forward pass (memory, not results). Default 256.
        channels_first : bool or None, optional
            True reads a (N, C, T) array or a list of (C, T_i) arrays; None (default) refuses a 3-D
            array that looks channels-first, naming the fix; False never checks.

        Returns
        -------
        ndarray or list
            (N,) labels, (N, T) per step, or for CTC a list of N label sequences.

        Raises
        ------
        ValueError
            If the loss is not a classification loss, or X does not fit the model.
        """
        batch_size = _checks.check_int(batch_size, "batch_size", minimum=1)
        Xp, lp, seq, *_ = self._prepare(X, lengths, channels_first=channels_first)
        return _model_data.labels(self._outputs(Xp, lp, seq, batch_size), lp, self.loss, self.classes_,
                                  self.ctc_blank)

    def evaluate(self, X, y, lengths=None, batch_size=256, *, channels_first=None):
        """{"loss": ..., metric: ...} on (X, y), in inference mode (no dropout), unweighted.

        Labels are encoded with ``classes_`` (an unknown one is a ValueError); ``channels_first`` as
        for ``predict``.

        Parameters
        ----------
        X : array_like or list of array_like
            A padded (B, T, F) array, a ragged list of (T_i, F) arrays, token ids (B, T) or a list of
            id arrays after an ``Embedding``, or (B, F) for a model without a time axis.
        y : array_like or list
            The targets, as for ``fit``.
        lengths : array_like of int, optional
            (B,) valid lengths of a padded X; default None (every step valid, or a ragged list's own).
        batch_size : int, optional
            Sequences per forward pass (memory, not results). Default 256.
        channels_first : bool or None, optional
            True reads a (N, C, T) array or a list of (C, T_i) arrays; None (default) refuses a 3-D
            array that looks channels-first, naming the fix; False never checks.

        Returns
        -------
        dict
            {"loss": float, metric name: float, ...} for the compiled metrics.

        Raises
        ------
        RuntimeError
            If the model is not compiled.
        ValueError
            If the data or a label does not fit the model.
        """
        batch_size = _checks.check_int(batch_size, "batch_size", minimum=1)
        Xp, lp, seq, seq_out, yp = self._prepare(X, lengths, y, with_targets=True, channels_first=channels_first)
        return _model_data.scores(self, Xp, lp, seq, seq_out, yp, batch_size)

    # -- inspection ----------------------------------------------------------------------------
    def summary(self, input_size=None, print_fn=print):
        """Layers, output shapes and parameter counts (printed with ``print_fn`` and returned).

        An unbuilt model given ``input_size`` (features, or vocabulary size) counts without building.

        Parameters
        ----------
        input_size : int, optional
            The input size to count for; default None (the built model's).
        print_fn : callable or None, optional
            Called with the text (default ``print``); None prints nothing.

        Returns
        -------
        str
            The table, one line per layer and a total.
        """
        text = _model_config.summary(self, input_size)
        if print_fn:
            print_fn(text)
        return text

    def num_params(self):
        """The number of trainable scalars in all layers (0 before the model is built).

        Returns
        -------
        int
            The total parameter count.
        """
        return sum(l.num_params() for l in self.layers)

    def copy(self):
        """A deep copy: weights, optimiser state and settings, independent of this model.

        Returns
        -------
        Sequential
            The copy.
        """
        return copy.deepcopy(self)

    # -- saving ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The architecture and settings as JSON data (what a model file's header stores).

        Returns
        -------
        dict
            "layers" ([{"class", "config"}]), "dtype", "seed", "input_size", "compile" (None if not
            compiled), and the model's other saved settings.
        """
        return _model_config.get_config(self)

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        """A new model from ``get_config()``'s output (fresh weights; built if "input_size" is set).

        Parameters
        ----------
        config : dict
            ``get_config()``'s output (or its JSON round trip).

        Returns
        -------
        Sequential
            The new model, compiled if the config was.

        Raises
        ------
        ValueError
            If a key is missing or a value is invalid (the message names it).
        TypeError
            If ``config`` or a value has the wrong type.
        """
        return _model_config.from_config(cls, config)

    def save(self, path, metadata=None, include_optimizer=True, quantize=None):
        """Write the model to one file, atomically, without pickle (format: ``rnnkit.io``).

        ``metadata``: a dict of JSON data (str keys; lists, str, numbers, bool, None; tuples load back
        as lists), e.g. a vocabulary. With ``metadata=None`` the model's own ``model.metadata`` (set by
        ``load``) is kept. ``include_optimizer``: also store the optimiser's state (step count, moments)
        so that a loaded model resumes training exactly (``fit(..., initial_epoch=k)``); False writes a
        smaller file for inference. The file name is used as given (no extension is added); ".npz" is usual.
        ``quantize`` "int8" / "float16": weight matrices ~4x / 2x smaller, for inference (``rnnkit.quantize``).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists).
        metadata : dict, optional
            JSON data stored with the model; default None (keep ``model.metadata``, if any).
        include_optimizer : bool, optional
            Also store the optimiser's state. Default True.
        quantize : {None, "int8", "float16"}, optional
            Store the weight matrices quantized. Default None.

        Returns
        -------
        str or os.PathLike
            ``path``.

        Raises
        ------
        ValueError
            If the model is partly built, or ``quantize`` is unknown.
        TypeError
            If ``metadata`` is not JSON data (e.g. a key is not a string).
        """
        if metadata is None:
            metadata = getattr(self, "metadata", None) or None   # a loaded model keeps its metadata
        keep = _checks.check_bool(include_optimizer, "include_optimizer") and self.loss is not None
        state = self.optimizer.get_state() if keep else None
        return io.write_model_file(path, {**self.get_config(), "metadata": metadata}, self._params(), state, quantize)

    def export_onnx(self, path, opset=17, quantize=None):
        """Write the built model as an ONNX graph; see ``rnnkit.export.onnx``.

        Parameters
        ----------
        path : str or os.PathLike
            The .onnx file to write (atomically).
        opset : int, optional
            The ONNX opset version. Default 17.
        quantize : {None, "int8", "fp16"}, optional
            Quantize the weights. Default None.

        Returns
        -------
        str or os.PathLike
            ``path``.

        Raises
        ------
        ValueError
            If the model is not built, ``opset`` is out of range, or ``quantize`` is unknown.
        """
        return export.onnx.export(self, path, opset=opset, quantize=quantize)

    @classmethod
    def load(cls, path) -> Sequential:
        """A model from a file written by ``save``; ``model.metadata`` holds its metadata, ``model.quantized``
        its quantization (None if none). It comes back compiled as saved, with the optimiser's state if stored.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by ``save``.

        Returns
        -------
        Sequential
            The model, built with the stored weights (nothing random is drawn).

        Raises
        ------
        rnnkit.io.ModelFileError
            A ``ValueError`` naming the file and the problem, for anything that is not a valid rnnkit
            model file.
        FileNotFoundError
            If there is no file.
        """
        with io.ModelFile(path) as f:
            input_size = f.config["input_size"]
            try:                     # the architecture, compared with the stored shapes before building
                model = _model_config.from_config(cls, f.config, build=False)
                # (a bound on the count first: a hostile num_layers must not make us list 10**12 names)
                expected = {} if input_size is None else model.weight_shapes(input_size, limit=len(f.names) + 1024)
            except (TypeError, ValueError, KeyError, OverflowError) as e:
                raise f.fail(str(e)) from None
            f.check_architecture(expected)
            weights = f.read_weights()
            if input_size is not None:
                try:                 # takes the stored weights: nothing random is drawn
                    model.build(input_size, weights=weights)
                except (TypeError, ValueError, MemoryError) as e:
                    raise f.fail(f"the architecture cannot be built ({type(e).__name__}: {e})") from None
            if model.loss is not None:
                f.restore_optimizer(model.optimizer, model._params())
        model.metadata = f.config["metadata"] or {}
        return model


def feedforward(hidden_units, outputs, activation="relu", window=None, seed=0, dtype="float32"):
    """The network without hidden state of seed §2.1: h = f(W_1 x + b_1), y = W_2 h + b_2.

    With ``window=T`` it reads (B, T, F) windows, flattened: the same inputs as a recurrent model but
    no memory between steps, the baseline the seed motivates RNNs against. Without, it reads (B, F).
    """
    hidden = [hidden_units] if isinstance(hidden_units, int) else list(hidden_units)
    layers = ([Flatten(window)] if window else []) + [Dense(h, activation) for h in hidden] + [Dense(outputs)]
    return Sequential(layers, seed=seed, dtype=dtype)
