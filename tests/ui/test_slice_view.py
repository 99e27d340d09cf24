"""SliceView: slice stepping, window/level, overlays; rendering goes through brainscan.render."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from brainscan.io import load, scan
from brainscan.render import compose, window_to_uint8
from brainscan.ui.slice_slider import SliceSlider
from brainscan.ui.slice_view import SliceView, window_presets
from tests.dicom_factory import write_phantom_series


@pytest.fixture
def volume(tmp_path):
    write_phantom_series(tmp_path / "s", n=8)
    return load(scan([tmp_path / "s"])[0])


@pytest.fixture
def view(qtbot, volume):
    widget = SliceView()
    qtbot.addWidget(widget)
    widget.resize(300, 300)
    widget.set_volume(volume)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def lesion_overlays(volume):
    masks = {k: volume.pixels[k] > 800 for k in (3, 4, 5)}
    heat = {4: np.clip(volume.pixels[4] / 1000.0, 0, 1).astype(np.float32)}
    return masks, heat


def grab(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return data.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3).copy()


def wheel(widget, dy: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        widget.mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, dy),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_renders_through_render_compose(view, volume):
    view.set_index(2)
    center, width = volume.window
    expected = compose(window_to_uint8(volume.pixels[2], center, width))
    assert np.array_equal(view.rendered_rgb(), expected)


def test_opacity_changes_the_rendered_and_the_drawn_pixels(qtbot, view, volume):
    view.set_overlays(*lesion_overlays(volume))
    view.set_index(4)
    view.set_opacity(0.0)
    plain, screen_plain = view.rendered_rgb().copy(), grab(view)
    view.set_opacity(0.8)
    filled, screen_filled = view.rendered_rgb().copy(), grab(view)
    mask = volume.pixels[4] > 800
    assert not np.array_equal(plain[mask], filled[mask])
    assert np.array_equal(plain[~mask], filled[~mask])
    assert np.abs(screen_plain.astype(int) - screen_filled.astype(int)).sum() > 0


def test_mask_and_heat_keys_toggle_overlays(qtbot, view, volume):
    view.set_overlays(*lesion_overlays(volume))
    view.set_index(4)
    with_mask = view.rendered_rgb().copy()
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert not view.mask_visible()
    assert not np.array_equal(with_mask, view.rendered_rgb())
    qtbot.keyClick(view, Qt.Key.Key_H)
    assert view.heat_visible()
    assert "Heat map: where the classifier looked, not the tumour" in view.info_lines()[0]


def test_set_apart_outlines_are_a_cyan_contour_toggled_with_the_outline(qtbot, view, volume):
    from brainscan.render import SET_APART_COLOUR

    masks, heatmaps = lesion_overlays(volume)
    apart = np.zeros(volume.pixels.shape[1:], bool)
    apart[2:6, 2:6] = True
    view.set_overlays(masks, heatmaps, set_apart={4: apart})
    view.set_index(4)
    cyan = np.all(view.rendered_rgb() == SET_APART_COLOUR, axis=-1)
    assert cyan[2, 2] and not cyan[3, 3] and cyan.sum() == 12  # contour only, no fill
    assert any("outlined apart from the tumour, not measured" in line for line in view.info_lines()[0])
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert not np.all(view.rendered_rgb() == SET_APART_COLOUR, axis=-1).any()


def test_window_level_changes_pixels(qtbot, view):
    before = view.rendered_rgb().copy()
    center, width = view.window()
    view.set_window(center, width / 4)
    assert not np.array_equal(before, view.rendered_rgb())
    view.apply_preset("full")
    assert view.window() == window_presets(view.volume())["full"]
    # right-drag: horizontal = width, vertical = level
    start = view.window()
    qtbot.mousePress(view, Qt.MouseButton.RightButton, pos=QPoint(100, 100))
    qtbot.mouseMove(view, QPoint(160, 70))
    qtbot.mouseRelease(view, Qt.MouseButton.RightButton, pos=QPoint(160, 70))
    center, width = view.window()
    assert width > start[1] and center != start[0]
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert view.window() == window_presets(view.volume())["dicom"]


def test_wheel_and_keys_step_slices(qtbot, view):
    view.set_index(0)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.index() == 1
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.index() == 0
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.index() == 7
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.index() == 6
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.index() == 0
    wheel(view, -240)  # two notches down: two slices on
    assert view.index() == 2
    wheel(view, 120)
    assert view.index() == 1
    assert view.info_lines()[0][0] == "Slice 2 / 8"


def test_zoom_and_pan(qtbot, view):
    rect = view.image_rect()
    wheel(view, 120, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() > 1.0 and view.index() == 4  # ctrl+wheel zooms, does not step
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.zoom() < 1.0
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(view, QPoint(130, 110))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(130, 110))
    assert view.pan() == (30.0, 10.0)
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.image_rect() == rect


def test_info_lines_show_position_and_spacing(view):
    view.set_index(3)
    top, bottom = view.info_lines()
    assert top[0] == "Slice 4 / 8"
    assert top[1] == "Position 0.0, 0.0, 6.0 mm"
    assert top[2] == "Pixels 0.50 x 0.50 mm, slices 2.00 mm apart"
    assert bottom[0].startswith("W ")


def test_slider_marks(qtbot):
    slider = SliceSlider()
    qtbot.addWidget(slider)
    slider.resize(400, 30)
    slider.set_slice_count(8)
    slider.set_marks([5, 3, 4])
    assert slider.marks() == (3, 4, 5)
    assert slider.mark_x(3) < slider.mark_x(4) < slider.mark_x(5)
    slider.show()
    qtbot.waitExposed(slider)
    image = slider.grab().toImage()
    x = slider.mark_x(4)
    colour = image.pixelColor(x, slider.height() - 4)
    assert colour.red() > 150 and colour.green() < 100


def test_a_series_stored_upside_down_is_shown_radiologically_with_letters(qtbot, tmp_path):
    """Issue 27 item 2: an axial stored with anterior at the bottom and left/right swapped (rows running to the
    patient's right, columns to anterior) is turned for display; the stored grid and the outlines are not."""
    write_phantom_series(tmp_path / "flipped", n=6, orientation=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0))
    volume = load(scan([tmp_path / "flipped"])[0])
    widget = SliceView()
    qtbot.addWidget(widget)
    widget.resize(300, 300)
    widget.set_volume(volume, 3)
    widget.show()
    qtbot.waitExposed(widget)
    stored = widget.rendered_rgb()
    center, width = volume.window
    assert np.array_equal(stored, compose(window_to_uint8(volume.pixels[3], center, width)))  # stored grid
    assert np.array_equal(widget.displayed_rgb(), stored[::-1, ::-1])
    assert widget.edge_letters() == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    assert "Axial" in widget.info_lines()[0]
    # on screen: the lesion (stored towards the top right) is drawn towards the bottom left
    lesion = volume.pixels[3] > 800
    rows, cols = np.nonzero(lesion)
    assert rows.mean() < lesion.shape[0] / 2 and cols.mean() > lesion.shape[1] / 2
    shot = grab(widget).astype(int)
    rect = widget.image_rect()
    x0, y0, w, h = int(rect.x()), int(rect.y()), int(rect.width()), int(rect.height())
    image = shot[y0 + 2 : y0 + h - 2, x0 + 2 : x0 + w - 2].sum(axis=2)
    bright = image > 0.9 * image.max()
    ys, xs = np.nonzero(bright)
    assert ys.mean() > image.shape[0] / 2 and xs.mean() < image.shape[1] / 2


def test_orientation_unknown_is_shown_as_stored_and_said(qtbot, tmp_path):
    from dataclasses import replace

    write_phantom_series(tmp_path / "s", n=4)
    volume = replace(load(scan([tmp_path / "s"])[0]), orientation=None)
    widget = SliceView()
    qtbot.addWidget(widget)
    widget.set_volume(volume)
    assert widget.edge_letters() == {} and np.array_equal(widget.displayed_rgb(), widget.rendered_rgb())
    assert "Orientation unknown: shown as stored" in widget.info_lines()[0]
