"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file rnnkit writes (models, checkpoints, data caches, run records) goes through here.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import time

# .<target name>.<writer pid>.<random>.tmp; the pid lets a later writer tell an abandoned file (its
# writer was killed) from one still being written by a live process
_TMP = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$")
_TMP_OLD = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")      # before the pid was part of the name
_OLD_TMP_AGE = 3600.0                                       # seconds: surely abandoned


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file beside ``path``; on success flush, fsync and rename it over ``path``.

    On any exception (KeyboardInterrupt too) the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_abandoned(directory)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def remove_abandoned(directory):
    """Delete temporary files that an interrupted write (kill -9, power loss) left in ``directory``:
    ours whose writer process no longer runs, and old-style ones over an hour old. Best effort."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    now = time.time()
    for name in names:
        m = _TMP.match(name)
        path = os.path.join(directory, name)
        with contextlib.suppress(OSError):
            if m is not None:
                if not _alive(int(m.group(1))):
                    os.unlink(path)
            elif _TMP_OLD.match(name) and now - os.path.getmtime(path) > _OLD_TMP_AGE:
                os.unlink(path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True                        # exists (another user's) or cannot tell: keep the file
    return True


def _fsync_directory(directory):
    """Make the rename itself durable where the platform allows it (POSIX); best effort."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
