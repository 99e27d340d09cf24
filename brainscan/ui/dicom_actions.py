"""File > Export DICOM and File > Send to PACS, and the follow-up shown after an analysis: short calls from
the main window into brainscan.reports, brainscan.pacs and brainscan.followup (which tests call directly)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from brainscan.errors import BrainScanError, ReportError, StorageError
from brainscan.presentation import dicom_date, person_name
from brainscan.ui import errors

log = logging.getLogger(__name__)


def follow_up_from_store(store, result):
    """The comparison of ``result`` with the patient's previous study in ``store`` (None when there is none or
    the history cannot be read: the result itself is still shown)."""
    from brainscan.followup import follow_up_for_result

    try:
        return follow_up_for_result(result, store.patient_studies(result.info.meta))
    except StorageError:
        log.warning("follow-up: the history could not be read", exc_info=True)
        return None


def follow_up_of_record(store, record):
    """The comparison of a study reopened from the history with the same patient's earlier studies there (None
    when there is none, or the history cannot be read)."""
    from brainscan.followup import follow_up, measurement_of_record

    try:
        return follow_up(record.meta, measurement_of_record(record), store.patient_studies(record.meta))
    except StorageError:
        log.warning("follow-up: the history could not be read", exc_info=True)
        return None


def export_dicom(window, result, folder: str, followup=None):
    """Ask for a folder, then write the SEG and the Encapsulated PDF there; returns the DicomExport or None.

    Non-DICOM input is refused before the folder dialog, with the reason (show_error)."""
    from brainscan.reports.dicom_source import require_dicom

    try:
        require_dicom(result)
    except ReportError as exc:
        errors.show_error(window, exc)
        return None
    chosen = QFileDialog.getExistingDirectory(window, "Export DICOM results (Segmentation + report) to", folder)
    if not chosen:
        return None
    from brainscan.reports import write_dicom

    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        return write_dicom(result, Path(chosen), followup=followup)
    except BrainScanError as exc:
        errors.show_error(window, exc)
        return None
    finally:
        QApplication.restoreOverrideCursor()


def describe_results(result) -> str:
    """What Send will transmit, in words, for the dialog."""
    meta = result.info.meta
    patient = person_name(meta.patient_name) or meta.patient_id or "unnamed patient"
    outline = "the tumour outline (DICOM Segmentation) and " if result.segmentations else ""
    return (
        f"Send will store {outline}the report (Encapsulated PDF) in the study of {patient}, "
        f"{dicom_date(meta.study_date) or 'undated'}, series '{result.info.description}'."
    )


def results_sender(result, followup=None):
    """A function for PacsDialog: writes the DICOM results into a temporary folder, sends them, removes it."""

    def send(destination, calling_aet: str, timeout: float):
        from brainscan.pacs import send_files
        from brainscan.reports import write_dicom

        folder = Path(tempfile.mkdtemp(prefix="brainscan-pacs-"))
        try:
            written = write_dicom(result, folder, followup=followup)
            return send_files(written.files, destination, calling_aet=calling_aet, timeout=timeout)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return send


def open_send_dialog(window, result, followup=None):
    """Show the Send to PACS dialog (not modal to the app's work; returns it). With no DICOM result it only
    holds the settings and the connection test, and says why Send is off."""
    from brainscan.reports.dicom_source import require_dicom
    from brainscan.ui.pacs_dialog import PacsDialog

    sender, what = None, ""
    if result is not None:
        try:
            require_dicom(result)
            sender, what = results_sender(result, followup), describe_results(result)
        except ReportError as exc:
            what = str(exc)
    dialog = PacsDialog(window.settings, sender, what, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
