"""PDF reports (see brainscan.reports.pdf).

``import brainscan.reports`` stays cheap: fpdf2 and the renderer load on the first ``write_pdf`` call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brainscan.types import AnalysisResult

__all__ = ["write_pdf"]


def write_pdf(result: AnalysisResult, path: Path, deidentify: bool = False) -> Path:
    """Write the PDF report of ``result`` to ``path`` and return ``path``.

    See brainscan.reports.pdf.write_pdf for the contents.

    Raises:
        ReportError: when the report cannot be built or written; no partial file is left at ``path``.
    """
    from brainscan.reports.pdf import write_pdf as _write_pdf

    return _write_pdf(result, path, deidentify=deidentify)
