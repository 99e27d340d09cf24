"""The node's job table (brainscan.storage.jobs): states, resume after a crash, sent once, series that change."""

from __future__ import annotations

import time

import pytest

from brainscan.errors import StorageError
from brainscan.storage.jobs import JobStore


@pytest.fixture
def store(tmp_path):
    jobs = JobStore(tmp_path / "jobs.sqlite")
    yield jobs
    jobs.close()


def receive(store, series="1.2.9", n=3, start=1, folder="/x"):
    for k in range(start, start + n):
        store.record_instance(series, "1.2", f"{series}.{k}", "SCANNER", f"{folder}/{k}.dcm", folder)


def test_received_then_analysed_then_sent(store):
    receive(store, n=3)
    (job,) = store.jobs()
    assert (job.state, job.n_instances, job.calling_aet) == ("received", 3, "SCANNER")
    assert store.due_for_analysis(60.0) == []  # still arriving, as far as anyone knows
    assert [j.id for j in store.due_for_analysis(0.0, now=time.time() + 1)] == [job.id]
    assert store.start_analysis(job.id) == 3
    assert store.start_analysis(job.id) is None  # never two analyses of one job at once
    assert store.finish_analysis(job.id, 3, "No tumour", "/r/1") == "done"
    assert [j.id for j in store.due_for_sending()] == [job.id]
    store.begin_send(job.id)
    store.mark_sent(job.id, "9.1", "PACS@h:1")
    store.mark_sent(job.id, "9.1", "PACS@h:1")
    store.end_send(job.id, True)
    job = store.job(job.id)
    assert (job.state, job.send_attempts, job.analyses) == ("sent", 1, 1)
    assert store.sent_uids(job.id, "PACS@h:1") == {"9.1"}
    assert store.due_for_sending() == []


def test_duplicates_change_nothing_but_new_images_reopen_a_sent_series(store):
    receive(store, n=2)
    (job,) = store.jobs()
    store.start_analysis(job.id)
    store.finish_analysis(job.id, 2, "s", "/r")
    store.end_send(job.id, True)
    receive(store, n=2)  # the sender sent the same two again
    assert store.job(job.id).state == "sent" and store.job(job.id).n_instances == 2
    receive(store, n=1, start=3)
    job = store.job(job.id)
    assert (job.state, job.n_instances) == ("received", 3)
    assert "new images arrived after the sent state" in job.reason


def test_images_during_the_analysis_mean_analysing_again(store):
    receive(store, n=2)
    (job,) = store.jobs()
    n = store.start_analysis(job.id)
    receive(store, n=1, start=3)
    assert store.finish_analysis(job.id, n, "s", "/r") == "received"
    assert "1 image(s) arrived during the analysis" in store.job(job.id).reason


def test_resume_after_a_crash(tmp_path):
    path = tmp_path / "jobs.sqlite"
    store = JobStore(path)
    receive(store, "1.2.1", n=2)
    receive(store, "1.2.2", n=2)
    first, second = store.jobs()
    store.start_analysis(first.id)  # killed during this analysis
    store.start_analysis(second.id)
    store.finish_analysis(second.id, 2, "s", "/r")
    store.begin_send(second.id)  # ... and during this send
    store._db.close()  # no clean close: as after kill -9

    again = JobStore(path)
    resumed = {job.id for job in again.resume()}
    assert resumed == {first.id, second.id}
    first, second = again.jobs()
    assert first.state == "received" and "interrupted" in first.reason
    assert (second.state, second.sending, second.send_interrupted) == ("done", 0, 1)
    assert again.start_analysis(first.id) == 2  # and it is analysed again
    again.close()


def test_send_retry_then_failed(store):
    receive(store, n=1)
    (job,) = store.jobs()
    store.start_analysis(job.id)
    store.finish_analysis(job.id, 1, "s", "/r")
    later = time.time() + 30
    store.end_send(job.id, False, "refused", later)
    assert store.due_for_sending() == [] and store.due_for_sending(now=later + 1)
    store.end_send(job.id, False, "gave up", None)
    assert (store.job(job.id).state, store.job(job.id).reason) == ("failed", "gave up")


def test_a_newer_schema_is_refused(tmp_path):
    store = JobStore(tmp_path / "j.sqlite")
    store._db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    store.close()
    with pytest.raises(StorageError, match="newer BrainScan"):
        JobStore(tmp_path / "j.sqlite")
