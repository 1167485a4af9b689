"""One crawl per JOBDIR: an exclusive lock held for the crawl's life.

Two crawls on one JOBDIR would interleave checkpoint commits and feed lines and each
believe it owns every chain. The spider takes an advisory ``flock`` on ``JOBDIR/lock``
when it opens its checkpoint store and keeps it until the process ends (the OS releases
it even after ``kill -9``, so there is no stale lock to clean up). The crawl command tries
the same lock first, so a second crawl is refused with one line before anything starts.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class JobdirLocked(Exception):
    """Another process holds the JOBDIR."""


class JobdirLock:
    FILENAME = "lock"

    def __init__(self, jobdir: str | Path) -> None:
        self.path = Path(jobdir) / self.FILENAME
        self._fd: int | None = None

    def acquire(self) -> JobdirLock:
        """Take the lock or raise ``JobdirLocked`` (never waits)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise JobdirLocked(
                f"JOBDIR {self.path.parent} is in use by another crawl (pid {holder}); wait "
                "for it to end, or use another JOBDIR"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def check_free(jobdir: str | Path) -> None:
    """Raise ``JobdirLocked`` if another process holds ``jobdir`` (takes and drops it)."""
    if Path(jobdir, JobdirLock.FILENAME).exists():
        JobdirLock(jobdir).acquire().release()
