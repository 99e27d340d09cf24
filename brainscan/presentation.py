"""What every output of an analysis shows the same way: disclaimer, study code, report header, slice images.

A base-level module (it imports only brainscan.types and brainscan.render) so that both the pipeline's
JSON/history summary (brainscan.pipeline.summary) and the PDF report (brainscan.reports) can use it without
one of those packages importing the other.

De-identification removes the patient name, ID and birth date, the accession number and the institution,
and puts a study code in their place. The code is ``BS-`` plus the first 8 hex digits of SHA-256 over the
study and series UIDs: the same study always gets the same code, and the code does not reveal the UIDs.
"""

from __future__ import annotations

import hashlib

import numpy as np

from brainscan.render import compose, window_to_uint8
from brainscan.types import AnalysisResult, SeriesVerdict

DISCLAIMER = (
    "Decision support, not a diagnosis. BrainScan's models were trained on public MRI collections and can be "
    "wrong; a qualified clinician must read the images."
)
REMOVED = "(removed)"
IDENTIFYING_FIELDS = ("patient_name", "patient_id", "patient_birth_date", "accession_number", "institution")
"""Header fields that de-identification replaces with REMOVED."""


def study_code(result: AnalysisResult) -> str:
    """Stable pseudonym for a study (see module docstring)."""
    info = result.info
    key = f"{info.meta.study_uid}|{info.series_uid}".encode()
    return "BS-" + hashlib.sha256(key).hexdigest()[:8].upper()


def header_meta(result: AnalysisResult, deidentify: bool) -> dict[str, str]:
    """Patient and study fields for a report header, de-identified on request.

    Identifying fields that had a value become ``"(removed)"``; empty ones stay empty. ``study_code`` is
    always present.
    """
    meta = result.info.meta
    header = {
        "patient_name": meta.patient_name,
        "patient_id": meta.patient_id,
        "patient_birth_date": meta.patient_birth_date,
        "accession_number": meta.accession_number,
        "study_date": meta.study_date,
        "study_description": meta.study_description,
        "institution": meta.institution,
        "series_description": result.info.description,
        "study_code": study_code(result),
    }
    if deidentify:
        for key in IDENTIFYING_FIELDS:
            header[key] = REMOVED if header[key] else ""
    return header


def render_slice(result: AnalysisResult, index: int, opacity: float = 0.35, heat: bool = False) -> np.ndarray:
    """RGB uint8 rendering of slice ``index`` with its outline (and heat map on request), default window."""
    center, width = result.volume.window
    grey = window_to_uint8(result.volume.pixels[index], center, width)
    seg = result.segmentations.get(index)
    heatmap = result.heatmaps.get(index) if heat else None
    return compose(grey, seg.mask if seg else None, heatmap, opacity)


def verdict_line(verdict: SeriesVerdict) -> str:
    """One line for a terminal or a list: tumour, no tumour, or cannot assess with its reason."""
    if not verdict.assessable:
        return f"CANNOT ASSESS ({verdict.reason})"
    p = verdict.tumour_probability
    if verdict.tumour:
        return f"TUMOUR ({verdict.label}, P(tumour) {p:.2f})"
    return f"no tumour (P(tumour) {p:.2f})"
