"""Keep the LiteRT runtime's start-up notice off the user's terminal without losing anything else on stderr.

LiteRT's C++ logger prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to file
descriptor 2 when an interpreter first allocates its tensors; its minimum log level is not reachable from Python
(no API, no environment variable in ai-edge-litert 2.x). While an interpreter is opened, descriptor 2 is pointed
at a pipe that a thread drains into memory (no file: the app writes nothing outside its data folder); afterwards
every captured line except known notices is written back to the real stderr, so an error printed by another
thread in that window is delayed by milliseconds, never dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)

KNOWN_NOTICES = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)
"""Whole lines the runtime prints on every start that tell a user nothing (kept in the debug log instead)."""

_redirect_lock = threading.Lock()


def without_known_notices(text: str) -> tuple[str, list[str]]:
    """``text`` without the known notice lines, and the notices removed."""
    kept, dropped = [], []
    for line in text.splitlines(keepends=True):
        (dropped if line.strip() in KNOWN_NOTICES else kept).append(line)
    return "".join(kept), [line.strip() for line in dropped]


DRAIN_WAIT_S = 2.0
"""How long to wait for the pipe to close after the block (a child process started meanwhile may hold it open)."""


def _drain(read_fd: int, chunks: list[bytes]) -> None:
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)


@contextlib.contextmanager
def known_native_notices_quiet() -> Iterator[None]:
    """Run the block with descriptor 2 captured, then pass everything but known notices on to stderr.

    Where descriptor 2 cannot be duplicated (a windowed app without a console) the block runs unchanged.
    """
    with _redirect_lock:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        read_fd, write_fd = os.pipe()
        chunks: list[bytes] = []
        reader = threading.Thread(target=_drain, args=(read_fd, chunks), name="stderr-drain", daemon=True)
        reader.start()
        try:
            try:
                os.dup2(write_fd, 2)
            finally:
                os.close(write_fd)
            try:
                yield
            finally:
                os.dup2(saved, 2)  # the pipe's last writer is gone: the reader sees its end
        finally:
            os.close(saved)
            reader.join(DRAIN_WAIT_S)
            kept, dropped = without_known_notices(b"".join(chunks).decode("utf-8", "replace"))
            for notice in dropped:
                log.debug("runtime: %s", notice)
            if kept:
                with contextlib.suppress(OSError):
                    os.write(2, kept.encode("utf-8"))
