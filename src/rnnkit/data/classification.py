"""Sequence classification data (seed §5.2.2, §5.2.3): UEA sets bundled in aeon, seglearn's watch.

``load_japanese_vowels`` (speakers) and ``load_basic_motions`` (activities) keep the archive's
fixed train/test split; ``load_watch`` (shoulder exercises) is split by holding out whole
subjects with :func:`split_by_subject`. Files are read from the installed package (aeon's
download path is never used) and cached as ``.npz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, NamedTuple

import numpy as np

from .cache import _cached, _pack_ragged, _unpack_ragged
from .packages import _import, _package_dir

__all__ = [
    "ClassificationData",
    "WatchData",
    "load_japanese_vowels",
    "load_basic_motions",
    "load_watch",
    "split_by_subject",
    "WATCH_TEST_SUBJECTS",
]


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


class ClassificationData(NamedTuple):
    X: object  # list of (T_i, C) float32 arrays, or a (N, T, C) float32 array
    y: np.ndarray  # int64 (N,), values 0..K-1
    classes: tuple[str, ...]  # classes[k] = original label of class k


def _aeon_file(loader: str, name: str, split: str) -> Path:
    folder = _package_dir(loader, "aeon") / "datasets" / "data" / name
    path = folder / f"{name}_{split.upper()}.ts"
    if not path.is_file():
        raise RuntimeError(
            f"aeon's bundled file {path} is missing; rnnkit never downloads data. Reinstall aeon "
            f"with:\n    pip install --force-reinstall aeon"
        )
    return path


def _read_aeon(loader: str, name: str) -> dict[str, np.ndarray]:
    """Both splits of a bundled UEA problem, read with aeon's .ts reader (no download path)."""
    ds = _import(loader, "aeon", "aeon.datasets")
    out, labels = {}, {}
    for split in ("train", "test"):
        X, y = ds.load_from_ts_file(str(_aeon_file(loader, name, split)))
        # aeon gives (N, C, T) or a list of (C, T_i): make each series (T_i, C), float32
        seqs = [np.ascontiguousarray(np.asarray(x).T, dtype=np.float32) for x in X]
        packed = _pack_ragged(seqs)
        out[f"{split}_data"], out[f"{split}_lengths"] = packed["data"], packed["lengths"]
        labels[split] = np.asarray(y).astype(str)
    classes = sorted(set(labels["train"]) | set(labels["test"]), key=_label_key)
    index = {c: k for k, c in enumerate(classes)}
    for split in ("train", "test"):
        out[f"{split}_y"] = np.array([index[c] for c in labels[split]], dtype=np.int64)
    out["classes"] = np.array(classes)
    return out


def _label_key(label: str):
    """Numeric labels sort as numbers ('2' < '10'), others alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _read_japanese_vowels():
    return _read_aeon("load_japanese_vowels", "JapaneseVowels")


def _read_basic_motions():
    return _read_aeon("load_basic_motions", "BasicMotions")


def load_japanese_vowels(split: str = "train", *, cache: bool = True) -> ClassificationData:
    """JapaneseVowels (UEA): speaker recognition from 12 LPC cepstra per frame (seed §5.2.2).

    Nine male speakers utter /ae/; each utterance is 7..29 frames of 12 cepstral coefficients.
    Fixed split of the archive: ``"train"`` = 270 utterances (30 per speaker, 7..26 frames),
    ``"test"`` = 370 (24..88 per speaker, 7..29 frames).
    Read from the file aeon bundles (``aeon/datasets/data/JapaneseVowels/*.ts``) with aeon's
    ``.ts`` reader; aeon's download path is never used.

    Returns :class:`ClassificationData`: ``X`` = list of ``float32`` arrays ``(T_i, 12)``
    (time-major, ragged), ``y`` = ``int64`` ``(N,)`` in 0..8 where class ``k`` is speaker
    ``k + 1`` (``classes = ('1', ..., '9')``, the archive's labels in numeric order).
    Raises :class:`DataPackageMissing` (``pip install aeon``) if aeon is absent.
    """
    _check_split(split)
    raw = _cached("japanese_vowels", "load_japanese_vowels", "aeon", _read_japanese_vowels, cache)
    X = _unpack_ragged(raw[f"{split}_data"], raw[f"{split}_lengths"])
    return ClassificationData(X, raw[f"{split}_y"], tuple(str(c) for c in raw["classes"].tolist()))


def load_basic_motions(split: str = "train", *, cache: bool = True) -> ClassificationData:
    """BasicMotions (UEA): four activities from a smartwatch, 6 channels (seed §5.2.3).

    Channels: 3-axis accelerometer then 3-axis gyroscope, 100 steps (10 s at 10 Hz) each.
    Fixed split of the archive: ``"train"`` = 40, ``"test"`` = 40 (10 per class in each).
    Read from the file aeon bundles (``aeon/datasets/data/BasicMotions/*.ts``).

    Returns :class:`ClassificationData`: ``X`` = ``float32`` ``(40, 100, 6)`` batch-first
    (aeon's ``(N, channels, T)`` transposed), ``y`` = ``int64`` ``(40,)`` with
    ``classes = ('badminton', 'running', 'standing', 'walking')`` -> 0, 1, 2, 3 (alphabetical).
    Raises :class:`DataPackageMissing` (``pip install aeon``) if aeon is absent.
    """
    _check_split(split)
    raw = _cached("basic_motions", "load_basic_motions", "aeon", _read_basic_motions, cache)
    lengths = raw[f"{split}_lengths"]
    X = raw[f"{split}_data"].reshape(len(lengths), int(lengths[0]), -1)
    return ClassificationData(X, raw[f"{split}_y"], tuple(str(c) for c in raw["classes"].tolist()))


class WatchData(NamedTuple):
    X: list  # list of (T_i, 6) float32 arrays
    y: np.ndarray  # int64 (140,), 0..6
    subjects: np.ndarray  # int64 (140,), 1..10
    side: np.ndarray  # int64 (140,), 1 = right arm, 0 = left
    classes: tuple[str, ...]  # exercise names: class k is classes[k]
    channels: tuple[str, ...]  # ('ax', 'ay', 'az', 'wx', 'wy', 'wz')


#: Subjects held out by :func:`split_by_subject` by default (3 of 10 -> 42 test / 98 train series).
WATCH_TEST_SUBJECTS = (8, 9, 10)


def _read_watch() -> dict[str, np.ndarray]:
    mod = _import("load_watch", "seglearn", "seglearn.datasets")
    d = mod.load_watch()
    seqs = [np.asarray(x, dtype=np.float32) for x in d["X"]]
    packed = _pack_ragged(seqs)
    return {
        "data": packed["data"],
        "lengths": packed["lengths"],
        "y": np.asarray(d["y"]).astype(np.int64),
        "subjects": np.asarray(d["subject"]).astype(np.int64),
        "side": np.asarray(d["side"]).astype(np.int64),
        "classes": np.array([str(c) for c in d["y_labels"]]),
        "channels": np.array([str(c) for c in d["X_labels"]]),
    }


def load_watch(*, cache: bool = True) -> WatchData:
    """Shoulder-exercise smartwatch data from ``seglearn.datasets.load_watch()`` (seed §5.2.3).

    140 series of 6-axis inertial data at 50 Hz (accelerometer ``ax, ay, az``, gyroscope
    ``wx, wy, wz``), 947..2,618 steps each; 10 subjects x 7 exercises x 2 arms (14 per subject,
    20 per class). Classes keep seglearn's order: ``('PEN', 'ABD', 'FEL', 'IR', 'ER', 'TRAP',
    'ROW')`` -> 0..6. Returns :class:`WatchData` (``X``: list of ``float32`` ``(T_i, 6)``;
    ``y``, ``subjects`` (1..10), ``side``: ``int64`` ``(140,)``). No split is applied: use
    ``split_by_subject(data.subjects)`` (default test subjects :data:`WATCH_TEST_SUBJECTS`).
    Raises :class:`DataPackageMissing` (``pip install seglearn``) if seglearn is absent.
    """
    raw = _cached("watch", "load_watch", "seglearn", _read_watch, cache)
    return WatchData(
        X=_unpack_ragged(raw["data"], raw["lengths"]),
        y=raw["y"],
        subjects=raw["subjects"],
        side=raw["side"],
        classes=tuple(str(c) for c in raw["classes"].tolist()),
        channels=tuple(str(c) for c in raw["channels"].tolist()),
    )


def split_by_subject(subjects, test_subjects: Iterable[int] = WATCH_TEST_SUBJECTS):
    """Indices ``(train_idx, test_idx)`` (``int64``, increasing) holding out whole subjects.

    ``test_idx`` = the items whose subject is in ``test_subjects``; ``train_idx`` = all others.
    The default :data:`WATCH_TEST_SUBJECTS` = ``(8, 9, 10)`` gives 98 train / 42 test series
    on :func:`load_watch` (all 7 classes on both sides).
    """
    subjects = np.asarray(subjects)
    if subjects.ndim != 1 or subjects.size == 0:
        raise ValueError(f"subjects must be a non-empty 1-D array, got shape {subjects.shape}")
    test_subjects = np.unique(np.asarray(list(test_subjects)))
    missing = np.setdiff1d(test_subjects, np.unique(subjects))
    if test_subjects.size == 0 or missing.size:
        raise ValueError(
            "test_subjects must be non-empty ids present in subjects "
            f"{np.unique(subjects).tolist()}; "
            f"not present: {missing.tolist()}"
        )
    is_test = np.isin(subjects, test_subjects)
    if is_test.all():
        raise ValueError("test_subjects would leave no training data")
    return np.flatnonzero(~is_test).astype(np.int64), np.flatnonzero(is_test).astype(np.int64)
