"""Losses for sequential data (seed §2.6), each returning ``(loss, d_loss/d_prediction)``.

Predictions have the targets' layout with the classes/outputs on the last axis: ``(batch, K)`` for one
target per sequence, ``(batch, time, K)`` for one per time step. ``mask`` (shape = prediction shape
without its last axis) marks the positions that count; padded steps get zero loss and zero gradient.

``reduction="mean"`` averages over the counted positions (the seed's 1/T sum over t, taken over the
batch too); ``"sum"`` adds them. The gradient returned is that of the reduced loss. A float ``mask``
weighs the positions (``Sequential.fit``'s sample and class weights): the mean is then sum(w l) / sum(w),
PyTorch's convention for ``CrossEntropyLoss(weight=...)``.
CTC lives in ``ops.ctc``.
"""
from __future__ import annotations

import numpy as np

from .activations import log_softmax, sigmoid


def _weights(mask, shape, dtype, reduction):
    """Per-position weights (shape[:-1]) that turn a sum of position losses into the reduced loss."""
    pos_shape = shape[:-1]
    if mask is None:
        w = np.ones(pos_shape, dtype=dtype)
    else:
        m = np.asarray(mask)
        if m.shape != pos_shape:
            raise ValueError(f"mask: expected shape {pos_shape} (predictions without the last axis), got {m.shape}")
        w = m.astype(dtype)
    if reduction == "mean":
        count = w.sum()
        if count == 0:
            raise ValueError("mask: no position is counted (all False)")
        w = w / dtype.type(count)
    elif reduction != "sum":
        raise ValueError(f"reduction: expected 'mean' or 'sum', got {reduction!r}")
    return w


def _check_pair(pred, target, name="target"):
    pred = np.asarray(pred)
    if pred.dtype.kind != "f":
        raise TypeError(f"predictions: expected a float array, got dtype {pred.dtype}")
    target = np.asarray(target)
    if target.shape != pred.shape:
        raise ValueError(f"{name}: expected shape {pred.shape} (same as the predictions), got {target.shape}")
    if target.dtype.kind in "fc" and not np.isfinite(target).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return pred, target.astype(pred.dtype, copy=False)


def mse(pred, target, mask=None, reduction="mean"):
    """Mean squared error, seed §2.6: (1/T) sum_t (y_t - y^_t)^2, averaged over outputs too.

    Parameters
    ----------
    pred : numpy.ndarray
        Predictions, (B, K) or (B, T, K), float32 or float64.
    target : array_like
        Targets of the same shape as ``pred``; finite.
    mask : array_like of bool or float, optional
        Shape = ``pred``'s shape without its last axis, e.g. (B, T). True/nonzero marks the positions that
        count; a float mask weighs them. Default None (every position counts).
    reduction : {"mean", "sum"}, optional
        ``"mean"`` averages over the counted positions (weighted mean for a float mask), ``"sum"`` adds
        them. Default ``"mean"``.

    Returns
    -------
    loss : numpy.floating
        The reduced loss, a scalar of ``pred``'s dtype.
    d_pred : numpy.ndarray
        Gradient of ``loss`` with respect to ``pred``, same shape and dtype; zero at masked positions.

    Raises
    ------
    TypeError
        If ``pred`` is not a float array.
    ValueError
        If ``target``'s shape differs from ``pred``'s or it holds NaN/inf, ``mask`` has the wrong shape or
        counts no position, or ``reduction`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.losses import mse
    >>> loss, grad = mse(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))
    >>> float(loss), grad.ravel()
    (2.5, array([1., 2.]))
    """
    pred, target = _check_pair(pred, target)
    w = _weights(mask, pred.shape, pred.dtype, reduction)
    if reduction == "mean":
        w = w / pred.dtype.type(pred.shape[-1])
    diff = pred - target
    loss = (w[..., None] * diff * diff).sum()
    return pred.dtype.type(loss), (2 * w[..., None]) * diff


def binary_cross_entropy_with_logits(logits, target, mask=None, reduction="mean"):
    """Binary cross-entropy computed from logits.

    -[y log sigma(x) + (1-y) log(1-sigma(x))], evaluated stably as max(x,0) - x y + log(1 + e^{-|x|}).

    Parameters
    ----------
    logits : numpy.ndarray
        Logits x, (B, K) or (B, T, K), float32 or float64.
    target : array_like
        Targets y in [0, 1], same shape as ``logits``.
    mask : array_like of bool or float, optional
        Shape = ``pred``'s shape without its last axis, e.g. (B, T). True/nonzero marks the positions that
        count; a float mask weighs them. Default None (every position counts).
    reduction : {"mean", "sum"}, optional
        ``"mean"`` averages over the counted positions (weighted mean for a float mask), ``"sum"`` adds
        them. Default ``"mean"``.

    Returns
    -------
    loss : numpy.floating
        The reduced loss, a scalar of ``logits``' dtype.
    d_logits : numpy.ndarray
        Gradient of ``loss`` with respect to ``logits`` (weighted sigma(x) - y), same shape and dtype.

    Raises
    ------
    TypeError
        If ``logits`` is not a float array.
    ValueError
        If ``target`` has the wrong shape, holds NaN/inf or values outside [0, 1], ``mask`` has the wrong
        shape or counts no position, or ``reduction`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.losses import binary_cross_entropy_with_logits
    >>> loss, grad = binary_cross_entropy_with_logits(np.zeros((2, 1)), np.array([[0.0], [1.0]]))
    >>> round(float(loss), 4), grad.ravel()
    (0.6931, array([ 0.25, -0.25]))
    """
    logits, target = _check_pair(logits, target)
    if ((target < 0) | (target > 1)).any():
        raise ValueError("target: binary cross-entropy needs targets in [0, 1]")
    w = _weights(mask, logits.shape, logits.dtype, reduction)
    if reduction == "mean":
        w = w / logits.dtype.type(logits.shape[-1])
    per = np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    loss = (w[..., None] * per).sum()
    return logits.dtype.type(loss), w[..., None] * (sigmoid(logits) - target)


def softmax_cross_entropy(logits, target, mask=None, reduction="mean"):
    """Cross-entropy of softmax(logits), seed §2.6: -(1/T) sum_t sum_i y_{t,i} log y^_{t,i}.

    ``target`` is either integer class ids (shape = logits without the last axis) or a probability
    distribution per position (same shape as ``logits``).

    Parameters
    ----------
    logits : numpy.ndarray
        Unnormalised scores, (B, K) or (B, T, K), float32 or float64.
    target : array_like
        Integer class ids in [0, K-1] of shape (B,) or (B, T) (ids at masked positions are ignored), or
        non-negative probabilities of ``logits``' shape.
    mask : array_like of bool or float, optional
        Shape = ``pred``'s shape without its last axis, e.g. (B, T). True/nonzero marks the positions that
        count; a float mask weighs them. Default None (every position counts).
    reduction : {"mean", "sum"}, optional
        ``"mean"`` averages over the counted positions (weighted mean for a float mask), ``"sum"`` adds
        them. Default ``"mean"``.

    Returns
    -------
    loss : numpy.floating
        The reduced loss, a scalar of ``logits``' dtype.
    d_logits : numpy.ndarray
        Gradient of ``loss`` with respect to ``logits``, same shape and dtype; zero at masked positions.

    Raises
    ------
    TypeError
        If ``logits`` is not a float array.
    ValueError
        If ``target`` has the wrong shape, class ids out of range, negative or non-finite probabilities,
        ``mask`` has the wrong shape or counts no position, or ``reduction`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnkit.ops.losses import softmax_cross_entropy
    >>> loss, grad = softmax_cross_entropy(np.zeros((2, 4)), np.array([1, 3]))
    >>> round(float(loss), 4), grad.shape
    (1.3863, (2, 4))
    """
    logits = np.asarray(logits)
    if logits.dtype.kind != "f":
        raise TypeError(f"logits: expected a float array, got dtype {logits.dtype}")
    target = np.asarray(target)
    K = logits.shape[-1]
    w = _weights(mask, logits.shape, logits.dtype, reduction)
    logp = log_softmax(logits)
    if np.issubdtype(target.dtype, np.integer):
        if target.shape != logits.shape[:-1]:
            raise ValueError(f"target: class ids need shape {logits.shape[:-1]}, got {target.shape}")
        counted = target if mask is None else target[np.asarray(mask, bool)]
        if counted.size and (counted.min() < 0 or counted.max() >= K):
            raise ValueError(f"target: class ids must be in [0, {K - 1}], got range "
                             f"[{counted.min()}, {counted.max()}]")
        safe = np.clip(target, 0, K - 1)  # padded positions may hold any id; their weight is 0
        picked = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
        loss = -(w * picked).sum()
        grad = np.exp(logp)
        np.put_along_axis(grad, safe[..., None],
                          np.take_along_axis(grad, safe[..., None], axis=-1) - 1, axis=-1)
    else:
        logits, target = _check_pair(logits, target)
        if (target < 0).any():
            raise ValueError("target: probabilities must be >= 0")
        loss = -(w[..., None] * target * logp).sum()
        grad = np.exp(logp) * target.sum(-1, keepdims=True) - target
    return logits.dtype.type(loss), w[..., None] * grad


LOSSES = {
    "mse": mse,
    "binary_crossentropy": binary_cross_entropy_with_logits,
    "crossentropy": softmax_cross_entropy,
}


def get(name: str):
    """Look up a loss function by name.

    Parameters
    ----------
    name : str
        ``"mse"``, ``"binary_crossentropy"`` or ``"crossentropy"``. (CTC is handled by ``ops.ctc``.)

    Returns
    -------
    callable
        The loss, called as ``loss(pred, target, mask=None, reduction="mean") -> (loss, d_pred)``.

    Raises
    ------
    ValueError
        If ``name`` is not a known loss.

    Examples
    --------
    >>> from rnnkit.ops import losses
    >>> losses.get("crossentropy") is losses.softmax_cross_entropy
    True
    """
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"loss: expected one of {sorted(LOSSES)} or 'ctc', got {name!r}") from None
