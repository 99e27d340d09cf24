"""AnalysisResult -> plain data: the analyze JSON, the de-identified header and the history record.

De-identification (``--deidentify``) removes the patient name, ID and birth date, the accession number, the
institution and every file path (folder names often carry patient names), and puts a study code in their
place (see brainscan.presentation, which also holds DISCLAIMER, header_meta and render_slice: they live
there so that brainscan.reports can share them without importing the pipeline; they stay importable here).
"""

from __future__ import annotations

from brainscan import __version__
from brainscan.io.describe import describe_series
from brainscan.jsonsafe import dumps
from brainscan.presentation import (
    DISCLAIMER,
    OUTLINE_REASONS,
    REMOVED,
    SERIES_PROBABILITY,
    header_meta,
    identifying_names,
    image_set_of,
    outline_status,
    redact,
    render_slice,
    result_headline,
    series_label,
    study_code,
    type_probabilities,
    uncertain_type,
)
from brainscan.render import png_bytes
from brainscan.text import display_path
from brainscan.types import CLASS_NAMES, AnalysisResult, StudyMeta, StudyRecord

__all__ = [
    "DISCLAIMER",
    "REMOVED",
    "header_meta",
    "render_slice",
    "result_to_dict",
    "study_code",
    "to_study_record",
]


def _scrub(series: dict, code: str, result: AnalysisResult) -> dict:
    """Paths, folder and file names and the series UID out of a described series (a UID can identify a study;
    an image folder's description is its name): the study code takes the UID's place, the series' kind its
    description (brainscan.presentation.series_label), and the series' own names are redacted from the rest."""
    names = identifying_names(result)
    series = dict(series)
    series["source"] = REMOVED
    series["series_uid"] = code
    series["description"] = series_label(result.info, deidentify=True)
    series["skipped"] = [{"path": REMOVED, "reason": redact(s["reason"], names)} for s in series["skipped"]]
    series["warnings"] = redact(series["warnings"], names)
    return series


def result_to_dict(result: AnalysisResult, deidentify: bool = False) -> dict:
    """The JSON written by ``brainscan analyze --json`` (also stored in the history).

    Slices are counted two ways: ``index`` and ``key_slices`` from 0 (array positions, for scripts), ``number``
    and ``key_slice_numbers`` from 1 (as the screen and the PDF count). docs/analysis-json.md describes every
    field.
    """
    series = describe_series(result.info, result.volume)
    names = identifying_names(result) if deidentify else []
    if deidentify:
        series = _scrub(series, study_code(result), result)
    area_key = f"tumour_area_{result.area_unit}"
    slices = []
    for p in result.predictions:
        seg = result.segmentations.get(p.index)
        status = outline_status(result, p.index)
        slices.append(
            {
                "index": p.index,
                "number": p.index + 1,
                "label": p.label,
                "assessed": p.assessed,
                "not_assessed_reason": p.reason or None,
                "tumour_probability": round(p.tumour_probability, 6) if p.assessed else None,
                "probabilities": {name: round(p.probabilities[i], 6) for i, name in enumerate(CLASS_NAMES)}
                if p.assessed
                else None,
                area_key: round(seg.area, 3) if seg else 0.0,
                "outlined": seg is not None,
                "outline": status,
                "outline_note": OUTLINE_REASONS[status],
                "longest_diameter": round(seg.longest_diameter, 2) if seg and seg.longest_diameter else None,
            }
        )
    v = result.verdict
    head = result_headline(result)
    return {
        "brainscan_version": __version__,
        "analysed_at": result.analysed_at,
        "study": header_meta(result, deidentify),
        "series": series,
        "verdict": {
            "headline": head.text,
            "assessment": head.state,
            "cautions": redact(list(result.cautions), names) if deidentify else list(result.cautions),
            "tumour": v.tumour,
            "label": v.label,
            "assessable": v.assessable,
            "cannot_assess_reason": v.reason or None,
            "tumour_probability": round(v.tumour_probability, 6) if v.tumour_probability is not None else None,
            "tumour_probability_definition": SERIES_PROBABILITY,
            "tumour_type_given_tumour": {k: round(x, 6) for k, x in type_probabilities(v.probabilities).items()},
            "type_uncertain": bool(v.tumour and uncertain_type(type_probabilities(v.probabilities))),
            "type_doubt": v.type_doubt or None,
            "image_set": image_set_of(result),
            "key_slices": list(v.key_slices),
            "key_slice_numbers": [k + 1 for k in v.key_slices],
            "assessed_slices": v.assessed_slices,
            "positive_slices": v.positive_slices,
            "rule": v.rule,
            "basis": v.basis or None,
            "abnormal_probability": round(v.abnormal_probability, 6) if v.abnormal_probability is not None else None,
            "evidence": dict(v.evidence),
        },
        "slices": slices,
        "area_unit": result.area_unit,
        "volume_ml": round(result.volume_ml, 3) if result.volume_ml is not None else None,
        "longest_diameter": round(result.longest_diameter, 2) if result.longest_diameter is not None else None,
        "longest_diameter_unit": "mm" if result.area_unit == "mm2" else "px",
        "segmentation_gate": result.gate,
        "models": [m.to_dict() for m in result.models],
        "warnings": redact(list(result.warnings), names) if deidentify else list(result.warnings),
        "timings_s": {k: round(x, 3) for k, x in result.timings_s.items()},
        "disclaimer": DISCLAIMER,
    }


def to_study_record(result: AnalysisResult, thumbnail_side: int = 96) -> StudyRecord:
    """The history row for a finished analysis (thumbnail = first key slice with its outline)."""
    info = result.info
    key = result.verdict.key_slices[0] if result.verdict.key_slices else result.volume.n_slices // 2
    return StudyRecord(
        source_path=display_path(info.source),
        series_uid=info.series_uid,
        description=info.description,
        verdict_label=result.verdict.label,
        tumour=result.verdict.tumour,
        tumour_probability=result.verdict.tumour_probability if result.verdict.assessable else None,
        probabilities=type_probabilities(result.verdict.probabilities),
        meta=info.meta if isinstance(info.meta, StudyMeta) else StudyMeta(),
        volume_ml=result.volume_ml,
        longest_diameter_mm=result.longest_diameter if result.area_unit == "mm2" else None,
        models=tuple(m.to_dict() for m in result.models),
        thumbnail_png=png_bytes(render_slice(result, key), max_side=thumbnail_side),
        result_json=dumps(result_to_dict(result)),
        created_at=result.analysed_at,
    )
