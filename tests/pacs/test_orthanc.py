"""Round trips against a real PACS: Orthanc, started by tests/pacs/orthanc.py on 127.0.0.1 with a generated
configuration (BrainScan's AE titles registered). C-STORE seeds it; C-FIND, C-GET and C-MOVE bring series back;
the node receives a series Orthanc pushes and stores its SEG and report back into Orthanc. Skipped, saying so,
where the Orthanc binary is not installed."""

from __future__ import annotations

import json
import time
import types

import numpy as np
import pydicom
import pytest

from brainscan.errors import PacsError
from brainscan.pacs import date_range, echo, find_series, find_studies, retrieve_series, send_files
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter
from tests.pacs.orthanc import running_orthanc
from tests.pacs_server import free_port

MOVE_PORT = free_port()
NODE_PORT = free_port()


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    """Orthanc seeded with two MR studies of two patients (one with two series) and one CT series."""
    root = tmp_path_factory.mktemp("orthanc")
    modalities = {"brainscan": ("BRAINSCAN", MOVE_PORT), "node": ("BSNODE", NODE_PORT)}
    with running_orthanc(root / "server", modalities) as server:
        seeds = {}
        seeds["t1"], _ = write_phantom_series(root / "t1", n=8, description="T1 AX post")
        seeds["t2"], _ = write_phantom_series(root / "t2", n=5, lesion_slices=(), description="T2 AX")
        seeds["other"], _ = write_phantom_series(
            root / "other", n=4, patient_name="Roe^Richard", patient_id="P-002", study_uid="1.2.3.5",
            study_date="20250301", lesion_slices=(),
        )  # fmt: skip
        ct_folder = root / "ct"
        ct_folder.mkdir()
        for path in sorted((root / "t2").iterdir())[:2]:  # a CT series in the first study
            ds = pydicom.dcmread(path)
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.CTImageStorage
            ds.Modality, ds.SeriesInstanceUID = "CT", "1.2.3.4.77"
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
            ds.save_as(ct_folder / path.name, enforce_file_format=True)
        folders = [root / name for name in ("t1", "t2", "other", "ct")]
        report = send_files(folders, server.destination, timeout=20)
        assert len(report.sent) == 19, report.summary()
        yield server, seeds, root


def test_echo_and_find_studies(orthanc):
    server, _, _ = orthanc
    assert echo(server.destination, timeout=10) > 0
    by_name = find_studies(server.destination, patient_name="doe", timeout=10)
    assert [(s.study_uid, s.patient_id, s.n_series) for s in by_name] == [("1.2.3.4", "P-001", 3)]
    by_id = find_studies(server.destination, patient_id="P-002", timeout=10)
    assert [s.patient_name for s in by_id] == ["Roe^Richard"]
    in_2025 = find_studies(server.destination, dates=date_range("2025-01-01", "2025-12-31"), timeout=10)
    assert [s.study_uid for s in in_2025] == ["1.2.3.5"]
    assert find_studies(server.destination, patient_name="Nobody", timeout=10) == []
    assert {s.study_uid for s in find_studies(server.destination, timeout=10)} == {"1.2.3.4", "1.2.3.5"}


def test_find_series_lists_mr_only(orthanc):
    server, seeds, _ = orthanc
    series = find_series(server.destination, "1.2.3.4", timeout=10)
    assert {(s.series_uid, s.n_instances) for s in series} == {(seeds["t1"], 8), (seeds["t2"], 5)}
    assert {s.description for s in series} == {"T1 AX post", "T2 AX"}
    everything = find_series(server.destination, "1.2.3.4", modality="", timeout=10)
    assert "1.2.3.4.77" in {s.series_uid for s in everything}


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_brings_the_series_back_intact(orthanc, tmp_path, method):
    server, seeds, root = orthanc
    report = retrieve_series(
        server.destination, "1.2.3.4", seeds["t1"], folder=tmp_path / method, method=method, move_port=MOVE_PORT,
        expected=8, timeout=20,
    )  # fmt: skip
    assert report.complete and report.received == 8, report.summary()
    original = {str(ds.SOPInstanceUID): ds for ds in map(pydicom.dcmread, (root / "t1").iterdir())}
    for path in report.files:
        ds = pydicom.dcmread(path)
        assert np.array_equal(ds.pixel_array, original[str(ds.SOPInstanceUID)].pixel_array)
    assert {str(pydicom.dcmread(p).SOPInstanceUID) for p in report.files} == set(original)


def test_move_with_an_unregistered_ae_title_says_what_to_register(orthanc, tmp_path):
    server, seeds, _ = orthanc
    with pytest.raises(PacsError, match="ended the connection .* register 'STRANGER' with this computer's address"):
        retrieve_series(server.destination, "1.2.3.4", seeds["t2"], folder=tmp_path / "x", method="move",
                        calling_aet="STRANGER", move_port=free_port(), timeout=10)  # fmt: skip


def test_node_analyses_a_series_orthanc_pushes_and_stores_the_results_back(orthanc, tmp_path):
    from brainscan.node import Node

    server, seeds, _ = orthanc
    models = types.SimpleNamespace(classifier=FakeClassifier(), segmenter=FakeSegmenter())
    node = Node(
        tmp_path / "node", models, ae_title="BSNODE", port=NODE_PORT, settle_s=0.5, poll_s=0.05,
        allowed_callers=["ORTHANC"], send_to=server.destination,
    )  # fmt: skip
    node.start()
    try:
        series = server.rest("/tools/lookup", "POST", seeds["t1"].encode())
        orthanc_id = next(item["ID"] for item in series if item["Type"] == "Series")
        server.rest("/modalities/node/store", "POST", json.dumps({"Resources": [orthanc_id]}).encode())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            jobs = node.store.jobs()
            if jobs and jobs[0].state in ("sent", "failed"):
                break
            time.sleep(0.2)
        (job,) = node.store.jobs()
        assert job.state == "sent", job.reason
        assert (job.calling_aet, job.n_instances) == ("ORTHANC", 8)
    finally:
        node.stop()
    instances = server.instances_of_study("1.2.3.4")
    results = [i for i in instances if i["MainDicomTags"]["SOPInstanceUID"].startswith("2.25.")]
    # the SEG and the Encapsulated PDF, once each, in the source study
    modalities = sorted(
        server.rest(f"/series/{i['ParentSeries']}")["MainDicomTags"].get("Modality", "") for i in results
    )
    assert modalities == ["DOC", "SEG"]
