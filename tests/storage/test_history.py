"""HistoryStore: round trip, search, migrations, concurrency and a process killed mid-write."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from brainscan.errors import StorageError
from brainscan.storage.history import MIGRATIONS, SCHEMA_VERSION, HistoryStore, migrate
from brainscan.types import StudyMeta, StudyRecord


def record(name="Doe^Jane", label="meningioma", tumour=True, **kwargs) -> StudyRecord:
    return StudyRecord(
        source_path="/data/study1",
        series_uid="1.2.3",
        description="T1 AX",
        verdict_label=label,
        tumour=tumour,
        tumour_probability=0.93 if tumour else 0.04,
        probabilities={"glioma": 0.03, "meningioma": 0.9, "notumor": 0.04, "pituitary": 0.03},
        meta=StudyMeta(patient_name=name, patient_id="P-7", study_date="20260105"),
        volume_ml=12.5,
        models=({"name": "clf", "version": "1", "sha256": "ab" * 32},),
        thumbnail_png=b"\x89PNG fake bytes",
        **kwargs,
    )


def test_round_trip_and_delete(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    study_id = store.add(record())
    back = store.get(study_id)
    assert back.meta.patient_name == "Doe^Jane" and back.probabilities["meningioma"] == 0.9
    assert back.models[0]["name"] == "clf" and back.thumbnail_png.startswith(b"\x89PNG")
    assert back.volume_ml == 12.5 and back.created_at
    assert store.delete(study_id) and store.get(study_id) is None and not store.delete(study_id)


def test_search_and_filter(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    store.add(record("Doe^Jane"))
    store.add(record("Roe^Richard", label="notumor", tumour=False))
    assert [r.meta.patient_name for r in store.list("roe")] == ["Roe^Richard"]
    assert [r.verdict_label for r in store.list(tumour=True)] == ["meningioma"]
    assert [r.meta.patient_name for r in store.list()] == ["Roe^Richard", "Doe^Jane"]  # newest first


def test_migrates_old_database_keeping_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    conn.execute(
        "INSERT INTO studies (created_at, source_path, series_uid, verdict_label, tumour, tumour_probability, "
        "probabilities) VALUES ('2026-01-01T00:00:00', '/x', '9', 'glioma', 1, 0.8, '{}')"
    )
    conn.close()
    store = HistoryStore(path)
    version = store._connection().execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION == len(MIGRATIONS)
    assert [r.verdict_label for r in store.list()] == ["glioma"]
    indexes = {r[0] for r in store._connection().execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "studies_created_at" in indexes


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer BrainScan"):
        HistoryStore(path)


def test_reader_sees_consistent_rows_while_writer_writes(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    errors: list[BaseException] = []
    done = threading.Event()

    def writer():
        try:
            for _ in range(100):
                store.add(record())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reader = HistoryStore(tmp_path / "h.sqlite")
    seen = []
    while not done.is_set():
        seen.append(len(reader.list(limit=10_000)))
    thread.join()
    assert not errors
    assert seen == sorted(seen)  # counts only grow: no partial or vanished rows
    assert reader.count() == 100


def test_process_killed_mid_write_leaves_database_intact(tmp_path):
    path = tmp_path / "h.sqlite"
    store = HistoryStore(path)
    for _ in range(3):
        store.add(record("Earlier^Patient"))
    store.close()
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(__import__("pathlib").Path(__file__).resolve().parents[2])!r})
        from brainscan.storage.history import HistoryStore
        from tests.storage.test_history import record
        store = HistoryStore({str(path)!r})
        print("ready", flush=True)
        while True:
            store.add(record("Busy^Writer"))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    store = HistoryStore(path)
    assert store._connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    names = [r.meta.patient_name for r in store.list(limit=100_000)]
    assert names.count("Earlier^Patient") == 3
    assert names.count("Busy^Writer") >= 1


def test_default_path_follows_brainscan_home(tmp_path, monkeypatch):
    from brainscan.storage.history import default_history_path

    monkeypatch.setenv("BRAINSCAN_HOME", str(tmp_path / "portable"))
    assert default_history_path() == tmp_path / "portable" / "history.sqlite"
    HistoryStore(default_history_path()).add(record())
    assert (tmp_path / "portable" / "history.sqlite").exists()


def test_save_replaces_the_same_series_and_keeps_its_id(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    first = store.save(record(created_at="2026-01-01T00:00:00"))
    other = store.save(dataclasses.replace(record(), series_uid="1.2.999", created_at="2026-01-01T00:00:01"))
    again = store.save(dataclasses.replace(record(), tumour_probability=0.5, created_at="2026-01-02T00:00:00"))
    assert again == first and other != first and store.count() == 2
    assert store.get(first).tumour_probability == 0.5 and store.get(first).created_at == "2026-01-02T00:00:00"
    elsewhere = store.save(dataclasses.replace(record(), source_path="/another/copy"))
    assert elsewhere not in (first, other) and store.count() == 3  # same UID from another folder: its own row


def test_a_folder_name_that_is_not_utf8_comes_back_exactly(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    odd = os.fsdecode(b"/data/Patient-M\xfcller")  # Latin-1 bytes: not valid UTF-8
    other = os.fsdecode(b"/data/Patient-M\xf6ller")  # shows the same with U+FFFD
    first = store.save(dataclasses.replace(record(), source_path=odd))
    second = store.save(dataclasses.replace(record(), source_path=other))
    assert first != second  # two folders, two rows, though their text shows the same
    assert os.fsencode(store.get(first).source_path) == b"/data/Patient-M\xfcller"
    assert os.fsencode(store.get(second).source_path) == b"/data/Patient-M\xf6ller"
    assert store.save(dataclasses.replace(record(), source_path=odd)) == first  # analysed again: same row
    assert [r.id for r in store.list("Patient-M")] == [second, first]  # still found by its visible text
    plain = store.save(dataclasses.replace(record(), source_path="/data/plain"))
    assert store.get(plain).source_path == "/data/plain"


def test_search_matches_the_verdict_words_the_table_shows(tmp_path):
    """Issue 27 item 6: the table shows "Tumour suspected: Meningioma" and "No tumour found"; searching those
    words found nothing (only the stored labels "meningioma", "notumor" matched)."""
    store = HistoryStore(tmp_path / "h.sqlite")
    store.add(record("Doe^Jane"))
    store.add(record("Roe^Richard", label="notumor", tumour=False))
    store.add(record("Poe^Edgar", label="abnormal", tumour=False))
    store.add(record("Moe^Anna", label="cannot assess", tumour=False))

    def names(search):
        return [r.meta.patient_name for r in store.list(search)]

    assert names("suspected") == ["Doe^Jane"]
    assert names("Tumour suspected: men") == ["Doe^Jane"]
    assert names("No tumour") == ["Roe^Richard"]
    assert names("no tumour found") == ["Roe^Richard"]
    assert names("not typical of a tumour") == ["Poe^Edgar"]
    assert names("abnormal") == ["Poe^Edgar"]
    assert names("cannot assess") == ["Moe^Anna"]
    assert names("notumor") == ["Roe^Richard"]  # the stored label still matches
    assert names("100%_") == []  # LIKE wildcards in the search stay literal
