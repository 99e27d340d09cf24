"""SliceSlider: a horizontal slice slider with red tick marks on the slices where a tumour was found."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSlider, QStyle, QStyleOptionSlider, QWidget

MARK_COLOUR = QColor(230, 40, 40)


class SliceSlider(QSlider):
    """QSlider over slice indices 0..n-1 with marks drawn under the groove."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._marks: tuple[int, ...] = ()
        self.setRange(0, 0)
        self.setPageStep(1)
        self.setMinimumHeight(28)
        self.setToolTip("Slice (red marks: slices where a tumour was found)")

    def set_slice_count(self, n: int) -> None:
        self.setRange(0, max(n - 1, 0))
        self.setPageStep(max(1, n // 10))

    def marks(self) -> tuple[int, ...]:
        return self._marks

    def set_marks(self, indices) -> None:
        self._marks = tuple(sorted(int(i) for i in indices))
        self.setToolTip(
            "Slice" + (f" (tumour found on slices {', '.join(str(i + 1) for i in self._marks)})" if self._marks else "")
        )
        self.update()

    def mark_x(self, index: int) -> int:
        """Centre of the handle at ``index`` in widget coordinates (where the mark is drawn)."""
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        style = self.style()
        groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self)
        span = groove.width() - handle.width()
        offset = QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), index, max(span, 0))
        return groove.x() + handle.width() // 2 + offset

    def paintEvent(self, event) -> None:  # noqa: N802
        if self._marks and self.maximum() >= self.minimum():
            painter = QPainter(self)
            painter.setPen(QPen(MARK_COLOUR, 3))
            bottom = self.height() - 2
            for index in self._marks:
                if self.minimum() <= index <= self.maximum():
                    x = self.mark_x(index)
                    painter.drawLine(x, bottom - 7, x, bottom)
            painter.end()
        super().paintEvent(event)
