"""ResultPanel: the verdict, calibrated probabilities, per-slice table, measurements and model versions.

It reads the plain dict of brainscan.pipeline.summary.result_to_dict (the analyze JSON), so a fresh result
and a study reopened from the history (its stored ``result_json``) are shown by the same code.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from brainscan.presentation import DISCLAIMER
from brainscan.types import CLASS_NAMES, NO_TUMOUR, NOT_ASSESSED
from brainscan.ui.followup_view import FollowUpView
from brainscan.ui.table_model import RowsTableModel

LABEL_NAMES = {
    "glioma": "Glioma",
    "meningioma": "Meningioma",
    "notumor": "No tumour",
    "pituitary": "Pituitary",
    NOT_ASSESSED: "Not assessed",
}


def tumour_slices(summary: dict) -> list[int]:
    """Indices of the slices the classifier called tumour (the slider marks)."""
    return [s["index"] for s in summary.get("slices", []) if s.get("label") not in (NO_TUMOUR, NOT_ASSESSED)]


def verdict_line(summary: dict) -> str:
    v = summary["verdict"]
    p = v["tumour_probability"]
    if v.get("assessable") is False:
        return f"Cannot assess this series: {v.get('cannot_assess_reason') or 'too few slices can be judged'}"
    if v["tumour"]:
        return f"Tumour suspected: {LABEL_NAMES.get(v['label'], v['label'])} (P(tumour) {p:.2f})"
    return f"No tumour found (P(tumour) {p:.2f})"


def header_line(study: dict) -> str:
    """'Patient Doe Jane (ID P-001) · born 19700101 · study 20260105 · T1 AX' from header_meta()-style fields."""
    parts = []
    name = study.get("patient_name", "").replace("^", " ").strip()
    if name or study.get("patient_id"):
        patient_id = f" (ID {study['patient_id']})" if study.get("patient_id") else ""
        parts.append(f"Patient {name or '(no name)'}{patient_id}")
    if study.get("patient_birth_date"):
        parts.append(f"born {study['patient_birth_date']}")
    if study.get("study_date"):
        parts.append(f"study {study['study_date']}")
    if study.get("series_description"):
        parts.append(study["series_description"])
    return " · ".join(parts)


def _unit(summary: dict) -> str:
    return "mm²" if summary.get("area_unit") == "mm2" else "px²"


class SliceTableModel(RowsTableModel):
    """One row per slice: number, finding, P(tumour), outlined area."""

    HEADERS = ("Slice", "Finding", "P(tumour)", "Area")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[dict] = []
        self._area_key = "tumour_area_mm2"
        self._unit = "mm²"

    def set_summary(self, summary: dict | None) -> None:
        self.beginResetModel()
        self._rows = list(summary.get("slices", [])) if summary else []
        if summary:
            self._area_key = f"tumour_area_{summary.get('area_unit', 'mm2')}"
            self._unit = _unit(summary)
        self.endResetModel()

    def slice_index(self, row: int) -> int:
        return int(self._rows[row]["index"])

    def header_label(self, section: int) -> str:
        return self.HEADERS[section] + (f" ({self._unit})" if section == 3 else "")

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return str(row["index"] + 1)
            if column == 1:
                label = LABEL_NAMES.get(row["label"], row["label"])
                reason = row.get("not_assessed_reason")
                return f"{label}: {reason}" if reason else label
            if column == 2:
                p = row.get("tumour_probability")
                return "–" if p is None else f"{p:.2f}"
            area = row.get(self._area_key) or 0.0
            return f"{area:.1f}" if row.get("outlined") else ""
        if role == Qt.ItemDataRole.ToolTipRole and column == 1 and row.get("not_assessed_reason"):
            return f"Not assessed: {row['not_assessed_reason']}. This slice does not count towards the verdict."
        if role == Qt.ItemDataRole.ForegroundRole and column == 1 and row["label"] == NOT_ASSESSED:
            return Qt.GlobalColor.gray
        if role == Qt.ItemDataRole.ForegroundRole and column == 1 and row["label"] != NO_TUMOUR:
            return Qt.GlobalColor.red
        if role == Qt.ItemDataRole.TextAlignmentRole and column != 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class AutoHideLabel(QLabel):
    """A label that takes no room while it has no text (the panel is tall; empty notes should not cost space)."""

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self.setVisible(bool(text))


class ResultPanel(QWidget):
    """Right-hand panel; emits ``slice_activated(index)`` when a table row is clicked."""

    slice_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._summary: dict | None = None
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        font = self.verdict.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.verdict.setFont(font)
        self.note = AutoHideLabel()
        self.note.setWordWrap(True)

        self.bars: dict[str, QProgressBar] = {}
        probs = QGroupBox("Calibrated probabilities (series)")
        grid = QGridLayout(probs)
        for row, name in enumerate(CLASS_NAMES):
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setFormat("–")
            grid.addWidget(QLabel(LABEL_NAMES[name]), row, 0)
            grid.addWidget(bar, row, 1)
            self.bars[name] = bar

        self.measurements = QLabel()
        self.measurements.setWordWrap(True)
        self.measurements.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.followup = FollowUpView()

        self.table_model = SliceTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(120)
        self.table.clicked.connect(lambda index: self.slice_activated.emit(self.table_model.slice_index(index.row())))
        self.table.activated.connect(lambda index: self.slice_activated.emit(self.table_model.slice_index(index.row())))

        self.models = QLabel()
        self.models.setWordWrap(True)
        self.models.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings = AutoHideLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b35c00;")

        self.disclaimer = QLabel(DISCLAIMER)
        self.disclaimer.setWordWrap(True)
        self.disclaimer.setFrameShape(QFrame.Shape.StyledPanel)
        self.disclaimer.setStyleSheet("QLabel { background: #fff4d6; color: #5a4300; padding: 6px; }")

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.verdict)
        layout.addWidget(self.note)
        layout.addWidget(probs)
        layout.addWidget(self.measurements)
        layout.addWidget(self.followup)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.models)
        layout.addWidget(self.warnings)
        layout.addWidget(self.disclaimer)
        self.show_placeholder("No study open.")

    def summary(self) -> dict | None:
        return self._summary

    def verdict_text(self) -> str:
        return self.verdict.text()

    def show_placeholder(self, text: str, note: str = "") -> None:
        """No result: grey text, empty bars and table (the disclaimer stays)."""
        self._summary = None
        self.header.setText("")
        self.verdict.setText(text)
        self.verdict.setStyleSheet("color: palette(mid);")
        self.note.setText(note)
        for bar in self.bars.values():
            bar.setValue(0)
            bar.setFormat("–")
        self.measurements.setText("")
        self.followup.show_followup(None)
        self.table_model.set_summary(None)
        self.models.setText("")
        self.warnings.setText("")

    def show_volume(self, volume, note: str = "") -> None:
        """A series is open but not analysed (yet)."""
        self.show_placeholder("Not analysed yet", note)
        meta = volume.info.meta
        study = {k: getattr(meta, k) for k in ("patient_name", "patient_id", "patient_birth_date", "study_date")}
        self.header.setText(header_line({**study, "series_description": volume.info.description}))
        self.warnings.setText("\n".join(volume.warnings))

    def show_result(self, result, note: str = "") -> None:
        from brainscan.pipeline.summary import result_to_dict

        self.show_summary(result_to_dict(result), note)

    def show_summary(self, summary: dict, note: str = "") -> None:
        """Show a result_to_dict() dict (a fresh result or a stored one)."""
        self._summary = summary
        self.header.setText(header_line(summary.get("study", {})))
        v = summary["verdict"]
        self.verdict.setText(verdict_line(summary))
        colour = "#c62828" if v["tumour"] else ("#b35c00" if v.get("assessable") is False else "#2e7d32")
        self.verdict.setStyleSheet(f"color: {colour};")
        self.note.setText(note)
        for name, bar in self.bars.items():
            p = float(v["probabilities"].get(name, 0.0))
            bar.setValue(round(p * 1000))
            bar.setFormat(f"{p:.2f}")
        self.measurements.setText(self._measurement_text(summary))
        self.followup.show_followup(None)  # a fresh result's follow-up comes after it is saved (show_followup)
        self.table_model.set_summary(summary)
        models = summary.get("models", [])
        self.models.setText(
            "Models: " + "; ".join(f"{m['name']} {m['version']} (SHA-256 {m['sha256'][:12] or 'n/a'})" for m in models)
            if models
            else ""
        )
        self.warnings.setText("\n".join(summary.get("warnings", [])))

    def show_followup(self, followup) -> None:
        """The comparison with the patient's previous study (a brainscan.followup.FollowUp), or None to hide it."""
        self.followup.show_followup(followup)

    @staticmethod
    def _measurement_text(summary: dict) -> str:
        unit = _unit(summary)
        length_unit = summary.get("longest_diameter_unit", "mm")
        key = summary["verdict"].get("key_slices", [])
        lines = []
        if key:
            lines.append("Key slices: " + ", ".join(str(k + 1) for k in key))
        area_key = f"tumour_area_{summary.get('area_unit', 'mm2')}"
        outlined = [s for s in summary.get("slices", []) if s.get("outlined")]
        if outlined:
            largest = max(outlined, key=lambda s: s.get(area_key) or 0.0)
            lines.append(
                f"Outlined on {len(outlined)} slice(s); largest area {largest.get(area_key, 0.0):.1f} {unit} "
                f"(slice {largest['index'] + 1})"
            )
        volume = summary.get("volume_ml")
        lines.append(f"Tumour volume: {volume:.2f} mL" if volume is not None else "Tumour volume: not available")
        diameter = summary.get("longest_diameter")
        if diameter is not None:
            lines.append(f"Longest diameter: {diameter:.1f} {length_unit}")
        return "\n".join(lines)
