"""Query (C-FIND) and retrieve (C-GET, C-MOVE) against a pynetdicom PACS on 127.0.0.1, for the cases a real PACS
will not produce on demand: a partial retrieve, images of another series, a slow PACS to cancel, an unknown
move destination, a rejected association, no answer; and the cache's limit and clearing."""

from __future__ import annotations

import os
import threading
import time

import pydicom
import pytest

from brainscan import cli
from brainscan.errors import PacsError
from brainscan.pacs import Destination, cache, date_range, find_series, find_studies, retrieve_series
from tests.dicom_factory import write_phantom_series
from tests.pacs.faulty_pacs import FaultyPacs
from tests.pacs_server import free_port, silent_listener


def seed(pacs, folder, n=6, **kwargs) -> str:
    """Write a phantom series and put it into the loopback PACS's memory; returns its series UID."""
    uid, _ = write_phantom_series(folder, n=n, **kwargs)
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path)
        pacs.stored[str(ds.SOPInstanceUID)] = ds
    return uid


@pytest.fixture
def pacs(tmp_path):
    server = FaultyPacs()
    destination = server.start()
    series_uid = seed(server, tmp_path / "src", n=6)
    try:
        yield server, destination, series_uid
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINSCAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BRAINSCAN_CACHE_LIMIT_MB", raising=False)


def test_date_range():
    assert date_range("2026-01-01", "20260131") == "20260101-20260131"
    assert date_range("2026-01-05", "2026-01-05") == "20260105"
    assert date_range(None, "2026-01-31") == "-20260131"
    assert date_range("", "") == ""
    with pytest.raises(PacsError, match="ends .* before it starts"):
        date_range("20260201", "20260101")
    with pytest.raises(PacsError, match="not a valid date"):
        date_range("20261341")


def test_find_then_get_into_the_cache_then_from_the_cache(pacs, tmp_path):
    server, destination, series_uid = pacs
    (study,) = find_studies(destination, patient_name="Doe", timeout=10)
    assert (study.study_uid, study.patient_id) == ("1.2.3.4", "P-001")
    (series,) = find_series(destination, study.study_uid, timeout=10)
    assert series.series_uid == series_uid
    seen = []
    report = retrieve_series(
        destination, study.study_uid, series.series_uid, timeout=10, on_progress=lambda d, t, m: seen.append(t)
    )
    assert report.complete and report.received == 6, report.summary()
    assert report.folder == cache.series_folder("1.2.3.4", series_uid)
    assert {pydicom.dcmread(p).SOPInstanceUID for p in report.files} == set(server.stored)
    assert seen and seen[-1] == 6
    again = retrieve_series(destination, study.study_uid, series_uid, expected=6, timeout=10)
    assert again.from_cache and again.received == 6


def test_partial_retrieve_says_how_many_failed(pacs, tmp_path):
    server, destination, series_uid = pacs
    server.unsendable = 2
    report = retrieve_series(destination, "1.2.3.4", series_uid, folder=tmp_path / "out", timeout=10)
    assert not report.complete
    assert report.received == 6 and report.failed == 2
    assert report.summary().startswith("Partial retrieve: 6 of 8 image(s)")
    assert "the PACS could not send 2" in report.summary()


def test_images_of_another_series_are_refused(pacs, tmp_path):
    server, destination, series_uid = pacs
    server.stranger = True
    report = retrieve_series(destination, "1.2.3.4", series_uid, folder=tmp_path / "out", timeout=10)
    assert report.received == 6
    assert not report.complete and "not an image of the series" in report.summary()
    assert not (tmp_path / "out" / "1.2.3.999.1.dcm").exists()


def test_cancel_stops_the_retrieve(pacs, tmp_path):
    server, destination, series_uid = pacs
    server.delay = 0.3
    report = retrieve_series(
        destination, "1.2.3.4", series_uid, folder=tmp_path / "out", timeout=10, should_cancel=lambda: True
    )
    assert report.cancelled and report.received < 6
    assert report.summary().startswith("Retrieve cancelled after")
    assert server.cancelled


def test_move_to_our_own_storage_scp(pacs, tmp_path):
    server, destination, series_uid = pacs
    port = free_port()
    server.move_destinations["BRAINSCAN"] = ("127.0.0.1", port)
    report = retrieve_series(
        destination, "1.2.3.4", series_uid, folder=tmp_path / "moved", method="move", move_port=port, timeout=10
    )
    assert report.complete and report.received == 6, report.summary()


def test_move_to_an_unknown_destination_says_what_to_register(pacs, tmp_path):
    _, destination, series_uid = pacs
    with pytest.raises(PacsError, match="does not know BrainScan's AE title 'BRAINSCAN' as a C-MOVE destination"):
        retrieve_series(destination, "1.2.3.4", series_uid, folder=tmp_path / "m", method="move",
                        move_port=free_port(), timeout=10)  # fmt: skip


def test_rejected_association_and_no_answer(pacs):
    _, destination, _ = pacs
    wrong = Destination("NOTTHEPACS", destination.host, destination.port)
    with pytest.raises(PacsError, match="rejected the association"):
        find_studies(wrong, timeout=5)
    with silent_listener() as port, pytest.raises(PacsError, match="gave no DICOM answer within 1 s"):
        find_studies(Destination("TESTPACS", "127.0.0.1", port), timeout=1)


def test_query_command_no_matches_and_matches(pacs, capsys):
    _, destination, series_uid = pacs
    assert cli.main(["query", "--from", str(destination), "--patient-name", "Nobody"]) == 1
    assert "No studies match" in capsys.readouterr().err
    assert cli.main(["query", "--from", str(destination), "--patient-id", "P-001", "--series"]) == 0
    out = capsys.readouterr().out
    assert "P-001" in out and series_uid in out


def test_retrieve_command_then_clear_the_cache(pacs, tmp_path, capsys):
    _, destination, series_uid = pacs
    assert cli.main(["retrieve", "--from", str(destination), "--study", "1.2.3.4", "--series", series_uid]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 image(s) retrieved (C-GET)" in out
    assert cache.size() > 0
    assert cli.main(["cache", "--clear"]) == 0
    assert "1 series" in capsys.readouterr().out
    assert cache.size() == 0


def test_cache_limit_removes_least_recently_used_but_not_the_new_one(tmp_path):
    root = tmp_path / "c"
    folders = []
    for n in range(3):
        folder = cache.series_folder("1.2", f"1.2.{n}", root)
        folder.mkdir(parents=True)
        (folder / "a.dcm").write_bytes(b"x" * 1000)
        cache.touch(folder)
        os.utime(folder / cache.STAMP)
        (folder / cache.STAMP).write_text(str(time.time() - 100 + n))
        folders.append(folder)
    removed = cache.enforce_limit(2100, keep=(folders[0],), root=root)
    assert removed == [folders[1]]
    assert folders[0].exists() and folders[2].exists()


def test_retrieve_runs_beside_other_threads(pacs, tmp_path):
    """Two retrieves at once (the app's background task and a CLI, say) each get their own series folder."""
    _, destination, series_uid = pacs
    reports = []
    threads = [
        threading.Thread(
            target=lambda n=n: reports.append(
                retrieve_series(destination, "1.2.3.4", series_uid, folder=tmp_path / f"o{n}", timeout=10)
            )
        )
        for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.received for r in reports) == [6, 6]
