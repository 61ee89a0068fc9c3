"""Data-parallel training over MPI: N ranks give the single process's weights (float64, 1e-10), runs
with dropout are deterministic, a failing rank ends the job with its message (``rnnkit.distributed``)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnkit import distributed
from rnnkit.layers import GRU, Dense
from rnnkit.model import Sequential

SCRIPT = Path(__file__).with_name("mpi_train.py")
MPIEXEC = Path(sys.executable).with_name("mpiexec")
ROOT = Path(__file__).resolve().parents[2]


def run(out, case, ranks=None, timeout=120):
    cmd = [sys.executable, str(SCRIPT), str(out), case]
    if ranks:
        cmd = [str(MPIEXEC), "-n", str(ranks), *cmd, "dp"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    return p, time.perf_counter() - t0


def weights(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k != "rank_spread"}


def rank_spread(path):
    with np.load(path) as z:
        return float(z["rank_spread"])


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    out = {}
    for case in ("lstm", "bigru", "tokens"):
        p, _ = run(d / f"{case}.npz", case)
        assert p.returncode == 0, p.stderr
        out[case] = weights(d / f"{case}.npz")
    return out


@pytest.mark.parametrize("case", ["lstm", "bigru", "tokens"])
@pytest.mark.parametrize("ranks", [2, 3])     # 3 ranks: batches of 7 (and the last of 2) split unevenly
def test_ranks_reproduce_the_single_process_run(tmp_path, references, case, ranks):
    p, _ = run(tmp_path / "dp.npz", case, ranks)
    assert p.returncode == 0, p.stderr
    got, ref = weights(tmp_path / "dp.npz"), references[case]
    assert sorted(got) == sorted(ref)
    assert rank_spread(tmp_path / "dp.npz") == 0.0            # every rank holds the same weights
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-10, err_msg=k)


def test_ranks_agree_without_a_seed(tmp_path):
    p, _ = run(tmp_path / "n.npz", "noseed", 2)
    assert p.returncode == 0, p.stderr
    assert rank_spread(tmp_path / "n.npz") == 0.0


@pytest.mark.parametrize("case,message", [
    ("fail", "rank 1 of 2: RuntimeError: rank 1 fails on purpose"),                          # inside fit
    ("fail-outside", "rank 1 of 2: FileNotFoundError: data missing on rank 1 (outside fit)"),  # in the block
])
def test_a_failing_rank_ends_the_job_with_its_message(tmp_path, case, message):
    p, seconds = run(tmp_path / "f.npz", case, 2, timeout=60)
    assert p.returncode != 0
    assert message in p.stderr
    assert seconds < 30


def test_dropout_runs_are_deterministic(tmp_path):
    a, _ = run(tmp_path / "a.npz", "dropout", 2)
    b, _ = run(tmp_path / "b.npz", "dropout", 2)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    wa, wb = weights(tmp_path / "a.npz"), weights(tmp_path / "b.npz")
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_without_mpi4py_the_message_names_the_install_command(monkeypatch):
    def missing():
        raise ImportError(f"distributed training needs mpi4py and an MPI; install them with `{distributed.INSTALL}`")
    monkeypatch.setattr(distributed, "_mpi", missing)
    model = Sequential([GRU(2), Dense(1)]).compile("mse")
    with pytest.raises(ImportError, match=r"pip install 'rnnkit\[mpi\]'"):
        model.fit(np.ones((4, 3, 1)), np.ones(4), verbose=0, distributed=True)


def test_one_rank_is_the_plain_run():
    X, y = np.random.default_rng(0).standard_normal((9, 4, 2)), np.random.default_rng(1).standard_normal(9)
    a = Sequential([GRU(3), Dense(1)], seed=0, dtype="float64").compile("mse")
    b = Sequential([GRU(3), Dense(1)], seed=0, dtype="float64").compile("mse")
    a.fit(X, y, epochs=2, batch_size=4, verbose=0)
    b.fit(X, y, epochs=2, batch_size=4, verbose=0, distributed=True)   # a job of one rank
    for k, v in a.get_weights().items():
        np.testing.assert_allclose(b.get_weights()[k], v, rtol=0, atol=1e-12)


def test_the_command_line_trains_on_two_ranks_and_rank0_writes(tmp_path):
    out = tmp_path / "run"
    cmd = [str(MPIEXEC), "-n", "2", sys.executable, "-m", "rnnkit", "train", "sunspots", "--quick",
           "--epochs", "2", "--distributed", "--out", str(out), "--verbose", "0"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("run folder:") == 1                  # rank 0 alone reports and writes
    assert (out / "model.npz").is_file() and (out / "metrics.json").is_file()
    Sequential.load(out / "model.npz")
