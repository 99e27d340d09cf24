"""File > Open from PACS (brainscan.ui.pacs_open_dialog) against a pynetdicom PACS on 127.0.0.1: search, list the
series, retrieve into the cache and hand the folder to the window, which opens it; the messages for no matches,
no PACS set up, a rejected association, and a cancelled retrieve."""

from __future__ import annotations

import pydicom
import pytest
from PySide6.QtCore import QSettings

from brainscan.ui.pacs_open_dialog import OpenFromPacsDialog
from tests.dicom_factory import write_phantom_series
from tests.pacs.faulty_pacs import FaultyPacs


@pytest.fixture
def pacs(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINSCAN_CACHE", str(tmp_path / "cache"))
    server = FaultyPacs()
    destination = server.start()
    uid, _ = write_phantom_series(tmp_path / "src", n=6, description="T1 AX post")
    for path in (tmp_path / "src").iterdir():
        ds = pydicom.dcmread(path)
        server.stored[str(ds.SOPInstanceUID)] = ds
    yield server, destination, uid
    server.stop()


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def point_at(settings, destination, ae_title=None):
    settings.setValue("pacs/ae_title", ae_title or destination.ae_title)
    settings.setValue("pacs/host", destination.host)
    settings.setValue("pacs/port", destination.port)


def run(qtbot, dialog, action, kind):
    with qtbot.waitSignal(dialog.finished_task, timeout=20000) as blocker:
        action()
    assert blocker.args[0] == kind
    return blocker.args[1], blocker.args[2]


def test_search_pick_a_series_retrieve_and_open(qtbot, pacs, settings):
    server, destination, uid = pacs
    point_at(settings, destination)
    dialog = OpenFromPacsDialog(settings)
    qtbot.addWidget(dialog)
    assert str(destination) in dialog.where.text()
    dialog.patient_name.setText("doe")
    ok, message = run(qtbot, dialog, dialog.search, "search")
    assert ok and message.startswith("1 study found")
    assert dialog.study_table.item(0, 2).text() == "P-001"
    ok, message = run(qtbot, dialog, lambda: dialog.study_table.selectRow(0), "series")
    assert ok and dialog.series_table.item(0, 2).text() == "T1 AX post"
    assert dialog.open_button.isEnabled()
    opened = []
    dialog.retrieved.connect(opened.append)
    ok, message = run(qtbot, dialog, dialog.open_button.click, "retrieve")
    assert ok, message
    assert "6 image(s) retrieved (C-GET)" in message
    (folder,) = opened
    assert len(list(folder.glob("*.dcm"))) == 6
    assert settings.value("pacs/retrieve_method") == "get"


def test_no_matches_no_pacs_and_a_rejected_association_are_said(qtbot, pacs, settings):
    _, destination, _ = pacs
    dialog = OpenFromPacsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.search()  # no PACS set up: said at once, nothing runs
    assert "No PACS is set up yet" in dialog.status.text() and dialog.running is None

    point_at(settings, destination)
    dialog.patient_id.setText("NOBODY")
    ok, message = run(qtbot, dialog, dialog.search, "search")
    assert not ok and message.startswith("No studies match")

    point_at(settings, destination, ae_title="WRONGAET")
    ok, message = run(qtbot, dialog, dialog.search, "search")
    assert not ok and "rejected the association" in message


def test_cancel_a_slow_retrieve(qtbot, pacs, settings):
    server, destination, _ = pacs
    server.delay = 0.5
    point_at(settings, destination)
    dialog = OpenFromPacsDialog(settings)
    qtbot.addWidget(dialog)
    run(qtbot, dialog, dialog.search, "search")
    run(qtbot, dialog, lambda: dialog.study_table.selectRow(0), "series")
    opened = []
    dialog.retrieved.connect(opened.append)
    dialog.open_button.click()
    assert dialog.cancel_button.text() == "Cancel"
    with qtbot.waitSignal(dialog.finished_task, timeout=20000) as blocker:
        dialog.cancel_button.click()
    assert blocker.args[1] is False and "cancelled" in blocker.args[2] and "nothing was opened" in blocker.args[2]
    assert opened == []


def test_file_open_from_pacs_opens_and_analyses_the_retrieved_series(qtbot, pacs, settings, tmp_path):
    """The menu action in the main window: the retrieved folder is opened and analysed like a dropped folder."""
    from brainscan.ui.main_window import MainWindow
    from tests.ui.conftest import fake_loader

    _, destination, uid = pacs
    point_at(settings, destination)
    window = MainWindow(models_loader=fake_loader(), history_path=tmp_path / "history.sqlite", settings=settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.models_changed, timeout=20000):
        window.show()
    try:
        (action,) = [a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Open from &PACS…"]
        action.trigger()
        dialog = window.pacs_open_dialog
        run(qtbot, dialog, dialog.search, "search")
        run(qtbot, dialog, lambda: dialog.study_table.selectRow(0), "series")
        with qtbot.waitSignal(window.result_shown, timeout=30000) as shown:
            dialog.open_button.click()
        result = shown.args[0]
        assert result.info.series_uid == uid and result.verdict.tumour
        assert not dialog.isVisible()
    finally:
        window.close()
