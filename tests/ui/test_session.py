"""The main window's session state decides without Qt: model states, one job at a time, stale signals."""

from __future__ import annotations

import subprocess
import sys

from brainscan.ui.session import ANALYZE, BUSY, FAILED, OPEN, READY, REFUSE, START, WAIT, Session


def test_session_imports_without_qt():
    code = "import sys, brainscan.ui.session; sys.exit(1 if 'PySide6' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_analysis_queued_while_models_load_starts_when_they_are_ready():
    s = Session()
    assert s.begin_open() is False and s.busy == OPEN
    assert s.open_done() and s.busy is None
    volume = object()
    s.show_volume(volume)
    assert s.request_analysis(volume) == WAIT and s.pending_analysis is volume
    assert not s.can_analyze
    assert s.models_ready("Models ready: c") is volume
    assert s.models == READY and s.pending_analysis is None and s.can_analyze
    assert s.request_analysis(volume) == START
    s.begin_analysis()
    assert s.busy == ANALYZE and s.can_cancel and not s.can_export
    assert s.request_analysis(volume) == BUSY


def test_a_newer_open_makes_older_answers_stale_and_cancels_the_analysis():
    s = Session(models=READY)
    first = object()
    s.begin_open()
    s.open_done()
    s.show_volume(first)
    s.begin_analysis()
    assert s.current(first)
    assert s.begin_open() is True  # the running analysis must be cancelled
    assert s.begin_open() is False and s.superseded()
    assert s.open_done() is False  # the first open's answer is stale
    assert s.open_done() is True and s.busy is None
    second = object()
    s.show_volume(second)
    assert not s.current(first) and not s.current(second)  # nothing runs for the new series yet


def test_failed_models_drop_the_queued_analysis_and_refuse_new_ones():
    s = Session()
    volume = object()
    s.show_volume(volume)
    s.request_analysis(volume)
    assert s.models_failed("No trained classifier installed") is True
    assert s.models == FAILED and s.pending_analysis is None
    assert s.request_analysis(volume) == REFUSE and not s.can_analyze


def test_finished_result_is_exportable_and_reopen_record_is_handed_over_once():
    s = Session(models=READY)
    record = object()
    s.begin_open(record)
    s.open_done()
    volume = object()
    assert s.show_volume(volume) is record and s.show_volume(volume) is None
    s.begin_analysis()
    result = object()
    s.finish_analysis(result, follow_up="prior")
    assert s.result is result and s.follow_up == "prior" and s.can_export and s.busy is None
    s.forget_volume()
    assert s.volume is None and s.result is None and not s.can_export
