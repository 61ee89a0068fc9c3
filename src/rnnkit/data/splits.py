"""Cutting data for training: forecasting windows of a series, and train/validation/test index splits.

Every split returns one sorted ``int64`` index array per fraction (usually train, validation, test).
Fractions are >= 0, the first > 0, and they sum to 1; a part whose fraction is 0 is empty, every other
part gets at least one item (else ``ValueError``). The same inputs and seed give the same split.
"""
from __future__ import annotations

import numpy as np

from ._checks import _check_int

__all__ = ["make_windows", "chronological_split", "stratified_split", "group_split"]


def make_windows(values, window: int, horizon: int, *, targets=None) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows for multi-step-ahead forecasting.

    ``values``: ``(T, K)`` (or ``(T,)``, one column) numbers in time order. Window ``i`` has the input
    ``X[i] = values[i : i + window]`` and the target ``Y[i] = values[i + window : i + window + horizon,
    targets]``, for ``i`` in ``0 .. T - window - horizon``. ``targets``: the indices of the columns to
    predict (default: all). Returns float ``X`` ``(N, window, K)`` and ``Y`` ``(N, horizon, len(targets))``
    with ``N = T - window - horizon + 1`` (fresh arrays; float32 stays float32, others become float64).
    Raises ``ValueError`` when ``window`` or ``horizon`` is < 1 or there are fewer than
    ``window + horizon`` rows.
    """
    v = np.asarray(values)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"values: expected numbers, got dtype {v.dtype}")
    v = v[:, None] if v.ndim == 1 else v
    if v.ndim != 2:
        raise ValueError(f"values: expected a (T, K) or (T,) array, got shape {v.shape}")
    v = v if v.dtype.kind == "f" and v.dtype.itemsize >= 4 else v.astype(np.float64)
    if not np.isfinite(v).all():
        raise ValueError(f"values: row {int(np.argwhere(~np.isfinite(v))[0][0])} has a NaN or inf value")
    window, horizon = _check_int(window, "window", 1), _check_int(horizon, "horizon", 1)
    T, K = v.shape
    if T < window + horizon:
        raise ValueError(f"values: {T} rows are too few for windows of {window} steps and a horizon of {horizon}: "
                         f"at least window + horizon = {window + horizon} rows are needed")
    cols = list(range(K)) if targets is None else [_check_int(t, "targets", 0, K - 1) for t in targets]
    if not cols:
        raise ValueError("targets: expected at least one column index, got none")
    X = np.lib.stride_tricks.sliding_window_view(v[:T - horizon], window, axis=0)
    Y = np.lib.stride_tricks.sliding_window_view(v[window:, cols], horizon, axis=0)
    return np.ascontiguousarray(X.transpose(0, 2, 1)), np.ascontiguousarray(Y.transpose(0, 2, 1))


def _check_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 2 or not np.isfinite(f).all() or (f < 0).any() or f[0] <= 0:
        raise ValueError(f"fractions: expected two or more numbers >= 0, the first > 0, got {tuple(fractions)}")
    if abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions: must sum to 1, got {tuple(fractions)} (sum {f.sum():.6g})")
    return f


def _parts(sizes, f) -> np.ndarray:
    """The part (0..P-1) of each of a row of items with ``sizes``, cut in order by the fractions ``f``:
    an item goes where the middle of its span falls. When there are enough items, every part with a
    positive fraction gets one (taken from the part with most)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    middle = (np.cumsum(sizes) - sizes / 2) / sizes.sum()
    counts = np.bincount(np.searchsorted(np.cumsum(f)[:-1], middle, side="right"), minlength=len(f))
    wanted = np.flatnonzero(f > 0)
    if len(sizes) >= len(wanted):
        for k in wanted:
            if counts[k] == 0:
                counts[np.argmax(counts)] -= 1
                counts[k] += 1
    return np.repeat(np.arange(len(f)), counts)


def _indices(part_of_item, f, what: str) -> tuple[np.ndarray, ...]:
    out = tuple(np.flatnonzero(part_of_item == k).astype(np.int64) for k in range(len(f)))
    empty = [k for k in range(len(f)) if f[k] > 0 and out[k].size == 0]
    if empty:
        raise ValueError(f"{what} too few to give every part of fractions {tuple(f.tolist())} at least one: "
                         f"part(s) {empty} would be empty; give more data or lower those fractions")
    return out


def chronological_split(n: int, fractions=(0.7, 0.15, 0.15)) -> tuple[np.ndarray, ...]:
    """Consecutive index arrays over ``range(n)`` in order: part ``k`` holds about ``n * fractions[k]``
    items (the item whose middle falls in the part's share); e.g. ``n=100`` -> 0..69, 70..84, 85..99."""
    n = _check_int(n, "n", 1)
    f = _check_fractions(fractions)
    return _indices(_parts(np.ones(n), f), f, f"n={n} items are")


def stratified_split(labels, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> tuple[np.ndarray, ...]:
    """Index arrays with each class split by ``fractions`` (about ``count * fraction`` of its members in
    each part): every class with at least as many members as there are parts with a positive fraction
    appears in each of them; smaller classes fill the first parts. ``labels``: one hashable label per
    item (1-D). Deterministic from ``seed``."""
    labels = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels: expected a non-empty 1-D array of class labels, got shape {labels.shape}")
    f = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    members = {}
    for i, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(i)
    part = np.empty(labels.size, dtype=np.int64)
    for rows in members.values():
        part[rng.permutation(rows)] = _parts(np.ones(len(rows)), f)
    return _indices(part, f, f"{labels.size} items in {len(members)} classes are")


def group_split(groups, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> tuple[np.ndarray, ...]:
    """Index arrays that keep each group (a subject, a recording session...) whole in one part; the
    groups are shuffled (deterministically from ``seed``) and cut so each part holds about
    ``fractions[k]`` of the items. ``groups``: one hashable group id per item (1-D)."""
    groups = np.asarray(groups, dtype=object) if not isinstance(groups, np.ndarray) else groups
    if groups.ndim != 1 or groups.size == 0:
        raise ValueError(f"groups: expected a non-empty 1-D array of group ids, got shape {groups.shape}")
    f = _check_fractions(fractions)
    members = {}
    for i, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(i)
    order = np.random.default_rng(seed).permutation(len(members))
    rows = list(members.values())
    group_part = _parts([len(rows[j]) for j in order], f)
    part = np.empty(groups.size, dtype=np.int64)
    for j, p in zip(order, group_part):
        part[rows[j]] = p
    return _indices(part, f, f"{len(members)} groups are")
