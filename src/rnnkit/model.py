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
import fnmatch

import numpy as np

from . import _model_config, _model_data, io, optim
from .callbacks import CallbackList, History
from .layers import Dense, Embedding, Flatten, Layer, Recurrent
from .metrics import get as get_metric
from .ops import activations as A
from .ops import ctc, ctc_decode
from .ops import losses as L

LOSSES = ("mse", "binary_crossentropy", "crossentropy", "ctc")


class TrainingError(RuntimeError):
    """Training stopped because the loss or a gradient became NaN/inf; the weights are the last good ones."""


class Sequential:
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

    # -- set-up --------------------------------------------------------------------------------
    def compile(self, loss="mse", optimizer="adam", lr=None, metrics=(), clip_norm=None,
                clip_value=None, l1=0.0, l2=0.0, regularize=("*W_*", "*.E"), ctc_blank=0):
        """Choose the loss, the optimiser and the regularisation (seed §3.2-3.3).

        ``loss``: "mse", "binary_crossentropy" (from logits), "crossentropy" (softmax, from logits;
        integer targets or probabilities) or "ctc". ``l1``/``l2`` penalise the parameters whose
        "layer_index.name" matches one of the ``regularize`` patterns (fnmatch; default: every weight
        matrix and embedding, no biases); ``clip_norm`` clips the global gradient norm,
        ``clip_value`` each element.
        """
        if loss not in LOSSES:
            raise ValueError(f"loss: expected one of {LOSSES}, got {loss!r}")
        for name, v in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if v is not None and not v > 0:
                raise ValueError(f"{name}: expected a positive number or None, got {v!r}")
        if l1 < 0 or l2 < 0:
            raise ValueError(f"l1/l2: penalties must be >= 0, got l1={l1!r}, l2={l2!r}")
        self.metrics = {m: get_metric(m) for m in metrics}
        self.loss = loss
        self.optimizer = optim.get(optimizer, lr)
        self.clip_norm, self.clip_value, self.l1, self.l2 = clip_norm, clip_value, l1, l2
        self.regularize = [regularize] if isinstance(regularize, str) else list(regularize)
        self.ctc_blank = ctc_blank
        return self

    def build(self, input_size: int):
        """Create every layer's weights for inputs with ``input_size`` features (or a vocabulary)."""
        if self.input_size is not None:
            if input_size != self.input_size:
                raise ValueError(f"X: the model was built for {self.input_size} input features, got {input_size}")
            return self
        size = input_size
        for layer in self.layers:
            if not layer.built:
                layer.build(size, self.rng, self.dtype)
            size = layer.output_size(size)
        self.input_size = input_size
        self.output_size = size
        return self

    @property
    def takes_tokens(self):
        return isinstance(self.layers[0], Embedding)

    def output_is_sequence(self, input_is_sequence=True):
        seq = input_is_sequence
        for layer in self.layers:
            seq = layer.returns_sequence(seq)
        return seq

    # -- data ----------------------------------------------------------------------------------
    def _inputs(self, X, lengths=None):
        """User input -> (padded array, lengths or None, is_sequence), validated; builds the model."""
        vocab = self.layers[0].vocab_size if self.takes_tokens else None
        X, lengths, seq = _model_data.inputs(X, lengths, self.dtype, vocab)
        self.build(vocab if vocab is not None else X.shape[-1])
        return X, lengths, seq

    def _targets(self, y, n, T, seq_out, lengths=None):
        return _model_data.targets(y, n, T, seq_out, lengths, self.loss, self.output_size, self.dtype)

    # -- the network ---------------------------------------------------------------------------
    def forward(self, X, lengths=None, training=False):
        """The network's raw output for one batch (no batching, no padding of the result)."""
        X, lengths, _ = self._inputs(X, lengths)
        return self._forward(X, lengths, training)

    def _forward(self, x, lengths, training):
        for layer in self.layers:           # inputs checked once, by _inputs
            x = layer.call(x, lengths, training)
        return x

    def backward(self, dy):
        """Backpropagate dL/d output through every layer (after a forward); fills each layer's grads."""
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def _loss(self, out, y, lengths, mask):
        """(loss, d_loss/d_out) for one batch; ``mask`` marks the counted steps of per-step outputs."""
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
        """A deep copy of every weight, keyed "layer_index.name"."""
        return {k: v.copy() for k, v in self._params().items()}

    def set_weights(self, weights):
        params = self._params()
        for k, v in weights.items():
            if k not in params or params[k].shape != np.shape(v):
                raise ValueError(f"weights: {k!r} does not fit this model")
            params[k][...] = v

    def compute_gradients(self, X, y, lengths=None, training=True):
        """``(loss, grads)`` on (X, y) as one batch, without changing the weights: the loss with its
        L1/L2 penalty and the gradient of every parameter ("layer_index.name", copies). ``training``
        turns dropout on (as in ``fit``) or off."""
        if self.loss is None:
            raise RuntimeError("compute_gradients: call compile(loss=...) first (the loss defines the gradient)")
        Xp, lp, seq = self._inputs(X, lengths)
        seq_out = self.output_is_sequence(seq)
        yp = self._targets(y, len(Xp), Xp.shape[1] if seq else None, seq_out, lp)
        mask = _model_data.step_mask(lp, Xp.shape[1] if seq else None, seq_out)
        with np.errstate(over="ignore", invalid="ignore"):
            loss, _, grads = self._gradients(Xp, yp, lp, mask, training)
        return loss, {k: g.copy() for k, g in grads.items()}

    def _gradients(self, xb, yb, lb, mask, training):
        """(loss with penalty, output, grads) for one checked batch; grads are the layers' arrays."""
        out = self._forward(xb, lb, training)
        loss, dout = self._loss(out, yb, lb, mask)
        self.backward(dout)
        params, grads = self._params(), self._grads()
        if self.l1 or self.l2:
            names = [k for k in params if any(fnmatch.fnmatchcase(k, p) for p in self.regularize)]
            if not names:
                raise ValueError(f"regularize: no parameter matches {self.regularize} "
                                 f"(parameters: {sorted(params)})")
            pen, pgrads = optim.penalty(params, self.l1, self.l2, names)
            loss = loss + pen
            for k, g in pgrads.items():
                grads[k] = grads[k] + g
        return float(loss), out, grads

    def train_step(self, xb, yb, lb, mask):
        """One gradient step on a checked batch; returns (loss, output). Refuses to update on a
        non-finite loss or gradient (the weights stay the last good ones)."""
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are caught just below
            loss, out, grads = self._gradients(xb, yb, lb, mask, training=True)
        if not np.isfinite(loss) or not all(np.isfinite(g).all() for g in grads.values()):
            raise TrainingError(
                f"training stopped: the loss became {loss} (a NaN/inf loss or gradient) at optimizer step "
                f"{self.optimizer.iterations + 1}; the weights are the last good ones. Lower the learning "
                f"rate, clip gradients (clip_norm=1.0) or check the data for extreme values.")
        self.last_grad_norm = optim.global_norm(grads)
        if self.clip_value is not None:
            optim.clip_by_value(grads, self.clip_value)
        if self.clip_norm is not None:
            optim.clip_by_global_norm(grads, self.clip_norm)
        clipped = self.clip_value is not None or self.clip_norm is not None
        self.last_grad_norm_clipped = optim.global_norm(grads) if clipped else self.last_grad_norm
        self.optimizer.step(self._params(), grads)
        return loss, out

    # -- public API ----------------------------------------------------------------------------
    def fit(self, X, y, epochs=1, batch_size=32, lengths=None, validation_data=None,
            validation_split=0.0, callbacks=(), shuffle=True, verbose=1):
        """Train; returns the ``History`` (also kept as ``self.history``)."""
        if self.loss is None:
            raise RuntimeError("fit: call compile(loss=..., optimizer=...) first")
        if int(epochs) < 0:
            raise ValueError(f"epochs: expected >= 0, got {epochs!r}")
        Xp, lp, seq = self._inputs(X, lengths)
        seq_out = self.output_is_sequence(seq)
        yp = self._targets(y, len(Xp), Xp.shape[1] if seq else None, seq_out, lp)
        val = validation_data
        if val is None and validation_split:
            val, (Xp, yp, lp) = _model_data.split_validation(Xp, yp, lp, validation_split, self.seed)
        n = len(Xp)
        for cb in callbacks:  # fail before training, not after the first epoch
            monitor = getattr(cb, "monitor", "")
            if monitor.startswith("val_") and val is None:
                raise ValueError(f"callbacks: {type(cb).__name__} monitors {monitor!r}, but fit has no "
                                 "validation data (give validation_data or validation_split)")
        shuffle_rng = np.random.default_rng(None if self.seed is None else self.seed + 1)
        history = History()
        cbs = CallbackList([history, *callbacks], self)
        self.stop_training = False
        cbs.on_train_begin()
        full_len = np.full(n, Xp.shape[1]) if (seq and lp is None) else lp
        for epoch in range(int(epochs)):
            cbs.on_epoch_begin(epoch)
            batches = _model_data.epoch_batches(full_len, n, batch_size, shuffle_rng if shuffle else None)
            bar = _model_data.progress(batches, epoch, epochs, verbose)
            total, count, accum = 0.0, 0, {m: [] for m in self.metrics}
            for bi in bar:
                xb, yb, lb, mask = _model_data.batch(Xp, yp, lp, bi, seq, seq_out)
                loss, out = self.train_step(xb, yb, lb, mask)
                # weight by what the loss averaged over: steps for per-step outputs, else sequences
                w = len(bi) if not seq_out else (int(lb.sum()) if lb is not None else len(bi) * xb.shape[1])
                total += loss * w
                count += w
                for name, fn in self.metrics.items():  # on the training batches (dropout on), like Keras
                    accum[name].append((fn(out, yb, mask, self.loss), w))
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{total / count:.4f}")
            logs = {"loss": total / count}
            for name, vals in accum.items():
                logs[name] = sum(v * w for v, w in vals) / sum(w for _, w in vals)
            if val is not None:
                vX, vy = val[0], val[1]
                vl = val[2] if len(val) > 2 else None
                logs.update({f"val_{k}": v for k, v in self.evaluate(vX, vy, lengths=vl).items()})
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}: " + "  ".join(f"{k}={v:.4f}" for k, v in logs.items()))
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end()
        self.history = history
        return history

    def _outputs(self, Xp, lp, seq, batch_size=256):
        return _model_data.outputs(self._forward, Xp, lp, seq, batch_size)

    def predict(self, X, lengths=None, batch_size=256):
        """Raw model outputs (logits for classification losses), in the order of X.

        Per-step outputs come back padded to X's time axis (zeros past each length); use
        ``predict_proba`` for probabilities and ``predict_classes`` for labels.
        """
        Xp, lp, seq = self._inputs(X, lengths)
        return self._outputs(Xp, lp, seq, batch_size)

    def predict_proba(self, X, lengths=None, batch_size=256):
        out = self.predict(X, lengths, batch_size)
        if self.loss == "binary_crossentropy":
            return A.sigmoid(out)
        if self.loss in ("crossentropy", "ctc"):
            return A.softmax(out)
        raise ValueError(f"predict_proba: the model's loss is {self.loss!r}, not a classification loss")

    def predict_classes(self, X, lengths=None, batch_size=256):
        """Labels: 0/1 (binary), argmax class ids, or for CTC the greedy-decoded label sequences."""
        Xp, lp, seq = self._inputs(X, lengths)
        out = self._outputs(Xp, lp, seq, batch_size)
        if self.loss == "binary_crossentropy":
            return (out[..., 0] > 0).astype(np.int64) if out.shape[-1] == 1 else (out > 0).astype(np.int64)
        if self.loss == "crossentropy":
            return out.argmax(-1)
        if self.loss == "ctc":
            return ctc_decode.greedy_decode(out, lp, blank=self.ctc_blank)
        raise ValueError(f"predict_classes: the model's loss is {self.loss!r}, not a classification loss")

    def evaluate(self, X, y, lengths=None, batch_size=256):
        """{"loss": ..., metric: ...} on (X, y), in inference mode (no dropout)."""
        Xp, lp, seq = self._inputs(X, lengths)
        seq_out = self.output_is_sequence(seq)
        yp = self._targets(y, len(Xp), Xp.shape[1] if seq else None, seq_out, lp)
        out = self._outputs(Xp, lp, seq, batch_size)
        mask = _model_data.step_mask(lp, Xp.shape[1] if seq else None, seq_out)
        logs = {}
        if self.loss == "ctc":
            total = 0.0
            for i in range(0, len(Xp), batch_size):
                sl = slice(i, i + batch_size)
                lb = None if lp is None else lp[sl]
                o = out[sl] if lb is None else out[sl, :int(lb.max())]
                total += self._loss(o, yp[sl], lb, None)[0] * len(o)
            logs["loss"] = total / len(Xp)
        else:
            logs["loss"] = float(self._loss(out, yp, lp, mask)[0])
        for name, fn in self.metrics.items():
            logs[name] = fn(out, yp, mask, self.loss)
        return logs

    # -- inspection ----------------------------------------------------------------------------
    def summary(self, print_fn=print):
        """Layers, output shapes and parameter counts."""
        if self.input_size is None:
            raise RuntimeError("summary: the model is not built yet (call build(input_size) or fit)")
        lines = [f"{'layer':<36}{'output':<22}{'params':>10}", "-" * 68]
        size, seq_flag, total = self.input_size, self._input_is_sequence_guess(), 0
        for layer in self.layers:
            size = layer.output_size(size)
            seq_flag = layer.returns_sequence(seq_flag)
            shape = f"(B, T, {size})" if seq_flag else f"(B, {size})"
            n = layer.num_params()
            total += n
            lines.append(f"{repr(layer)[:35]:<36}{shape:<22}{n:>10,}")
        lines += ["-" * 68, f"total parameters: {total:,}"]
        text = "\n".join(lines)
        if print_fn:
            print_fn(text)
        return text

    def _input_is_sequence_guess(self):
        return any(isinstance(l, (Recurrent, Embedding, Flatten)) for l in self.layers)

    def num_params(self):
        return sum(l.num_params() for l in self.layers)

    def copy(self):
        return copy.deepcopy(self)

    # -- saving ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The architecture and settings as JSON data (what a model file's header stores): "layers"
        ([{"class", "config"}]), "dtype", "seed", "input_size", "compile" (None if not compiled)."""
        return _model_config.get_config(self)

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        """A new model from ``get_config()``'s output (fresh weights; built if "input_size" is set).
        Raises ValueError / TypeError naming what is wrong."""
        return _model_config.from_config(cls, config)

    def save(self, path, metadata=None):
        """Write the model to one file, atomically, without pickle (format: ``rnnkit.io``).

        ``metadata``: a dict of JSON data (str keys; lists, str, numbers, bool, None; tuples load back
        as lists), e.g. a vocabulary. With ``metadata=None`` the model's own ``model.metadata`` (set by
        ``load``) is kept. The file name is used as given (no extension is added); ".npz" is usual.
        """
        if metadata is None:
            metadata = getattr(self, "metadata", None) or None   # a loaded model keeps its metadata
        return io.write_model_file(path, {**self.get_config(), "metadata": metadata}, self._params())

    @classmethod
    def load(cls, path) -> Sequential:
        """A model from a file written by ``save``; ``model.metadata`` holds its metadata.

        Raises ``rnnkit.io.ModelFileError`` (a ``ValueError``) naming the file and the problem for
        anything that is not a valid rnnkit model file; ``FileNotFoundError`` if there is no file.
        """
        with io.ModelFile(path) as f:
            try:
                model = cls.from_config(f.config)
            except MemoryError:
                raise f.fail(f"the architecture is too large to build (input_size {f.config['input_size']})") from None
            except (TypeError, ValueError, KeyError) as e:
                raise f.fail(str(e)) from None
            model.set_weights(f.read_weights(model._params()))
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
