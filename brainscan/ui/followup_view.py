"""The result panel's follow-up box: the change since the patient's previous study and the volume over time.

It only draws a brainscan.followup.FollowUp (computed Qt-free from the history); the plot is painted with
QPainter (Qt Charts is not part of PySide6-Essentials) from the same points the PDF report draws.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from brainscan.followup import FollowUp, plot_points

LINE_COLOUR = QColor("#c62828")
PLOT_HEIGHT = 72  # px: the result panel is tall already; the report carries the large plot


class VolumePlot(QWidget):
    """Tumour volume (mL) by study date, oldest left, this study (the last point) right."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.followup: FollowUp | None = None
        self.setFixedHeight(PLOT_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_followup(self, followup: FollowUp | None) -> None:
        self.followup = followup
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        if self.followup is None:
            return
        points, top = plot_points(self.followup)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        left = metrics.horizontalAdvance("88.8 mL") + 8
        area = QRectF(left, metrics.height() + 4, self.width() - left - 16, self.height() - 2 * metrics.height() - 12)
        text_pen = QPen(self.palette().color(self.foregroundRole()))
        painter.setPen(QPen(QColor(150, 150, 150), 1))
        painter.drawLine(area.bottomLeft(), area.bottomRight())
        painter.drawLine(area.bottomLeft(), area.topLeft())
        for fraction in (0.5, 1.0):
            y = area.bottom() - fraction * area.height()
            painter.setPen(QPen(QColor(210, 210, 210), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
        painter.setPen(text_pen)
        for fraction in (0.0, 1.0):
            y = area.bottom() - fraction * area.height()
            label = QRectF(0, y - metrics.height() / 2, left - 6, metrics.height())
            align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(label, align, f"{fraction * top:g} mL")
        width, height = area.width() - 12, area.height()
        xy = [QPointF(area.left() + 6 + x * width, area.bottom() - v / top * height) for x, v in points]
        path = QPainterPath(xy[0])
        for point in xy[1:]:
            path.lineTo(point)
        painter.setPen(QPen(LINE_COLOUR, 2))
        painter.drawPath(path)
        painter.setBrush(LINE_COLOUR)
        last_label_x = None
        for i in range(len(xy) - 1, -1, -1):
            point, measurement = xy[i], self.followup.history[i]
            painter.setPen(QPen(LINE_COLOUR, 1))
            painter.drawEllipse(point, 3.5, 3.5)
            painter.setPen(text_pen)
            value = QRectF(point.x() - 30, point.y() - metrics.height() - 4, 60, metrics.height())
            painter.drawText(value, Qt.AlignmentFlag.AlignCenter, f"{measurement.volume_ml:.2f}")
            date = measurement.study_date.isoformat()
            width = metrics.horizontalAdvance(date) + 8
            if last_label_x is None or last_label_x - point.x() >= width:
                x = min(max(point.x() - width / 2, 0.0), self.width() - width)  # keep the date inside the widget
                box = QRectF(x, area.bottom() + 3, width, metrics.height())
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, date)
                last_label_x = point.x()
        painter.end()


class FollowUpView(QFrame):
    """Hidden until a follow-up is shown; ``text()`` is what a person reads (tests use it too)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plot = VolumePlot()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.setSpacing(2)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot)
        self.setVisible(False)

    def text(self) -> str:
        return self.summary.text()

    def show_followup(self, followup: FollowUp | None) -> None:
        self.plot.set_followup(followup)
        if followup is None:
            self.summary.setText("")
            self.setVisible(False)
            return
        self.summary.setText("Follow-up " + "\n".join(followup.short_lines()))
        self.setToolTip(
            "\n".join(followup.lines())
            + f"\n{len(followup.history)} studies of this patient with a measured tumour volume in the history."
        )
        self.setVisible(True)
