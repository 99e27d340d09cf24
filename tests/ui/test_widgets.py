"""Small UI pieces: progress throttle and ETA, series picker, error texts, excepthook, import hygiene."""

from __future__ import annotations

import subprocess
import sys

from brainscan.errors import SeriesLoadError
from brainscan.io import scan
from brainscan.ui import errors
from brainscan.ui.progress import eta_text
from brainscan.ui.series_picker import SeriesPicker
from brainscan.ui.worker import ProgressThrottle, overall_percent
from tests.dicom_factory import write_phantom_series


def test_progress_throttle_limits_the_rate():
    now = [0.0]
    sent = []
    throttle = ProgressThrottle(lambda pct, msg: sent.append(pct), 100, interval=0.05, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] += 0.001  # 100 updates in 0.1 s
        throttle(done, 100, "x")
    assert sent[0] == 0 and sent[-1] == 70  # classification is the first 70 %
    assert len(sent) <= 4


def test_overall_percent_never_runs_backwards():
    steps = [(8, 8), (16, 16), (16, 22), (19, 22), (22, 22)]  # classify 16 slices, then 3 outlines + 3 maps
    percents = [overall_percent(done, total, 16) for done, total in steps]
    assert percents == sorted(percents) and percents[-1] == 100 and percents[1] == 70


def test_eta_text():
    assert eta_text(0.1, 0.5) == ""
    assert eta_text(10.0, 0.5) == "about 10 s left"
    assert eta_text(60.0, 0.25) == "about 3 min left"


def test_series_picker_preselects_the_largest(qtbot, tmp_path):
    write_phantom_series(tmp_path / "a", n=4)
    write_phantom_series(tmp_path / "b", n=9)
    found = scan([tmp_path])
    dialog = SeriesPicker(found)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 2
    assert dialog.selected().slices == 9


def test_error_texts_keep_the_clinician_message_and_the_cause():
    try:
        try:
            raise OSError("disk gone")
        except OSError as cause:
            raise SeriesLoadError("This folder holds no readable MRI images.") from cause
    except SeriesLoadError as exc:
        title, message, details = errors.error_texts(exc)
    assert message == "This folder holds no readable MRI images."
    assert "OSError: disk gone" in details and "SeriesLoadError" in details
    title, message, _ = errors.error_texts(ValueError("bad"))
    assert title == "Unexpected error" and "ValueError: bad" in message


def test_excepthook_routes_to_show_error(qapp, shown_errors):
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        errors.excepthook(type(exc), exc, exc.__traceback__)
    assert len(shown_errors) == 1 and str(shown_errors[0]) == "boom"


def test_ui_import_does_not_load_tensorflow():
    code = (
        "import sys\n"
        "import brainscan.app, brainscan.ui.main_window\n"
        "bad = [m for m in ('tensorflow', 'keras', 'brainscan.runtime.keras.classifier') if m in sys.modules]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shortcut_help_is_a_table_whose_entries_never_wrap(qapp):
    from brainscan.ui.menus import SHORTCUTS, shortcuts_box

    box = shortcuts_box(None)
    text = box.text()
    assert text.count("<tr>") == len(SHORTCUTS) and text.count("white-space:pre") == 2 * len(SHORTCUTS)
    for keys, action in SHORTCUTS:
        assert f"<b>{keys}</b></td><td style='white-space:pre'>{action}</td>" in text


def test_area_header_unit_follows_the_study_shown(qapp):
    from brainscan.ui.result_panel import SliceTableModel

    model = SliceTableModel()
    jpeg = {"area_unit": "px", "verdict": {"key_slices": []}, "slices": []}
    model.set_summary(jpeg)
    assert model.header_label(3) == "Area (px²)"
    model.set_summary(None)  # the next study is opened, not analysed yet: no stale unit
    assert model.header_label(3) == "Area"
    model.set_summary({**jpeg, "area_unit": "mm2"})
    assert model.header_label(3) == "Area (mm²)"


def test_eta_is_measured_from_the_first_report(qtbot):
    """Issue 27 item 6: a 30 s job whose first batch came after 9 s of start-up said 'about 3 min'. From the first
    report on, the job runs at a steady 1 % per 0.2 s: the estimate follows that rate."""
    from brainscan.ui.progress import ProgressStrip

    now = [0.0]
    strip = ProgressStrip(clock=lambda: now[0])
    qtbot.addWidget(strip)
    strip.start("Analysing", cancellable=True)
    now[0] = 9.0
    strip.set_progress(5, "first batch")  # start-up: 9 s for 5 %
    assert strip.eta.text() == ""  # nothing measured yet
    now[0] = 11.0
    strip.set_progress(15, "batch")  # 10 % in 2 s: 85 % left takes 17 s
    assert strip.eta.text() == "about 17 s left"
    assert eta_text(11.0, 0.15) == "about 1 min left"  # the old estimate from the start, start-up included
