"""Training callbacks: History (always on), EarlyStopping, ModelCheckpoint, learning-rate schedules."""
from __future__ import annotations

import math


class Callback:
    model = None

    def on_train_begin(self): ...
    def on_epoch_begin(self, epoch): ...
    def on_epoch_end(self, epoch, logs): ...
    def on_train_end(self): ...


class CallbackList:
    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks: expected rnnkit.callbacks.Callback objects, got {type(cb).__name__}")
            cb.model = model

    def __getattr__(self, name):
        def call(*args):
            for cb in self.callbacks:
                getattr(cb, name)(*args)
        return call


class History(Callback):
    """Per-epoch logs: ``history.history["loss"]``, ``["val_loss"]``, metrics, ``["lr"]``."""

    def __init__(self):
        self.history: dict = {}
        self.epochs: list = []

    def on_epoch_end(self, epoch, logs):
        self.epochs.append(epoch)
        logs = dict(logs, lr=self.model.optimizer.lr)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))


def _better(mode, min_delta):
    if mode == "min":
        return lambda cur, best: cur < best - min_delta
    return lambda cur, best: cur > best + min_delta


def _mode(monitor, mode):
    if mode == "auto":
        return "max" if any(s in monitor for s in ("acc", "precision", "recall")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (seed §3.3).

    With ``restore_best_weights`` the model ends with the weights of its best epoch.
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=True):
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = _mode(monitor, mode)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait, self.best_epoch, self.best_weights, self.stopped_epoch = 0, None, None, None
        self._is_better = _better(self.mode, self.min_delta)

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: monitor {self.monitor!r} is not among the logs {sorted(logs)} "
                           "(give validation data to monitor val_ metrics)")
        cur = logs[self.monitor]
        if self._is_better(cur, self.best):
            self.best, self.best_epoch, self.wait = cur, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    def on_train_end(self):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model to ``path`` after an epoch (only when ``monitor`` improves, with ``save_best_only``).

    In data-parallel training only rank 0 saves (``writes_files``).

    Saving is atomic (see ``rnnkit.io``): an interrupted write leaves the previous checkpoint intact.
    """

    def __init__(self, path, monitor="val_loss", save_best_only=True, mode="auto"):
        self.path, self.monitor, self.save_best_only = path, monitor, save_best_only
        self.mode = _mode(monitor, mode)

    def on_train_begin(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self._is_better = _better(self.mode, 0.0)

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            if self.monitor not in logs:
                raise KeyError(f"ModelCheckpoint: monitor {self.monitor!r} is not among the logs {sorted(logs)}")
            if not self._is_better(logs[self.monitor], self.best):
                return
            self.best = logs[self.monitor]
        self.model.save(self.path)


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start from ``schedule(epoch, lr) -> lr``."""

    def __init__(self, schedule):
        self.schedule = schedule

    def on_epoch_begin(self, epoch):
        lr = float(self.schedule(epoch, self.model.optimizer.lr))
        if not lr > 0:
            raise ValueError(f"LearningRateScheduler: the schedule gave lr={lr!r} at epoch {epoch}")
        self.model.optimizer.lr = lr


def step_decay(drop=0.5, every=10):
    """lr * drop every ``every`` epochs."""
    return lambda epoch, lr: lr * drop if epoch and epoch % every == 0 else lr


def cosine_decay(lr0, epochs, lr_min=0.0):
    return lambda epoch, lr: lr_min + 0.5 * (lr0 - lr_min) * (1 + math.cos(math.pi * epoch / max(1, epochs)))


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(self, monitor="val_loss", factor=0.5, patience=3, min_lr=1e-6, mode="auto"):
        self.monitor, self.factor, self.patience, self.min_lr = monitor, factor, patience, min_lr
        self.mode = _mode(monitor, mode)

    def on_train_begin(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self._is_better = _better(self.mode, 0.0)

    def on_epoch_end(self, epoch, logs):
        if self.monitor not in logs:
            raise KeyError(f"ReduceLROnPlateau: monitor {self.monitor!r} is not among the logs {sorted(logs)}")
        cur = logs[self.monitor]
        if self._is_better(cur, self.best):
            self.best, self.wait = cur, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.optimizer.lr = max(self.min_lr, self.model.optimizer.lr * self.factor)
                self.wait = 0
