"""The one way the UI runs short background work beside the analysis worker: ``BackgroundTask``.

Why a second runner at all: the analysis worker (brainscan.ui.worker, on its QThread) reads series and
analyses them one job at a time; loading the models or talking to a PACS must not queue behind a running
analysis (or hold the images back while the models load), so those run on a task of their own. Every such task
goes through this class: the function runs on a daemon Python thread, its outcome comes back as one ``done``
signal in the thread that owns the task (the GUI thread), and failures are values, never crashes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from brainscan.errors import BrainScanError

log = logging.getLogger(__name__)


class BackgroundTask(QObject):
    """Run one function off the GUI thread; ``done(ok, value)`` carries its result or its error.

    ``wrap`` turns an unexpected exception into the BrainScanError the user sees (BrainScanErrors pass as they
    are).
    """

    done = Signal(bool, object)

    def __init__(self, name: str, wrap: Callable[[Exception], BrainScanError], parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.wrap = wrap
        self._thread: threading.Thread | None = None

    def start(self, function: Callable[[], object]) -> None:
        def run() -> None:
            try:
                outcome = (True, function())
            except BrainScanError as exc:
                outcome = (False, exc)
            except Exception as exc:  # noqa: BLE001 - reported to the user, never a crash of the app
                log.exception("%s failed", self.name)
                wrapped = self.wrap(exc)
                wrapped.__cause__ = exc
                outcome = (False, wrapped)
            try:
                self.done.emit(*outcome)
            except RuntimeError:  # the owner was deleted meanwhile: nobody is left to tell
                log.info("%s ended after its owner was closed: %s", self.name, outcome[1])

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the function to end; True when it is not running (any more)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True
