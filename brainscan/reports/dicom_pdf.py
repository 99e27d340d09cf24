"""The PDF report as a DICOM Encapsulated PDF instance in the source study.

highdicom (0.28) has no Encapsulated PDF class, but its ``SOPClass`` base fills the Patient, General Study,
General Series, General Equipment and SOP Common modules the same way it does for the SEG; this module adds
the SC Equipment and Encapsulated Document modules (PS3.3 A.45.1) on top. The Source Instance Sequence names
every source image the report was derived from, so a PACS or viewer can link the report to the series.
"""

from __future__ import annotations

import datetime as dt
import warnings

from pydicom.dataset import Dataset
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian

from brainscan import __version__
from brainscan.errors import ReportError
from brainscan.reports.dicom_source import SourceImages, identity_headers, mark_deidentified, new_uid
from brainscan.types import AnalysisResult

PDF_SERIES_NUMBER = 991
SERIES_DESCRIPTION = "BrainScan report"
DOCUMENT_TITLE = "BrainScan report - decision support, not a diagnosis"
MANUFACTURER = "BrainScan"


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def build_encapsulated_pdf(
    result: AnalysisResult, sources: SourceImages, pdf: bytes, deidentify: bool = False
) -> Dataset:
    """An Encapsulated PDF instance holding ``pdf`` (the report's bytes) in the source study.

    Raises:
        ReportError: when ``pdf`` is not a PDF or the source lacks a Study Instance UID.
    """
    import highdicom as hd

    if not pdf.startswith(b"%PDF-"):
        raise ReportError("The report to encapsulate is not a PDF document.")
    source = identity_headers(sources.first, result, deidentify)
    if not source.get("StudyInstanceUID"):
        raise ReportError("The source images carry no Study Instance UID, so the report cannot join their study.")
    now = dt.datetime.now()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
            ds = hd.SOPClass(
                study_instance_uid=source.StudyInstanceUID,
                series_instance_uid=new_uid(),
                series_number=PDF_SERIES_NUMBER,
                sop_instance_uid=new_uid(),
                sop_class_uid=EncapsulatedPDFStorage,
                instance_number=1,
                modality="DOC",
                manufacturer=MANUFACTURER,
                manufacturer_model_name="BrainScan",
                software_versions=__version__,
                transfer_syntax_uid=ExplicitVRLittleEndian,
                patient_id=source.get("PatientID", None),
                patient_name=source.get("PatientName", None),
                patient_birth_date=source.get("PatientBirthDate", None),
                patient_sex=source.get("PatientSex", None) or None,
                accession_number=source.get("AccessionNumber", None),
                study_id=source.get("StudyID", None),
                study_date=source.get("StudyDate", None) or None,
                study_time=source.get("StudyTime", None) or None,
                referring_physician_name=source.get("ReferringPhysicianName", None),
                series_description=SERIES_DESCRIPTION,
                specific_character_set=source.get("SpecificCharacterSet", None),
            )
    except (ValueError, TypeError) as exc:
        raise ReportError(f"The report could not be wrapped as a DICOM document: {exc}") from exc
    # SC Equipment: made on a workstation
    ds.ConversionType = "WSD"
    # Encapsulated Document
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = ""
    ds.BurnedInAnnotation = "NO" if deidentify else "YES"
    ds.RecognizableVisualFeatures = "NO"
    ds.DocumentTitle = DOCUMENT_TITLE
    ds.ConceptNameCodeSequence = [_code("18748-4", "LN", "Diagnostic imaging report")]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")  # OB values have even length
    references = []
    for sop_class, sop_instance in sources.references():
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = sop_instance
        references.append(item)
    ds.SourceInstanceSequence = references
    if deidentify:
        mark_deidentified(ds)
    return ds
