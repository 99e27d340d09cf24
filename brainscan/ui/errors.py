"""One error dialog for every failure path (worker errors, export errors, uncaught exceptions).

The message is the exception's own text when it is a BrainScanError (written for a clinician); anything
else is an unexpected fault and says so. The details pane holds the traceback with its chained causes, for
a support request; the same text goes to the log file.

A dialog is only ever opened on the GUI thread: an exception that reaches the excepthook on another thread
(a Qt worker thread or a Python thread) is logged there and handed to the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from brainscan.errors import BrainScanError

log = logging.getLogger(__name__)


def error_texts(exc: BaseException) -> tuple[str, str, str]:
    """(title, plain message, details) for ``exc``; details include chained causes."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, BrainScanError):
        title = {
            "SeriesLoadError": "The images could not be opened",
            "ModelError": "Model problem",
            "InferenceError": "The analysis failed",
            "StorageError": "Study history problem",
            "ReportError": "The report could not be written",
            "AnalysisCancelled": "Analysis cancelled",
        }.get(type(exc).__name__, "BrainScan")
        return title, str(exc) or type(exc).__name__, details
    message = (
        f"An unexpected error occurred ({type(exc).__name__}: {exc}). BrainScan can continue; if it happens "
        "again, send the details below and the log file to support."
    )
    return "Unexpected error", message, details


def show_error(parent: QWidget | None, exc: BaseException) -> None:
    """Log ``exc`` and show it in a modal message box with a details pane."""
    title, message, details = error_texts(exc)
    log.error("%s: %s\n%s", title, message, details)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning if isinstance(exc, BrainScanError) else QMessageBox.Icon.Critical)
    box.setWindowTitle(f"BrainScan: {title}")
    box.setText(message)
    box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()


_in_hook = False


class _GuiRelay(QObject):
    """Lives in the GUI thread; ``raised`` emitted from any thread runs ``show`` there (a queued connection)."""

    raised = Signal(object)

    def __init__(self):
        super().__init__()
        self.raised.connect(self.show)

    @Slot(object)
    def show(self, exc) -> None:
        _show_in_gui(exc)


_relay: _GuiRelay | None = None


def _on_gui_thread() -> bool:
    app = QApplication.instance()
    return app is not None and threading.current_thread() is threading.main_thread()


def _show_in_gui(exc: BaseException) -> None:
    global _in_hook
    if _in_hook:
        return
    _in_hook = True
    try:
        show_error(QApplication.activeWindow(), exc)
    finally:
        _in_hook = False


def excepthook(exc_type, exc, tb) -> None:
    """``sys.excepthook`` for the GUI: an uncaught exception becomes a dialog on the GUI thread, not a silent
    log; from any other thread it is logged and relayed to the GUI thread."""
    if exc is None:
        exc = exc_type()
    if exc.__traceback__ is None:
        exc = exc.with_traceback(tb)
    if _in_hook or QApplication.instance() is None or issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    if not _on_gui_thread():
        log.error("uncaught %s on thread %s", exc_type.__name__, threading.current_thread().name, exc_info=exc)
        if _relay is not None:
            _relay.raised.emit(exc)
        return
    _show_in_gui(exc)


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    excepthook(args.exc_type, args.exc_value, args.exc_traceback)


def install_excepthook() -> None:
    """Install the hook for the GUI thread and every other thread (call on the GUI thread, app created)."""
    global _relay
    if _relay is None:
        _relay = _GuiRelay()
    sys.excepthook = excepthook
    threading.excepthook = _thread_excepthook
