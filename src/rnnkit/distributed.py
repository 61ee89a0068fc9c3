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
    """One MPI communicator seen as a data-parallel group (default: all ranks of the job).

    Run without ``mpiexec``, a script is a job of one rank: the group has size 1 and every collective
    is a copy, so the same code runs with and without MPI (mpi4py must be installed).

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or None, optional
        The communicator (default None: ``MPI.COMM_WORLD``).

    Attributes
    ----------
    rank, size : int
        This process's rank and the number of ranks.
    seconds : dict of str to float
        Time spent in communication: {"allreduce": s, "gather": s}.
    steps : int
        The number of ``combine`` calls (optimizer steps).

    Raises
    ------
    ImportError
        If mpi4py (or an MPI library) is not installed; the message names the install command.

    Examples
    --------
    >>> from rnnkit.distributed import DataParallel
    >>> group = DataParallel()          # a plain process, no mpiexec: a job of one rank
    >>> group.rank, group.size, group.is_root
    (0, 1, True)
    >>> group.share(5)                  # this rank's rows of a batch of 5: all of them
    array([0, 1, 2, 3, 4])
    """

    def __init__(self, comm=None):
        self.MPI = _mpi()
        self.comm = self.MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.seconds = {"allreduce": 0.0, "gather": 0.0}      # time in communication, for measurements
        self.steps = 0

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0 (the rank that prints progress and writes files)."""
        return self.rank == 0

    def share(self, n: int) -> np.ndarray:
        """This rank's rows of a batch of ``n`` (contiguous; empty when ``n`` < the number of ranks).

        Parameters
        ----------
        n : int
            The number of rows in the global batch.

        Returns
        -------
        numpy.ndarray of int
            The row indices of this rank's share (``np.array_split`` of ``arange(n)`` over the ranks).
        """
        return np.array_split(np.arange(n), self.size)[self.rank]

    def root_seed(self) -> int:
        """A fresh seed drawn on rank 0 and sent to every rank (for ``Sequential(seed=None)``).

        Returns
        -------
        int
            The seed, in [0, 2**63), the same on every rank.
        """
        seed = int(np.random.SeedSequence().entropy % 2 ** 63) if self.is_root else None
        return int(self.comm.bcast(seed, root=0))

    def start(self, model, n_rows: int):
        """Before training: every rank must hold the same number of rows, and takes rank 0's weights
        (identical already when the model was built from one seed; this makes it so in any case).

        Parameters
        ----------
        model : rnnkit.model.Sequential
            The built model; its weight arrays are overwritten in place with rank 0's.
        n_rows : int
            The number of training rows this rank holds.

        Raises
        ------
        ValueError
            If the ranks hold different numbers of rows.
        """
        counts = self.comm.allgather(int(n_rows))
        if len(set(counts)) > 1:
            raise ValueError(f"distributed training: the ranks hold different data ({counts} rows); every rank "
                             "must load the same data set")
        for layer in model.layers:
            for w in layer.params.values():
                self.comm.Bcast(w, root=0)                # in place: layers keep their arrays

    def combine(self, grads: dict, loss: float, weight: float, total: float):
        """Replace ``grads`` (in place in the dict) by sum_r weight_r / total * grads_r over the ranks,
        and return the loss combined the same way: one Allreduce over one flat buffer.

        With ``weight`` the rank's count of loss terms (sequences, or valid steps for per-step outputs)
        and ``total`` the batch's, the result is exactly the gradient of the whole batch.

        Parameters
        ----------
        grads : dict of str to numpy.ndarray
            This rank's gradients ``{name: array}`` of its share (mean over its loss terms); each entry is
            replaced by a new array of the same shape holding the combined gradient.
        loss : float
            This rank's loss (mean over its loss terms).
        weight : float
            This rank's count of loss terms.
        total : float
            The whole batch's count (the sum of the ranks' weights); 0 gives zeros.

        Returns
        -------
        float
            The whole batch's loss.
        """
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
        """The per-rank outputs ``part`` (rows of one batch, in rank order) as the whole batch's.

        Parameters
        ----------
        part : numpy.ndarray or None
            This rank's output rows, (b_r, ...) (None or empty for a rank without rows).

        Returns
        -------
        numpy.ndarray or None
            The rows of every rank concatenated in rank order, (B, ...); ``part`` itself if no rank has rows.
        """
        t0 = time.perf_counter()
        parts = [p for p in self.comm.allgather(part) if p is not None and len(p)]
        self.seconds["gather"] += time.perf_counter() - t0
        return np.concatenate(parts) if parts else part

    def abort(self, exc: BaseException):
        """Report ``exc`` and end every rank of the job (a lone failing rank must not leave the others
        waiting in a collective).

        Parameters
        ----------
        exc : BaseException
            The error to report on stderr (with this rank's number) before ``MPI_Abort``.
        """
        print(f"rnnkit: error: rank {self.rank} of {self.size}: {type(exc).__name__}: {exc}", file=sys.stderr,
              flush=True)
        time.sleep(0.5)          # let the launcher forward the message before the job is torn down
        self.comm.Abort(1)


def active():
    """The ``DataParallel`` group of the enclosing ``data_parallel()`` block, or None.

    ``Sequential.train_step`` asks this to decide whether a step is data-parallel.

    Returns
    -------
    DataParallel or None
        The group, or None outside any ``data_parallel()`` block.

    Examples
    --------
    >>> from rnnkit.distributed import active
    >>> print(active())                 # outside a data_parallel() block
    None
    """
    return _ACTIVE.get()


@contextlib.contextmanager
def data_parallel(comm=None):
    """Make every ``fit`` and ``train_step`` in the block data-parallel over ``comm`` (default: all ranks).

    An exception anywhere in the block (loading data, evaluating, ...) on one rank of several aborts
    the whole job (``DataParallel.abort``), so no rank waits forever in a collective; with one rank it
    is simply raised.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or None, optional
        The communicator (default None: ``MPI.COMM_WORLD``).

    Yields
    ------
    DataParallel
        The group (``.rank``, ``.size``, ``.is_root``), also returned by ``active()`` inside the block.

    Raises
    ------
    ImportError
        If mpi4py is not installed.

    Examples
    --------
    >>> from rnnkit.distributed import active, data_parallel
    >>> with data_parallel() as group:  # a plain process, no mpiexec: one rank
    ...     print(group.size, group.is_root, active() is group)
    1 True True
    >>> print(active())
    None
    """
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
