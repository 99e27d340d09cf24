"""ResultPanel: the headline (verdict, P(tumour), cautions), tumour-type bars, per-slice table, measurements,
model versions and the disclaimer.

It reads the plain dict of brainscan.pipeline.summary.result_to_dict (the analyze JSON), so a fresh result
and a study reopened from the history (its stored ``result_json``) are shown by the same code; the headline's
wording and colour come from brainscan.presentation.summary_headline, as in the PDF, the JSON and the history.

Layout: the headline stays at the top and the disclaimer at the bottom whatever the panel's height; everything
between scrolls, and every part keeps its minimum size, so no splitter position or window size from 1024x700 up
can squash the bars, the table or the text into each other.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from brainscan.presentation import (
    DETACHED,
    DISCLAIMER,
    LABEL_NAMES,
    NOT_FOUND,
    OUTLINE_REASONS,
    PENDING,
    SERIES_PROBABILITY,
    TUMOUR_TYPES,
    TYPE_PROBABILITIES,
    dicom_date,
    person_name,
    summary_headline,
    summary_type_probabilities,
)
from brainscan.ui.followup_view import FollowUpView
from brainscan.ui.table_model import RowsTableModel

TABLE_ROWS_SHOWN = 4
"""The per-slice table is never shorter than this many rows."""
PLACEHOLDER_COLOUR = "palette(mid)"


def tumour_slices(summary: dict) -> list[int]:
    """Indices of the slices the classifier called tumour (the slider marks)."""
    return [s["index"] for s in summary.get("slices", []) if s.get("label") in TUMOUR_TYPES]


def verdict_line(summary: dict) -> str:
    """The headline as one line: 'Tumour suspected: Meningioma (P(tumour) 0.99)'."""
    return summary_headline(summary).text


def header_line(study: dict) -> str:
    """'Patient Doe Jane (ID P-001) · born 1970-01-01 · study 2026-01-05 · T1 AX' from header_meta()-style fields."""
    parts = []
    name = person_name(study.get("patient_name", ""))
    if name or study.get("patient_id"):
        patient_id = f" (ID {study['patient_id']})" if study.get("patient_id") else ""
        parts.append(f"Patient {name or '(no name)'}{patient_id}")
    if study.get("patient_birth_date"):
        parts.append(f"born {dicom_date(study['patient_birth_date'])}")
    if study.get("study_date"):
        parts.append(f"study {dicom_date(study['study_date'])}")
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
        self._unit = ""
        self._key: set[int] = set()
        self._series_tumour = False

    def set_summary(self, summary: dict | None) -> None:
        """Rows of a result_to_dict() dict; None empties the table (and the area unit, so a JPEG study's px²
        never stays in the header of the next study)."""
        self.beginResetModel()
        self._rows = list(summary.get("slices", [])) if summary else []
        self._key = set(summary["verdict"].get("key_slices", [])) if summary else set()
        self._series_tumour = bool(summary["verdict"].get("tumour")) if summary else False
        self._area_key = f"tumour_area_{summary.get('area_unit', 'mm2')}" if summary else "tumour_area_mm2"
        self._unit = _unit(summary) if summary else ""
        self.endResetModel()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.HEADERS) - 1)

    def slice_index(self, row: int) -> int:
        return int(self._rows[row]["index"])

    def header_label(self, section: int) -> str:
        return self.HEADERS[section] + (f" ({self._unit})" if section == 3 and self._unit else "")

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
                if reason:
                    return f"{label}: {reason}"
                if not self._series_tumour and row["label"] in TUMOUR_TYPES:
                    return f"{label}-like slice (not a finding)"  # the series verdict outweighs one slice's call
                return label
            if column == 2:
                p = row.get("tumour_probability")
                return f"{p:.2f}" if p is not None else "–"
            area = row.get(self._area_key) or 0.0
            if row.get("outlined"):
                return f"{area:.1f}"
            return {NOT_FOUND: "none found", DETACHED: "set apart", PENDING: "pending…"}.get(row.get("outline", ""), "")
        if role == Qt.ItemDataRole.ToolTipRole and column in (1, 2) and row.get("assessed") is False:
            return f"Not assessed: {row.get('not_assessed_reason') or 'unlike the training images'}"
        if role == Qt.ItemDataRole.ToolTipRole and column == 3:
            return row.get("outline_note") or OUTLINE_REASONS.get(row.get("outline", ""), "") or None
        if role == Qt.ItemDataRole.FontRole and row["index"] in self._key:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and column == 0 and row["index"] in self._key:
            return "Key slice: one of the most suspicious slices (bold)"
        if role == Qt.ItemDataRole.ForegroundRole and column == 1 and row["label"] in TUMOUR_TYPES:
            return Qt.GlobalColor.red
        if role == Qt.ItemDataRole.ForegroundRole and row.get("assessed") is False:
            return Qt.GlobalColor.darkGray
        if role == Qt.ItemDataRole.TextAlignmentRole and column != 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class AutoHideLabel(QLabel):
    """A label that takes no room while it has no text (the panel is tall; empty notes should not cost space)."""

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self.setVisible(bool(text))


def _label(selectable: bool = False, auto_hide: bool = False) -> QLabel:
    label = AutoHideLabel() if auto_hide else QLabel()
    label.setWordWrap(True)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ResultPanel(QWidget):
    """Right-hand panel; emits ``slice_activated(index)`` when a table row is clicked."""

    slice_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._summary: dict | None = None
        self.header = _label(selectable=True)
        self.verdict = _label(selectable=True)
        font = self.verdict.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.verdict.setFont(font)
        self.probability = _label(selectable=True)
        self.probability.setToolTip(SERIES_PROBABILITY)
        self.cautions = _label(selectable=True)
        self.cautions.setStyleSheet("QLabel { color: #8a4600; font-weight: bold; }")
        self.note = _label(auto_hide=True)

        self.bars: dict[str, QProgressBar] = {}
        self.types = QGroupBox(TYPE_PROBABILITIES)
        self.types.setToolTip(
            "Which tumour type the tumour-positive slices look most like (the three add up to 1). Whether there "
            "is a tumour at all is P(tumour) in the headline."
        )
        grid = QGridLayout(self.types)
        grid.setContentsMargins(6, 2, 6, 4)  # compact: at 1024x700 every pixel here is one the table lacks
        grid.setVerticalSpacing(2)
        for row, name in enumerate(TUMOUR_TYPES):
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setFormat("–")
            bar.setMinimumHeight(bar.fontMetrics().height() + 6)
            bar.setMinimumWidth(120)
            grid.addWidget(QLabel(LABEL_NAMES[name]), row, 0)
            grid.addWidget(bar, row, 1)
            self.bars[name] = bar
        grid.setColumnStretch(1, 1)

        self.measurements = _label(selectable=True)
        self.followup = FollowUpView()

        self.table_model = SliceTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        # numbers take what they need; the finding takes the rest ("Meningioma" fits; a long not-assessed
        # reason is elided, in full in its tooltip), so the table never scrolls sideways
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        rows = self.table.verticalHeader().defaultSectionSize()
        frame = 2 * self.table.frameWidth()
        self.table.setMinimumHeight(header.sizeHint().height() + TABLE_ROWS_SHOWN * rows + frame + 2)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.table.clicked.connect(lambda index: self.slice_activated.emit(self.table_model.slice_index(index.row())))
        self.table.activated.connect(lambda index: self.slice_activated.emit(self.table_model.slice_index(index.row())))

        self.models = _label(selectable=True)
        self.warnings = _label(selectable=True, auto_hide=True)
        self.warnings.setStyleSheet("color: #b35c00;")

        self.disclaimer = _label()
        self.disclaimer.setText(DISCLAIMER)
        self.disclaimer.setFrameShape(QFrame.Shape.StyledPanel)
        self.disclaimer.setStyleSheet("QLabel { background: #fff4d6; color: #5a4300; padding: 6px; }")

        # headline: always visible at the top
        self.headline = QFrame()
        top = QVBoxLayout(self.headline)
        top.setContentsMargins(8, 6, 8, 6)
        for widget in (self.header, self.verdict, self.probability, self.cautions, self.note):
            top.addWidget(widget)

        # details: scroll when the panel is short
        details = QWidget()
        middle = QVBoxLayout(details)
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(self.types)
        middle.addWidget(self.measurements)
        middle.addWidget(self.followup)
        middle.addWidget(self.table, 1)
        middle.addWidget(self.models)
        middle.addWidget(self.warnings)
        self.details = QScrollArea()
        self.details.setWidget(details)
        self.details.setWidgetResizable(True)
        self.details.setFrameShape(QFrame.Shape.NoFrame)
        self.details.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.details.setMinimumHeight(160)

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.disclaimer)
        self.show_placeholder("No study open.")

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        """Tall enough for the headline (with its cautions, wrapped at the current width), the smallest details
        view and the disclaimer: the window cannot squash them into each other, whatever the docks do."""
        base = super().minimumSizeHint()
        layout = self.layout()
        margins = layout.contentsMargins()
        inner = max(self.width(), self.minimumWidth()) - margins.left() - margins.right()
        need = (
            margins.top()
            + margins.bottom()
            + 2 * layout.spacing()
            + self.headline.heightForWidth(inner)
            + self.details.minimumHeight()
            + self.disclaimer.heightForWidth(inner)
        )
        return QSize(base.width(), max(base.height(), need))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()  # the wrapped headline's height depends on the width

    def summary(self) -> dict | None:
        return self._summary

    def verdict_text(self) -> str:
        return self.verdict.text()

    def _set_headline(self, title: str, colour: str, probability: str = "", cautions=()) -> None:
        self.verdict.setText(title)
        self.verdict.setStyleSheet(f"color: {colour};")
        self.probability.setText(probability)
        self.probability.setVisible(bool(probability))
        self.cautions.setText("\n".join(f"⚠ {c}" for c in cautions))
        self.cautions.setVisible(bool(cautions))
        self.updateGeometry()

    def show_placeholder(self, text: str, note: str = "") -> None:
        """No result: grey text, empty bars and table (the disclaimer stays)."""
        self._summary = None
        self.header.setText("")
        self._set_headline(text, PLACEHOLDER_COLOUR)
        self.note.setText(note)
        for bar in self.bars.values():
            bar.setValue(0)
            bar.setFormat("–")
        self.types.setEnabled(False)
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
        head = summary_headline(summary)
        probability = f"{head.probability} for the series" if head.probability else ""
        self._set_headline(head.title, head.colour, probability, head.cautions)
        v = summary["verdict"]
        basis = v.get("basis") or ""
        self.note.setText("\n".join(t for t in (f"Why: {basis}." if basis else "", note) if t))
        types = summary_type_probabilities(summary)
        for name, bar in self.bars.items():
            p = float(types.get(name, 0.0))
            bar.setValue(round(p * 1000))
            bar.setFormat(f"{p:.2f}" if types else "–")
        # the type bars mean something only when a tumour is suspected: hidden otherwise (values like "Glioma 0.96"
        # under "No tumour found" read as a finding)
        # nor for a set of unrelated images: types of different people's images do not add up to one
        # nor when the named type does not fit the lesion ("type not recognised")
        has_type = bool(v.get("tumour")) and v.get("assessable", True) and not v.get("image_set")
        has_type = has_type and not v.get("type_doubt")
        self.types.setEnabled(has_type)
        self.types.setVisible(has_type)
        self.measurements.setText(self._measurement_text(summary))
        self.followup.show_followup(None)  # a fresh result's follow-up comes after it is saved (show_followup)
        self.table_model.set_summary(summary)
        models = summary.get("models", [])
        self.models.setText(
            "Models: " + "; ".join(f"{m['name']} {m['version']} (SHA-256 {m['sha256'][:12] or 'n/a'})" for m in models)
            if models
            else ""
        )
        series_warnings = summary.get("series", {}).get("warnings", [])
        self.warnings.setText("\n".join(dict.fromkeys([*summary.get("warnings", []), *series_warnings])))

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
        if summary["verdict"].get("tumour"):
            by_index = {s["index"]: s for s in summary.get("slices", [])}
            for k in key:
                row = by_index.get(k, {})
                note = row.get("outline_note") or OUTLINE_REASONS.get(row.get("outline", ""), "")
                if not row.get("outlined") and note:
                    lines.append(f"Key slice {k + 1}: {note}")
        if summary["verdict"].get("image_set"):
            lines.append("Volume and longest diameter: not measured (unrelated images: areas per image only)")
            return "\n".join(lines)
        volume = summary.get("volume_ml")
        pending = any(s.get("outline") == PENDING for s in summary.get("slices", []))
        absent = "Tumour volume: pending (outlines still being computed)" if pending else "Tumour volume: not available"
        lines.append(f"Tumour volume: {volume:.2f} mL" if volume is not None else absent)
        diameter = summary.get("longest_diameter")
        if diameter is not None:
            lines.append(f"Longest diameter: {diameter:.1f} {length_unit}")
        return "\n".join(lines)
