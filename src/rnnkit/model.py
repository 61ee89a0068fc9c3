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

from . import optim
from .data.batching import bucket_batches, length_mask, pad_sequences
from .layers import Dense, Embedding, Flatten, Layer
from .ops import _checks
from .ops import activations as A
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
        from .metrics import get as get_metric
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
        """User input -> (padded array, lengths or None, is_sequence)."""
        if isinstance(X, (list, tuple)):
            if lengths is not None:
                raise ValueError("lengths: give lengths only with a padded array, not with a ragged list")
            Xp, lengths = pad_sequences(X)
            X = Xp
        X = np.asarray(X)
        if X.size == 0 or X.shape[0] == 0:
            raise ValueError(f"X: empty input (shape {X.shape})")
        if self.takes_tokens:
            if not np.issubdtype(X.dtype, np.integer):
                raise TypeError(f"X: the model starts with an Embedding and expects integer token ids, got dtype {X.dtype}")
            if X.ndim != 2:
                raise ValueError(f"X: token ids must be (batch, time) or a list of 1-D arrays, got shape {X.shape}")
            seq = True
            feat = self.layers[0].vocab_size
        else:
            if X.dtype.kind not in "fiub":
                raise TypeError(f"X: expected numbers, got dtype {X.dtype}")
            if X.ndim not in (2, 3):
                raise ValueError(f"X: expected (batch, time, features) or (batch, features), got shape {X.shape}")
            X = X.astype(self.dtype, copy=False)
            if not np.isfinite(X).all():
                raise ValueError("X: contains NaN or inf")
            seq = X.ndim == 3
            feat = X.shape[-1]
        if lengths is not None:
            if not seq:
                raise ValueError("lengths: given, but X has no time axis")
            lengths = _checks.check_lengths(lengths, X.shape[0], X.shape[1])
        self.build(feat)
        return X, lengths, seq

    def _targets(self, y, n, T, seq_out, lengths=None):
        """User targets -> an array aligned with the model's output (or label sequences for CTC).

        Ragged per-step targets must have one target per input step (``lengths``, the inputs' own).
        """
        if self.loss == "ctc":
            if not isinstance(y, (list, tuple)) or len(y) != n:
                raise ValueError(f"y: CTC needs a list of {n} label sequences (one per input), got {type(y).__name__}")
            return [np.asarray(s, dtype=np.int64).reshape(-1) for s in y]
        if isinstance(y, (list, tuple)) and len(y) and np.ndim(y[0]) >= 1 and seq_out:
            if len(y) == n:
                x_len = np.full(n, T) if lengths is None else lengths
                for i, (s, L) in enumerate(zip(y, x_len)):
                    if len(s) != L:
                        raise ValueError(f"y[{i}]: expected {L} per-step targets (one per step of X[{i}]), "
                                         f"got {len(s)}")
            y, _ = pad_sequences(y, maxlen=T, name="y")
        y = np.asarray(y)
        if y.shape[0] != n:
            raise ValueError(f"y: expected {n} targets (one per input sequence), got {y.shape[0]}")
        K = self.output_size
        if self.loss == "crossentropy" and np.issubdtype(y.dtype, np.integer):
            want = (n, T) if seq_out else (n,)
            if y.shape[:len(want)] != want or y.ndim != len(want):
                raise ValueError(f"y: class ids need shape {want}, got {y.shape}")
            if y.min() < 0 or y.max() >= K:
                raise ValueError(f"y: class ids must be in [0, {K - 1}] (the model has {K} outputs), "
                                 f"got range [{y.min()}, {y.max()}]")
            return y
        if y.dtype.kind not in "fiub":
            raise TypeError(f"y: expected numeric targets, got dtype {y.dtype}")
        y = y.astype(self.dtype)
        want = (n, T, K) if seq_out else (n, K)
        if y.shape == want[:-1] and K == 1:
            y = y[..., None]
        if y.shape != want:
            raise ValueError(f"y: expected shape {want} for this model's output, got {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("y: contains NaN or inf")
        if self.loss == "binary_crossentropy" and ((y < 0) | (y > 1)).any():
            raise ValueError("y: binary cross-entropy needs targets in [0, 1]")
        return y

    # -- the network ---------------------------------------------------------------------------
    def forward(self, x, lengths=None, training=False):
        for layer in self.layers:
            x = layer.forward(x, lengths, training)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def _loss(self, out, y, lengths, seq_out):
        """(loss, d_loss/d_out) for one batch."""
        if self.loss == "ctc":
            from .ops import ctc
            B, T = out.shape[:2]
            in_len = np.full(B, T) if lengths is None else lengths
            loss, cache = ctc.forward(out, y, in_len, np.array([len(s) for s in y]),
                                      blank=self.ctc_blank, reduction="mean", zero_infinity=True)
            return loss, ctc.backward(cache, 1.0)
        mask = length_mask(lengths, out.shape[1]) if (seq_out and lengths is not None) else None
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

    def train_step(self, xb, yb, lb, seq_out):
        """One gradient step; returns (loss, output). Refuses to update on a non-finite loss/gradient."""
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are caught just below
            out = self.forward(xb, lb, training=True)
            loss, dout = self._loss(out, yb, lb, seq_out)
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
        self.optimizer.step(params, grads)
        return float(loss), out

    # -- public API ----------------------------------------------------------------------------
    def fit(self, X, y, epochs=1, batch_size=32, lengths=None, validation_data=None,
            validation_split=0.0, callbacks=(), shuffle=True, verbose=1):
        """Train; returns the ``History`` (also kept as ``self.history``)."""
        from .callbacks import CallbackList, History
        if self.loss is None:
            raise RuntimeError("fit: call compile(loss=..., optimizer=...) first")
        if int(epochs) < 0:
            raise ValueError(f"epochs: expected >= 0, got {epochs!r}")
        Xp, lp, seq = self._inputs(X, lengths)
        seq_out = self.output_is_sequence(seq)
        yp = self._targets(y, len(Xp), Xp.shape[1] if seq else None, seq_out, lp)
        n = len(Xp)
        val = None
        if validation_data is not None:
            val = validation_data
        elif validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split: expected a fraction in (0, 1), got {validation_split!r}")
            n_val = max(1, int(round(n * validation_split)))
            idx = np.random.default_rng(self.seed).permutation(n)
            vi, ti = np.sort(idx[:n_val]), np.sort(idx[n_val:])
            val = (Xp[vi], _take(yp, vi), None if lp is None else lp[vi])
            Xp, yp, lp = Xp[ti], _take(yp, ti), (None if lp is None else lp[ti])
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
            if seq:
                batches = bucket_batches(full_len, batch_size, shuffle_rng if shuffle else None)
            else:
                order = shuffle_rng.permutation(n) if shuffle else np.arange(n)
                batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
            bar = _progress(batches, epoch, epochs, verbose)
            total, count, accum = 0.0, 0, {m: [] for m in self.metrics}
            for bi in bar:
                xb, yb, lb = self._batch(Xp, yp, lp, bi, seq, seq_out)
                loss, out = self.train_step(xb, yb, lb, seq_out)
                # weight by what the loss averaged over: steps for per-step outputs, else sequences
                w = len(bi) if not seq_out else (int(lb.sum()) if lb is not None else len(bi) * xb.shape[1])
                total += loss * w; count += w
                if self.metrics:  # on the training batches as they go (dropout on), like Keras
                    mask = length_mask(lb, out.shape[1]) if (seq_out and lb is not None) else None
                    for name, fn in self.metrics.items():
                        accum[name].append((fn(out, yb, mask, self.loss, lb), w))
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

    def _batch(self, Xp, yp, lp, idx, seq, seq_out):
        xb = Xp[idx]
        lb = None if lp is None else lp[idx]
        yb = _take(yp, idx)
        if seq and lb is not None:
            T = int(lb.max())  # trim the batch to its own longest sequence
            xb = xb[:, :T]
            if seq_out and not isinstance(yb, list):
                yb = yb[:, :T]
            if (lb == T).all():
                lb = None
        return xb, yb, lb

    def _outputs(self, Xp, lp, seq, batch_size=256):
        outs = []
        n = len(Xp)
        order = np.argsort(lp, kind="stable") if lp is not None else np.arange(n)
        for i in range(0, n, batch_size):
            bi = order[i:i + batch_size]
            xb, _, lb = self._batch(Xp, None, lp, bi, seq, False)
            outs.append((bi, self.forward(xb, lb, training=False)))
        first = outs[0][1]
        if first.ndim == 3:  # per-step outputs: pad every batch back to the full time axis
            res = np.zeros((n, Xp.shape[1], first.shape[-1]), dtype=first.dtype)
            for bi, o in outs:
                T = o.shape[1]
                # steps past a sequence's length are padding: zero there, whatever the head computes
                res[bi, :T] = o if lp is None else o * length_mask(lp[bi], T)[..., None]
        else:
            res = np.zeros((n,) + first.shape[1:], dtype=first.dtype)
            for bi, o in outs:
                res[bi] = o
        return res

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
            from .ops import ctc
            return ctc.greedy_decode(out, lp, blank=self.ctc_blank)
        raise ValueError(f"predict_classes: the model's loss is {self.loss!r}, not a classification loss")

    def evaluate(self, X, y, lengths=None, batch_size=256):
        """{"loss": ..., metric: ...} on (X, y), in inference mode (no dropout)."""
        Xp, lp, seq = self._inputs(X, lengths)
        seq_out = self.output_is_sequence(seq)
        yp = self._targets(y, len(Xp), Xp.shape[1] if seq else None, seq_out, lp)
        out = self._outputs(Xp, lp, seq, batch_size)
        logs = {}
        if self.loss == "ctc":
            total = 0.0
            for i in range(0, len(Xp), batch_size):
                sl = slice(i, i + batch_size)
                lb = None if lp is None else lp[sl]
                o = out[sl] if lb is None else out[sl, :int(lb.max())]
                total += self._loss(o, yp[sl], lb, seq_out)[0] * len(o)
            logs["loss"] = total / len(Xp)
        else:
            logs["loss"] = float(self._loss(out, yp, lp, seq_out)[0])
        mask = length_mask(lp, Xp.shape[1]) if (seq_out and lp is not None) else None
        for name, fn in self.metrics.items():
            logs[name] = fn(out, yp, mask, self.loss, lp)
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
        from .layers import Recurrent
        return any(isinstance(l, (Recurrent, Embedding, Flatten)) for l in self.layers)

    def num_params(self):
        return sum(l.num_params() for l in self.layers)

    def copy(self):
        return copy.deepcopy(self)

    def save(self, path, metadata=None):
        """Write the model to one file, atomically, without pickle (format: ``rnnkit.io``)."""
        from .io import save_model
        return save_model(self, path, metadata)

    @staticmethod
    def load(path):
        """A model from a file written by ``save`` (refuses damaged or hostile files; see ``rnnkit.io``)."""
        from .io import load_model
        return load_model(path)


def feedforward(hidden_units, outputs, activation="relu", window=None, seed=0, dtype="float32"):
    """The network without hidden state of seed §2.1: h = f(W_1 x + b_1), y = W_2 h + b_2.

    With ``window=T`` it reads (B, T, F) windows, flattened: the same inputs as a recurrent model but
    no memory between steps, the baseline the seed motivates RNNs against. Without, it reads (B, F).
    """
    hidden = [hidden_units] if isinstance(hidden_units, int) else list(hidden_units)
    layers = ([Flatten(window)] if window else []) + [Dense(h, activation) for h in hidden] + [Dense(outputs)]
    return Sequential(layers, seed=seed, dtype=dtype)


def _take(y, idx):
    if y is None:
        return None
    return [y[i] for i in idx] if isinstance(y, list) else y[idx]


def _progress(batches, epoch, epochs, verbose):
    if verbose != 1:
        return batches
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: a bar is a convenience, never a requirement
        return batches
    return tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", leave=False, unit="batch")
