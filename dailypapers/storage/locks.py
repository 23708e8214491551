"""A lock file between processes on one machine: the search index rounds, a bulk load, the
one-time model conversion. The operating system drops the lock when its holder exits, kill -9
included, so a crash never leaves a stale lock behind."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Holds an exclusive lock on `path` (created if missing) for the block and yields True;
    yields False, without the lock, when `wait` is False and another process holds it."""
    handle: IO[str] = path.open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        handle.close()  # closing the file drops the lock
