"""Hostile input in the window (issue 16): a crashing worker leaves the window usable, errors from other threads
reach the GUI thread, and folder names that are not UTF-8 are analysed and saved."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from brainscan.errors import BrainScanError, StorageError
from brainscan.storage import HistoryStore
from brainscan.ui import errors
from tests.fakes import FakeClassifier
from tests.ui.conftest import WAIT_MS, fake_loader


def analyse(qtbot, window, folder):
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS) as blocker:
        window.open_paths([folder])
    return blocker.args[0]


def test_an_unexpected_crash_in_a_worker_job_leaves_the_window_usable(
    qtbot, make_window, phantom, shown_errors, monkeypatch
):
    import brainscan.io as io_package

    window = make_window()
    real_scan = io_package.scan
    monkeypatch.setattr(io_package, "scan", lambda paths: [])  # the job then fails outside any expected path
    with qtbot.waitSignal(window.error_reported, timeout=WAIT_MS):
        window.open_paths([phantom])
    assert isinstance(shown_errors[0], BrainScanError) and "unexpected" in str(shown_errors[0])
    assert window.busy is None and not window.progress.isVisible()

    monkeypatch.setattr(io_package, "scan", real_scan)
    result = analyse(qtbot, window, phantom)
    assert result.verdict.tumour and window.busy is None


def test_a_crash_while_saving_still_shows_the_result_and_frees_the_window(
    qtbot, make_window, phantom, shown_errors, monkeypatch
):
    def broken_save(self, record):
        raise UnicodeEncodeError("utf-8", "\udce9", 0, 1, "surrogates not allowed")

    from brainscan.storage import history

    monkeypatch.setattr(history.HistoryStore, "save", broken_save)
    window = make_window()
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    with qtbot.waitSignal(window.error_reported, timeout=WAIT_MS):
        window.open_paths([phantom])
    qtbot.waitUntil(lambda: window.result is not None, timeout=WAIT_MS)
    assert isinstance(shown_errors[-1], StorageError)
    assert window.busy is None and window.menus.analyze.isEnabled()
    assert not any("saved in the study history" in m and "NOT" not in m for m in messages)  # never claims "saved"
    assert any("could NOT be saved" in m for m in messages)


def test_a_damaged_history_is_moved_aside_and_said_at_start(qtbot, make_window, shown_errors, tmp_path):
    path = tmp_path / "history.sqlite"  # where make_window keeps the history
    HistoryStore(path).close()
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(raw))
    window = make_window()
    qtbot.waitUntil(lambda: bool(shown_errors), timeout=WAIT_MS)
    assert isinstance(shown_errors[0], StorageError) and "moved to" in str(shown_errors[0])
    assert window.store.moved_aside.exists() and window.store.count() == 0


def test_an_exception_on_another_thread_is_shown_on_the_gui_thread(qtbot, make_window, shown_errors, monkeypatch):
    threads = []
    monkeypatch.setattr(
        errors, "show_error", lambda parent, exc: (threads.append(threading.current_thread()), shown_errors.append(exc))
    )
    monkeypatch.setattr(errors, "_relay", None)
    errors.install_excepthook()
    try:
        make_window()

        def crash():
            try:
                raise RuntimeError("boom off the GUI thread")
            except RuntimeError as exc:
                errors.excepthook(type(exc), exc, exc.__traceback__)

        thread = threading.Thread(target=crash)
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(shown_errors) == 1, timeout=WAIT_MS)
        assert threads == [threading.main_thread()]
        assert "boom" in str(shown_errors[0])
    finally:
        import sys

        sys.excepthook = sys.__excepthook__
        threading.excepthook = threading.__excepthook__


def test_a_folder_name_that_is_not_utf8_is_analysed_and_saved(qtbot, make_window, tmp_path, shown_errors):
    folder = os.fsencode(tmp_path) + b"/Patient M\xfcller"  # Latin-1 bytes, not valid UTF-8
    os.mkdir(folder)
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(
            os.fsdecode(folder + f"/s{k}.png".encode())
        )
    window = make_window(fake_loader(FakeClassifier()))
    result = analyse(qtbot, window, Path(os.fsdecode(folder)))
    assert result.volume.n_slices == 3
    assert not shown_errors
    assert window.busy is None
    (record,) = HistoryStore(window.history_path).list()
    assert "M\ufffdller" in record.source_path
