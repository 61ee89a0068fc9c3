"""The package's surface: the public names at the top level, one version (``rnnkit._version``, the
same as pyproject.toml's), and an ``import rnnkit`` that needs NumPy only."""
import re
import subprocess
import sys
from pathlib import Path

import rnnkit
from rnnkit import callbacks, layers, model

ROOT = Path(__file__).resolve().parents[2]


def test_top_level_names():
    from rnnkit import (  # noqa: F401  (the import itself is the test)
        GRU,
        LSTM,
        RNN,
        Dense,
        Dropout,
        EarlyStopping,
        Embedding,
        Flatten,
        ModelCheckpoint,
        Recurrent,
        Sequential,
        feedforward,
    )
    assert Sequential is model.Sequential and feedforward is model.feedforward
    assert (Dense, Embedding, LSTM, Recurrent) == (layers.Dense, layers.Embedding, layers.LSTM, layers.Recurrent)
    assert (EarlyStopping, ModelCheckpoint) == (callbacks.EarlyStopping, callbacks.ModelCheckpoint)
    assert all(hasattr(rnnkit, name) for name in rnnkit.__all__)


def test_the_version_is_pyprojects():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    declared = re.search(r'^version\s*=\s*"([^"]+)"', project, re.M).group(1)
    assert rnnkit.__version__ == declared
    from rnnkit._version import __version__
    assert __version__ is rnnkit.__version__


def test_import_needs_numpy_only():
    code = ("import sys, rnnkit; heavy = {'tqdm', 'matplotlib', 'torch', 'scipy', 'pandas', 'sklearn', 'mpi4py'}; "
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src")}, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout
