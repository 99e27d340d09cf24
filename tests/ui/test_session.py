"""The main window's session state decides without Qt: model states, one job at a time, stale signals."""

from __future__ import annotations

import subprocess
import sys

from brainscan.ui.session import ANALYZE, BUSY, FAILED, OPEN, READY, REFUSE, START, WAIT, Session, landing_slice


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


def test_view_moves_to_the_first_outlined_key_slice_only_while_the_user_has_not_moved():
    assert landing_slice((5, 3, 4), {3, 4}) == 3
    assert landing_slice((5, 3), set()) == 5
    assert landing_slice((), {1}) is None
    s = Session()
    assert s.place("volume", (5, 3, 4)) == 5
    assert s.outlines_landed([], shown=5) is None  # nothing outlined yet: stay
    assert s.outlines_landed([4], shown=5) == 4 and s.placed_at == 4
    assert s.outlines_landed([3], shown=4) is None  # now on an outlined key slice: stay
    s.place("volume", (5, 3))
    assert s.outlines_landed([3], shown=0) is None  # the user moved on: never pulled back
    s.place("volume", (5, 3))
    assert s.outlines_landed([5, 3], shown=5) is None  # the key slice got its outline
