"""``write_dicom(result, folder)``: the SEG and the Encapsulated PDF of one analysis, as files ready for PACS.

Both objects join the source study (its patient and study attributes copied, or de-identified) in new
series with new UIDs, and refer to the source instances. A series where nothing was outlined gets the report
only (an empty SEG would show nothing and suggest an outline was checked slice by slice). Files are named
after the report's study code (``BS-1A2B3C4D-SEG.dcm``, ``BS-1A2B3C4D-report.dcm``) and written atomically.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from brainscan.errors import ReportError
from brainscan.presentation import study_code
from brainscan.types import AnalysisResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DicomExport:
    """What ``write_dicom`` wrote: the SEG (None when nothing was outlined), the report, and notes for people."""

    seg: Path | None
    report: Path
    notes: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.seg, self.report) if p is not None)


def write_dicom(result: AnalysisResult, folder: Path, deidentify: bool = False, followup=None) -> DicomExport:
    """Write the SEG (when there is an outline) and the Encapsulated PDF report of ``result`` into ``folder``.

    Args:
        result: a finished analysis of a DICOM series.
        folder: created when missing; existing files of the same study code are replaced.
        deidentify: the study code instead of the patient's name and ID (see brainscan.reports.dicom_source).
        followup: a brainscan.followup.FollowUp for the report's comparison with the prior study, or None.

    Raises:
        ReportError: for non-DICOM input (with the reason), unreadable source files, a geometry highdicom
            refuses, or a folder that cannot be written. Nothing half-written is left behind.
    """
    from brainscan.reports.dicom_pdf import build_encapsulated_pdf
    from brainscan.reports.dicom_seg import build_segmentation
    from brainscan.reports.dicom_source import read_sources
    from brainscan.reports.pdf import build_pdf

    sources = read_sources(result)  # raises for images/NIfTI before anything is written
    seg = build_segmentation(result, sources, deidentify)
    try:
        pdf = build_pdf(result, deidentify, followup=followup)
    except Exception as exc:  # layout or image encoding: one clinician-facing error, as write_pdf does
        raise ReportError(f"The PDF report could not be created: {exc}") from exc
    report = build_encapsulated_pdf(result, sources, pdf, deidentify)
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"The folder {folder} could not be created ({exc.strerror or exc}).") from exc
    code = study_code(result)
    notes = []
    seg_path = None
    if seg is not None:
        seg_path = _save(seg, folder / f"{code}-SEG.dcm")
    else:
        notes.append("No tumour was outlined, so no Segmentation was written; the report was.")
    report_path = _save(report, folder / f"{code}-report.dcm")
    log.info("DICOM results written to %s", folder)
    return DicomExport(seg_path, report_path, tuple(notes))


def _save(ds: Dataset, path: Path) -> Path:
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as tmp:
            tmp_name = tmp.name
            ds.save_as(tmp, enforce_file_format=True)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise ReportError(f"{path} could not be written: {exc.strerror or exc}. Choose another folder.") from exc
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                log.warning("could not remove the temporary file %s", tmp_name)
    return path
