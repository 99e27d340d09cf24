"""PDF reports (brainscan.reports.pdf) and DICOM results (brainscan.reports.dicom_export).

``import brainscan.reports`` stays cheap: fpdf2, highdicom and the renderer load on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brainscan.types import AnalysisResult

__all__ = ["write_dicom", "write_pdf"]


def write_pdf(
    result: AnalysisResult, path: Path, deidentify: bool = False, followup=None, heatmaps: bool = False
) -> Path:
    """Write the PDF report of ``result`` to ``path`` and return ``path``.

    See brainscan.reports.pdf.write_pdf for the contents.

    Raises:
        ReportError: when the report cannot be built or written; no partial file is left at ``path``.
    """
    from brainscan.reports.pdf import write_pdf as _write_pdf

    return _write_pdf(result, path, deidentify=deidentify, followup=followup, heatmaps=heatmaps)


def write_dicom(result: AnalysisResult, folder: Path, deidentify: bool = False, followup=None):
    """Write the DICOM Segmentation and Encapsulated PDF of ``result`` into ``folder``; see
    brainscan.reports.dicom_export.write_dicom (highdicom loads on the first call).

    Raises:
        ReportError: for non-DICOM input (with the reason) and any failure to build or write the files.
    """
    from brainscan.reports.dicom_export import write_dicom as _write_dicom

    return _write_dicom(result, folder, deidentify=deidentify, followup=followup)
