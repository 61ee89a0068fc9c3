"""The development data of issue 13's time-series classification defaults (``bench_tsc.py``).

Only these sets were used to choose ``rnnkit.estimators``' defaults:

- ``basicmotions``: aeon's BasicMotions, its own train/test split (40/40, 6 channels x 100 steps, 4 classes);
- ``japanesevowels``: aeon's JapaneseVowels, its own split (270/370, 12 channels x 7-29 steps, 9 speakers);
- ``watch``: seglearn's watch (140 exercise recordings, 6 channels, 7 classes, unequal lengths), split
  stratified 70/30 with ``random_state=0`` (fixed before any score was looked at);
- ``motif_long``: synthetic, 3 channels of AR(1) noise, 800-1200 steps (unequal), the class is which of
  three short motifs (a sine burst, a square pulse, a chirp) is hidden at a random place in channel 0;
  20 series per class to train, 30 per class to test;
- ``freq_long``: synthetic, one channel of 1000 steps, a noisy oscillation whose period is 40 or 50
  steps (random phase, amplitude and drift); 25 per class to train, 50 per class to test.

sktime's PLAID is not used: sktime is not a dependency here, and aeon does not ship PLAID.
Every loader returns ``(X_train, y_train, X_test, y_test)`` with X a list of (T_i, C) float arrays.
"""
from __future__ import annotations

import numpy as np

SETS = ("basicmotions", "japanesevowels", "watch", "motif_long", "freq_long")


def _time_major(X):
    return [np.asarray(x, dtype=np.float64).T for x in X]


def basicmotions():
    from aeon.datasets import load_basic_motions
    Xtr, ytr = load_basic_motions(split="train")
    Xte, yte = load_basic_motions(split="test")
    return _time_major(Xtr), np.asarray(ytr), _time_major(Xte), np.asarray(yte)


def japanesevowels():
    from aeon.datasets import load_japanese_vowels
    Xtr, ytr = load_japanese_vowels(split="train")
    Xte, yte = load_japanese_vowels(split="test")
    return _time_major(Xtr), np.asarray(ytr), _time_major(Xte), np.asarray(yte)


def watch():
    from seglearn.datasets import load_watch
    from sklearn.model_selection import train_test_split
    data = load_watch()
    X = [np.asarray(x, dtype=np.float64) for x in data["X"]]
    y = np.asarray(data["y"])
    idx = np.arange(len(X))
    tr, te = train_test_split(idx, test_size=0.3, random_state=0, stratify=y)
    return [X[i] for i in tr], y[tr], [X[i] for i in te], y[te]


def _ar_noise(rng, T, C, phi=0.8):
    e = rng.standard_normal((T, C))
    out = np.empty_like(e)
    out[0] = e[0]
    for t in range(1, T):
        out[t] = phi * out[t - 1] + e[t]
    return out * np.sqrt(1 - phi ** 2)


def _motif(kind, L=60):
    t = np.arange(L) / L
    if kind == 0:
        return np.sin(2 * np.pi * 3 * t)
    if kind == 1:
        return np.where((t > 0.2) & (t < 0.8), 1.0, -1.0) * 0.8
    return np.sin(2 * np.pi * (1 + 6 * t) * t)


def motif_long(seed=0):
    rng = np.random.default_rng(1000 + seed)

    def make(n_per_class):
        X, y = [], []
        for k in range(3):
            for _ in range(n_per_class):
                T = int(rng.integers(800, 1201))
                x = _ar_noise(rng, T, 3)
                m = 1.5 * _motif(k)
                at = int(rng.integers(0, T - len(m)))
                x[at:at + len(m), 0] += m
                X.append(x)
                y.append("sine chirp square".split()[[0, 2, 1][k]])
        return X, np.asarray(y)
    Xtr, ytr = make(20)
    Xte, yte = make(30)
    return Xtr, ytr, Xte, yte


def freq_long(seed=0):
    rng = np.random.default_rng(2000 + seed)

    def make(n_per_class):
        X, y = [], []
        for period in (40, 50):
            for _ in range(n_per_class):
                t = np.arange(1000)
                amp = rng.uniform(0.5, 1.5)
                drift = np.cumsum(rng.standard_normal(1000)) * 0.05
                x = amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) + drift
                x += 0.8 * rng.standard_normal(1000)
                X.append(x[:, None])
                y.append(f"period{period}")
        return X, np.asarray(y)
    Xtr, ytr = make(25)
    Xte, yte = make(50)
    return Xtr, ytr, Xte, yte


LOADERS = {"basicmotions": basicmotions, "japanesevowels": japanesevowels, "watch": watch,
           "motif_long": motif_long, "freq_long": freq_long}


def load(name):
    return LOADERS[name]()


def padded_channels_first(X, length=None):
    """(N, C, T) zero-padded at the end (for the baselines that need equal lengths)."""
    T = length or max(len(x) for x in X)
    out = np.zeros((len(X), X[0].shape[1], T))
    for i, x in enumerate(X):
        n = min(len(x), T)
        out[i, :, :n] = x[:n].T
    return out
