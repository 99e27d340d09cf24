"""ProgressStrip: the status-bar progress bar with an ETA and a Cancel button."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


def eta_text(elapsed_s: float, fraction: float, first: tuple[float, float] | None = None) -> str:
    """'about 12 s left' from the time so far and the fraction done ('' until there is something to go on).

    ``first`` = (elapsed s, fraction) at the first progress report: the rate is then measured from there on, so
    the start-up before the first batch (loading, the first model call) does not inflate the estimate (a 30 s
    job said 'about 3 min'); until the work has moved on 5 % past it there is no estimate.
    """
    if fraction >= 1.0:
        return ""
    if first is not None:
        since_s, since_fraction = elapsed_s - first[0], fraction - first[1]
        if since_fraction < 0.05 or since_s < 0.5:
            return ""
        left = since_s / since_fraction * (1.0 - fraction)
    elif fraction <= 0.02 or elapsed_s < 0.5:
        return ""
    else:
        left = elapsed_s / fraction - elapsed_s
    if left < 60:
        return f"about {max(1, round(left))} s left"
    return f"about {round(left / 60)} min left"


class ProgressStrip(QWidget):
    """Hidden while idle. ``start(text, cancellable)``, ``set_progress(percent, message)``, ``stop()``."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None, clock=time.monotonic):
        super().__init__(parent)
        self.clock = clock
        self.started = clock()
        self.first: tuple[float, float] | None = None  # (elapsed s, fraction) at the first progress report
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(True)
        self.eta = QLabel()
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the analysis (Esc); nothing is saved")
        self.cancel.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.eta)
        layout.addWidget(self.cancel)
        self.setVisible(False)

    def start(self, text: str, cancellable: bool, busy: bool = False) -> None:
        self.started = self.clock()
        self.first = None
        self.label.setText(text)
        self.bar.setRange(0, 0 if busy else 100)
        self.bar.setValue(0)
        self.eta.setText("")
        self.cancel.setVisible(cancellable)
        self.cancel.setEnabled(True)
        self.setVisible(True)

    def set_progress(self, percent: int, message: str) -> None:
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 100)
        self.bar.setValue(percent)
        self.label.setText(message)
        elapsed, fraction = self.clock() - self.started, percent / 100.0
        if self.first is None:
            self.first = (elapsed, fraction)
        self.eta.setText(eta_text(elapsed, fraction, self.first))

    def stop(self) -> None:
        self.setVisible(False)
