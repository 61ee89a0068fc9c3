"""Training callbacks: History (always on), EarlyStopping, ModelCheckpoint, CSVLogger, learning-rate
schedules.

A callback whose class sets ``writes_files = True`` runs on rank 0 only in data-parallel training.
Callbacks receive the true epoch index (0-based) also when ``fit`` resumes at ``initial_epoch``.
"""
from __future__ import annotations

import csv
import io
import math
import os
import string

from ._atomic import atomic_write


class Callback:
    """Base class of the training callbacks: hooks that ``Sequential.fit`` calls; each does nothing here.

    Subclasses override the hooks they need. ``fit`` sets ``model`` before training starts; a
    callback may set ``model.stop_training = True`` to end training after the current epoch. Set
    ``writes_files = True`` on a class whose callbacks write files, so that data-parallel training
    runs them on rank 0 only.

    Attributes
    ----------
    model : rnnkit.model.Sequential or None
        The model being trained (None before ``fit``).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.callbacks import Callback
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> class Printer(Callback):
    ...     def on_epoch_end(self, epoch, logs):
    ...         print(epoch, sorted(logs))
    >>> X = np.random.default_rng(0).normal(size=(8, 3))
    >>> _ = Sequential([Dense(1)]).compile("mse").fit(X, X[:, :1], epochs=2, verbose=0, callbacks=[Printer()])
    0 ['loss']
    1 ['loss']
    """

    model = None

    def on_train_begin(self):
        """Called once when ``fit`` starts, before the first epoch."""

    def on_epoch_begin(self, epoch):
        """Called at the start of every epoch.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based (the true index also when ``fit`` resumes at ``initial_epoch``).
        """

    def on_epoch_end(self, epoch, logs):
        """Called at the end of every epoch, after validation.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based (the true index also when ``fit`` resumes at ``initial_epoch``).
        logs : dict of str to float
            The epoch's logs: "loss", the metrics, and "val_"-prefixed ones with validation data.
        """

    def on_train_end(self):
        """Called once when training ends (also after early stopping)."""


class CallbackList:
    """The callbacks of one ``fit``, called together: ``callbacks.on_epoch_end(epoch, logs)`` calls
    every callback's hook, in order.

    Parameters
    ----------
    callbacks : iterable of Callback
        The callbacks, in the order their hooks run.
    model : rnnkit.model.Sequential
        The model being trained; set as every callback's ``model``.

    Raises
    ------
    TypeError
        If an item is not a ``Callback``.

    Examples
    --------
    >>> from rnnkit.callbacks import Callback, CallbackList
    >>> class Hello(Callback):
    ...     def on_epoch_begin(self, epoch):
    ...         print("epoch", epoch, "of", self.model)
    >>> CallbackList([Hello(), Hello()], model="my model").on_epoch_begin(0)
    epoch 0 of my model
    epoch 0 of my model
    """

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
    """Per-epoch logs: ``history.history["loss"]``, ``["val_loss"]``, metrics, ``["lr"]``.

    ``fit`` always adds one and returns it (also kept as ``model.history``).

    Attributes
    ----------
    history : dict of str to list of float
        One value per epoch for every log key, and "lr" (the learning rate at the epoch's end).
    epochs : list of int
        The epoch indices (0-based; from ``initial_epoch`` on when resuming).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> X = np.random.default_rng(0).normal(size=(16, 3))
    >>> y = X @ np.array([[1.0], [-2.0], [0.5]])
    >>> history = Sequential([Dense(1)], seed=0).compile("mse", lr=0.1).fit(X, y, epochs=3, verbose=0)
    >>> sorted(history.history), history.epochs, len(history.history["loss"])
    (['loss', 'lr'], [0, 1, 2], 3)
    """

    def __init__(self):
        self.history: dict = {}
        self.epochs: list = []

    def on_epoch_end(self, epoch, logs):
        """Append the epoch's logs and the current learning rate.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based (the true index also when ``fit`` resumes at ``initial_epoch``).
        logs : dict of str to float
            The epoch's logs: "loss", the metrics, and "val_"-prefixed ones with validation data.
        """
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

    Parameters
    ----------
    monitor : str, optional
        The log to watch (default "val_loss": needs validation data).
    patience : int, optional
        Epochs without improvement before stopping (default 5).
    min_delta : float, optional
        The smallest change that counts as an improvement (default 0.0).
    mode : {"auto", "min", "max"}, optional
        Whether smaller or larger is better; "auto" (default) takes "max" for names containing "acc",
        "precision" or "recall", else "min".
    restore_best_weights : bool, optional
        Restore the best epoch's weights when training ends (default True).

    Attributes
    ----------
    best_epoch, stopped_epoch : int or None
        The best epoch, and the epoch training stopped at (None if it ran to the end).

    Raises
    ------
    ValueError
        If ``mode`` is not one of the three.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> X = np.random.default_rng(0).normal(size=(16, 3))
    >>> y = X @ np.array([[1.0], [-2.0], [0.5]])
    >>> from rnnkit.callbacks import EarlyStopping
    >>> stop = EarlyStopping(monitor="loss", patience=1)
    >>> model = Sequential([Dense(1)], seed=0).compile("mse", lr=10.0)    # too large: the loss jumps
    >>> _ = model.fit(X, y, epochs=5, batch_size=8, verbose=0, callbacks=[stop])
    >>> stop.best_epoch, stop.stopped_epoch
    (1, 2)
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=True):
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = _mode(monitor, mode)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self):
        """Reset the best value, the patience count and the stored weights."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait, self.best_epoch, self.best_weights, self.stopped_epoch = 0, None, None, None
        self._is_better = _better(self.mode, self.min_delta)

    def on_epoch_end(self, epoch, logs):
        """Note an improvement (and the weights), or count the epoch and stop after ``patience``.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based (the true index also when ``fit`` resumes at ``initial_epoch``).
        logs : dict of str to float
            The epoch's logs: "loss", the metrics, and "val_"-prefixed ones with validation data.

        Raises
        ------
        KeyError
            If ``monitor`` is not among the logs (e.g. "val_loss" without validation data).
        """
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
        """Restore the best epoch's weights (with ``restore_best_weights``)."""
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model to ``path`` after an epoch (only when ``monitor`` improves, with ``save_best_only``;
    every epoch without: then ``monitor`` is unused, set to ""). Checkpoints include the optimiser's
    state (``include_optimizer``), so ``Sequential.load`` and ``fit(..., initial_epoch=k)`` resume.

    ``path`` may be a template (``str.format`` syntax): ``{epoch}`` is the 1-based epoch (as in Keras),
    any other name a value of the logs (``loss``, ``val_loss``, metrics, ``lr``), format specs allowed:
    ``"ckpt-{epoch:03d}-{val_loss:.4f}.npz"``. Literal braces are written ``{{`` and ``}}``. A bad
    template raises ValueError here; a name that is not in the logs, KeyError at the epoch's end.
    ``last_path`` is the file last written (None before). In data-parallel training only rank 0
    saves (``writes_files``). Saving is atomic (see ``rnnkit.io``): an interrupted write leaves the
    previous checkpoint intact.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write, or a template of file names (see above).
    monitor : str, optional
        The log that decides "best" with ``save_best_only`` (default "val_loss").
    save_best_only : bool, optional
        Save only when ``monitor`` improves (default True); False saves every epoch.
    mode : {"auto", "min", "max"}, optional
        Whether smaller or larger ``monitor`` is better; "auto" (default) as in ``EarlyStopping``.
    include_optimizer : bool, optional
        Store the optimiser's state too, to resume training (default True).

    Raises
    ------
    ValueError
        If ``mode`` is not one of the three or ``path`` is a bad template.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> X = np.random.default_rng(0).normal(size=(16, 3))
    >>> y = X @ np.array([[1.0], [-2.0], [0.5]])
    >>> from rnnkit.callbacks import ModelCheckpoint
    >>> ckpt = ModelCheckpoint("ckpt-{epoch:02d}.npz", monitor="loss")
    >>> model = Sequential([Dense(1)], seed=0).compile("mse", lr=0.1)
    >>> _ = model.fit(X, y, epochs=2, batch_size=8, verbose=0, callbacks=[ckpt])
    >>> ckpt.last_path, Sequential.load(ckpt.last_path).optimizer.iterations
    ('ckpt-02.npz', 4)
    """

    writes_files = True

    def __init__(self, path, monitor="val_loss", save_best_only=True, mode="auto", include_optimizer=True):
        self.path, self.save_best_only = os.fspath(path), save_best_only
        self.mode = _mode(monitor, mode)
        self.monitor = monitor if save_best_only else ""     # unused: fit needs no validation data for it
        self.include_optimizer = include_optimizer
        self.fields = template_fields(self.path, "ModelCheckpoint: path")
        self.last_path = None

    def on_train_begin(self):
        """Reset the best value."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self._is_better = _better(self.mode, 0.0)

    def on_epoch_end(self, epoch, logs):
        """Save the model (when ``monitor`` improved, with ``save_best_only``); sets ``last_path``.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based (the true index also when ``fit`` resumes at ``initial_epoch``).
        logs : dict of str to float
            The epoch's logs: "loss", the metrics, and "val_"-prefixed ones with validation data.

        Raises
        ------
        KeyError
            If ``monitor`` (with ``save_best_only``) or a name of the path template is not among the logs.
        """
        if self.save_best_only:
            if self.monitor not in logs:
                raise KeyError(f"ModelCheckpoint: monitor {self.monitor!r} is not among the logs {sorted(logs)}")
            if not self._is_better(logs[self.monitor], self.best):
                return
            self.best = logs[self.monitor]
        values = {**logs, "lr": self.model.optimizer.lr, "epoch": epoch + 1}
        missing = [f for f in self.fields if f not in values]
        if missing:
            raise KeyError(f"ModelCheckpoint: the path {self.path!r} names {missing}, which are not among "
                           f"the available keys {sorted(values)}")
        self.last_path = self.path.format(**values) if self.fields else self.path
        self.model.save(self.last_path, include_optimizer=self.include_optimizer)


def template_fields(template: str, what: str) -> list:
    """The names a ``str.format`` template uses, checked to be plain names that format numbers.

    Parameters
    ----------
    template : str
        A ``str.format`` template, e.g. ``"ckpt-{epoch:03d}-{val_loss:.4f}.npz"``.
    what : str
        What the template is, to start error messages with (e.g. "ModelCheckpoint: path").

    Returns
    -------
    list of str
        The field names, in order of appearance ([] for a plain string).

    Raises
    ------
    ValueError
        For a bad template: unbalanced braces, positional or attribute/index fields, nested fields in a
        format spec, or a spec that cannot format a number.

    Examples
    --------
    >>> from rnnkit.callbacks import template_fields
    >>> template_fields("ckpt-{epoch:03d}-{val_loss:.4f}.npz", "path")
    ['epoch', 'val_loss']
    >>> template_fields("ckpt-{0}.npz", "path")
    Traceback (most recent call last):
    ...
    ValueError: path: 'ckpt-{0}.npz': the field {0} is not a plain name such as {epoch} or {val_loss:.4f}
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"{what}: {template!r} is not a valid template ({e}); write literal braces "
                         "as '{{' and '}}'") from None
    fields = []
    for _, name, spec, _ in parts:
        if name is None:
            continue
        if not name.isidentifier() or "{" in (spec or ""):
            raise ValueError(f"{what}: {template!r}: the field {{{name}}} is not a plain name such as "
                             "{epoch} or {val_loss:.4f}")
        fields.append(name)
    try:            # the specs must format numbers: the epoch (int) and the logs (float)
        template.format(**{f: 1 if f == "epoch" else 0.5 for f in fields})
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what}: {template!r}: a format spec does not fit a number ({e})") from None
    return fields


class CSVLogger(Callback):
    """Append one row per epoch to a CSV file: a header ``epoch,<keys>`` (the logs' keys, with ``lr``,
    sorted), then the 0-based epoch index (as in Keras) and the values (``repr`` of floats: exact).

    Each row is written with one ``write`` and fsynced, so a killed run keeps its finished epochs as
    whole rows; a new file (header and first row) appears atomically. ``append=True`` continues an
    existing file (no second header; ValueError if its columns differ from this run's), e.g. with
    ``fit(..., initial_epoch=k)``; ``append=False`` replaces it. In data-parallel training only rank 0
    writes (``writes_files``).

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.
    separator : str, optional
        The one-character field separator (default ","): not alphanumeric, nor one of ``".+-"``,
        a quote or a line break.
    append : bool, optional
        Continue an existing file (default False: replace it).

    Raises
    ------
    ValueError
        If ``separator`` is not such a character.
    TypeError
        If ``append`` is not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> X = np.random.default_rng(0).normal(size=(16, 3))
    >>> y = X @ np.array([[1.0], [-2.0], [0.5]])
    >>> from rnnkit.callbacks import CSVLogger
    >>> model = Sequential([Dense(1)], seed=0).compile("mse", lr=0.1)
    >>> _ = model.fit(X, y, epochs=2, verbose=0, callbacks=[CSVLogger("log.csv")])
    >>> lines = open("log.csv").read().splitlines()
    >>> lines[0], len(lines)
    ('epoch,loss,lr', 3)
    """

    writes_files = True

    def __init__(self, path, separator=",", append=False):
        if not (isinstance(separator, str) and len(separator) == 1 and not separator.isalnum()
                and separator not in '".+-\r\n'):
            raise ValueError(f"separator: expected one character that cannot occur in a number or a "
                             f"key (e.g. ',' or ';' or '\\t'), got {separator!r}")
        if not isinstance(append, bool):
            raise TypeError(f"append: expected True or False, got {append!r}")
        self.path, self.separator, self.append = os.fspath(path), separator, append

    def on_train_begin(self):
        """Read the header of the file being continued (with ``append``).

        Raises
        ------
        ValueError
            If the file ends with an incomplete row.
        """
        self.columns = self._existing_columns() if self.append else None

    def _existing_columns(self):
        """The header of the file being continued, or None if there is no file (or an empty one)."""
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return None
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                raise ValueError(f"CSVLogger: {self.path} ends with an incomplete row; remove it (or the "
                                 "file) before appending")
        with open(self.path, newline="", encoding="utf-8") as fh:
            return next(csv.reader(fh, delimiter=self.separator))

    def _line(self, values) -> str:
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.separator, lineterminator="\n").writerow(values)
        return buf.getvalue()

    def on_epoch_end(self, epoch, logs):
        """Write the epoch's row (with the header first, atomically, for a new file).

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based (the true index also when ``fit`` resumes at ``initial_epoch``).
        logs : dict of str to float
            The epoch's logs: "loss", the metrics, and "val_"-prefixed ones with validation data.

        Raises
        ------
        ValueError
            If the columns differ from those of the file being continued.
        """
        logs = {**logs, "lr": self.model.optimizer.lr}
        columns = ["epoch", *sorted(k for k in logs if k != "epoch")]
        row = self._line([epoch, *(repr(float(logs[k])) for k in columns[1:])])
        if self.columns is None:                      # a new file: header and first row at once
            with atomic_write(self.path) as fh:
                fh.write((self._line(columns) + row).encode("utf-8"))
            self.columns = columns
            return
        if columns != self.columns:
            raise ValueError(f"CSVLogger: {self.path} has the columns {self.columns}, this run logs {columns}; "
                             "append to a file of the same run, or use append=False or another path")
        data = row.encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
        try:
            while data:                               # one write for a row: a crash leaves whole rows
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start from ``schedule(epoch, lr) -> lr``.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> lr``: the 0-based epoch and the current learning rate give the
        new one (> 0); e.g. ``step_decay`` or ``cosine_decay``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> X = np.random.default_rng(0).normal(size=(16, 3))
    >>> y = X @ np.array([[1.0], [-2.0], [0.5]])
    >>> from rnnkit.callbacks import LearningRateScheduler, step_decay
    >>> model = Sequential([Dense(1)], seed=0).compile("mse", lr=0.1)
    >>> sched = LearningRateScheduler(step_decay(drop=0.5, every=1))
    >>> model.fit(X, y, epochs=3, verbose=0, callbacks=[sched]).history["lr"]
    [0.1, 0.05, 0.025]
    """

    def __init__(self, schedule):
        self.schedule = schedule

    def on_epoch_begin(self, epoch):
        """Set the optimiser's learning rate to ``schedule(epoch, lr)``.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based (the true index also when ``fit`` resumes at ``initial_epoch``).

        Raises
        ------
        ValueError
            If the schedule gives a learning rate that is not > 0.
        """
        lr = float(self.schedule(epoch, self.model.optimizer.lr))
        if not lr > 0:
            raise ValueError(f"LearningRateScheduler: the schedule gave lr={lr!r} at epoch {epoch}")
        self.model.optimizer.lr = lr


def step_decay(drop=0.5, every=10):
    """A schedule for ``LearningRateScheduler``: lr * drop every ``every`` epochs.

    Parameters
    ----------
    drop : float, optional
        The factor applied (default 0.5).
    every : int, optional
        The period in epochs (default 10): the rate drops at epochs every, 2 every, ...

    Returns
    -------
    callable
        ``schedule(epoch, lr) -> lr``.

    Examples
    --------
    >>> from rnnkit.callbacks import step_decay
    >>> schedule = step_decay(drop=0.5, every=10)
    >>> schedule(5, 0.1), schedule(10, 0.1)
    (0.1, 0.05)
    """
    return lambda epoch, lr: lr * drop if epoch and epoch % every == 0 else lr


def cosine_decay(lr0, epochs, lr_min=0.0):
    """A schedule for ``LearningRateScheduler``: cosine annealing from ``lr0`` to ``lr_min``.

    lr(epoch) = lr_min + (lr0 - lr_min) (1 + cos(pi epoch / epochs)) / 2, whatever the current rate.

    Parameters
    ----------
    lr0 : float
        The learning rate at epoch 0.
    epochs : int
        The epoch at which ``lr_min`` is reached.
    lr_min : float, optional
        The final learning rate (default 0.0; ``LearningRateScheduler`` needs > 0 at every epoch
        it runs).

    Returns
    -------
    callable
        ``schedule(epoch, lr) -> lr``.

    Examples
    --------
    >>> from rnnkit.callbacks import cosine_decay
    >>> schedule = cosine_decay(0.1, epochs=10, lr_min=0.01)
    >>> [round(schedule(epoch, None), 4) for epoch in (0, 5, 10)]
    [0.1, 0.055, 0.01]
    """
    return lambda epoch, lr: lr_min + 0.5 * (lr0 - lr_min) * (1 + math.cos(math.pi * epoch / max(1, epochs)))


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    Parameters
    ----------
    monitor : str, optional
        The log to watch (default "val_loss": needs validation data).
    factor : float, optional
        The factor applied to the learning rate (default 0.5).
    patience : int, optional
        Epochs without improvement before reducing (default 3); the count restarts after each.
    min_lr : float, optional
        The learning rate never goes below this (default 1e-6).
    mode : {"auto", "min", "max"}, optional
        Whether smaller or larger is better; "auto" (default) as in ``EarlyStopping``.

    Raises
    ------
    ValueError
        If ``mode`` is not one of the three.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.layers import Dense
    >>> from rnnkit.model import Sequential
    >>> X = np.random.default_rng(0).normal(size=(16, 3))
    >>> y = X @ np.array([[1.0], [-2.0], [0.5]])
    >>> from rnnkit.callbacks import ReduceLROnPlateau
    >>> model = Sequential([Dense(1)], seed=0).compile("mse", lr=10.0)    # too large: the loss jumps
    >>> reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
    >>> model.fit(X, y, epochs=4, batch_size=8, verbose=0, callbacks=[reduce]).history["lr"]
    [10.0, 10.0, 10.0, 5.0]
    """

    def __init__(self, monitor="val_loss", factor=0.5, patience=3, min_lr=1e-6, mode="auto"):
        self.monitor, self.factor, self.patience, self.min_lr = monitor, factor, patience, min_lr
        self.mode = _mode(monitor, mode)

    def on_train_begin(self):
        """Reset the best value and the patience count."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self._is_better = _better(self.mode, 0.0)

    def on_epoch_end(self, epoch, logs):
        """Note an improvement, or count the epoch and reduce the learning rate after ``patience``.

        Parameters
        ----------
        epoch : int
            The epoch index, 0-based (the true index also when ``fit`` resumes at ``initial_epoch``).
        logs : dict of str to float
            The epoch's logs: "loss", the metrics, and "val_"-prefixed ones with validation data.

        Raises
        ------
        KeyError
            If ``monitor`` is not among the logs.
        """
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
