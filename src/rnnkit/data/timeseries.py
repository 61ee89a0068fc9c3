"""Time series (seed §5.2.1): S&P 500 from ``arch``; sunspots, Nile and CO2 from ``statsmodels``.

Loaders return whole series in time order, read from the installed package and cached as
``.npz``. :func:`make_windows` turns a series into the sliding windows of seed §5.2.1 and
:func:`chronological_split` cuts them into consecutive train/validation/test parts.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .cache import _cached
from .packages import _import

__all__ = [
    "SP500Data",
    "TimeSeries",
    "load_sp500",
    "load_sunspots",
    "load_co2",
    "load_nile",
    "make_windows",
    "chronological_split",
]


class SP500Data(NamedTuple):
    dates: np.ndarray  # str '<U10', ISO 'YYYY-MM-DD', increasing
    close: np.ndarray  # float32 (n,)
    ohlcv: np.ndarray  # float32 (n, 6)
    columns: tuple[str, ...]  # names of the ohlcv columns


class TimeSeries(NamedTuple):
    time: np.ndarray  # int64 years, or str ISO dates
    values: np.ndarray  # float32 (n,)
    name: str


def _read_sp500() -> dict[str, np.ndarray]:
    sp500 = _import("load_sp500", "arch", "arch.data.sp500")
    df = sp500.load().sort_index(kind="stable")
    return {
        "dates": np.array(df.index.strftime("%Y-%m-%d").tolist(), dtype="<U10"),
        "ohlcv": df.to_numpy(dtype=np.float64),
        "columns": np.array([str(c) for c in df.columns]),
    }


def load_sp500(*, cache: bool = True) -> SP500Data:
    """S&P 500 index, daily, 1999-01-04 .. 2018-12-31: 5,031 trading days (seed §5.2.1).

    Source: ``arch`` (``from arch.data import sp500; sp500.load()``), chronological order.
    Returns :class:`SP500Data`: ``dates`` (``<U10`` ISO strings, strictly increasing),
    ``close`` (``float32`` ``(5031,)``, the daily close P_t), ``ohlcv`` (``float32``
    ``(5031, 6)``) with ``columns`` = ``('Open', 'High', 'Low', 'Close', 'Adj Close', 'Volume')``.
    No split is applied: use :func:`make_windows` then :func:`chronological_split`.

    Raises :class:`DataPackageMissing` (``pip install arch``) if arch is absent.
    """
    raw = _cached("sp500", "load_sp500", "arch", _read_sp500, cache)
    columns = tuple(str(c) for c in raw["columns"].tolist())
    ohlcv = raw["ohlcv"].astype(np.float32)
    return SP500Data(raw["dates"], ohlcv[:, columns.index("Close")].copy(), ohlcv, columns)


def _read_statsmodels(name: str, loader: str) -> dict[str, np.ndarray]:
    mod = _import(loader, "statsmodels", f"statsmodels.datasets.{name}")
    df = mod.load_pandas().data
    if name == "sunspots":
        return {
            "time": df["YEAR"].to_numpy().astype(np.int64),
            "values": df["SUNACTIVITY"].to_numpy(),
        }
    if name == "nile":
        return {"time": df["year"].to_numpy().astype(np.int64), "values": df["volume"].to_numpy()}
    # co2: weekly (Saturdays), 59 missing weeks
    s = df["co2"]
    weekly = s.interpolate(method="linear")
    monthly = s.resample("MS").mean().interpolate(method="linear")
    return {
        "weekly_time": np.array(weekly.index.strftime("%Y-%m-%d").tolist(), dtype="<U10"),
        "weekly_values": weekly.to_numpy(),
        "monthly_time": np.array(monthly.index.strftime("%Y-%m-%d").tolist(), dtype="<U10"),
        "monthly_values": monthly.to_numpy(),
    }


def _read_sunspots():
    return _read_statsmodels("sunspots", "load_sunspots")


def _read_co2():
    return _read_statsmodels("co2", "load_co2")


def _read_nile():
    return _read_statsmodels("nile", "load_nile")


def load_sunspots(*, cache: bool = True) -> TimeSeries:
    """Yearly mean sunspot numbers, 1700..2008: 309 values (``statsmodels.datasets.sunspots``).

    Returns :class:`TimeSeries` with ``time`` = years (``int64`` ``(309,)``) and ``values``
    (``float32`` ``(309,)``). No split applied (see :func:`chronological_split`).
    Raises :class:`DataPackageMissing` (``pip install statsmodels``) if statsmodels is absent.
    """
    raw = _cached("sunspots", "load_sunspots", "statsmodels", _read_sunspots, cache)
    return TimeSeries(raw["time"], raw["values"].astype(np.float32), "sunspots")


def load_nile(*, cache: bool = True) -> TimeSeries:
    """Yearly Nile flow volume at Aswan, 1871..1970: 100 values (``statsmodels.datasets.nile``).

    Returns :class:`TimeSeries`: ``time`` = years (``int64`` ``(100,)``), ``values``
    (``float32`` ``(100,)``, 10^8 m^3). Raises :class:`DataPackageMissing` if statsmodels is absent.
    """
    raw = _cached("nile", "load_nile", "statsmodels", _read_nile, cache)
    return TimeSeries(raw["time"], raw["values"].astype(np.float32), "nile")


def load_co2(freq: str = "monthly", *, cache: bool = True) -> TimeSeries:
    """Atmospheric CO2 at Mauna Loa (ppm), 1958-03 .. 2001-12 (``statsmodels.datasets.co2``).

    ``freq="monthly"`` (default): 526 monthly means, ``time`` = first day of the month; the 5
    months with no data are linearly interpolated. ``freq="weekly"``: the 2,284 raw weekly
    values (Saturdays), the 59 missing weeks linearly interpolated. ``time`` is ISO date strings
    (``<U10``), ``values`` ``float32``. Raises :class:`DataPackageMissing` if statsmodels is absent.
    """
    if freq not in ("monthly", "weekly"):
        raise ValueError(f"freq must be 'monthly' or 'weekly', got {freq!r}")
    raw = _cached("co2", "load_co2", "statsmodels", _read_co2, cache)
    return TimeSeries(raw[f"{freq}_time"], raw[f"{freq}_values"].astype(np.float32), f"co2_{freq}")


def make_windows(series, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows of seed §5.2.1: ``x_t = [P_{t-w}, ..., P_{t-1}] -> y_t = P_t``.

    ``series``: 1-D array of length ``n``. Returns ``X`` of shape ``(n - window, window, 1)``
    (batch-first, one feature) and ``y`` of shape ``(n - window,)``, where ``X[i, :, 0] =
    series[i : i + window]`` and ``y[i] = series[i + window]``. A floating series keeps its
    dtype; any other becomes ``float32``. The arrays are fresh copies.
    """
    s = np.asarray(series)
    if s.ndim != 1:
        raise ValueError(f"series must be 1-D, got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.floating):
        if not (np.issubdtype(s.dtype, np.integer) or s.dtype == bool):
            raise TypeError(f"series must be numeric, got dtype {s.dtype}")
        s = s.astype(np.float32)
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")
    if len(s) <= window:
        raise ValueError(f"series must be longer than window={window}, got length {len(s)}")
    if not np.isfinite(s).all():
        raise ValueError(f"series has {int((~np.isfinite(s)).sum())} NaN/inf values")
    X = np.lib.stride_tricks.sliding_window_view(s[:-1], int(window))
    return np.ascontiguousarray(X)[:, :, None].copy(), s[window:].copy()


def chronological_split(
    n: int, fractions: Sequence[float] = (0.7, 0.15, 0.15)
) -> tuple[slice, ...]:
    """Consecutive, non-overlapping slices covering ``range(n)`` in time order.

    Part ``k`` ends at ``floor(n * (f_0 + ... + f_k))``; the last part ends at ``n``.
    ``fractions`` must be positive and sum to 1 and every part must be non-empty.

    >>> chronological_split(100)
    (slice(0, 70, None), slice(70, 85, None), slice(85, 100, None))
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 2 or (f <= 0).any() or not np.isfinite(f).all():
        raise ValueError(f"fractions must be >= 2 positive numbers, got {tuple(fractions)}")
    if abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {tuple(fractions)} (sum {f.sum():.6g})")
    ends = [int(np.floor(n * c + 1e-9)) for c in np.cumsum(f)[:-1]] + [int(n)]
    starts = [0] + ends[:-1]
    if any(b <= a for a, b in zip(starts, ends)):
        raise ValueError(f"n={n} is too small for fractions {tuple(fractions)}: a part is empty")
    return tuple(slice(a, b) for a, b in zip(starts, ends))
