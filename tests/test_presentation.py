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


def test_a_near_tie_or_a_weak_top_type_is_said_to_be_uncertain():
    """Issue 27 item 4: 0.44 vs 0.46 was shown as a plain 'Meningioma'."""
    from brainscan.presentation import headline, uncertain_type

    tie = {"glioma": 0.44, "meningioma": 0.46, "pituitary": 0.10}
    assert uncertain_type(tie) == ("meningioma", "glioma")
    assert headline(True, "meningioma", 0.97, types=tie).title == (
        "Tumour suspected: type uncertain (Meningioma or Glioma)"
    )
    weak = {"glioma": 0.55, "meningioma": 0.25, "pituitary": 0.20}  # top share below 0.6
    assert "type uncertain (Glioma or Meningioma)" in headline(True, "glioma", 0.9, types=weak).title
    sure = {"glioma": 0.10, "meningioma": 0.10, "pituitary": 0.80}
    assert uncertain_type(sure) is None
    assert headline(True, "pituitary", 0.9, types=sure).title == "Tumour suspected: Pituitary"
    assert headline(False, "notumor", 0.1, types=tie).title == "No tumour found"


def test_type_uncertain_in_json_and_pdf(tmp_path):
    import dataclasses

    from pypdf import PdfReader

    from brainscan.io import load, scan
    from brainscan.pipeline.analyze import analyze
    from brainscan.pipeline.summary import result_to_dict
    from brainscan.reports.pdf import build_pdf
    from tests.dicom_factory import write_phantom_series
    from tests.fakes import FakeClassifier, FakeSegmenter

    write_phantom_series(tmp_path / "s")
    result = analyze(load(scan([tmp_path / "s"])[0]), FakeClassifier(), FakeSegmenter())
    assert result_to_dict(result)["verdict"]["type_uncertain"] is False  # glioma 0.9 of 0.95: sure
    tied = dataclasses.replace(
        result,
        verdict=dataclasses.replace(
            result.verdict, probabilities={"glioma": 0.40, "meningioma": 0.42, "notumor": 0.08, "pituitary": 0.10}
        ),
    )
    v = result_to_dict(tied)["verdict"]
    assert v["type_uncertain"] is True and "type uncertain (Meningioma or Glioma)" in v["headline"]
    path = tmp_path / "r.pdf"
    path.write_bytes(build_pdf(tied))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())
    assert "type uncertain (Meningioma or Glioma)" in text


def test_preliminary_result_says_outline_pending_not_the_gate(tmp_path):
    from brainscan.io import load, scan
    from brainscan.pipeline.analyze import analyze
    from brainscan.pipeline.summary import result_to_dict
    from brainscan.presentation import OUTLINE_REASONS, PENDING, PRELIMINARY, is_preliminary
    from tests.dicom_factory import write_phantom_series
    from tests.fakes import FakeClassifier, FakeSegmenter

    write_phantom_series(tmp_path / "s")  # lesion on slices 3-5
    seen = []
    final = analyze(load(scan([tmp_path / "s"])[0]), FakeClassifier(), FakeSegmenter(), on_verdict=seen.append)
    (preliminary,) = seen
    assert PRELIMINARY in preliminary.warnings and is_preliminary(preliminary) and not is_preliminary(final)
    rows = {row["index"]: row for row in result_to_dict(preliminary)["slices"]}
    for index in (3, 4, 5):  # the gate lets them through: their outlines are on the way
        assert rows[index]["outline"] == PENDING
        assert rows[index]["outline_note"] == OUTLINE_REASONS[PENDING] and "pending" in rows[index]["outline_note"]
    assert rows[0]["outline"] == "not_gated"  # below the threshold: never outlined
    done = {row["index"]: row for row in result_to_dict(final)["slices"]}
    assert [done[i]["outline"] for i in (0, 3, 4, 5)] == ["not_gated", "outlined", "outlined", "outlined"]
