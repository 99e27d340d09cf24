"""The ``brainscan listen`` node in this process (fake models, a pynetdicom PACS to send back to): a pushed
series is analysed once and its results stored back once; senders outside the list, unknown SOP classes and
malformed objects are refused while the node keeps running; sending retries with back-off; a restart resumes
cut-off analyses and sends without sending anything twice."""

from __future__ import annotations

import time
import types

import pydicom
import pytest
from pydicom.uid import EncapsulatedPDFStorage, MRImageStorage, SegmentationStorage
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from brainscan import cli
from brainscan.errors import PacsError
from brainscan.node import Node
from brainscan.pacs import Destination, echo, send_files
from brainscan.storage.jobs import JobStore
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter
from tests.pacs.faulty_pacs import FaultyPacs
from tests.pacs_server import free_port


def fake_models(delay: float = 0.0):
    return types.SimpleNamespace(classifier=FakeClassifier(delay=delay), segmenter=FakeSegmenter())


def wait_for(predicate, timeout: float = 30.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


@pytest.fixture
def pacs():
    server = FaultyPacs()
    destination = server.start()
    yield server, destination
    server.stop()


@pytest.fixture
def series(tmp_path):
    uid, _ = write_phantom_series(tmp_path / "series", n=8, lesion_slices=(3, 4, 5))
    return tmp_path / "series", uid


def start_node(tmp_path, models=None, **options) -> tuple[Node, Destination]:
    node = Node(tmp_path / "node", models or fake_models(), port=0, settle_s=0.3, poll_s=0.05, **options)
    port = node.start()
    return node, Destination("BRAINSCAN", "127.0.0.1", port)


def stores_by_uid(server) -> dict[str, int]:
    """How many C-STOREs the PACS answered per SOP instance UID (duplicates would show as 2)."""
    return dict(server.store_counts)


@pytest.fixture(autouse=True)
def count_stores(monkeypatch):
    """FaultyPacs counts every C-STORE per instance UID, so 'sent twice' cannot hide behind a dict overwrite."""
    original = FaultyPacs._on_store

    def counting(self, event):
        counts = self.__dict__.setdefault("store_counts", {})
        uid = str(event.dataset.SOPInstanceUID)
        counts[uid] = counts.get(uid, 0) + 1
        return original(self, event)

    monkeypatch.setattr(FaultyPacs, "_on_store", counting)


def test_a_pushed_series_is_analysed_and_its_results_stored_back_once(tmp_path, pacs, series, capsys):
    server, destination = pacs
    folder, uid = series
    node, address = start_node(tmp_path, send_to=destination)
    try:
        report = send_files([folder], address, calling_aet="SCANNER", timeout=10)
        assert len(report.sent) == 8
        job = wait_for(lambda: next((j for j in node.store.jobs() if j.state in ("sent", "failed")), None))
        assert job.state == "sent", job.reason
        assert (job.series_uid, job.n_instances, job.analyses, job.calling_aet) == (uid, 8, 1, "SCANNER")
        assert "Tumour suspected" in job.summary
    finally:
        node.stop()
    classes = sorted(str(ds.SOPClassUID) for ds in server.stored.values())
    assert classes == sorted([SegmentationStorage, EncapsulatedPDFStorage])
    assert set(stores_by_uid(server).values()) == {1}
    assert {str(ds.StudyInstanceUID) for ds in server.stored.values()} == {"1.2.3.4"}
    # every received image is on disk, and --status lists the job
    assert len(list((tmp_path / "node" / "incoming").rglob("*.dcm"))) == 8
    assert cli.main(["listen", "--status", "--dir", str(tmp_path / "node")]) == 0
    out = capsys.readouterr().out
    assert "sent" in out and uid in out and "8 image(s)  from SCANNER" in out


def test_only_listed_senders_and_the_node_keeps_running(tmp_path, series):
    folder, _ = series
    node, address = start_node(tmp_path, allowed_callers=["SCANNER"])
    try:
        with pytest.raises(PacsError, match="rejected the association.*Calling AE title not recognised"):
            send_files([folder], address, calling_aet="INTRUDER", timeout=10)
        assert echo(address, calling_aet="SCANNER", timeout=5) > 0
        assert node.store.jobs() == []
    finally:
        node.stop()


def test_unknown_sop_class_and_malformed_objects_are_refused(tmp_path, series):
    folder, _ = series
    node, address = start_node(tmp_path)
    try:
        # a CT image: the node offers MR storage only, so the presentation context is rejected
        ct = pydicom.dcmread(sorted(folder.iterdir())[0])
        ct.SOPClassUID = CTImageStorage
        ct.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ct.save_as(tmp_path / "ct.dcm", enforce_file_format=True)
        with pytest.raises(PacsError, match="accepts none of the object types"):
            send_files([tmp_path / "ct.dcm"], address, timeout=10)

        ae = AE(ae_title="SCANNER")
        ae.add_requested_context(MRImageStorage)
        assoc = ae.associate(address.host, address.port, ae_title=address.ae_title)
        assert assoc.is_established
        try:
            # an MR file whose data set is cut short in the middle of an element, then garbage
            good = sorted(folder.iterdir())[1]
            damaged = tmp_path / "damaged.dcm"
            damaged.write_bytes(good.read_bytes()[:600] + b"\x10\x00\x10\x00PN\xff\x7f")
            assert int(assoc.send_c_store(damaged).Status) == 0xC000
            # an MR image whose pixel data was cut short (the file ends 100 bytes early)
            short = tmp_path / "short.dcm"
            short.write_bytes(good.read_bytes()[:-100])
            assert int(assoc.send_c_store(short).Status) == 0xC000
            # and a good image still goes through on the same association
            assert int(assoc.send_c_store(pydicom.dcmread(good)).Status) == 0x0000
        finally:
            assoc.release()
        assert echo(address, timeout=5) > 0
        (job,) = node.store.jobs()
        assert job.n_instances == 1
        assert len(list((tmp_path / "node" / "incoming").rglob("*.dcm"))) == 1
    finally:
        node.stop()


def test_sending_retries_with_back_off_until_the_pacs_is_there(tmp_path, series):
    folder, _ = series
    port = free_port()
    destination = Destination("TESTPACS", "127.0.0.1", port)
    node, address = start_node(tmp_path, send_to=destination, retry_base_s=0.3, retry_max_s=1.0, send_timeout=3)
    server = FaultyPacs(port=port)
    try:
        send_files([folder], address, timeout=10)
        job = wait_for(lambda: next((j for j in node.store.jobs() if j.send_attempts >= 2), None))
        assert job.state == "done" and "retry in" in job.reason and "refused the connection" in job.reason
        server.start()
        job = wait_for(lambda: next((j for j in node.store.jobs() if j.state == "sent"), None))
    finally:
        node.stop()
        server.stop()
    assert len(server.stored) == 2 and set(stores_by_uid(server).values()) == {1}


def test_sending_gives_up_with_the_reason(tmp_path, series):
    folder, _ = series
    destination = Destination("TESTPACS", "127.0.0.1", free_port())
    node, address = start_node(tmp_path, send_to=destination, retry_base_s=0.05, max_attempts=2, send_timeout=2)
    try:
        send_files([folder], address, timeout=10)
        job = wait_for(lambda: next((j for j in node.store.jobs() if j.state == "failed"), None))
        assert job.reason.startswith("sending failed 2 times; last:") and "refused the connection" in job.reason
    finally:
        node.stop()


def test_restart_resumes_a_cut_off_analysis_and_a_cut_off_send_without_sending_twice(tmp_path, pacs, series):
    server, destination = pacs
    folder, _ = series
    other = tmp_path / "other"
    write_phantom_series(other, n=6, lesion_slices=())  # no tumour: a report, no SEG
    # a first life: both series received and analysed ...
    node, address = start_node(tmp_path)
    send_files([folder], address, timeout=10)
    send_files([other], address, timeout=10)
    wait_for(lambda: [j.state for j in node.store.jobs()] == ["done", "done"])
    first, second = node.store.jobs()
    node.stop()
    results = sorted((tmp_path / "node" / "results" / str(first.id)).glob("*.dcm"))
    assert len(results) == 2
    send_files(results[:1], destination, timeout=10)  # ... the PACS stored the first result of the first ...
    store = JobStore(tmp_path / "node" / "jobs.sqlite")
    store.begin_send(first.id)  # ... but the node died before it recorded that,
    store._write(lambda db: db.execute("UPDATE jobs SET state = 'analysing' WHERE id = ?", (second.id,)))
    store.close()  # ... and while it analysed the second series again

    node, address = start_node(tmp_path, send_to=destination)
    try:
        wait_for(lambda: [j.state for j in node.store.jobs()] == ["sent", "sent"])
        first, second = node.store.jobs()
    finally:
        node.stop()
    assert (first.analyses, second.analyses) == (1, 2)  # the cut-off analysis ran again, the finished one not
    assert len(list((tmp_path / "node" / "results" / str(second.id)).glob("*.dcm"))) == 1
    assert len(server.stored) == 3 and set(stores_by_uid(server).values()) == {1}


def test_a_second_node_on_the_same_folder_is_refused(tmp_path):
    from brainscan.node import NodeError

    node, _ = start_node(tmp_path)
    try:
        with pytest.raises(NodeError, match="Another BrainScan node is running"):
            Node(tmp_path / "node", fake_models(), port=0).start()
    finally:
        node.stop()


def test_listen_refuses_other_addresses_without_a_sender_list(capsys):
    assert cli.main(["listen", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    assert "--allow" in capsys.readouterr().err
