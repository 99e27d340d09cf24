"""Atomic file replacement: write beside the target, then rename over it, so a reader or a kill never sees a
half-written file (results JSON, batch tables). One helper for every front end."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: Path, write: Callable[[Path], None], durable: bool = False) -> None:
    """Call ``write(temporary path)`` beside ``path``, then rename the result over ``path``; with ``durable``,
    the file and then its folder are flushed to disk (fsync) before this returns, so a crash right after it
    cannot lose the file (what a DICOM node must ensure before it answers a C-STORE).

    Raises:
        OSError: when the file cannot be written (the temporary file is removed).
    """
    path = Path(path)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    handle.close()
    try:
        write(Path(handle.name))
        if durable:
            _fsync(Path(handle.name), required=True)
        os.replace(handle.name, path)
        if durable:
            _fsync(path.parent, required=False)
    except BaseException:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        raise


def _fsync(path: Path, required: bool) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk; a folder that cannot be synced is left as is."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if required:
            raise
        return
    try:
        os.fsync(fd)
    except OSError:
        if required:
            raise
    finally:
        os.close(fd)


def write_text_atomically(path: Path, text: str) -> None:
    """``replace_atomically`` for a text file (UTF-8)."""
    replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
