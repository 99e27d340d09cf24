"""SeriesPicker: when a folder holds several series, the user picks the one to open."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Series", "Slices", "Size", "Modality", "Folder")


class SeriesPicker(QDialog):
    """A table of SeriesInfo; the first (largest) series is preselected."""

    def __init__(self, series: list, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self.series = list(series)
        self.table = QTableWidget(len(self.series), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for row, info in enumerate(self.series):
            cells = (
                info.description or "(no description)",
                str(info.slices),
                f"{info.rows} x {info.columns}",
                info.modality or info.kind,
                str(info.source),
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        if self.series:
            largest = max(range(len(self.series)), key=lambda i: self.series[i].slices)
            self.table.selectRow(largest)
        self.table.doubleClicked.connect(self.accept)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"This folder holds {len(self.series)} series. Which one should be opened?"))
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(720, 320)

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.series[rows[0].row()] if rows else None


def choose_series(parent: QWidget | None, series: list):
    """Modal picker; the chosen SeriesInfo, or None when cancelled."""
    dialog = SeriesPicker(series, parent)
    return dialog.selected() if dialog.exec() == QDialog.DialogCode.Accepted else None
