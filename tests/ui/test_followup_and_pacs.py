"""The window with fake models: a second study of the same patient shows the change since the first; File >
Export DICOM; File > Send to PACS against a real DICOM server on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pydicom
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from brainscan.errors import ReportError
from tests.dicom_factory import write_phantom_series
from tests.pacs_server import free_port, running_pacs
from tests.ui.conftest import WAIT_MS

RED = (198, 40, 40)


def analyse(qtbot, window, folder):
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS) as blocker:
        window.open_paths([folder])
    return blocker.args[0]


def red_pixels(widget) -> int:
    image = widget.grab().toImage()
    count = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            colour = image.pixelColor(x, y)
            if colour.red() > 150 and colour.green() < 90 and colour.blue() < 90:
                count += 1
    return count


def two_studies(tmp_path):
    """Folders of two studies of one patient, three months apart, the tumour grown by half."""
    first, second = tmp_path / "first", tmp_path / "second"
    write_phantom_series(first, lesion_slices=(3, 4), study_date="20250101", study_uid="1.2.3.1")
    write_phantom_series(second, lesion_slices=(3, 4, 5), study_date="20250401", study_uid="1.2.3.2")
    return first, second


def test_second_study_of_the_same_patient_shows_the_change(qtbot, make_window, tmp_path, shown_errors):
    first, second = two_studies(tmp_path)
    window = make_window()

    analyse(qtbot, window, first)
    assert window.follow_up is None and not window.panel.followup.isVisible()

    result = analyse(qtbot, window, second)
    box = window.panel.followup
    assert box.isVisible()
    assert box.text().startswith("Follow-up vs 2025-01-01 (90 days earlier): volume ")
    assert "mL (+50.0%)" in box.text() and "longest diameter" in box.text()
    assert "Change in volume: +" in box.toolTip()
    assert window.follow_up.current.volume_ml == result.volume_ml
    assert [m.study_date.isoformat() for m in box.plot.followup.history] == ["2025-01-01", "2025-04-01"]
    assert red_pixels(box.plot) > 20  # the volume line and its points are drawn
    window.grab().save(str(tmp_path / "followup-window.png"))
    assert not shown_errors

    # another patient's study shows no follow-up
    other = tmp_path / "other"
    write_phantom_series(other, study_date="20250501", study_uid="9.9", patient_name="Roe^Rick", patient_id="P-9",
                         birth_date="19800101")  # fmt: skip
    analyse(qtbot, window, other)
    assert window.follow_up is None and not box.isVisible()


def test_a_study_reopened_from_the_history_shows_its_follow_up(qtbot, make_window, tmp_path, shown_errors):
    import shutil

    first, second = two_studies(tmp_path)
    window = make_window()
    analyse(qtbot, window, first)
    analyse(qtbot, window, second)
    later = next(r for r in window.store.list() if r.meta.study_uid == "1.2.3.2")
    box = window.panel.followup

    analyse(qtbot, window, first)  # the earlier study on screen: no follow-up
    assert not box.isVisible()
    with qtbot.waitSignal(window.volume_shown, timeout=WAIT_MS):
        window.reopen(later)  # images still there: stored result, no new analysis
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    assert box.text().startswith("Follow-up vs 2025-01-01 (90 days earlier): volume ")

    shutil.rmtree(second)  # images gone: the stored result alone, still with its follow-up
    analyse(qtbot, window, first)
    window.reopen(later)
    assert box.isVisible() and "(+50.0%)" in box.text()
    assert not shown_errors


def test_export_dicom_writes_seg_and_report(qtbot, make_window, phantom, tmp_path, monkeypatch):
    out = tmp_path / "dicom"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    window = make_window()
    analyse(qtbot, window, phantom)
    assert window.menus.export_dicom.isEnabled()
    window.export_dicom()
    classes = sorted(pydicom.dcmread(p).SOPClassUID.name for p in out.iterdir())
    assert classes == ["Encapsulated PDF Storage", "Segmentation Storage"]
    assert "DICOM written" in window.statusBar().currentMessage()


def test_export_dicom_from_images_says_why_not(qtbot, make_window, tmp_path, shown_errors, monkeypatch):
    folder = tmp_path / "pngs"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(np.full((32, 32), 50 * k, np.uint8)).save(folder / f"s{k}.png")
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: asked.append(a) or "")
    window = make_window()
    analyse(qtbot, window, folder)
    window.export_dicom()
    assert not asked  # refused before asking for a folder
    assert isinstance(shown_errors[-1], ReportError) and "JPEG/PNG images" in str(shown_errors[-1])
    window.send_to_pacs()
    dialog = window.pacs_dialog
    assert not dialog.send_button.isEnabled() and "DICOM results need DICOM input" in dialog.what.text()
    dialog.close()


def test_send_to_pacs_tests_the_connection_and_sends_on_request(qtbot, make_window, phantom):
    window = make_window()
    analyse(qtbot, window, phantom)
    with running_pacs() as (pacs, destination):
        window.send_to_pacs()
        dialog = window.pacs_dialog
        assert dialog.isVisible() and dialog.send_button.isEnabled()
        assert "tumour outline (DICOM Segmentation)" in dialog.what.text()
        dialog.ae_title.setText(destination.ae_title)
        dialog.host.setText(destination.host)
        dialog.port.setValue(destination.port)

        with qtbot.waitSignal(dialog.finished_task, timeout=WAIT_MS) as echo:
            qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        assert echo.args[:2] == ["echo", True] and "Connection OK" in dialog.status.text()
        assert not pacs.stored  # nothing is sent until Send is pressed

        with qtbot.waitSignal(dialog.finished_task, timeout=WAIT_MS) as sent:
            qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
        assert sent.args[:2] == ["send", True], sent.args
        assert "2 of 2 object(s) stored" in dialog.status.text()
        assert sorted(ds.Modality for ds in pacs.stored.values()) == ["DOC", "SEG"]
    assert window.settings.value("pacs/host") == "127.0.0.1"
    assert int(window.settings.value("pacs/port")) == destination.port
    dialog.close()


def test_send_dialog_shows_connection_errors(qtbot, make_window):
    window = make_window()
    window.send_to_pacs()  # no result yet: settings and the connection test only
    dialog = window.pacs_dialog
    assert not dialog.send_button.isEnabled()
    dialog.ae_title.setText("PACS")
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(free_port())
    with qtbot.waitSignal(dialog.finished_task, timeout=WAIT_MS) as echo:
        dialog.test_connection()
    assert echo.args[:2] == ["echo", False]
    assert "refused the connection" in dialog.status.text()
    dialog.host.setText("")
    dialog.test_connection()  # invalid field: said at once, nothing started
    assert "is not a host name" in dialog.status.text() and dialog.running is None
    dialog.close()
