"""Writing so that nobody ever sees half a file: the new bytes go to a hidden temporary
beside the target (``.{name}.tmp-PID``), which then replaces it in one rename.

A leaf of the package. ``juno-kg export -o``, ``juno-kg links resolve`` (the mapping table)
and a build's folder swap (:func:`juno_kg.write.write_files`) all name their temporaries
here, so that the next build recognises and removes what a killed process left.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import JunoKGError


def temp_path(target: Path, kind: str = "tmp") -> Path:
    """The hidden temporary (``kind`` ``tmp``) or moved-aside (``old``) path of ``target``
    for this process."""
    return target.parent / f".{target.name}.{kind}-{os.getpid()}"


def replace_file(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically: the whole new file, or the old one as it was
    (also on Ctrl-C). A failure to write is a :class:`JunoKGError` naming ``target``."""
    tmp = temp_path(target)
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise JunoKGError(f"could not write it: {exc.strerror or exc}",
                              path=target) from None
        raise


def exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``):
    at no moment is either missing. False where the system cannot (then the caller renames
    twice and the next build repairs a kill in between)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # no support here
        return False
    raise OSError(error, os.strerror(error), str(a))


@contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold the lock of ``target`` (a ``.{name}.lock`` file beside it) while writing it, so
    that two builds into the same folder cannot interleave; a second one is refused at
    once (exit 2) rather than left waiting. The lock file is removed when released (one a
    killed process left is taken over: the kernel released its lock)."""
    import fcntl

    lock = target.parent / f".{target.name}.lock"
    busy = JunoKGError("another juno-kg process is writing this folder", path=target,
                       hint="wait for it to finish, then run the command again")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(lock).st_ino != os.fstat(fd).st_ino:  # released and removed meanwhile
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            raise busy from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)  # still held: nobody can take it in between
    finally:
        os.close(fd)  # closing the descriptor releases the lock
