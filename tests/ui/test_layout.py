"""The right panel stays readable at any history height and window size from 1024x700 up (issue 19, item 5),
and a long series opened after a short one starts at its middle slice (item 6)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication

from brainscan.ui.result_panel import TABLE_ROWS_SHOWN
from tests.dicom_factory import write_phantom_series
from tests.ui.conftest import WAIT_MS

LONG_CAUTION = (
    "This looks like a thin-slice 3D acquisition (192 slices 0.9 mm apart). The models were trained on 2D "
    "clinical slices, not 3D volumes: the verdict and outlines are less reliable here and false tumour calls are "
    "likely."
)


def rect_in(window, widget) -> QRect:
    return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())


def settle() -> None:
    for _ in range(5):
        QApplication.processEvents()


def analysed(qtbot, make_window, folder):
    window = make_window()
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        window.open_paths([folder])
    return window


def assert_panel_readable(window) -> None:
    panel = window.panel
    visible_panel = rect_in(window, panel)
    headline, details, disclaimer = (rect_in(window, w) for w in (panel.headline, panel.details, panel.disclaimer))
    for part in (headline, details, disclaimer):
        assert visible_panel.contains(part), "a part of the panel lies outside it"
    assert not headline.intersects(details) and not details.intersects(disclaimer)
    assert headline.height() >= panel.headline.heightForWidth(headline.width())  # cautions not clipped
    assert disclaimer.height() >= panel.disclaimer.heightForWidth(disclaimer.width())
    # the bars: shown at full height, inside the visible part of the details, not on top of each other
    bars = [rect_in(window, bar) for bar in panel.bars.values()]
    for bar, widget in zip(bars, panel.bars.values(), strict=True):
        assert bar.height() >= widget.minimumSizeHint().height()
        assert details.contains(bar) and not widget.visibleRegion().isEmpty()
    for upper, lower in zip(bars, bars[1:], strict=False):
        assert not upper.intersects(lower)
    assert panel.table.height() >= panel.table.minimumHeight()


@pytest.mark.parametrize("size", [(1024, 700), (1600, 1000)])
def test_panel_readable_with_a_tall_history(qtbot, make_window, phantom, size):
    window = analysed(qtbot, make_window, phantom)
    summary = dict(window.panel.summary())
    summary["verdict"] = {**summary["verdict"], "cautions": [LONG_CAUTION, "Modality CT: MRI only."]}
    window.panel.show_summary(summary)  # the tallest headline: two cautions, one of them long
    window.resize(*size)
    window.resizeDocks([window.history_dock], [size[1]], Qt.Orientation.Vertical)  # drag the history up, all the way
    settle()
    assert window.history_dock.height() < size[1] // 2  # at most two fifths of the window
    assert_panel_readable(window)


def test_panel_readable_in_a_small_window_with_the_splitter_dragged(qtbot, make_window, phantom):
    window = analysed(qtbot, make_window, phantom)
    window.resize(1024, 700)
    window.resizeDocks([window.panel_dock], [1], Qt.Orientation.Horizontal)  # drag the panel as narrow as it goes
    settle()
    assert window.panel.width() >= window.panel.minimumWidth()
    assert_panel_readable(window)


def test_table_shows_several_rows_by_default(qtbot, make_window, tmp_path):
    write_phantom_series(tmp_path / "s", n=12, lesion_slices=(5, 6))
    window = analysed(qtbot, make_window, tmp_path / "s")
    settle()
    table = window.panel.table
    rows = table.viewport().height() // table.verticalHeader().defaultSectionSize()
    assert rows >= TABLE_ROWS_SHOWN
    summary = json.loads(json.dumps(window.panel.summary()))
    summary["slices"][5]["label"] = "meningioma"
    window.panel.show_summary(summary)
    settle()
    assert not table.horizontalScrollBar().isVisible()
    finding = table.horizontalHeader().sectionSize(1)
    assert finding >= table.fontMetrics().horizontalAdvance("Meningioma")  # cells are not cut ("Meningio...")


def test_broken_saved_sizes_do_not_come_back(qtbot, make_window, phantom):
    window = analysed(qtbot, make_window, phantom)
    window.resize(1024, 700)
    window.resizeDocks([window.history_dock], [2000], Qt.Orientation.Vertical)
    window.close()  # saves the state
    again = make_window()
    again.resize(1024, 700)
    settle()
    assert again.centralWidget().height() >= again.centralWidget().minimumHeight()
    assert again.panel.height() >= again.panel.minimumSizeHint().height()
    assert again.history_dock.height() < 700 // 2
    assert_panel_beside_images_and_history(again)  # a state saved with the panel as a dock comes back as it was


def test_long_series_after_a_short_one_opens_at_its_middle(qtbot, make_window, tmp_path):
    write_phantom_series(tmp_path / "short", n=12, lesion_slices=())
    write_phantom_series(tmp_path / "long", n=40, lesion_slices=())
    window = analysed(qtbot, make_window, tmp_path / "short")
    window.view.set_index(11)  # the user went to the last slice
    assert window.slider.value() == 11
    with qtbot.waitSignal(window.volume_shown, timeout=WAIT_MS):
        window.open_paths([tmp_path / "long"])
    assert window.view.index() == 20 and window.slider.value() == 20


def test_stored_cannot_assess_result_shows_its_reason_and_no_numbers(qtbot, make_window, phantom):
    window = analysed(qtbot, make_window, phantom)
    summary = json.loads(json.dumps(window.panel.summary()))
    summary["verdict"].update(
        assessable=False,
        cannot_assess_reason="only 1 of 8 slices could be assessed",
        tumour=False,
        label="cannot assess",
        tumour_probability=None,
        tumour_type_given_tumour={},
    )
    for row in summary["slices"]:
        row.update(
            assessed=False, not_assessed_reason="little or no head", tumour_probability=None, label="not assessed"
        )
    window.panel.show_summary(summary)
    panel = window.panel
    assert panel.verdict_text() == "Cannot assess this series"
    assert "only 1 of 8 slices could be assessed" in panel.cautions.text()
    assert not panel.probability.isVisible() and not panel.types.isEnabled()
    model = panel.table_model
    assert model.data(model.index(0, 1)) == "Not assessed: little or no head" and model.data(model.index(0, 2)) == "–"
    assert "little or no head" in model.data(model.index(0, 2), Qt.ItemDataRole.ToolTipRole)


def rows_shown(table) -> int:
    """Whole rows the table's viewport shows (scrolled or not)."""
    return table.viewport().height() // table.verticalHeader().defaultSectionSize()


def test_history_shows_three_rows_at_1024x700(qtbot, make_window, phantom):
    """At the smallest size the app supports, the history first opens three rows tall (it showed 1.5)."""
    window = make_window()
    window.resize(1024, 700)
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        window.open_paths([phantom])
    settle()
    assert rows_shown(window.history.table) >= 3, window.history.table.viewport().height()
    assert_panel_readable(window)


def table_rows_visible(table) -> float:
    """Rows of the table's viewport that are on screen: not scrolled out of the panel's details area."""
    return table.viewport().visibleRegion().boundingRect().height() / table.verticalHeader().defaultSectionSize()


def assert_panel_beside_images_and_history(window) -> None:
    """The result panel runs the window's full height; the history sits under the image column only."""
    panel, history, images = (
        rect_in(window, w) for w in (window.panel_dock, window.history_dock, window.centralWidget())
    )
    assert window.panel_dock.isVisible() and not window.panel_dock.isFloating()
    assert history.right() < panel.left() and images.right() < panel.left()
    assert panel.top() <= images.top() and panel.bottom() >= history.bottom()


def small_window_with_result(qtbot, make_window, tmp_path):
    """A 1024x700 window showing the result of a 12-slice series with a lesion."""
    write_phantom_series(tmp_path / "s", n=12, lesion_slices=(5, 6))
    window = make_window()
    window.resize(1024, 700)
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        window.open_paths([tmp_path / "s"])
    settle()
    return window


def test_slice_table_shows_four_rows_at_1024x700(qtbot, make_window, tmp_path):
    """At 1024x700 the slice table showed about one row (it sat in a short scroll area above the history); the
    history must keep its three rows meanwhile."""
    window = small_window_with_result(qtbot, make_window, tmp_path)
    assert table_rows_visible(window.panel.table) >= TABLE_ROWS_SHOWN, window.panel.table.visibleRegion()
    assert rows_shown(window.history.table) >= 3
    assert_panel_beside_images_and_history(window)
    assert_panel_readable(window)


def test_window_state_saved_before_the_panel_was_a_dock(qtbot, make_window, tmp_path):
    """A state saved by an older BrainScan (the panel in a splitter, the history a full-width bottom dock, a
    tall one) brings back neither a hidden panel nor a history across the window's width."""
    from PySide6.QtCore import QByteArray
    from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

    from brainscan.ui.settings import app_settings

    old = QMainWindow()
    qtbot.addWidget(old)
    old.setCentralWidget(QWidget())
    dock = QDockWidget("Study history", old)
    dock.setObjectName("history")
    dock.setWidget(QWidget())
    old.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    old.resize(1024, 700)
    old.show()
    qtbot.waitExposed(old)
    old.resizeDocks([dock], [500], Qt.Orientation.Vertical)
    settle()
    settings = app_settings()
    settings.setValue("window/geometry", old.saveGeometry())
    settings.setValue("window/state", old.saveState())
    settings.setValue("window/splitter", QByteArray(b"not a splitter state"))
    settings.sync()
    old.close()

    window = small_window_with_result(qtbot, make_window, tmp_path)
    assert_panel_beside_images_and_history(window)
    assert table_rows_visible(window.panel.table) >= TABLE_ROWS_SHOWN
    assert_panel_readable(window)
    window.close()
    assert app_settings().value("window/splitter") is None
