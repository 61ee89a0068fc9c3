"""The training loop behind ``Sequential.fit`` (seed §3): batches of similar length, one gradient
step each, per-epoch logs and validation, callbacks (early stopping, checkpoints, schedules)."""
from __future__ import annotations

import warnings

import numpy as np

from . import _model_data
from .callbacks import CallbackList, History
from .ops import _checks, ctc


def fit(model, X, y, epochs, batch_size, lengths, validation_data, validation_split, callbacks, shuffle, verbose):
    """``Sequential.fit``: returns the History."""
    if model.loss is None:
        raise RuntimeError("fit: call compile(loss=..., optimizer=...) first")
    epochs = _checks.check_int(epochs, "epochs", minimum=0)
    batch_size = _checks.check_int(batch_size, "batch_size", minimum=1)
    verbose = _checks.check_int(verbose, "verbose", minimum=0, maximum=2)
    if validation_split:
        _checks.check_float(validation_split, "validation_split", low=0, high=1, low_open=True, high_open=True)
    if validation_data is not None and (not isinstance(validation_data, (tuple, list))
                                        or len(validation_data) not in (2, 3)):
        raise TypeError("validation_data: expected a tuple (X, y) or (X, y, lengths)")
    was_built = model.input_size is not None
    try:                                     # everything checked before training; a failure unbuilds
        Xp, lp, seq, seq_out, yp = model._prepare(X, lengths, y, with_targets=True)
        impossible = ctc_impossible(yp, lp, Xp.shape[1]) if model.loss == "ctc" else None
        val = validation_data
        if val is not None:
            vX, vl, _, _, vy = model._prepare(val[0], val[2] if len(val) == 3 else None, val[1], with_targets=True)
            val = (vX, vy, vl)
        elif validation_split:
            val, (Xp, yp, lp) = _model_data.split_validation(Xp, yp, lp, validation_split, model.seed)
        for cb in callbacks:
            monitor = getattr(cb, "monitor", "")
            if monitor.startswith("val_") and val is None:
                raise ValueError(f"callbacks: {type(cb).__name__} monitors {monitor!r}, but fit has no "
                                 "validation data (give validation_data or validation_split)")
    except BaseException:
        if not was_built:
            model.unbuild()
        raise
    n = len(Xp)
    shuffle_rng = np.random.default_rng(None if model.seed is None else model.seed + 1)
    history = History()
    cbs = CallbackList([history, *callbacks], model)
    model.stop_training = False
    cbs.on_train_begin()
    full_len = np.full(n, Xp.shape[1]) if (seq and lp is None) else lp
    for epoch in range(int(epochs)):
        cbs.on_epoch_begin(epoch)
        batches = _model_data.epoch_batches(full_len, n, batch_size, shuffle_rng if shuffle else None)
        bar = _model_data.progress(batches, epoch, epochs, verbose)
        total, count, accum = 0.0, 0, {m: [] for m in model.metrics}
        for bi in bar:
            xb, yb, lb, mask = _model_data.batch(Xp, yp, lp, bi, seq, seq_out)
            loss, out = model.train_step(xb, yb, lb, mask)
            # weight by what the loss averaged over: steps for per-step outputs, else sequences
            w = len(bi) if not seq_out else (int(lb.sum()) if lb is not None else len(bi) * xb.shape[1])
            total += loss * w
            count += w
            for name, fn in model.metrics.items():  # on the training batches (dropout on), like Keras
                accum[name].append((fn(out, yb, mask, model.loss), w))
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{total / count:.4f}")
        logs = {"loss": total / count}
        if impossible is not None:
            logs["ctc_impossible"] = impossible
        for name, vals in accum.items():
            logs[name] = sum(v * w for v, w in vals) / sum(w for _, w in vals)
        if val is not None:
            vX, vy = val[0], val[1]
            vl = val[2] if len(val) > 2 else None
            logs.update({f"val_{k}": v for k, v in model.evaluate(vX, vy, lengths=vl).items()})
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: " + "  ".join(f"{k}={v:.4f}" for k, v in logs.items()))
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end()
    return history


def ctc_impossible(labels, lengths, T) -> int:
    """How many samples have no CTC alignment (more labels than frames, counting a blank between
    repeats): an error if all, a warning naming them if some (they add nothing to the loss)."""
    frames = np.full(len(labels), T) if lengths is None else lengths
    need = ctc.required_frames(labels)
    bad = np.flatnonzero(need > frames)
    if len(bad) == len(labels):
        i = int(bad[0])
        raise ValueError(f"y: no sample can be aligned by CTC: every label sequence needs more frames than "
                         f"its input has (e.g. sample {i}: {need[i]} frames needed, counting a blank "
                         f"between repeated labels, {frames[i]} given); use shorter labels or longer inputs")
    if len(bad):
        shown = ", ".join(str(i) for i in bad[:10]) + (", ..." if len(bad) > 10 else "")
        warnings.warn(f"y: {len(bad)} of {len(labels)} samples cannot be aligned by CTC (their label "
                      f"sequences need more frames than their inputs have): indices {shown}; they add "
                      "nothing to the loss (history: 'ctc_impossible')", stacklevel=4)
    return len(bad)
