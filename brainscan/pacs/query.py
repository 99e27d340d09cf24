"""Searching a PACS (C-FIND, Study Root model): studies by patient name or ID, date range and modality, then
the series of one study.

Used by ``brainscan query`` and the app's File > Open from PACS. Matches come back as plain dataclasses (no
pydicom Dataset leaves this package). Every failure is a ``PacsError`` in words: the association errors of
``brainscan.pacs.client`` (unknown host, refused, rejected, timeout), a PACS that does not offer C-FIND, a
search it refused (with its status), and an answer that stopped half way. "No matches" is not an error: the
caller gets an empty list and says so.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from brainscan.errors import PacsError
from brainscan.pacs.client import DEFAULT_TIMEOUT_S, _associate, _release
from brainscan.pacs.destination import DEFAULT_CALLING_AET, Destination

STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"  # Study Root Query/Retrieve Information Model - FIND
PENDING = (0xFF00, 0xFF01)
SEARCHING = "no searches from BrainScan (C-FIND, Study Root model); ask its administrator to allow them"
_DATE = re.compile(r"^\d{8}$")


@dataclass(frozen=True)
class StudyMatch:
    """One study the PACS found."""

    study_uid: str
    patient_name: str
    patient_id: str
    birth_date: str
    study_date: str
    description: str
    accession: str
    modalities: str
    n_series: int | None
    n_instances: int | None


@dataclass(frozen=True)
class SeriesMatch:
    """One series of a study."""

    study_uid: str
    series_uid: str
    modality: str
    number: int | None
    description: str
    n_instances: int | None


def date_range(start: str | dt.date | None = None, end: str | dt.date | None = None) -> str:
    """The DICOM date range for a query: ``YYYYMMDD-YYYYMMDD``, open at either end, or "" for any date.

    Raises:
        PacsError: for a date that is not YYYYMMDD (or YYYY-MM-DD), or an end before the start.
    """

    def norm(value) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, dt.date):
            return value.strftime("%Y%m%d")
        text = str(value).strip().replace("-", "")
        if not _DATE.match(text):
            raise PacsError(f"'{value}' is not a date; write it as YYYY-MM-DD or YYYYMMDD.")
        try:
            dt.datetime.strptime(text, "%Y%m%d")
        except ValueError as exc:
            raise PacsError(f"'{value}' is not a valid date.") from exc
        return text

    first, last = norm(start), norm(end)
    if first and last and last < first:
        raise PacsError(f"The date range ends ({last}) before it starts ({first}).")
    if first and first == last:
        return first
    return f"{first}-{last}" if first or last else ""


def name_pattern(name: str) -> str:
    """The patient-name key: as typed when it holds a wildcard, else a prefix match (``Doe`` finds ``Doe^Jane``)."""
    name = (name or "").strip()
    if not name or "*" in name or "?" in name:
        return name
    return name + "*"


def find_studies(
    destination: Destination,
    *,
    patient_name: str = "",
    patient_id: str = "",
    dates: str = "",
    modality: str = "MR",
    calling_aet: str = DEFAULT_CALLING_AET,
    timeout: float = DEFAULT_TIMEOUT_S,
    limit: int = 500,
) -> list[StudyMatch]:
    """Studies matching the keys (empty keys match everything), newest first.

    Args:
        patient_name: a name or prefix (``Doe`` matches ``Doe^Jane``); ``*`` and ``?`` are wildcards.
        patient_id: the exact patient ID.
        dates: a DICOM date range (see ``date_range``).
        modality: studies holding a series of this modality (Modalities in Study); "" for any.
        limit: stop reading after this many answers (the PACS is asked to cancel).

    Raises:
        PacsError: see the module docstring.
    """
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientName = name_pattern(patient_name)
    query.PatientID = (patient_id or "").strip()
    query.PatientBirthDate = ""
    query.StudyDate = dates
    query.StudyTime = ""
    query.StudyDescription = ""
    query.AccessionNumber = ""
    query.StudyInstanceUID = ""
    query.ModalitiesInStudy = modality or ""
    query.NumberOfStudyRelatedSeries = ""
    query.NumberOfStudyRelatedInstances = ""
    answers = _find(destination, query, calling_aet, timeout, limit)
    studies = {}
    for ds in answers:
        uid = _text(ds, "StudyInstanceUID")
        if not uid:
            continue
        modalities = ds.get("ModalitiesInStudy", "")
        if not isinstance(modalities, str):
            modalities = "\\".join(str(m) for m in modalities)
        if modality and modalities and modality not in modalities.split("\\"):
            continue  # a PACS that ignores the key: filter here
        studies[uid] = StudyMatch(
            study_uid=uid,
            patient_name=_text(ds, "PatientName"),
            patient_id=_text(ds, "PatientID"),
            birth_date=_text(ds, "PatientBirthDate"),
            study_date=_text(ds, "StudyDate"),
            description=_text(ds, "StudyDescription"),
            accession=_text(ds, "AccessionNumber"),
            modalities=modalities,
            n_series=_number(ds, "NumberOfStudyRelatedSeries"),
            n_instances=_number(ds, "NumberOfStudyRelatedInstances"),
        )
    return sorted(studies.values(), key=lambda s: (s.study_date, s.patient_name), reverse=True)


def find_series(
    destination: Destination,
    study_uid: str,
    *,
    modality: str = "MR",
    calling_aet: str = DEFAULT_CALLING_AET,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[SeriesMatch]:
    """The series of one study (of ``modality``; "" for all), in series-number order.

    Raises:
        PacsError: see the module docstring.
    """
    if not study_uid:
        raise PacsError("Choose a study first.")
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = ""
    query.Modality = modality or ""
    query.SeriesNumber = ""
    query.SeriesDescription = ""
    query.NumberOfSeriesRelatedInstances = ""
    found = {}
    for ds in _find(destination, query, calling_aet, timeout, 2000):
        uid = _text(ds, "SeriesInstanceUID")
        series_modality = _text(ds, "Modality")
        if not uid or (modality and series_modality and series_modality != modality):
            continue
        found[uid] = SeriesMatch(
            study_uid=_text(ds, "StudyInstanceUID") or study_uid,
            series_uid=uid,
            modality=series_modality,
            number=_number(ds, "SeriesNumber"),
            description=_text(ds, "SeriesDescription"),
            n_instances=_number(ds, "NumberOfSeriesRelatedInstances"),
        )
    return sorted(found.values(), key=lambda s: (s.number is None, s.number or 0, s.description))


def _find(destination: Destination, query: Dataset, calling_aet: str, timeout: float, limit: int) -> list[Dataset]:
    contexts = [(STUDY_FIND, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
    assoc = _associate(destination, contexts, calling_aet, timeout, SEARCHING)
    answers: list[Dataset] = []
    final = None
    try:
        for status, identifier in assoc.send_c_find(query, STUDY_FIND):
            code = int(status.Status) if status is not None and "Status" in status else None
            if code in PENDING:
                if identifier is not None:
                    answers.append(identifier)
                if len(answers) >= limit:
                    assoc.send_c_cancel(1, query_model=STUDY_FIND)
                continue
            final = (code, status)
            break
    finally:
        _release(assoc)
    code, status = final if final is not None else (None, None)
    if code is None:
        raise PacsError(
            f"{destination} stopped answering the search after {len(answers)} match(es) (no reply within "
            f"{timeout:g} s, or the connection was lost). Try again, or narrow the search."
        )
    if code not in (0x0000, 0xFE00):
        comment = str(status.get("ErrorComment", "") or "")
        raise PacsError(
            f"{destination} refused the search (status 0x{code:04X}{': ' + comment if comment else ''}). "
            "Check the search fields; some PACSs do not allow searching without a name, ID or date."
        )
    return answers


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def _number(ds: Dataset, keyword: str) -> int | None:
    try:
        return int(str(ds.get(keyword, "")).strip())
    except (TypeError, ValueError):
        return None


def find_instances(
    destination: Destination,
    study_uid: str,
    series_uid: str,
    *,
    calling_aet: str = DEFAULT_CALLING_AET,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> set[str]:
    """The SOP instance UIDs the PACS holds in one series (C-FIND at the image level).

    Raises:
        PacsError: see the module docstring.
    """
    query = Dataset()
    query.QueryRetrieveLevel = "IMAGE"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = series_uid
    query.SOPInstanceUID = ""
    return {_text(ds, "SOPInstanceUID") for ds in _find(destination, query, calling_aet, timeout, 100000)} - {""}
