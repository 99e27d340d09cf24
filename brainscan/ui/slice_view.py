"""SliceView: one slice of a Volume, rendered by brainscan.render (the same pixels the report shows).

Controls: wheel or Up/Down/PageUp/PageDown/Home/End step through slices; Ctrl+wheel or +/- zoom, 0 resets
the view; left or middle drag pans; right drag changes the window (horizontal: width, vertical: level);
1/2/3 pick the brain / DICOM / full-range window presets, R resets window, zoom and pan; M toggles the tumour
outline, H the heat map. The corners show slice number, position, spacing, window and zoom.

The slice is shown in the radiological convention from the volume's direction cosines
(brainscan.orientation), with the orientation letters on the image's edges; only the display turns: outlines,
heat maps and ``rendered_rgb`` stay in the stored pixel grid.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from brainscan.orientation import DisplayOrientation, display_orientation, to_display
from brainscan.render import DEFAULT_OPACITY, compose, window_to_uint8

PRESETS = {"brain": "Brain (1st-99th percentile)", "dicom": "Default from the images", "full": "Full range"}
ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.25, 16.0


def window_presets(volume) -> dict[str, tuple[float, float]]:
    """(center, width) per preset: robust brain window, the window the images carry, and min..max."""
    pixels = np.asarray(volume.pixels)
    sample = pixels.ravel()[:: max(1, pixels.size // 1_000_000)]
    low, high = float(sample.min()), float(sample.max())
    tissue = sample[sample > low]
    if tissue.size:
        p1, p99 = (float(v) for v in np.percentile(tissue, [1.0, 99.0]))
    else:
        p1, p99 = low, high
    return {
        "brain": ((p1 + p99) / 2.0, max(p99 - p1, 1.0)),
        "dicom": (float(volume.window[0]), max(float(volume.window[1]), 1.0)),
        "full": ((low + high) / 2.0, max(high - low, 1.0)),
    }


def to_qimage(rgb: np.ndarray) -> QImage:
    """Copy an (rows, cols, 3) uint8 array into a QImage (RGB888)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    rows, cols = rgb.shape[:2]
    return QImage(rgb.data, cols, rows, 3 * cols, QImage.Format.Format_RGB888).copy()


class SliceView(QWidget):
    """Shows one slice with optional tumour outline and heat map; see the module docstring for controls."""

    index_changed = Signal(int)
    window_changed = Signal(float, float)  # center, width
    overlays_changed = Signal()  # mask/heat visibility or opacity

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 240)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("black"))
        self.setPalette(palette)
        self._volume = None
        self._orientation: DisplayOrientation | None = None
        self._masks: dict[int, np.ndarray] = {}
        self._set_apart: dict[int, np.ndarray] = {}
        self._heatmaps: dict[int, np.ndarray] = {}
        self._presets: dict[str, tuple[float, float]] | None = None
        self._index = 0
        self._center, self._width = 0.0, 1.0
        self._opacity = DEFAULT_OPACITY
        self._show_mask = True
        self._show_heat = False
        self._zoom = 1.0
        self._pan = QPointF(0.0, 0.0)
        self._drag: tuple | None = None
        self._wheel_rest = 0
        self._cache_key: tuple | None = None
        self._rgb: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._message = "Drop a DICOM folder or image files here, or use File > Open folder."

    # ---- content ------------------------------------------------------------------------------------------
    def set_volume(self, volume, index: int | None = None) -> None:
        """Show ``volume`` (overlays cleared) at ``index`` (default: the middle slice), DICOM window."""
        self._volume = volume
        self._orientation = display_orientation(getattr(volume, "orientation", None))
        self._masks, self._heatmaps, self._set_apart = {}, {}, {}
        self._presets = None
        self._center, self._width = float(volume.window[0]), max(float(volume.window[1]), 1.0)
        self._zoom, self._pan = 1.0, QPointF(0.0, 0.0)
        self._index = -1
        self._invalidate()
        self.set_index(volume.n_slices // 2 if index is None else index)
        self.window_changed.emit(self._center, self._width)

    def clear(self, message: str = "") -> None:
        self._volume = None
        self._masks, self._heatmaps, self._set_apart = {}, {}, {}
        if message:
            self._message = message
        self._invalidate()

    def set_overlays(
        self,
        masks: dict[int, np.ndarray],
        heatmaps: dict[int, np.ndarray],
        set_apart: dict[int, np.ndarray] | None = None,
    ) -> None:
        """Tumour masks (bool) and heat maps ([0, 1]) by slice index, on the slices' own grid; ``set_apart``: what
        was outlined apart from the tumour region (drawn as a contour only, with the outline toggle)."""
        self._masks, self._heatmaps, self._set_apart = dict(masks), dict(heatmaps), dict(set_apart or {})
        self._invalidate()

    def add_masks(self, masks: dict[int, np.ndarray]) -> None:
        """Merge outlines that arrive while the analysis runs; repaints only when the shown slice got one."""
        self._masks.update(masks)
        if self._index in masks:
            self._invalidate()

    def has_mask(self, index: int) -> bool:
        return index in self._masks

    def volume(self):
        return self._volume

    def n_slices(self) -> int:
        return self._volume.n_slices if self._volume is not None else 0

    def index(self) -> int:
        return self._index

    def set_index(self, index: int) -> None:
        if self._volume is None:
            return
        index = int(min(max(index, 0), self.n_slices() - 1))
        if index != self._index:
            self._index = index
            self._invalidate()
            self.index_changed.emit(index)

    def step(self, delta: int) -> None:
        self.set_index(self._index + delta)

    # ---- window / level -----------------------------------------------------------------------------------
    def window(self) -> tuple[float, float]:
        return self._center, self._width

    def set_window(self, center: float, width: float) -> None:
        center, width = float(center), max(float(width), 1e-3)
        if (center, width) != (self._center, self._width):
            self._center, self._width = center, width
            self._invalidate()
            self.window_changed.emit(center, width)

    def presets(self) -> dict[str, tuple[float, float]]:
        if self._volume is None:
            return {}
        if self._presets is None:
            self._presets = window_presets(self._volume)
        return self._presets

    def apply_preset(self, name: str) -> None:
        if self._volume is not None:
            self.set_window(*self.presets()[name])

    def reset_view(self) -> None:
        """DICOM window, fit to the widget, no pan."""
        self._zoom, self._pan = 1.0, QPointF(0.0, 0.0)
        if self._volume is not None:
            self.apply_preset("dicom")
        self.update()

    # ---- overlays ------------------------------------------------------------------------------------------
    def opacity(self) -> float:
        return self._opacity

    def set_opacity(self, opacity: float) -> None:
        opacity = float(min(max(opacity, 0.0), 1.0))
        if opacity != self._opacity:
            self._opacity = opacity
            self._invalidate()
            self.overlays_changed.emit()

    def mask_visible(self) -> bool:
        return self._show_mask

    def set_mask_visible(self, visible: bool) -> None:
        if bool(visible) != self._show_mask:
            self._show_mask = bool(visible)
            self._invalidate()
            self.overlays_changed.emit()

    def heat_visible(self) -> bool:
        return self._show_heat

    def set_heat_visible(self, visible: bool) -> None:
        if bool(visible) != self._show_heat:
            self._show_heat = bool(visible)
            self._invalidate()
            self.overlays_changed.emit()

    # ---- zoom and pan --------------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self._zoom

    def zoom_by(self, factor: float) -> None:
        self._zoom = float(min(max(self._zoom * factor, MIN_ZOOM), MAX_ZOOM))
        self.update()

    def pan(self) -> tuple[float, float]:
        return self._pan.x(), self._pan.y()

    # ---- rendering -----------------------------------------------------------------------------------------
    def display_orientation(self) -> DisplayOrientation | None:
        """How the current volume is turned for display (None: shown as stored, orientation unknown)."""
        return self._orientation

    def displayed_rgb(self) -> np.ndarray | None:
        """The current slice as drawn (before scaling), turned to the radiological convention."""
        rgb = self.rendered_rgb()
        return None if rgb is None else to_display(rgb, self._orientation)

    def rendered_rgb(self) -> np.ndarray | None:
        """The current slice in its stored pixel grid: RGB uint8 from brainscan.render.compose (the display
        turns it with brainscan.orientation)."""
        if self._volume is None:
            return None
        key = (self._index, self._center, self._width, self._opacity, self._show_mask, self._show_heat)
        if key != self._cache_key or self._rgb is None:
            grey = window_to_uint8(self._volume.pixels[self._index], self._center, self._width)
            mask = self._masks.get(self._index) if self._show_mask else None
            heat = self._heatmaps.get(self._index) if self._show_heat else None
            apart = self._set_apart.get(self._index) if self._show_mask else None
            self._rgb = compose(grey, mask, heat, self._opacity, set_apart=apart)
            self._qimage = to_qimage(to_display(self._rgb, self._orientation))
            self._cache_key = key
        return self._rgb

    def image_rect(self) -> QRectF:
        """Where the slice is drawn in widget coordinates (fit, aspect from pixel spacing, zoom, pan)."""
        if self._volume is None:
            return QRectF()
        rows, cols = self._volume.pixels.shape[1:]
        row_mm, col_mm = self._volume.pixel_spacing_mm or (1.0, 1.0)
        if self._orientation is not None:
            rows, cols = self._orientation.display_shape(rows, cols)
            row_mm, col_mm = self._orientation.display_spacing((row_mm, col_mm))
        width, height = cols * col_mm, rows * row_mm
        scale = min(self.width() / width, self.height() / height) * self._zoom
        w, h = width * scale, height * scale
        x = (self.width() - w) / 2 + self._pan.x()
        y = (self.height() - h) / 2 + self._pan.y()
        return QRectF(x, y, w, h)

    def info_lines(self) -> tuple[list[str], list[str]]:
        """Text for the top-left and bottom-left corners."""
        v = self._volume
        if v is None:
            return [], []
        top = [f"Slice {self._index + 1} / {v.n_slices}"]
        if v.positions_mm is not None and len(v.positions_mm) > self._index:
            x, y, z = (float(c) for c in v.positions_mm[self._index])
            top.append(f"Position {x:.1f}, {y:.1f}, {z:.1f} mm")
        if v.pixel_spacing_mm is not None:
            row_mm, col_mm = v.pixel_spacing_mm
            gap = f", slices {v.slice_spacing_mm:.2f} mm apart" if v.slice_spacing_mm else ""
            top.append(f"Pixels {row_mm:.2f} x {col_mm:.2f} mm{gap}")
        else:
            top.append("Spacing unknown (not DICOM)")
        if self._orientation is not None:
            top.append(self._orientation.describe())
        else:
            top.append("Orientation unknown: shown as stored")
        if self._index in self._masks and self._show_mask:
            top.append("Tumour outline shown")
        if self._index in self._set_apart and self._show_mask:
            top.append("Cyan: outlined apart from the tumour, not measured")
        if self._show_heat:
            top.append(
                "Heat map: where the classifier looked, not the tumour"
                if self._index in self._heatmaps
                else "No heat map on this slice (key slices only)"
            )
        bottom = [f"W {self._width:.0f}  L {self._center:.0f}", f"Zoom {self._zoom:.2f}x"]
        return top, bottom

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("black"))
        if self._volume is None:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
            return
        self.rendered_rgb()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._zoom < 2.0)
        painter.drawImage(self.image_rect(), self._qimage)
        top, bottom = self.info_lines()
        font = QFont(self.font())
        painter.setFont(font)
        line = painter.fontMetrics().height()
        for i, text in enumerate(top):
            self._draw_text(painter, 8, 6 + line * (i + 1), text)
        self._draw_letters(painter)
        for i, text in enumerate(reversed(bottom)):
            self._draw_text(painter, 8, self.height() - 8 - line * i, text)

    def edge_letters(self) -> dict[str, str]:
        """The orientation letters on the displayed image's edges (empty when the orientation is unknown)."""
        o = self._orientation
        return {} if o is None else {"top": o.top, "bottom": o.bottom, "left": o.left, "right": o.right}

    def _draw_letters(self, painter: QPainter) -> None:
        letters = self.edge_letters()
        if not letters:
            return
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        rect = self.image_rect().intersected(QRectF(self.rect()))
        if rect.isEmpty():
            return
        ascent, margin = metrics.ascent(), 6
        cx, cy = rect.center().x(), rect.center().y()
        places = {
            "top": (cx - metrics.horizontalAdvance(letters["top"]) / 2, rect.top() + margin + ascent),
            "bottom": (cx - metrics.horizontalAdvance(letters["bottom"]) / 2, rect.bottom() - margin),
            "left": (rect.left() + margin, cy + ascent / 2),
            "right": (rect.right() - margin - metrics.horizontalAdvance(letters["right"]), cy + ascent / 2),
        }
        for edge, (x, y) in places.items():
            self._draw_text(painter, int(x), int(y), letters[edge])
        painter.setFont(QFont(self.font()))

    @staticmethod
    def _draw_text(painter: QPainter, x: int, y: int, text: str) -> None:
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(x + 1, y + 1, text)
        painter.setPen(QColor(255, 255, 160))
        painter.drawText(x, y, text)

    def _invalidate(self) -> None:
        self._cache_key = None
        self.update()

    # ---- input ---------------------------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            if delta:
                self.zoom_by(ZOOM_STEP ** (delta / 120.0))
            event.accept()
            return
        self._wheel_rest += delta
        steps = int(self._wheel_rest / 120)
        if steps:
            self._wheel_rest -= steps * 120
            self.step(-steps)  # wheel down (negative) goes to the next slice
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        page = max(1, self.n_slices() // 10)
        actions = {
            Qt.Key.Key_Down: lambda: self.step(1),
            Qt.Key.Key_Up: lambda: self.step(-1),
            Qt.Key.Key_PageDown: lambda: self.step(page),
            Qt.Key.Key_PageUp: lambda: self.step(-page),
            Qt.Key.Key_Home: lambda: self.set_index(0),
            Qt.Key.Key_End: lambda: self.set_index(self.n_slices() - 1),
            Qt.Key.Key_M: lambda: self.set_mask_visible(not self._show_mask),
            Qt.Key.Key_H: lambda: self.set_heat_visible(not self._show_heat),
            Qt.Key.Key_Plus: lambda: self.zoom_by(ZOOM_STEP),
            Qt.Key.Key_Equal: lambda: self.zoom_by(ZOOM_STEP),
            Qt.Key.Key_Minus: lambda: self.zoom_by(1 / ZOOM_STEP),
            Qt.Key.Key_0: self._fit,
            Qt.Key.Key_R: self.reset_view,
            Qt.Key.Key_1: lambda: self.apply_preset("brain"),
            Qt.Key.Key_2: lambda: self.apply_preset("dicom"),
            Qt.Key.Key_3: lambda: self.apply_preset("full"),
        }
        action = actions.get(key)
        if action is None:
            super().keyPressEvent(event)
            return
        action()
        event.accept()

    def _fit(self) -> None:
        self._zoom, self._pan = 1.0, QPointF(0.0, 0.0)
        self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        button = event.button()
        if self._volume is None or button not in (
            Qt.MouseButton.LeftButton,
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.RightButton,
        ):
            super().mousePressEvent(event)
            return
        self.setFocus()
        self._drag = (button, event.position(), self._center, self._width, QPointF(self._pan))
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._drag is None:
            super().mouseMoveEvent(event)
            return
        button, start, center, width, pan = self._drag
        delta = event.position() - start
        if button == Qt.MouseButton.RightButton:
            full = self.presets()["full"][1]
            sensitivity = full / max(self.width(), 1)
            new_width = width * math.exp(delta.x() / max(self.width(), 1) * 2.0)
            self.set_window(center - delta.y() * sensitivity, new_width)
        else:
            self._pan = pan + delta
            self.update()
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._drag = None
        super().mouseReleaseEvent(event)
