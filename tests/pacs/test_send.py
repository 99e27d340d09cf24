"""`brainscan send` / `brainscan echo` against a real DICOM server on 127.0.0.1 (tests/pacs_server.py), and the
errors a person sees when the PACS cannot be reached or refuses."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import EncapsulatedPDFStorage, SegmentationStorage

from brainscan import cli
from brainscan.errors import PacsError
from brainscan.io import load, scan
from brainscan.pacs import Destination, echo, parse_destination, send_files
from brainscan.pipeline.analyze import analyze
from brainscan.reports import write_dicom
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter
from tests.pacs_server import c_find, c_get, free_port, running_pacs, silent_listener


@pytest.fixture
def results(tmp_path):
    """(analysis result, DicomExport) of a phantom with a lesion on slices 3-5."""
    write_phantom_series(tmp_path / "series", n=8, lesion_slices=(3, 4, 5))
    (info,) = scan([tmp_path / "series"])
    result = analyze(load(info), FakeClassifier(), FakeSegmenter(), explain=False)
    return result, write_dicom(result, tmp_path / "out")


def source_uids(result) -> set[str]:
    return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in result.volume.slice_files}


def test_send_stores_seg_and_pdf_and_the_pacs_returns_them(results, tmp_path, capsys):
    result, written = results
    with running_pacs() as (pacs, destination):
        assert cli.main(["send", str(written.seg.parent), "--to", str(destination)]) == 0
        out = capsys.readouterr().out
        assert "2 of 2 object(s) stored" in out
        seg_uid = str(pydicom.dcmread(written.seg).SOPInstanceUID)
        pdf_uid = str(pydicom.dcmread(written.report).SOPInstanceUID)
        assert set(pacs.stored) == {seg_uid, pdf_uid}
        assert pacs.calling_titles == ["BRAINSCAN", "BRAINSCAN"]

        # the PACS finds both in the source study, as two new series
        studies = c_find(destination, "STUDY", StudyInstanceUID="1.2.3.4", PatientID="")
        assert [s.PatientID for s in studies] == ["P-001"]
        images = c_find(destination, "IMAGE", StudyInstanceUID="1.2.3.4", SOPInstanceUID="", SOPClassUID="")
        assert {(i.SOPInstanceUID, i.SOPClassUID) for i in images} == {
            (seg_uid, SegmentationStorage),
            (pdf_uid, EncapsulatedPDFStorage),
        }

        # and returns them by C-GET, intact
        returned = c_get(destination, [SegmentationStorage, EncapsulatedPDFStorage], StudyInstanceUID="1.2.3.4")
    by_uid = {str(ds.SOPInstanceUID): ds for ds in returned}
    assert set(by_uid) == {seg_uid, pdf_uid}
    seg = by_uid[seg_uid]
    referenced = {
        str(i.ReferencedSOPInstanceUID) for s in seg.ReferencedSeriesSequence for i in s.ReferencedInstanceSequence
    }
    assert referenced == source_uids(result)
    assert seg.pixel_array.astype(bool).sum() == sum(int(s.mask.sum()) for s in result.segmentations.values())
    report = by_uid[pdf_uid]
    original = pydicom.dcmread(written.report)
    assert bytes(report.EncapsulatedDocument) == bytes(original.EncapsulatedDocument)
    assert {str(i.ReferencedSOPInstanceUID) for i in report.SourceInstanceSequence} == source_uids(result)


def test_echo_answers(capsys):
    with running_pacs() as (_, destination):
        assert echo(destination, timeout=10) > 0
        assert cli.main(["echo", "--to", str(destination)]) == 0
    assert "answered the DICOM echo" in capsys.readouterr().out


def test_refused_connection(results, capsys):
    _, written = results
    destination = Destination("TESTPACS", "127.0.0.1", free_port())
    with pytest.raises(PacsError, match="refused the connection: nothing listens on port"):
        echo(destination, timeout=5)
    assert cli.main(["send", str(written.report), "--to", str(destination), "--timeout", "5"]) == 2
    assert "Nothing was sent" in capsys.readouterr().err


def test_rejected_association_names_the_reason(results):
    _, written = results
    with running_pacs(ae_title="REALPACS") as (pacs, destination):
        wrong = Destination("NOTTHEPACS", destination.host, destination.port)
        with pytest.raises(PacsError, match="rejected the association: Called AE title not recognised"):
            send_files([written.report], wrong, timeout=10)
        assert not pacs.stored


def test_no_answer_is_a_timeout():
    with silent_listener() as port:
        with pytest.raises(PacsError, match="gave no DICOM answer within 1 s"):
            echo(Destination("TESTPACS", "127.0.0.1", port), timeout=1)


def test_unknown_host():
    with pytest.raises(PacsError, match="could not be found"):
        echo(Destination("PACS", "no-such-pacs.invalid", 104), timeout=5)


def test_pacs_that_accepts_no_results(results):
    _, written = results
    with running_pacs(accept_storage=False) as (pacs, destination):
        with pytest.raises(PacsError, match="accepts none of the object types"):
            send_files(written.files, destination, timeout=10)
        assert not pacs.stored


def test_only_dicom_files_are_sent(results, tmp_path, capsys):
    _, written = results
    (written.report.parent / "notes.txt").write_text("not DICOM")
    with running_pacs() as (pacs, destination):
        assert cli.main(["send", str(written.report.parent), "--to", str(destination)]) == 0
        assert len(pacs.stored) == 2
    captured = capsys.readouterr()
    assert "notes.txt (not a DICOM file)" in captured.err and "1 file(s) skipped" in captured.out
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PacsError, match="nothing to send"):
        send_files([empty], Destination("X", "127.0.0.1", 104))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("pacs:104", "is not a DICOM destination"),
        ("PACS@host", "is not a DICOM destination"),
        ("@host:104", "AE title is empty"),
        ("A_VERY_LONG_AE_TITLE_X@host:104", "longer than 16"),
        ("PACS@host:http", "not a number"),
        ("PACS@host:70000", "outside 1-65535"),
        ("PACS@bad host:104", "not a host name"),
    ],
)
def test_destination_errors(text, problem):
    with pytest.raises(PacsError, match=problem):
        parse_destination(text)


def test_destination_forms():
    assert parse_destination(" ORTHANC@pacs.example.org:4242 ") == Destination("ORTHANC", "pacs.example.org", 4242)
    assert parse_destination("PACS@[::1]:11112") == Destination("PACS", "::1", 11112)
    assert str(Destination("PACS", "::1", 11112)) == "PACS@[::1]:11112"
