"""Follow-up: how this study's tumour measurements compare with the patient's earlier studies in the history.

A brain tumour is judged by how it changes between scans, so when a newer study of a patient is analysed, the
result panel and the report show the previous study's tumour volume and longest diameter, the change (mL and
%), the days between the studies, and the volume over time. This module holds the Qt-free core: which history
rows belong to the same patient, which measurements may be compared, and the comparison itself. The history
(brainscan.storage) hands over candidate rows; the result panel and the PDF only draw a ``FollowUp``.

Rules, chosen so that nothing misleading is ever compared:

- Same patient: the same non-empty PatientID, or (when the IDs differ, e.g. two hospitals) the same name and
  the same birth date, both present. Two different birth dates, both present, are never the same patient.
- Comparable: a volume in mL, which needs pixel and slice spacing (JPEG/PNG input, and series without slice
  positions, are never compared), and a study date; a series the verdict "cannot assess" is never compared
  (its 0 mL means nothing was looked at). Only studies dated strictly before the current one are
  "previous"; other series of the current study are not.
- One measurement per earlier study: the series with the current series' description when there is one (the
  like-for-like comparison), else the most recently analysed series of that study.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from brainscan.types import CANNOT_ASSESS, AnalysisResult, StudyMeta, StudyRecord


@dataclass(frozen=True)
class Measurement:
    """One study's comparable tumour measurements."""

    study_uid: str
    study_date: dt.date
    volume_ml: float
    longest_diameter_mm: float | None
    series_description: str = ""
    segmenter: str = ""  # "name version" of the segmentation model, "" when unknown
    outline_rule: str = ""  # which slices' outlines were measured (AnalysisResult.gate), "" when unknown


@dataclass(frozen=True)
class FollowUp:
    """The current study against the latest earlier one; ``history`` is every comparable study up to the
    current one, oldest first (the current one last), for the volume-over-time plot."""

    current: Measurement
    previous: Measurement
    history: tuple[Measurement, ...]
    notes: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        return (self.current.study_date - self.previous.study_date).days

    @property
    def change_ml(self) -> float:
        return self.current.volume_ml - self.previous.volume_ml

    @property
    def change_percent(self) -> float | None:
        """Relative change in volume; None when the previous volume was 0 (no percentage of nothing)."""
        if self.previous.volume_ml <= 0:
            return None
        return 100.0 * self.change_ml / self.previous.volume_ml

    @property
    def diameter_change_mm(self) -> float | None:
        if self.current.longest_diameter_mm is None or self.previous.longest_diameter_mm is None:
            return None
        return self.current.longest_diameter_mm - self.previous.longest_diameter_mm

    def lines(self) -> list[str]:
        """The comparison in words, the same in the result panel and the report."""
        previous, current = self.previous, self.current
        percent = self.change_percent
        relative = f", {percent:+.1f}%" if percent is not None else ", no % change from 0 mL"
        lines = [
            f"Previous study {previous.study_date.isoformat()} ({self.days} days earlier): "
            f"volume {previous.volume_ml:.2f} mL, longest diameter {_mm(previous.longest_diameter_mm)}",
            f"Change in volume: {self.change_ml:+.2f} mL{relative} "
            f"({previous.volume_ml:.2f} -> {current.volume_ml:.2f} mL)",
        ]
        diameter = self.diameter_change_mm
        if diameter is not None:
            lines.append(
                f"Change in longest diameter: {diameter:+.1f} mm "
                f"({previous.longest_diameter_mm:.1f} -> {current.longest_diameter_mm:.1f} mm)"
            )
        return lines + list(self.notes)

    def short_lines(self) -> list[str]:
        """The same comparison in two lines for the result panel (notes follow)."""
        previous, current = self.previous, self.current
        percent = self.change_percent
        relative = f" ({percent:+.1f}%)" if percent is not None else ""
        lines = [
            f"vs {previous.study_date.isoformat()} ({self.days} days earlier): volume {previous.volume_ml:.2f} -> "
            f"{current.volume_ml:.2f} mL, {self.change_ml:+.2f} mL{relative}"
        ]
        diameter = self.diameter_change_mm
        if diameter is not None:
            lines.append(
                f"longest diameter {previous.longest_diameter_mm:.1f} -> {current.longest_diameter_mm:.1f} mm "
                f"({diameter:+.1f} mm)"
            )
        return lines + list(self.notes)


def _mm(value: float | None) -> str:
    return f"{value:.1f} mm" if value is not None else "not measured"


def parse_study_date(text: str) -> dt.date | None:
    """DICOM DA ("YYYYMMDD", also the old "YYYY.MM.DD") as a date; None when absent or invalid."""
    digits = (text or "").strip().replace(".", "").replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def normalized_name(name: str) -> str:
    """A DICOM person name for comparison: first component group, upper case, spaces trimmed, trailing empty
    components dropped ("Doe^Jane^^" == "DOE^JANE")."""
    group = (name or "").split("=")[0]
    parts = [" ".join(p.split()).upper() for p in group.split("^")]
    while parts and not parts[-1]:
        parts.pop()
    return "^".join(parts)


def same_patient(a: StudyMeta, b: StudyMeta) -> bool:
    """Whether two studies belong to one patient (see the module docstring for the rule)."""
    birth_a, birth_b = a.patient_birth_date.strip(), b.patient_birth_date.strip()
    if birth_a and birth_b and birth_a != birth_b:
        return False
    id_a, id_b = a.patient_id.strip(), b.patient_id.strip()
    if id_a and id_a == id_b:
        return True
    name_a, name_b = normalized_name(a.patient_name), normalized_name(b.patient_name)
    return bool(name_a and name_a == name_b and birth_a and birth_a == birth_b)


def _segmenter_of(models) -> str:
    """'name version' of the segmenter (the second model an analysis records), '' when there is none."""
    if len(models) < 2:
        return ""
    model = models[1]
    if isinstance(model, dict):
        return f"{model.get('name', '')} {model.get('version', '')}".strip()
    return f"{model.name} {model.version}"


def _outline_rule_of(record: StudyRecord) -> str:
    """The outline rule a history row was measured with ('' for rows that do not say)."""
    try:
        return str(json.loads(record.result_json or "{}").get("segmentation_gate") or "")
    except (ValueError, AttributeError):
        return ""


def measurement_of_record(record: StudyRecord) -> Measurement | None:
    """A history row's measurement, or None when it cannot be compared (no volume in mL, no study date, or a
    series that could not be assessed: its 0 mL means "not looked at", not "no tumour")."""
    date = parse_study_date(record.meta.study_date)
    if record.volume_ml is None or date is None or record.verdict_label == CANNOT_ASSESS:
        return None
    return Measurement(
        study_uid=record.meta.study_uid,
        study_date=date,
        volume_ml=float(record.volume_ml),
        longest_diameter_mm=record.longest_diameter_mm,
        series_description=record.description,
        segmenter=_segmenter_of(record.models),
        outline_rule=_outline_rule_of(record),
    )


def measurement_of_result(result: AnalysisResult) -> Measurement | None:
    """A fresh result's measurement, or None when it cannot be compared (no spacing, no volume, no date, or a
    series that could not be assessed)."""
    date = parse_study_date(result.info.meta.study_date)
    if result.volume_ml is None or result.area_unit != "mm2" or date is None or not result.verdict.assessable:
        return None
    return Measurement(
        study_uid=result.info.meta.study_uid,
        study_date=date,
        volume_ml=float(result.volume_ml),
        longest_diameter_mm=result.longest_diameter,
        series_description=result.info.description,
        segmenter=_segmenter_of(result.models),
        outline_rule=result.gate,
    )


def follow_up(meta: StudyMeta, current: Measurement | None, history: Iterable[StudyRecord]) -> FollowUp | None:
    """Compare ``current`` (the study described by ``meta``) with the same patient's earlier studies.

    Args:
        meta: patient and study identity of the current study.
        current: its measurement (None: not comparable, so no follow-up).
        history: history rows, in any order; rows of other patients, of the current study, later studies and
            rows without comparable measurements are ignored.

    Returns:
        The comparison with the latest earlier study, or None when there is none.
    """
    if current is None:
        return None
    by_study: dict[str, tuple[tuple, Measurement]] = {}
    for record in history:
        if not same_patient(meta, record.meta):
            continue
        measurement = measurement_of_record(record)
        if measurement is None or measurement.study_date >= current.study_date:
            continue
        if current.study_uid and measurement.study_uid == current.study_uid:
            continue
        key = measurement.study_uid or f"{measurement.study_date}|{record.source_path}"
        rank = (measurement.series_description == current.series_description, record.created_at, record.id or 0)
        if key not in by_study or rank > by_study[key][0]:
            by_study[key] = (rank, measurement)
    if not by_study:
        return None
    earlier = sorted((m for _, m in by_study.values()), key=lambda m: m.study_date)
    previous = earlier[-1]
    notes = []
    if previous.series_description != current.series_description:
        notes.append(
            f"Note: the previous measurement comes from a different series ('{previous.series_description}'); "
            "compare with care."
        )
    if previous.segmenter and current.segmenter and previous.segmenter != current.segmenter:
        notes.append(f"Note: the previous study was outlined by another model version ({previous.segmenter}).")
    elif previous.outline_rule and current.outline_rule and previous.outline_rule != current.outline_rule:
        notes.append(
            "Note: the previous study's outlines were chosen by another rule (an earlier BrainScan version: "
            f"{previous.outline_rule}); compare with care."
        )
    return FollowUp(current=current, previous=previous, history=(*earlier, current), notes=tuple(notes))


def follow_up_for_result(result: AnalysisResult, history: Iterable[StudyRecord]) -> FollowUp | None:
    """``follow_up`` for a fresh analysis result."""
    return follow_up(result.info.meta, measurement_of_result(result), history)


def axis_top(largest: float) -> float:
    """A round y-axis top a little above ``largest`` (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten; 1 for
    nothing), so the highest point sits below the top with room for its label."""
    if largest <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(largest))
    for step in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if step * power >= largest * 1.05:
            return round(step * power, 12)
    return round(10.0 * power, 12)


def plot_points(followup: FollowUp) -> tuple[list[tuple[float, float]], float]:
    """Where the volume-over-time plot puts each study: (x in 0..1 by study date, volume in mL), and the
    y-axis top. The UI (QPainter) and the report (fpdf) draw the same points."""
    first, last = followup.history[0].study_date, followup.history[-1].study_date
    span = max((last - first).days, 1)
    points = [((m.study_date - first).days / span, m.volume_ml) for m in followup.history]
    return points, axis_top(max(v for _, v in points))
