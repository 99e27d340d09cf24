"""File > Send to PACS: the destination (kept in the settings), a C-ECHO "Test connection", and Send.

Nothing leaves the computer unless the user presses Send here. The network work (echo, writing the DICOM
results, C-STORE) runs on a Python thread, so a PACS that does not answer never freezes the window; its
outcome comes back through a queued Qt signal and is shown in the dialog, errors included (they say what to
check: host, port, AE titles).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from brainscan.errors import PacsError
from brainscan.pacs import DEFAULT_CALLING_AET, make_destination
from brainscan.ui.background import BackgroundTask

log = logging.getLogger(__name__)

ECHO_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 30.0


class PacsDialog(QDialog):
    """``send_files`` is a function of (destination, calling AE title, timeout) that writes and sends the
    results and returns a brainscan.pacs.SendReport; None when there is nothing to send yet (settings only).

    ``finished_task(kind, ok, message)`` fires when an echo or a send ends (kind "echo" or "send").
    """

    finished_task = Signal(str, bool, str)

    def __init__(self, settings, send_files=None, what: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Send to PACS")
        self.settings = settings
        self.send_files = send_files
        self.running: str | None = None
        self.ae_title = QLineEdit(str(settings.value("pacs/ae_title", "")))
        self.ae_title.setPlaceholderText("e.g. ORTHANC")
        self.ae_title.setMaxLength(16)
        self.host = QLineEdit(str(settings.value("pacs/host", "")))
        self.host.setPlaceholderText("host name or IP address")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(int(settings.value("pacs/port", 104) or 104))
        self.calling = QLineEdit(str(settings.value("pacs/calling_aet", DEFAULT_CALLING_AET)))
        self.calling.setMaxLength(16)
        form = QFormLayout()
        form.addRow("PACS AE title:", self.ae_title)
        form.addRow("Host:", self.host)
        form.addRow("Port:", self.port)
        form.addRow("BrainScan's AE title:", self.calling)

        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip("DICOM echo (C-ECHO): checks host, port and AE titles; sends no data")
        self.test_button.clicked.connect(self.test_connection)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)

        self.what = QLabel(what or "Analyse a DICOM study first; its results can then be sent from here.")
        self.what.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.send_button = self.buttons.addButton("Send", QDialogButtonBox.ButtonRole.ActionRole)
        self.send_button.setEnabled(send_files is not None)
        self.send_button.clicked.connect(self.send)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(test_row)
        layout.addWidget(self.what)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self._task = BackgroundTask(
            "brainscan-pacs", lambda exc: PacsError(f"Unexpected failure ({type(exc).__name__}: {exc})."), self
        )
        self._task.done.connect(self._on_done)

    # ---- actions -----------------------------------------------------------------------------------------
    def destination(self):
        """The destination from the fields (saved in the settings when valid).

        Raises:
            PacsError: naming the field that is wrong.
        """
        destination = make_destination(self.ae_title.text(), self.host.text(), self.port.value())
        from brainscan.pacs.destination import check_ae_title

        calling = check_ae_title(self.calling.text(), "BrainScan AE title")
        self.settings.setValue("pacs/ae_title", destination.ae_title)
        self.settings.setValue("pacs/host", destination.host)
        self.settings.setValue("pacs/port", destination.port)
        self.settings.setValue("pacs/calling_aet", calling)
        return destination, calling

    def test_connection(self) -> None:
        from brainscan.pacs import echo

        started = self._start("echo")
        if started is None:
            return
        destination, calling = started
        self._show(f"Testing {destination}…", None)
        self._task.start(lambda: (destination, echo(destination, calling, ECHO_TIMEOUT_S)))

    def send(self) -> None:
        if self.send_files is None:
            return
        started = self._start("send")
        if started is None:
            return
        destination, calling = started
        self._show(f"Sending to {destination}…", None)
        self._task.start(lambda: self.send_files(destination, calling, SEND_TIMEOUT_S))

    def reject(self) -> None:
        if self.running is None:  # a running echo or send ends first (at most its timeout)
            super().reject()

    # ---- internals ---------------------------------------------------------------------------------------
    def _start(self, kind: str):
        if self.running is not None:
            return None
        try:
            destination = self.destination()
        except PacsError as exc:
            self._show(str(exc), False)
            return None
        self.running = kind
        self._set_busy(True)
        return destination

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.test_button, self.ae_title, self.host, self.port, self.calling):
            widget.setEnabled(not busy)
        self.send_button.setEnabled(not busy and self.send_files is not None)
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setEnabled(not busy)

    def _on_done(self, ok: bool, value) -> None:
        kind, self.running = self.running or "", None
        self._set_busy(False)
        if not ok:
            message = str(value)
        elif kind == "echo":
            destination, milliseconds = value
            message = f"Connection OK: {destination} answered the DICOM echo in {milliseconds:.0f} ms."
        else:
            message = value.summary() + "."
            problems = [f"{o.path.name}: {o.message}" for o in value.failed]
            if problems:
                ok = False
                message += "\nNot stored: " + "; ".join(problems)
        self._show(message, ok)
        self.finished_task.emit(kind, ok, message)

    def _show(self, text: str, ok: bool | None) -> None:
        colour = {True: "#2e7d32", False: "#c62828", None: "palette(text)"}[ok]
        self.status.setStyleSheet(f"color: {colour};")
        self.status.setText(text)
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():  # long errors wrap: grow so that they can be read in full
            self.resize(self.width(), needed)
