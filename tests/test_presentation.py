"""Names and dates are worded once (brainscan.presentation) for the PDF, the result panel and the history."""

from __future__ import annotations

from brainscan.presentation import dicom_date, person_name
from brainscan.ui.result_panel import header_line


def test_person_name_and_dicom_date():
    assert person_name("Doe^Jane^^^") == "Doe Jane"
    assert person_name("=山田^太郎") == "山田 太郎"
    assert person_name("") == ""
    assert dicom_date("19700101") == "1970-01-01"
    assert dicom_date(" 2026-01-05 ") == "2026-01-05"
    assert dicom_date("") == ""


def test_result_panel_header_uses_the_same_wording():
    line = header_line(
        {"patient_name": "Doe^Jane", "patient_id": "P-001", "patient_birth_date": "19700101", "study_date": "20260105"}
    )
    assert line == "Patient Doe Jane (ID P-001) · born 1970-01-01 · study 2026-01-05"
