"""The on-disk cache of parsed data: one ``.npz`` file per source, plain arrays, no pickle.

The cache directory is ``$RNNKIT_CACHE`` if set, else ``~/.cache/rnnkit``. Files are written
atomically (temporary file, then ``os.replace``) and a data set's file name carries its data
package's version, so an upgraded package is re-read. A corrupt file is silently rebuilt; a
cache that cannot be written only warns. Every loader takes ``cache=False`` to bypass it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .._atomic import atomic_write
from .packages import _PACKAGES, _package_version, _require

__all__ = ["cache_dir"]

# Bump when the layout of a cache file changes, so that old files are ignored.
_CACHE_FORMAT = 1


def cache_dir() -> Path:
    """The cache directory: ``$RNNKIT_CACHE`` if set (and non-empty), else ``~/.cache/rnnkit``."""
    env = os.environ.get("RNNKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnkit"


def _cache_path(name: str, key: str) -> Path:
    return cache_dir() / f"{name}-{_PACKAGES[key].dist}{_package_version(key)}-v{_CACHE_FORMAT}.npz"


def _write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)


def _cached(
    name: str, loader: str, key: str, reader: Callable[[], dict[str, np.ndarray]], cache: bool
):
    """Arrays of the parsed source ``name``: from the cache if there, else ``reader()`` (cached).

    The data package must be installed either way (its version is part of the cache key).
    """
    _require(loader, key)
    path = _cache_path(name, key)
    if cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception:  # corrupt or truncated file: rebuild it below
            pass
    arrays = reader()
    if cache:
        try:
            _write_npz_atomic(path, arrays)
        except OSError as exc:
            warnings.warn(f"rnnkit: could not write the data cache {path}: {exc}", stacklevel=3)
    return arrays


def _pack_texts(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Strings as one UTF-8 byte array plus offsets (compact, pickle-free)."""
    blobs = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    return {"bytes": np.frombuffer(b"".join(blobs), dtype=np.uint8), "offsets": offsets}


def _unpack_texts(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = data.tobytes()
    return [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _pack_ragged(seqs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    return {"data": np.concatenate(seqs, axis=0), "lengths": lengths}


def _unpack_ragged(data: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(data, np.cumsum(lengths)[:-1], axis=0)
