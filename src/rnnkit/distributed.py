"""Data-parallel training over MPI (seed §3.1: the cost of recurrent training, and parallelism).

Every rank runs the same program: it builds the same model from the same seed, loads the same data
and forms the same global batches (the shuffle generator is seeded alike). At each optimizer step
rank r takes its contiguous share of the batch's rows (``np.array_split``: batches stay sorted by
length, so length bucketing keeps working), computes the gradient of its share, and one in-place
``Allreduce`` over a single flat buffer adds the shares, each weighted by its count of loss terms
(sequences, or valid steps for per-step outputs) over the batch's total. The sum is exactly the
gradient of the whole batch, as one process would compute it; the optimizer step that follows is
then identical on every rank, so the weights never drift apart (Horovod's and PyTorch DDP's scheme).

    mpiexec -n 2 .venv/bin/rnnkit train charlm --distributed
    mpiexec -n 2 .venv/bin/python my_script.py      # with model.fit(..., distributed=True), or
                                                    # with rnnkit.distributed.data_parallel(): ...

Before training, every rank checks that all hold the same number of rows and takes rank 0's weights
(``Sequential(seed=None)`` gets one seed drawn on rank 0 for all ranks). Rank 0 alone prints progress
and writes files (run folders, checkpoints); every rank computes the same logs, so early stopping
agrees. Dropout masks come from a generator seeded with ``[seed, 2, epoch, rank]`` on each rank (a
resumed run draws the same): runs are deterministic for a given number of ranks, but their masks
differ from a single process's (after ``fit`` the layers get their own generators back). A rank that
fails, in ``fit`` or anywhere in a ``data_parallel()`` block, prints its message and aborts the whole
job (``MPI_Abort``), so no rank waits forever in a collective.

MPI comes from PyPI: ``pip install 'rnnkit[mpi]'`` (mpi4py and the MPICH wheel, whose ``mpiexec``
lands in the environment's ``bin``). To use a cluster's own MPI instead, install mpi4py against it
(``pip install --no-binary mpi4py mpi4py`` with that MPI's ``mpicc`` on the PATH) and start with the
cluster's launcher (``srun``, ``mpirun``).
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
import time

import numpy as np

INSTALL = "pip install 'rnnkit[mpi]'"
_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("rnnkit_data_parallel", default=None)


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"distributed training needs mpi4py and an MPI; install them with `{INSTALL}`") from e
    return MPI


class DataParallel:
    """One MPI communicator seen as a data-parallel group (default: all ranks of the job)."""

    def __init__(self, comm=None):
        self.MPI = _mpi()
        self.comm = self.MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.seconds = {"allreduce": 0.0, "gather": 0.0}      # time in communication, for measurements
        self.steps = 0

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def share(self, n: int) -> np.ndarray:
        """This rank's rows of a batch of ``n`` (contiguous; empty when ``n`` < the number of ranks)."""
        return np.array_split(np.arange(n), self.size)[self.rank]

    def root_seed(self) -> int:
        """A fresh seed drawn on rank 0 and sent to every rank (for ``Sequential(seed=None)``)."""
        seed = int(np.random.SeedSequence().entropy % 2 ** 63) if self.is_root else None
        return int(self.comm.bcast(seed, root=0))

    def start(self, model, n_rows: int):
        """Before training: every rank must hold the same number of rows, and takes rank 0's weights
        (identical already when the model was built from one seed; this makes it so in any case)."""
        counts = self.comm.allgather(int(n_rows))
        if len(set(counts)) > 1:
            raise ValueError(f"distributed training: the ranks hold different data ({counts} rows); every rank "
                             "must load the same data set")
        for layer in model.layers:
            for w in layer.params.values():
                self.comm.Bcast(w, root=0)                # in place: layers keep their arrays

    def combine(self, grads: dict, loss: float, weight: float, total: float):
        """Replace ``grads`` (in place in the dict) by sum_r weight_r / total * grads_r over the ranks,
        and return the loss combined the same way: one Allreduce over one flat buffer."""
        names = list(grads)
        dtype = np.result_type(*(grads[k].dtype for k in names)) if names else np.float64
        buf = np.empty(sum(grads[k].size for k in names) + 1, dtype=dtype)
        scale = weight / total if total else 0.0
        i = 0
        for k in names:
            g = grads[k]
            np.multiply(g.ravel(), dtype.type(scale), out=buf[i:i + g.size])
            i += g.size
        buf[-1] = loss * scale
        t0 = time.perf_counter()
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        self.seconds["allreduce"] += time.perf_counter() - t0
        self.steps += 1
        i = 0
        for k in names:
            g = grads[k]
            grads[k] = buf[i:i + g.size].reshape(g.shape).copy()
            i += g.size
        return float(buf[-1])

    def gather_rows(self, part):
        """The per-rank outputs ``part`` (rows of one batch, in rank order) as the whole batch's."""
        t0 = time.perf_counter()
        parts = [p for p in self.comm.allgather(part) if p is not None and len(p)]
        self.seconds["gather"] += time.perf_counter() - t0
        return np.concatenate(parts) if parts else part

    def abort(self, exc: BaseException):
        """Report ``exc`` and end every rank of the job (a lone failing rank must not leave the others
        waiting in a collective)."""
        print(f"rnnkit: error: rank {self.rank} of {self.size}: {type(exc).__name__}: {exc}", file=sys.stderr,
              flush=True)
        time.sleep(0.5)          # let the launcher forward the message before the job is torn down
        self.comm.Abort(1)


def active():
    """The ``DataParallel`` group of the enclosing ``data_parallel()`` block, or None."""
    return _ACTIVE.get()


@contextlib.contextmanager
def data_parallel(comm=None):
    """Make every ``fit`` and ``train_step`` in the block data-parallel over ``comm`` (default: all
    ranks); yields the ``DataParallel`` group (``.rank``, ``.size``, ``.is_root``)."""
    group = DataParallel(comm)
    token = _ACTIVE.set(group)
    try:
        yield group
    except BaseException as e:                # anywhere in the block (loading data, evaluating, ...):
        if group.size > 1:                    # a lone failing rank must not leave the others waiting
            group.abort(e)
        raise
    finally:
        _ACTIVE.reset(token)
