"""File > Export PDF: ask where, then call brainscan.reports.write_pdf (imported only when used)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from brainscan.errors import BrainScanError, ReportError
from brainscan.ui import errors


def export_report(
    parent: QWidget, result, folder: str, deidentify: bool, followup=None, heatmaps: bool = False
) -> Path | None:
    """Save dialog, then the report (with the heat maps when the viewer shows them); errors go to show_error.
    Returns the written path, or None."""
    from brainscan.presentation import study_code

    suffix = "-deidentified" if deidentify else ""
    default = Path(folder) / f"{study_code(result)}{suffix}.pdf"
    title = "Export de-identified PDF report" if deidentify else "Export PDF report"
    name, _ = QFileDialog.getSaveFileName(parent, title, str(default), "PDF (*.pdf)")
    if not name:
        return None
    path = Path(name)
    try:
        try:
            from brainscan.reports import write_pdf
        except ImportError as exc:
            raise ReportError("PDF reports are not available in this version of BrainScan.") from exc
        write_pdf(result, path, deidentify=deidentify, followup=followup, heatmaps=heatmaps)
    except BrainScanError as exc:
        errors.show_error(parent, exc)
        return None
    except Exception as exc:
        wrapped = ReportError(f"The report could not be written to {path} ({type(exc).__name__}: {exc}).")
        wrapped.__cause__ = exc
        errors.show_error(parent, wrapped)
        return None
    return path
