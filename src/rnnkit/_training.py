"""The training loop behind ``Sequential.fit`` (seed §3): batches of similar length, one gradient
step each, per-epoch logs and validation, callbacks (early stopping, checkpoints, schedules)."""
from __future__ import annotations

import fnmatch
import warnings

import numpy as np

from . import _labels, _model_data, distributed, optim
from .callbacks import CallbackList, History
from .ops import _checks, ctc


class TrainingError(RuntimeError):
    """Training stopped because the loss or a gradient became NaN/inf; the weights are the last good ones."""


def fit(model, X, y, epochs, batch_size, lengths, validation_data, validation_split, callbacks, shuffle, verbose,
        distributed_=False, **options):
    """``Sequential.fit``: returns the History."""
    group = distributed.DataParallel() if distributed_ else distributed.active()
    if group is None or group.size == 1:
        return _fit(model, X, y, epochs, batch_size, lengths, validation_data, validation_split, callbacks,
                    shuffle, verbose, **options)
    # every rank runs the same loop; rank 0 alone prints and writes files; dropout draws per rank
    callbacks = [cb for cb in callbacks if group.is_root or not getattr(cb, "writes_files", False)]
    model._group = group
    try:
        if model.seed is None:               # one seed for all ranks: the same shuffles and splits
            model.seed = group.root_seed()
            if model.input_size is None:
                model.rng = np.random.default_rng(model.seed)
        history = _fit(model, X, y, epochs, batch_size, lengths, validation_data, validation_split, callbacks,
                       shuffle, verbose if group.is_root else 0, group=group, **options)
    except BaseException as e:                # a lone failing rank must not leave the others waiting
        group.abort(e)
        raise
    finally:
        model._group = None
    return history


def _fit(model, X, y, epochs, batch_size, lengths, validation_data, validation_split, callbacks, shuffle,
         verbose, group=None, initial_epoch=0, sample_weight=None, class_weight=None, channels_first=None):
    if model.loss is None:
        raise RuntimeError("fit: call compile(loss=..., optimizer=...) first")
    epochs = _checks.check_int(epochs, "epochs", minimum=0)
    initial_epoch = _checks.check_int(initial_epoch, "initial_epoch", minimum=0)
    batch_size = _checks.check_int(batch_size, "batch_size", minimum=1)
    verbose = _checks.check_int(verbose, "verbose", minimum=0, maximum=2)
    if validation_split:
        _checks.check_float(validation_split, "validation_split", low=0, high=1, low_open=True, high_open=True)
    if validation_data is not None and (not isinstance(validation_data, (tuple, list))
                                        or len(validation_data) not in (2, 3)):
        raise TypeError("validation_data: expected a tuple (X, y) or (X, y, lengths)")
    was_built, classes = model.input_size is not None, getattr(model, "classes_", None)
    try:                                     # everything checked before training; a failure unbuilds
        Xp, lp, seq, seq_out, yp = model._prepare(X, lengths, y, with_targets=True, channels_first=channels_first,
                                                  learn=True)
        T = Xp.shape[1] if seq else None
        sw = _model_data.sample_weights(sample_weight, model.loss, len(Xp), T, seq_out, lp)
        if group is not None and (sw is not None or class_weight is not None):
            raise ValueError("sample_weight / class_weight: not supported in distributed training; "
                             "train on one process, or weigh by repeating samples")
        impossible = ctc_impossible(yp, lp, Xp.shape[1]) if model.loss == "ctc" else None
        val = validation_data
        if val is not None:
            val = model._prepare(val[0], val[2] if len(val) == 3 else None, val[1], with_targets=True,
                                 channels_first=channels_first)
        elif validation_split:
            vrows, trows = _model_data.split_validation(len(Xp), validation_split, model.seed,
                                                        _labels.strata(yp, model.loss, seq_out))
            (vX, vy, vl), (Xp, yp, lp) = (_model_data.rows(Xp, yp, lp, r) for r in (vrows, trows))
            val, sw = (vX, vl, seq, seq_out, vy), _model_data.take(sw, trows)
        sw = _model_data.fit_weights(sw, class_weight, model.loss, model.classes_, yp, lp, T, seq_out,
                                     model.output_size)
        for cb in callbacks:
            monitor = getattr(cb, "monitor", "")
            if monitor.startswith("val_") and val is None:
                raise ValueError(f"callbacks: {type(cb).__name__} monitors {monitor!r}, but fit has no "
                                 "validation data (give validation_data or validation_split)")
    except BaseException:
        if not was_built:
            model.unbuild()
        model.classes_ = classes
        raise
    n = len(Xp)
    if group is not None:
        group.start(model, n)                 # same data size and weights on every rank, or an error
    layer_rngs = [getattr(layer, "rng", None) for layer in model.layers]   # restored after training
    shuffle_rng = np.random.default_rng() if model.seed is None else None    # no seed: nothing reproducible
    history = History()
    cbs = CallbackList([history, *callbacks], model)
    model.stop_training = False
    cbs.on_train_begin()
    full_len = np.full(n, Xp.shape[1]) if (seq and lp is None) else lp
    for epoch in range(initial_epoch, epochs):         # Keras' semantics: epochs is the last epoch's index
        if model.seed is not None:
            shuffle_rng = seed_epoch(model, epoch, group)
        cbs.on_epoch_begin(epoch)
        batches = _model_data.epoch_batches(full_len, n, batch_size, shuffle_rng if shuffle else None)
        bar = _model_data.progress(batches, epoch, epochs, verbose)
        total, count, accum = 0.0, 0, {m: [] for m in model.metrics}
        for bi in bar:
            xb, yb, lb, mask = _model_data.batch(Xp, yp, lp, bi, seq, seq_out)
            weights = _model_data.batch_weights(sw, bi, mask, xb.shape[1] if seq else None, model.dtype)
            if sw is not None and not weights.any():
                continue                      # every target of this batch weighs 0: nothing to learn
            loss, out = model.train_step(xb, yb, lb, weights)
            # weight by what the loss averaged over: steps for per-step outputs, else sequences
            w = len(bi) if not seq_out else (int(lb.sum()) if lb is not None else len(bi) * xb.shape[1])
            lw = w if sw is None else float(weights.sum())   # a weighted loss: the epoch's weighted mean
            total += loss * lw
            count += lw
            for name, fn in model.metrics.items():  # on the training batches (dropout on), like Keras
                accum[name].append((fn(out, yb, mask, model.loss), w))
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{total / count:.4f}")
        logs = {"loss": total / count}
        if impossible is not None:
            logs["ctc_impossible"] = impossible
        for name, vals in accum.items():
            logs[name] = sum(v * w for v, w in vals) / sum(w for _, w in vals)
        if val is not None:                  # checked once above; unweighted
            logs.update({f"val_{k}": v for k, v in _model_data.scores(model, *val).items()})
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: " + "  ".join(f"{k}={v:.4f}" for k, v in logs.items()))
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    for layer, rng in zip(model.layers, layer_rngs):
        layer.rng = rng
    cbs.on_train_end()
    return history


def seed_epoch(model, epoch, group=None):
    """Reseed the layers' dropout generator for ``epoch`` and return its shuffling generator: both are
    functions of (seed, epoch) (and of the rank for dropout in data-parallel training), so training
    resumed at ``epoch`` (``fit(initial_epoch=...)``) draws exactly what uninterrupted training would."""
    dropout = np.random.default_rng([model.seed, 2, epoch] + ([] if group is None else [group.rank]))
    for layer in model.layers:       # one generator shared by the layers, as ``build`` gives them
        layer.rng = dropout
    return np.random.default_rng([model.seed, 1, epoch])


def gradients(model, xb, yb, lb, mask, training):
    """(loss with penalty, output, grads) for one checked batch; grads are the layers' arrays."""
    out = model._forward(xb, lb, training)
    loss, dout = model._loss(out, yb, lb, mask)
    model.backward(dout)
    params, grads = model._params(), model._grads()
    if model.l1 or model.l2:
        names = [k for k in params if any(fnmatch.fnmatchcase(k, p) for p in model.regularize)]
        if not names:
            raise ValueError(f"regularize: no parameter matches {model.regularize} "
                             f"(parameters: {sorted(params)})")
        pen, pgrads = optim.penalty(params, model.l1, model.l2, names)
        loss = loss + pen
        for k, g in pgrads.items():
            grads[k] = grads[k] + g
    return float(loss), out, grads


def train_step(model, xb, yb, lb, mask):
    """One gradient step on a checked batch; returns (loss, output). Refuses to update on a
    non-finite loss or gradient (the weights stay the last good ones)."""
    group = getattr(model, "_group", None) or distributed.active()
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are caught just below
        if group is None or group.size == 1:
            loss, out, grads = gradients(model, xb, yb, lb, mask, training=True)
        else:
            loss, out, grads = shared_gradients(model, group, xb, yb, lb, mask)
    if not np.isfinite(loss) or not all(np.isfinite(g).all() for g in grads.values()):
        raise TrainingError(
            f"training stopped: the loss became {loss} (a NaN/inf loss or gradient) at optimizer step "
            f"{model.optimizer.iterations + 1}; the weights are the last good ones. Lower the learning "
            f"rate, clip gradients (clip_norm=1.0) or check the data for extreme values.")
    model.last_grad_norm = optim.global_norm(grads)
    if model.clip_value is not None:
        optim.clip_by_value(grads, model.clip_value)
    if model.clip_norm is not None:
        optim.clip_by_global_norm(grads, model.clip_norm)
    clipped = model.clip_value is not None or model.clip_norm is not None
    model.last_grad_norm_clipped = optim.global_norm(grads) if clipped else model.last_grad_norm
    model.optimizer.step(model._params(), grads)
    return loss, out


def shared_gradients(model, group, xb, yb, lb, mask):
    """``gradients`` of a batch shared by the ranks of ``group``: each computes its rows' gradient,
    and one Allreduce weights them by their counts of loss terms (the batch's mean gradient, exactly;
    see ``rnnkit.distributed``). Every rank knows the whole batch, so the weights need no message."""
    rows = group.share(len(xb))
    per_step = model.output_is_sequence(xb.ndim == 3 or model.takes_tokens) and model.loss != "ctc"

    def terms(r):        # loss terms of rows r: valid steps for per-step outputs, else sequences
        if per_step:
            return float(mask[r].sum()) if mask is not None else len(r) * xb.shape[1]
        return len(r)

    total = terms(np.arange(len(xb)))
    if len(rows):
        pick = (lambda a: None if a is None else [a[i] for i in rows] if isinstance(a, list) else a[rows])
        loss, out, grads = gradients(model, xb[rows], pick(yb), pick(lb), pick(mask), training=True)
        weight = terms(rows)
    else:                                                         # fewer rows than ranks
        loss, out, weight = 0.0, None, 0.0
        grads = {k: np.zeros_like(v) for k, v in model._params().items()}
    grads = dict(grads)
    loss = group.combine(grads, loss, weight, total)
    return loss, group.gather_rows(out), grads


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
