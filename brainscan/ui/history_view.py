"""HistoryView: the analysed studies in the history database, with thumbnail, search and tumour filter.

Double-click (or Enter, or Open) emits ``open_requested(StudyRecord)``; Delete asks first. The table model
reads the store in the GUI thread: a bounded, indexed query (newest first, at most 1000 rows).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from brainscan.presentation import Headline, headline, person_name, summary_headline
from brainscan.types import StudyRecord
from brainscan.ui import errors
from brainscan.ui.table_model import RowsTableModel

log = logging.getLogger(__name__)

THUMB = 44
FILTERS = (("All studies", None), ("Tumour suspected", True), ("No tumour", False))


def local_time(iso: str) -> str:
    """A stored timestamp (ISO 8601, UTC) as this computer's local time, e.g. "5 Jan 2026, 14:03"; text that
    is not a timestamp comes back as it is."""
    try:
        when = dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if when.tzinfo is not None:
        when = when.astimezone()
    return f"{when.day} {when:%b %Y, %H:%M}"


class HistoryModel(RowsTableModel):
    """Rows of HistoryStore.list(search, tumour)."""

    HEADERS = ("", "Analysed", "Patient", "Series", "Verdict", "P(tumour)", "Volume (mL)")

    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.store = store
        self.search = ""
        self.tumour: bool | None = None
        self._rows: list[StudyRecord] = []
        self._thumbs: dict[tuple, QPixmap] = {}
        self._headlines: dict[tuple, Headline] = {}

    def refresh(self) -> None:
        self.beginResetModel()
        self._rows = self.store.list(search=self.search, tumour=self.tumour)
        self.endResetModel()

    def headline(self, record: StudyRecord) -> Headline:
        """The row's headline as the result panel and the PDF word it (cautions included), from its stored JSON."""
        key = (record.id, record.created_at)
        if key not in self._headlines:
            try:
                summary = json.loads(record.result_json or "{}")
                self._headlines[key] = summary_headline(summary) if summary.get("verdict") else None
            except (ValueError, TypeError, KeyError, AttributeError):
                self._headlines[key] = None
            if self._headlines[key] is None:  # a row without a stored result: its columns alone
                self._headlines[key] = headline(record.tumour, record.verdict_label, record.tumour_probability)
        return self._headlines[key]

    def record(self, row: int) -> StudyRecord:
        return self._rows[row]

    def _thumbnail(self, record: StudyRecord) -> QPixmap | None:
        if not record.thumbnail_png or record.id is None:
            return None
        key = (record.id, record.created_at)  # an analysis done again keeps its id, not its thumbnail
        if key not in self._thumbs:
            pixmap = QPixmap()
            pixmap.loadFromData(record.thumbnail_png, "PNG")
            self._thumbs[key] = pixmap.scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        return self._thumbs[key]

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        record = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._thumbnail(record)
        if column == 4 and role == Qt.ItemDataRole.ForegroundRole:
            return QColor(self.headline(record).colour)
        if column == 4 and role == Qt.ItemDataRole.ToolTipRole:
            head = self.headline(record)
            return "\n".join([head.text, *head.cautions])
        if role == Qt.ItemDataRole.ToolTipRole:
            return record.source_path
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        meta = record.meta
        if column == 1:
            return record.created_at.replace("T", " ")[:19]
        if column == 2:
            return " ".join(part for part in (person_name(meta.patient_name), meta.patient_id) if part)
        if column == 3:
            return record.description
        if column == 4:
            return self.headline(record).title
        if column == 5:
            return f"{record.tumour_probability:.2f}" if record.tumour_probability is not None else "–"
        if column == 6:
            return f"{record.volume_ml:.2f}" if record.volume_ml is not None else ""
        return None


class HistoryView(QWidget):
    """Search box, filter, table, Open and Delete buttons."""

    open_requested = Signal(object)  # StudyRecord

    def __init__(self, store, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.model = HistoryModel(store, self)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search patient, ID, series, folder or verdict")
        self.search.setClearButtonEnabled(True)
        self.search.setAcceptDrops(False)  # a dropped folder opens the study instead
        self.search.textChanged.connect(self._on_filter)
        self.filter = QComboBox()
        for text, value in FILTERS:
            self.filter.addItem(text, value)
        self.filter.currentIndexChanged.connect(self._on_filter)
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(self._open_selected)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.delete_selected)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 4)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda index: self.open_requested.emit(self.model.record(index.row())))
        self.table.activated.connect(lambda index: self.open_requested.emit(self.model.record(index.row())))

        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.filter)
        bar.addWidget(self.open_button)
        bar.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self.refresh()

    def height_for_rows(self, rows: int) -> int:
        """The height that shows the search bar, the table header and ``rows`` rows, with room for a horizontal
        scroll bar (a narrow window shows one; it must not cost a row)."""
        table = self.table
        margins = self.layout().contentsMargins()
        return (
            margins.top()
            + margins.bottom()
            + self.layout().spacing()
            + self.search.sizeHint().height()
            + table.horizontalHeader().sizeHint().height()
            + rows * table.verticalHeader().defaultSectionSize()
            + 2 * table.frameWidth()
            + table.horizontalScrollBar().sizeHint().height()
            + 2
        )

    def refresh(self) -> None:
        try:
            self.model.refresh()
        except Exception as exc:
            errors.show_error(self, exc)

    def _on_filter(self, *_args) -> None:
        self.model.search = self.search.text().strip()
        self.model.tumour = self.filter.currentData()
        self.refresh()

    def selected_record(self) -> StudyRecord | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.record(rows[0].row()) if rows else None

    def _open_selected(self) -> None:
        record = self.selected_record()
        if record is not None:
            self.open_requested.emit(record)

    def delete_selected(self) -> bool:
        """Delete the selected study after a confirmation; True when it was deleted."""
        record = self.selected_record()
        if record is None or record.id is None:
            return False
        who = person_name(record.meta.patient_name) or record.description or record.source_path
        answer = QMessageBox.question(
            self,
            "Delete study",
            f"Delete the stored analysis of {who} ({record.created_at[:10]}) from the history?\n"
            "The images themselves are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            self.store.delete(record.id)
        except Exception as exc:
            errors.show_error(self, exc)
            return False
        self.refresh()
        return True
