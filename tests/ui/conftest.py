"""GUI test fixtures: a MainWindow with fake models, error dialogs recorded instead of shown.

Wait with ``qtbot.waitSignal`` on the window's own signals (volume_shown, result_shown, error_reported, ...),
which fire in the GUI thread after the views are updated, or with ``qtbot.waitUntil``. Never spin
``QApplication.processEvents()`` (or ``QTest.qWait``) in a loop while the worker runs Python: with PySide6 6.12
on Python 3.11 that aborts the process ("Fatal Python error: none_dealloc"), reproducible in a 20-line script.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from brainscan.runtime.loading import LoadedModels
from brainscan.ui import errors
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter

WAIT_MS = 30_000


@pytest.fixture(autouse=True)
def shown_errors(monkeypatch) -> list:
    """Every show_error call is recorded, never shown (a modal dialog would block the test)."""
    shown: list = []
    monkeypatch.setattr(errors, "show_error", lambda parent, exc: shown.append(exc))
    return shown


@pytest.fixture(autouse=True)
def questions(monkeypatch) -> list:
    """QMessageBox.question answers No (and is recorded) unless a test says otherwise."""
    asked: list = []

    def question(*args, **kwargs):
        asked.append(args)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


@pytest.fixture
def phantom(tmp_path) -> Path:
    """A DICOM series of 8 slices where the fake models find a lesion on slices 3-5."""
    folder = tmp_path / "phantom"
    write_phantom_series(folder)
    return folder


class GatedClassifier(FakeClassifier):
    """From its second batch on, predict() waits until ``gate`` is set (give it the worker's cancel_event):
    a cancel is then always requested in the middle of an analysis, whatever the machine's speed."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()

    def predict(self, slices, batch_size: int = 32):
        if self.calls >= 1:
            assert self.gate.wait(60), "test never cancelled"
        return super().predict(slices, batch_size)


def fake_loader(classifier=None, segmenter=None, gate: threading.Event | None = None):
    def load() -> LoadedModels:
        if gate is not None:
            assert gate.wait(60), "test never released the model loader"
        return LoadedModels(classifier or FakeClassifier(), segmenter if segmenter is not None else FakeSegmenter())

    return load


@pytest.fixture
def make_window(qtbot, tmp_path):
    """make_window(loader=..., wait_models=True) -> a shown MainWindow, closed (worker joined) at teardown."""
    from brainscan.ui.main_window import MainWindow

    windows = []

    def make(loader=None, wait_models: bool = True):
        window = MainWindow(models_loader=loader or fake_loader(), history_path=tmp_path / "history.sqlite")
        qtbot.addWidget(window)
        windows.append(window)
        if wait_models:
            with qtbot.waitSignals([window.models_changed], timeout=WAIT_MS):
                window.show()
        else:
            window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for window in windows:
        window.close()
        assert window.worker_thread.isFinished()
