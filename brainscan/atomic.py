"""Atomic file replacement: write beside the target, then rename over it, so a reader or a kill never sees a
half-written file (results JSON, batch tables). One helper for every front end."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary path)`` beside ``path``, then rename the result over ``path``.

    Raises:
        OSError: when the file cannot be written (the temporary file is removed).
    """
    path = Path(path)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    handle.close()
    try:
        write(Path(handle.name))
        os.replace(handle.name, path)
    except BaseException:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """``replace_atomically`` for a text file (UTF-8)."""
    replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
