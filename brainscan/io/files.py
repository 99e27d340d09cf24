"""Open input files safely: regular files only, and never block on the open itself.

Why: a path found by the scan can be swapped for a FIFO, a device or a socket before it is read. Opening a FIFO
for reading blocks until a writer appears (forever, in practice), and a device such as /dev/zero never ends.
So every input file is opened with O_NONBLOCK, checked with fstat on the open descriptor (not the path, which
could change again), and refused unless it is a regular file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


class NotRegularFileError(OSError):
    """The path is a FIFO, device, socket or folder where a file was expected."""


def kind_of(mode: int) -> str:
    """Plain words for a non-regular file type."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"


def not_regular_reason(mode: int) -> str:
    return f"not a regular file ({kind_of(mode)}); only regular files are read"


def open_regular(path: Path | str) -> BinaryIO:
    """Open ``path`` for binary reading if, once open, it is a regular file.

    Raises:
        NotRegularFileError: when it is a FIFO, device, socket or folder (its message says which).
        OSError: when it cannot be opened (missing, permission denied, ...).
    """
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, not_regular_reason(mode))
        if _FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
        handle.raw.name = os.fspath(path)  # readers such as pydicom keep the name, not the descriptor number
        return handle
    except BaseException:
        os.close(fd)
        raise


def open_failure_reason(exc: OSError) -> str:
    """Why a file could not be opened, without its path (reasons travel into de-identified output)."""
    if isinstance(exc, NotRegularFileError):
        return exc.strerror or "not a regular file"
    if isinstance(exc, PermissionError):
        return "permission denied: the file cannot be read"
    if isinstance(exc, FileNotFoundError):
        return "the file is no longer there (moved or deleted after it was found)"
    if isinstance(exc, IsADirectoryError):
        return "a folder, not a file"
    return f"the file could not be opened ({exc.strerror or type(exc).__name__})"


def path_token(path: Path | str) -> str:
    """A short stable token for a path (for identifiers such as an image folder's series UID) that does not
    reveal it: folder names often hold patient names."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
