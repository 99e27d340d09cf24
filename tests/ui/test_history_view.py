"""History: the saved row appears with its thumbnail, double-click reopens, delete asks first."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from brainscan.storage import HistoryStore
from tests.ui.conftest import WAIT_MS


def analysed_window(qtbot, make_window, folder):
    window = make_window()
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        window.open_paths([folder])
    return window


def double_click_row(qtbot, table, row: int) -> None:
    rect = table.visualRect(table.model().index(row, 2))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_saved_row_appears_with_thumbnail_and_filters(qtbot, make_window, phantom):
    window = analysed_window(qtbot, make_window, phantom)
    model = window.history.model
    assert model.rowCount() == 1
    assert model.data(model.index(0, 4)) == "Tumour suspected: Glioma"
    assert model.data(model.index(0, 4), Qt.ItemDataRole.ForegroundRole).name() == "#c62828"
    assert model.data(model.index(0, 2)) == "Doe Jane P-001"
    assert not model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole).isNull()
    window.history.filter.setCurrentIndex(2)  # "No tumour"
    assert model.rowCount() == 0
    window.history.filter.setCurrentIndex(0)
    window.history.search.setText("nobody")
    assert model.rowCount() == 0
    window.history.search.setText("Jane")
    assert model.rowCount() == 1


def test_double_click_reopens_from_source(qtbot, make_window, phantom, shown_errors):
    window = analysed_window(qtbot, make_window, phantom)
    window.view.clear()
    window.panel.show_placeholder("nothing")
    with qtbot.waitSignal(window.volume_shown, timeout=WAIT_MS):
        double_click_row(qtbot, window.history.table, 0)
    assert window.view.volume().info.source == phantom
    assert window.panel.verdict_text().startswith("Tumour suspected")
    assert "Stored result" in window.panel.note.text()
    assert window.slider.marks() == (3, 4, 5)
    assert window.busy is None  # re-analysis is optional (F5)
    assert window.menus.analyze.isEnabled()
    store = HistoryStore(window.history_path)
    (first,) = store.list()
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        window.menus.analyze.trigger()  # F5: analyse again
    assert "Stored result" not in window.panel.note.text()
    (again,) = store.list()  # the new analysis replaced the row: one series, one row
    assert again.id == first.id and again.result_json != first.result_json
    assert window.history.model.rowCount() == 1
    assert not shown_errors


def test_history_row_carries_the_headline_cautions(qtbot, make_window, phantom):
    import json

    window = analysed_window(qtbot, make_window, phantom)
    store = HistoryStore(window.history_path)
    (record,) = store.list()
    summary = json.loads(record.result_json)
    summary["verdict"]["cautions"] = ["Modality CT: the models were trained on MRI only."]
    with store._connection() as conn:
        conn.execute(
            "UPDATE studies SET result_json = ?, created_at = 'x' WHERE id = ?", (json.dumps(summary), record.id)
        )
    window.history.refresh()
    model = window.history.model
    assert model.data(model.index(0, 4)) == "Limited reliability. Tumour suspected: Glioma"
    assert "trained on MRI only" in model.data(model.index(0, 4), Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(0, 4), Qt.ItemDataRole.ForegroundRole).name() == "#b35c00"


def test_reopen_shows_stored_summary_when_images_are_gone(qtbot, make_window, phantom):
    window = analysed_window(qtbot, make_window, phantom)
    shutil.rmtree(phantom)
    double_click_row(qtbot, window.history.table, 0)
    assert window.view.volume() is None
    assert window.panel.verdict_text().startswith("Tumour suspected")
    assert "images not found" in window.panel.note.text()
    assert window.panel.table_model.rowCount() == 8


def test_delete_asks_first(qtbot, make_window, phantom, monkeypatch, questions):
    window = analysed_window(qtbot, make_window, phantom)
    history = window.history
    history.table.selectRow(0)
    assert not history.delete_selected()  # the autouse fixture answers No
    assert len(questions) == 1 and history.model.rowCount() == 1
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    history.table.selectRow(0)
    assert history.delete_selected()
    assert history.model.rowCount() == 0
    assert HistoryStore(window.history_path).count() == 0


def test_reopened_study_starts_on_its_key_slice_with_a_readable_time(qtbot, make_window, tmp_path):
    """Issue 27 item 6: a reopened study started on the middle slice, and its note showed a raw ISO timestamp."""
    import datetime as dt
    import re

    from tests.dicom_factory import write_phantom_series

    folder = tmp_path / "early-lesion"
    write_phantom_series(folder, n=12, lesion_slices=(1, 2))
    window = analysed_window(qtbot, make_window, folder)
    (record,) = HistoryStore(window.history_path).list()
    key = window.result.verdict.key_slices[0]
    assert key in (1, 2) and key != 12 // 2
    window.view.set_index(9)
    with qtbot.waitSignal(window.volume_shown, timeout=WAIT_MS):
        double_click_row(qtbot, window.history.table, 0)
    assert window.view.index() == key and window.slider.value() == key
    note = window.panel.note.text()
    assert "T" not in note.split("Stored result from ")[1][:20] and "+00:00" not in note
    local = dt.datetime.fromisoformat(record.created_at).astimezone()
    assert re.search(rf"Stored result from {local.day} {local:%b %Y, %H:%M}\b", note), note
