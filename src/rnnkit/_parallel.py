"""Independent tasks run in order here or in parallel through joblib (seed §3.1: parallelism).

Cross-validation folds and grid-search points (seed §3.3) are independent trainings, the easy kind
of parallelism: no communication, one task per worker, small results shipped back. This module is
the thin layer over joblib that ``rnnkit.model_selection`` uses:

- ``n_jobs`` None or 1 and ``backend`` None: the tasks run one after another in this process and
  joblib is not needed (nor imported);
- otherwise they go through ``joblib.Parallel(n_jobs=n_jobs, backend=backend)``: ``n_jobs`` k > 1
  runs k worker processes (joblib's default backend, loky), -1 one per core, -2 all but one;
  ``backend`` None takes the backend of the surrounding ``joblib.parallel_backend`` /
  ``joblib.parallel_config`` block, so ``with joblib.parallel_backend("dask"): ...`` sends the tasks
  to the Dask cluster of the active ``dask.distributed.Client``.

Results come back in task order whatever the order in which workers finish them. joblib, Dask and
distributed are optional: ``pip install 'rnnkit[parallel]'``.

Callers that promise results identical to a serial run (``model_selection``) limit BLAS to one
thread inside each task with ``rnnkit._threads.blas_threads(1)``. That limit is per process: it
holds in loky or multiprocessing workers and in Dask workers with one thread each, not for tasks
that share a process in threads (the "threading" backend, Dask workers with several threads).
"""
from __future__ import annotations

import numbers

INSTALL = "pip install 'rnnkit[parallel]'"


def _joblib():
    """The joblib module, or an ImportError naming the install command."""
    try:
        import joblib
    except ImportError as e:
        raise ImportError(f"parallel runs (n_jobs, backend) need joblib; install it with `{INSTALL}`") from e
    return joblib


def _dask_distributed():
    """The dask.distributed module, or an ImportError naming the install command."""
    try:
        import dask.distributed
    except ImportError as e:
        raise ImportError(f"backend='dask' needs dask and distributed; install them with `{INSTALL}`") from e
    return dask.distributed


def check_n_jobs(n_jobs):
    """None, or a non-zero integer (joblib's convention: -1 is every core, -2 all but one, ...)."""
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs: expected None or a non-zero integer (-1: every core), got {n_jobs!r}")
    return int(n_jobs)


def check_backend(backend):
    """None, a joblib backend name, or a joblib backend instance."""
    if backend is not None and not isinstance(backend, str) and not hasattr(backend, "effective_n_jobs"):
        raise TypeError(f"backend: expected None, a joblib backend name ('loky', 'threading', 'dask', ...) "
                        f"or a joblib backend, got {type(backend).__name__}")
    return backend


def is_serial(n_jobs, backend) -> bool:
    """Whether ``parallel_map`` runs its tasks in this process, without joblib."""
    return backend is None and check_n_jobs(n_jobs) in (None, 1)


def parallel_map(fn, tasks, n_jobs=None, backend=None):
    """``[fn(*args) for args in tasks]``, serially or through ``joblib.Parallel`` (see the module doc).

    For worker processes ``fn`` and every argument must be picklable: loky and Dask use cloudpickle
    for functions, so lambdas and closures work there; the ``"multiprocessing"`` backend needs
    module-level functions (or ``functools.partial`` of them).
    """
    n_jobs, backend = check_n_jobs(n_jobs), check_backend(backend)
    tasks = list(tasks)
    if is_serial(n_jobs, backend):
        return [fn(*args) for args in tasks]
    joblib = _joblib()
    calls = [joblib.delayed(fn)(*args) for args in tasks]
    if not isinstance(backend, str):  # None (the context's backend) or a backend instance
        return joblib.Parallel(n_jobs=n_jobs, backend=backend)(calls)
    if backend == "dask":
        _dask_distributed()
    # A name goes through parallel_config: joblib 1.6's Parallel(backend="dask") hands its
    # nesting_level to every Dask task (TypeError: Batch.__call__() got an unexpected keyword
    # argument 'nesting_level'), while the same backend set by parallel_config works.
    with joblib.parallel_config(backend=backend):
        return joblib.Parallel(n_jobs=n_jobs)(calls)
