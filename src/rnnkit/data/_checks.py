"""Argument checks shared by the speech modules; each error names the argument."""
from __future__ import annotations

import numpy as np


def _check_int(value, name: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}: expected an integer in {rng}, got {value}")
    return value


def _check_range(pair, name: str, lo: int, hi: int) -> tuple[int, int]:
    try:
        a, b = pair
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a pair (low, high), got {pair!r}") from None
    a = _check_int(a, f"{name}[0]", lo, hi)
    b = _check_int(b, f"{name}[1]", lo, hi)
    if a > b:
        raise ValueError(f"{name}: low must be <= high, got {pair!r}")
    return a, b
