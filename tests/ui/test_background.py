"""The one background-task runner of the UI: outcomes as signals on the owner's thread, failures as values."""

from __future__ import annotations

import threading

from brainscan.errors import ModelError, PacsError
from brainscan.ui.background import BackgroundTask
from brainscan.ui.worker import AnalysisWorker


def wrap(exc):
    return PacsError(f"Unexpected failure ({type(exc).__name__}).")


def test_result_arrives_on_the_gui_thread(qtbot):
    task = BackgroundTask("t", wrap)
    seen = []
    task.done.connect(lambda ok, value: seen.append((ok, value, threading.current_thread() is threading.main_thread())))
    with qtbot.waitSignal(task.done, timeout=5000):
        task.start(lambda: threading.current_thread().name)
    assert seen == [(True, "t", True)] and task.join(1.0)


def test_unexpected_errors_are_wrapped_and_expected_ones_pass(qtbot):
    task = BackgroundTask("t", wrap)
    with qtbot.waitSignal(task.done, timeout=5000) as blocker:
        task.start(lambda: 1 / 0)
    ok, error = blocker.args
    assert not ok and isinstance(error, PacsError) and isinstance(error.__cause__, ZeroDivisionError)
    again = BackgroundTask("t", wrap)
    with qtbot.waitSignal(again.done, timeout=5000) as blocker:
        again.start(lambda: (_ for _ in ()).throw(ModelError("no model")))
    assert blocker.args[0] is False and str(blocker.args[1]) == "no model"


def test_a_crashing_model_loader_is_a_model_error_not_a_crash(qtbot):
    def broken():
        raise RuntimeError("disk gone")

    worker = AnalysisWorker(models_loader=broken)
    with qtbot.waitSignal(worker.models_failed, timeout=5000) as blocker:
        worker.start_model_loading()
    assert isinstance(blocker.args[0], ModelError) and "disk gone" in str(blocker.args[0])
    assert worker.join_model_loader(1.0) and worker.models is None
