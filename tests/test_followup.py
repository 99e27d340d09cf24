"""Follow-up from history rows: which rows are the same patient, what may be compared, and the comparison."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from brainscan import cli
from brainscan.followup import (
    FollowUp,
    Measurement,
    axis_top,
    follow_up,
    normalized_name,
    parse_study_date,
    plot_points,
    same_patient,
)
from brainscan.runtime import loading
from brainscan.storage import HistoryStore, default_history_path
from brainscan.types import CANNOT_ASSESS, StudyMeta, StudyRecord
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter

JANE = StudyMeta(patient_name="Doe^Jane", patient_id="P-001", patient_birth_date="19700101")


def row(meta=JANE, date="20250101", uid="1.1", volume=4.0, diameter=20.0, description="T1 AX", created="", **kw):
    meta = StudyMeta(**{**meta.__dict__, "study_date": date, "study_uid": uid})
    return StudyRecord(
        source_path="/x",
        series_uid=f"{uid}.9",
        description=description,
        verdict_label=kw.pop("verdict_label", "glioma"),
        tumour=True,
        tumour_probability=0.9,
        probabilities={},
        meta=meta,
        volume_ml=volume,
        longest_diameter_mm=diameter,
        models=kw.pop("models", ({"name": "clf", "version": "1"}, {"name": "seg", "version": "1"})),
        created_at=created or f"{date[:4]}-{date[4:6]}-{date[6:]}T12:00:00+00:00",
        **kw,
    )


def now(volume=5.0, diameter=22.0, date=dt.date(2025, 7, 1), uid="2.2", description="T1 AX", segmenter="seg 1"):
    return Measurement(uid, date, volume, diameter, description, segmenter)


def test_change_against_the_latest_earlier_study():
    history = [row(date="20240101", uid="0.1", volume=2.0), row(date="20250101", uid="1.1", volume=4.0)]
    result = follow_up(JANE, now(), history)
    assert isinstance(result, FollowUp)
    assert result.previous.study_date == dt.date(2025, 1, 1)
    assert result.days == 181
    assert result.change_ml == pytest.approx(1.0)
    assert result.change_percent == pytest.approx(25.0)
    assert result.diameter_change_mm == pytest.approx(2.0)
    assert [m.volume_ml for m in result.history] == [2.0, 4.0, 5.0]
    lines = result.lines()
    assert lines[0].startswith("Previous study 2025-01-01 (181 days earlier): volume 4.00 mL")
    assert lines[1] == "Change in volume: +1.00 mL, +25.0% (4.00 -> 5.00 mL)"
    assert lines[2] == "Change in longest diameter: +2.0 mm (20.0 -> 22.0 mm)"
    assert not result.notes


def test_no_spacing_no_date_no_comparison():
    assert follow_up(JANE, None, [row()]) is None  # current study has no volume in mL
    assert follow_up(JANE, now(), [row(volume=None)]) is None  # prior without spacing
    assert follow_up(JANE, now(), [row(date="")]) is None  # prior without a study date
    assert follow_up(JANE, now(), [row(volume=0.0, verdict_label=CANNOT_ASSESS)]) is None  # prior not assessed


def test_only_earlier_studies_of_the_same_patient():
    later = row(date="20260101", uid="3.3")
    same_study = row(date="20250701", uid="2.2")
    other_patient = row(meta=StudyMeta("Roe^Rick", "P-002", "19800202"), uid="4.4")
    assert follow_up(JANE, now(), [later, same_study, other_patient]) is None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (JANE, StudyMeta("Someone^Else", "P-001", "19700101"), True),  # same ID
        (JANE, StudyMeta("DOE^JANE^^", "H2-77", "19700101"), True),  # IDs differ: name + birth date
        (JANE, StudyMeta("Doe^Jane", "H2-77", ""), False),  # name alone is not enough
        (JANE, StudyMeta("Doe^Jane", "P-001", "19991231"), False),  # same ID, contradicting birth date
        (StudyMeta("", "", ""), StudyMeta("", "", ""), False),  # nothing known
    ],
)
def test_same_patient(a, b, same):
    assert same_patient(a, b) is same
    assert same_patient(b, a) is same


def test_one_measurement_per_study_preferring_the_same_series():
    t2 = row(uid="1.1", volume=9.0, description="T2 AX", created="2025-01-02T00:00:00+00:00")
    t1 = row(uid="1.1", volume=4.0, description="T1 AX", created="2025-01-01T00:00:00+00:00")
    result = follow_up(JANE, now(), [t2, t1])
    assert result.previous.volume_ml == 4.0 and len(result.history) == 2
    other = follow_up(JANE, now(description="FLAIR"), [t2, t1])
    assert other.previous.volume_ml == 9.0  # no like-for-like series: the latest analysed one, with a note
    assert "different series ('T2 AX')" in other.notes[0]


def test_zero_previous_volume_has_no_percentage_and_model_change_is_noted():
    models = ({"name": "clf", "version": "1"}, {"name": "seg", "version": "0.9"})
    result = follow_up(JANE, now(volume=1.5), [row(volume=0.0, diameter=None, models=models)])
    assert result.change_percent is None and result.diameter_change_mm is None
    assert "no % change from 0 mL" in result.lines()[1]
    assert any("another model version (seg 0.9)" in note for note in result.notes)


def test_a_study_measured_with_another_outline_rule_is_noted():
    old_rule = "outline slices with P(tumour) >= 0.5 when the series verdict is tumour"
    new_rule = old_rule + "; for a tumour the largest outlined region is kept"
    earlier = row(result_json=json.dumps({"segmentation_gate": old_rule}))
    current = Measurement("2.2", dt.date(2025, 7, 1), 5.0, 22.0, "T1 AX", "seg 1", new_rule)
    (note,) = follow_up(JANE, current, [earlier]).notes
    assert "chosen by another rule" in note and old_rule in note
    same = row(result_json=json.dumps({"segmentation_gate": new_rule}))
    assert not follow_up(JANE, current, [same]).notes
    assert not follow_up(JANE, current, [row()]).notes  # an old row that does not say: no note, no guess


def test_plot_points_and_axis():
    result = follow_up(JANE, now(), [row(date="20240101", uid="0.1", volume=2.0), row()])
    points, top = plot_points(result)
    assert [x for x, _ in points] == [0.0, pytest.approx(366 / 547), 1.0]
    assert [v for _, v in points] == [2.0, 4.0, 5.0] and top == 6.0
    assert axis_top(0.0) == 1.0 and axis_top(4.2) == 5.0 and axis_top(0.37) == pytest.approx(0.4)
    assert axis_top(95.0) == 100.0 and axis_top(0.001) == pytest.approx(0.0015)


def test_parsing_helpers():
    assert parse_study_date("20250101") == dt.date(2025, 1, 1)
    assert parse_study_date("2025.01.01") == dt.date(2025, 1, 1)
    assert parse_study_date("20251301") is None and parse_study_date("") is None
    assert normalized_name(" doe ^ jane ^^=ideographic") == "DOE^JANE"


def test_history_candidates_and_cli_follow_up(tmp_path, monkeypatch, capsys):
    """Two studies of one patient through `brainscan analyze`: the second prints and reports the change."""
    monkeypatch.setattr(
        loading, "load_shipped_models", lambda *a, **k: loading.LoadedModels(FakeClassifier(), FakeSegmenter())
    )
    write_phantom_series(tmp_path / "first", lesion_slices=(3, 4), study_date="20250101", study_uid="1.2.3.1")
    write_phantom_series(tmp_path / "second", lesion_slices=(3, 4, 5), study_date="20250401", study_uid="1.2.3.2")
    assert cli.main(["analyze", str(tmp_path / "first"), "--quiet"]) == 0
    assert "follow-up" not in capsys.readouterr().out
    out_json = tmp_path / "second.json"
    pdf = tmp_path / "second.pdf"
    assert cli.main(["analyze", str(tmp_path / "second"), "--quiet", "--json", str(out_json), "--pdf", str(pdf)]) == 0
    printed = capsys.readouterr().out
    assert "follow-up: Previous study 2025-01-01 (90 days earlier)" in printed and "+50.0%" in printed
    store = HistoryStore(default_history_path())
    assert len(store.patient_studies(JANE)) == 2
    assert store.patient_studies(StudyMeta()) == []
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Follow-up" in text and "Change in volume" in text and "+50.0%" in text
    assert json.loads(out_json.read_text())["volume_ml"] > 0


def test_no_history_still_compares_but_saves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        loading, "load_shipped_models", lambda *a, **k: loading.LoadedModels(FakeClassifier(), FakeSegmenter())
    )
    write_phantom_series(tmp_path / "first", lesion_slices=(3, 4), study_date="20250101", study_uid="1.2.3.1")
    write_phantom_series(tmp_path / "second", lesion_slices=(3, 4), study_date="20250301", study_uid="1.2.3.2")
    assert cli.main(["analyze", str(tmp_path / "first"), "--quiet"]) == 0
    assert cli.main(["analyze", str(tmp_path / "second"), "--quiet", "--no-history"]) == 0
    assert "follow-up: Previous study 2025-01-01 (59 days earlier)" in capsys.readouterr().out
    assert HistoryStore(default_history_path()).count() == 1
