"""File > Open from PACS: search the PACS (C-FIND) for studies by patient name or ID and date range, list a
study's MR series, retrieve one (C-GET, or C-MOVE to BrainScan's own port) into the cache with progress and
Cancel, then hand the folder to the window, which opens and analyses it like a dropped folder.

The PACS is the one of File > Send to PACS (the same settings; "Change…" opens that dialog to edit and test it).
Every network step runs on a ``BackgroundTask``; its outcome, errors included, is shown in the dialog's status
line in words (no matches, rejected association, timeout, partial retrieve).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from brainscan.errors import PacsError
from brainscan.pacs import DEFAULT_CALLING_AET, make_destination
from brainscan.presentation import dicom_date, person_name
from brainscan.ui.background import BackgroundTask

log = logging.getLogger(__name__)

QUERY_TIMEOUT_S = 20.0
RETRIEVE_TIMEOUT_S = 60.0


class OpenFromPacsDialog(QDialog):
    """``retrieved(Path)`` fires with the series folder once a retrieve brought images (complete or, after the
    warning, partial); ``finished_task(kind, ok, message)`` after each search, series listing and retrieve."""

    retrieved = Signal(object)
    finished_task = Signal(str, bool, str)
    _progress = Signal(int, int, str)

    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Open from PACS")
        self.settings = settings
        self.running: str | None = None
        self.studies: list = []
        self.series: list = []
        self._cancel = threading.Event()

        self.where = QLabel()
        change = QPushButton("Change…")
        change.setToolTip("The PACS of File > Send to PACS: AE title, host, port, and a connection test")
        change.clicked.connect(self.edit_destination)
        where_row = QHBoxLayout()
        where_row.addWidget(QLabel("PACS:"))
        where_row.addWidget(self.where, 1)
        where_row.addWidget(change)

        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("name or its beginning, e.g. Doe")
        self.patient_id = QLineEdit()
        self.patient_id.setPlaceholderText("exact patient ID")
        self.any_date = QCheckBox("any date")
        self.any_date.setChecked(True)
        self.date_from, self.date_to = QDateEdit(), QDateEdit()
        for edit, date in ((self.date_from, QDate.currentDate().addYears(-1)), (self.date_to, QDate.currentDate())):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setDate(date)
            edit.setEnabled(False)
        self.any_date.toggled.connect(lambda on: [e.setEnabled(not on) for e in (self.date_from, self.date_to)])
        dates = QHBoxLayout()
        dates.addWidget(self.any_date)
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        dates.addStretch(1)
        self.mr_only = QCheckBox("MR studies only")
        self.mr_only.setChecked(True)
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        form = QFormLayout()
        form.addRow("Patient name:", self.patient_name)
        form.addRow("Patient ID:", self.patient_id)
        form.addRow("Study date:", dates)
        search_row = QHBoxLayout()
        search_row.addWidget(self.mr_only)
        search_row.addStretch(1)
        search_row.addWidget(self.search_button)

        self.study_table = _table(["Date", "Patient", "Patient ID", "Study", "Modalities", "Series"], stretch=3)
        self.study_table.itemSelectionChanged.connect(self.list_series)
        self.series_table = _table(["#", "Modality", "Series", "Images"], stretch=2)
        self.series_table.itemSelectionChanged.connect(self._update_buttons)
        self.series_table.itemDoubleClicked.connect(lambda _item: self.retrieve())

        self.method = QComboBox()
        self.method.addItem("C-GET (nothing to set up on the PACS)", "get")
        self.method.addItem("C-MOVE to BrainScan's port", "move")
        self.method.setCurrentIndex(1 if settings.value("pacs/retrieve_method", "get") == "move" else 0)
        self.move_port = QSpinBox()
        self.move_port.setRange(1, 65535)
        self.move_port.setValue(int(settings.value("pacs/move_port", 11113) or 11113))
        self.move_port.setToolTip("The PACS must know BrainScan's AE title with this computer's address and this port")
        self.method.currentIndexChanged.connect(
            lambda _i: self.move_port.setEnabled(self.method.currentData() == "move")
        )
        self.move_port.setEnabled(self.method.currentData() == "move")
        method_row = QHBoxLayout()
        method_row.addWidget(QLabel("Retrieve by:"))
        method_row.addWidget(self.method)
        method_row.addWidget(QLabel("port"))
        method_row.addWidget(self.move_port)
        method_row.addStretch(1)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Retrieve and open")
        self.open_button.clicked.connect(self.retrieve)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self.cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(where_row)
        layout.addLayout(form)
        layout.addLayout(search_row)
        layout.addWidget(QLabel("Studies:"))
        layout.addWidget(self.study_table, 2)
        layout.addWidget(QLabel("Series:"))
        layout.addWidget(self.series_table, 1)
        layout.addLayout(method_row)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(760, 620)

        self._task = BackgroundTask(
            "brainscan-pacs-open", lambda exc: PacsError(f"Unexpected failure ({type(exc).__name__}: {exc})."), self
        )
        self._task.done.connect(self._on_done)
        self._progress.connect(self._on_progress)
        self._show_destination()
        self._update_buttons()

    # ---- the destination (shared with Send to PACS) --------------------------------------------------------
    def destination(self):
        """(Destination, calling AE title) from the settings.

        Raises:
            PacsError: when no PACS is set up yet, or its settings are invalid.
        """
        from brainscan.pacs.destination import check_ae_title

        if not str(self.settings.value("pacs/host", "") or ""):
            raise PacsError("No PACS is set up yet: press Change… and enter its AE title, host and port.")
        destination = make_destination(
            str(self.settings.value("pacs/ae_title", "")),
            str(self.settings.value("pacs/host", "")),
            self.settings.value("pacs/port", 104),
        )
        calling = check_ae_title(
            str(self.settings.value("pacs/calling_aet", DEFAULT_CALLING_AET)), "BrainScan AE title"
        )
        return destination, calling

    def _show_destination(self) -> None:
        try:
            destination, calling = self.destination()
            self.where.setText(f"{destination}  (as {calling})")
        except PacsError as exc:
            self.where.setText(f"<i>{exc}</i>")

    def edit_destination(self) -> None:
        from brainscan.ui.pacs_dialog import PacsDialog

        dialog = PacsDialog(
            self.settings, None, "The PACS BrainScan searches, retrieves from and sends results to.", self
        )
        dialog.setWindowTitle("PACS connection")
        dialog.finished.connect(lambda _result: self._show_destination())
        self.destination_dialog = dialog
        dialog.open()

    # ---- actions ----------------------------------------------------------------------------------------------
    def search(self) -> None:
        from brainscan.pacs import date_range, find_studies

        started = self._start("search")
        if started is None:
            return
        destination, calling = started
        try:
            dates = (
                ""
                if self.any_date.isChecked()
                else date_range(self.date_from.date().toPython(), self.date_to.date().toPython())
            )
        except PacsError as exc:
            self._finish("search", False, str(exc))
            return
        keys = dict(
            patient_name=self.patient_name.text(), patient_id=self.patient_id.text(), dates=dates,
            modality="MR" if self.mr_only.isChecked() else "", calling_aet=calling, timeout=QUERY_TIMEOUT_S,
        )  # fmt: skip
        self.study_table.setRowCount(0)
        self.series_table.setRowCount(0)
        self._show(f"Searching {destination}…", None)
        self._task.start(lambda: find_studies(destination, **keys))

    def list_series(self) -> None:
        from brainscan.pacs import find_series

        study = self._selected(self.study_table, self.studies)
        self.series_table.setRowCount(0)
        self.series = []
        if study is None or self.running is not None:
            self._update_buttons()
            return
        started = self._start("series")
        if started is None:
            return
        destination, calling = started
        modality = "MR" if self.mr_only.isChecked() else ""
        self._show("Listing the series of the study…", None)
        self._task.start(
            lambda: find_series(
                destination, study.study_uid, modality=modality, calling_aet=calling, timeout=QUERY_TIMEOUT_S
            )
        )

    def retrieve(self) -> None:
        from brainscan.pacs import retrieve_series

        series = self._selected(self.series_table, self.series)
        if series is None or self.running is not None:
            return
        started = self._start("retrieve")
        if started is None:
            return
        destination, calling = started
        method = str(self.method.currentData())
        port = self.move_port.value()
        self.settings.setValue("pacs/retrieve_method", method)
        self.settings.setValue("pacs/move_port", port)
        self._cancel.clear()
        self.progress.setRange(0, max(1, series.n_instances or 0))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self._show(f"Retrieving {series.description or 'the series'} from {destination}…", None)
        self._task.start(
            lambda: retrieve_series(
                destination, series.study_uid, series.series_uid, method=method, expected=series.n_instances,
                calling_aet=calling, timeout=RETRIEVE_TIMEOUT_S, move_port=port,
                on_progress=lambda done, total, message: self._progress.emit(done, total, message),
                should_cancel=self._cancel.is_set,
            )
        )  # fmt: skip

    def cancel_or_close(self) -> None:
        if self.running == "retrieve":
            self._cancel.set()
            self._show("Cancelling…", None)
        elif self.running is None:
            self.reject()

    def reject(self) -> None:
        if self.running is None:  # a search or retrieve in flight ends first (Cancel, or its timeout)
            super().reject()

    # ---- internals ------------------------------------------------------------------------------------------
    def _start(self, kind: str):
        if self.running is not None:
            return None
        try:
            destination = self.destination()
        except PacsError as exc:
            self._show(str(exc), False)
            return None
        self.running = kind
        self._update_buttons()
        return destination

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if total:
            self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total or '?'}")

    def _on_done(self, ok: bool, value) -> None:
        kind = self.running or ""
        self.running = None
        if not ok:
            self._finish(kind, False, str(value))
            return
        if kind == "search":
            self.studies = list(value)
            for study in self.studies:
                _add_row(self.study_table, [
                    dicom_date(study.study_date) or "", person_name(study.patient_name) or study.patient_name,
                    study.patient_id, study.description, study.modalities,
                    "" if study.n_series is None else str(study.n_series),
                ])  # fmt: skip
            if not self.studies:
                self._finish(
                    kind, False, "No studies match. Widen the search: fewer letters of the name, no ID, any date."
                )
            else:
                self._finish(kind, True, f"{len(self.studies)} stud{'y' if len(self.studies) == 1 else 'ies'} found; "
                             "choose one to see its series.")  # fmt: skip
        elif kind == "series":
            self.series = list(value)
            for series in self.series:
                _add_row(self.series_table, [
                    "" if series.number is None else str(series.number), series.modality, series.description,
                    "" if series.n_instances is None else str(series.n_instances),
                ])  # fmt: skip
            if self.series:
                self.series_table.selectRow(0)
                self._finish(kind, True, f"{len(self.series)} series; choose one and press Retrieve and open.")
            else:
                self._finish(kind, False, "This study holds no MR series (untick 'MR studies only' to see all).")
        else:
            self._retrieved(value)

    def _retrieved(self, report) -> None:
        self.progress.setVisible(False)
        if report.cancelled:
            self._finish("retrieve", False, report.summary() + "; nothing was opened.")
            return
        if not report.received:
            self._finish("retrieve", False, report.summary() + ".")
            return
        message = report.summary() + "."
        ok = report.complete or report.from_cache
        if not ok:
            message += " The images that arrived are opened; the analysis says if too few can be judged."
        self._finish("retrieve", ok, message)
        self.retrieved.emit(Path(report.folder))
        if ok:
            self.accept()

    def _finish(self, kind: str, ok: bool, message: str) -> None:
        self.progress.setVisible(False)
        self._update_buttons()
        self._show(message, ok)
        self.finished_task.emit(kind, ok, message)

    def _update_buttons(self) -> None:
        busy = self.running is not None
        for widget in (self.search_button, self.patient_name, self.patient_id, self.study_table, self.method):
            widget.setEnabled(not busy)
        self.open_button.setEnabled(not busy and self._selected(self.series_table, self.series) is not None)
        self.cancel_button.setText("Cancel" if self.running == "retrieve" else "Close")
        self.cancel_button.setEnabled(self.running in (None, "retrieve"))

    def _selected(self, table: QTableWidget, items: list):
        rows = table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(items):
            return None
        return items[rows[0].row()]

    def _show(self, text: str, ok: bool | None) -> None:
        colour = {True: "#2e7d32", False: "#c62828", None: "palette(text)"}[ok]
        self.status.setStyleSheet(f"color: {colour};")
        self.status.setText(text)


def _table(headers: list[str], stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _add_row(table: QTableWidget, values: list[str]) -> None:
    row = table.rowCount()
    table.insertRow(row)
    for column, value in enumerate(values):
        table.setItem(row, column, QTableWidgetItem(value))
