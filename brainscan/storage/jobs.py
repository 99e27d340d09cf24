"""The job table of the ``brainscan listen`` node: one row per received series, in SQLite (stdlib sqlite3).

States: ``received`` (images arriving, or waiting to be analysed) -> ``analysing`` -> ``done`` (SEG and report
written) -> ``sent`` (stored back to the PACS); ``failed`` with the reason, from any of them. What it
guarantees and how:

- One writer: the node holds one connection, shared by its receiving threads and its worker under a lock, and
  the node folder is locked against a second node. Readers (``brainscan listen --status``) open their own.
- Durable: WAL with ``synchronous=FULL``; every change is one transaction, committed before the node answers
  the C-STORE or moves on, so a kill -9 loses no received instance and no state change.
- Resumable: ``resume()`` at start puts analyses that were cut off back to ``received`` (their half-written
  results are discarded and the series is analysed again); a send that was cut off is marked so that the node
  asks the PACS what already arrived before sending the rest.
- Sent once: each stored result object is recorded as sent the moment the PACS acknowledges it, and never
  offered again; a series is analysed again only when new images of it arrive.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from brainscan.errors import StorageError

SCHEMA_VERSION = 1
STATES = ("received", "analysing", "done", "sent", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    series_uid TEXT NOT NULL UNIQUE,
    study_uid TEXT NOT NULL,
    calling_aet TEXT NOT NULL DEFAULT '',
    folder TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('received', 'analysing', 'done', 'sent', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    n_instances INTEGER NOT NULL DEFAULT 0,
    first_received REAL NOT NULL,
    last_received REAL NOT NULL,
    updated REAL NOT NULL,
    analyses INTEGER NOT NULL DEFAULT 0,
    analysed_instances INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT '',
    results TEXT NOT NULL DEFAULT '',
    send_attempts INTEGER NOT NULL DEFAULT 0,
    next_send REAL NOT NULL DEFAULT 0,
    send_interrupted INTEGER NOT NULL DEFAULT 0,
    sending INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS instances (
    sop_uid TEXT PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    path TEXT NOT NULL,
    received REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sent (
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    sop_uid TEXT NOT NULL,
    destination TEXT NOT NULL,
    sent REAL NOT NULL,
    PRIMARY KEY (job_id, sop_uid, destination)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
"""


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    id: int
    series_uid: str
    study_uid: str
    calling_aet: str
    folder: str
    state: str
    reason: str
    n_instances: int
    first_received: float
    last_received: float
    updated: float
    analyses: int
    analysed_instances: int
    summary: str
    results: str
    send_attempts: int
    next_send: float
    send_interrupted: int
    sending: int


_COLUMNS = ", ".join(Job.__dataclass_fields__)


class JobStore:
    """The job table at ``path`` (created when missing). Thread-safe: one connection behind a lock."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            if readonly:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
                version = int(self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
                if version > SCHEMA_VERSION:
                    raise StorageError(
                        f"The job table {self.path} was written by a newer BrainScan (schema {version}); update "
                        "BrainScan or use another --dir."
                    )
        except sqlite3.Error as exc:
            raise StorageError(f"The job table {self.path} cannot be opened: {exc}.") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- writing (each a transaction) -----------------------------------------------------------------------
    def _write(self, statements) -> object:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    outcome = statements(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                return outcome
            except sqlite3.Error as exc:
                raise StorageError(f"The job table {self.path} could not be written: {exc}.") from exc

    def record_instance(
        self, series_uid: str, study_uid: str, sop_uid: str, calling_aet: str, path: Path, folder: Path
    ) -> tuple[int, bool]:
        """Record one received instance (its file is already on disk); returns (job id, whether it is new).

        A new instance of a series that was already analysed, sent or failed puts it back to ``received``: the
        series changed, so it is analysed again once complete. A duplicate (same SOP instance UID) changes
        nothing but the time of the last arrival.
        """
        now = time.time()

        def run(db):
            row = db.execute("SELECT id, state FROM jobs WHERE series_uid = ?", (series_uid,)).fetchone()
            if row is None:
                cursor = db.execute(
                    "INSERT INTO jobs (series_uid, study_uid, calling_aet, folder, state, first_received, "
                    "last_received, updated) VALUES (?, ?, ?, ?, 'received', ?, ?, ?)",
                    (series_uid, study_uid, calling_aet, str(folder), now, now, now),
                )
                job_id, state = int(cursor.lastrowid), "received"
            else:
                job_id, state = int(row[0]), str(row[1])
            known = db.execute("SELECT 1 FROM instances WHERE sop_uid = ?", (sop_uid,)).fetchone()
            if known:
                db.execute("UPDATE jobs SET last_received = ? WHERE id = ?", (now, job_id))
                return job_id, False
            db.execute(
                "INSERT INTO instances (sop_uid, job_id, path, received) VALUES (?, ?, ?, ?)",
                (sop_uid, job_id, str(path), now),
            )
            reopened = state in ("done", "sent", "failed")
            db.execute(
                "UPDATE jobs SET n_instances = n_instances + 1, last_received = ?, updated = ?, "
                "state = CASE WHEN ? THEN 'received' ELSE state END, "
                "reason = CASE WHEN ? THEN 'new images arrived after the ' || state || ' state; analysed again' "
                "ELSE reason END, "
                "send_attempts = CASE WHEN ? THEN 0 ELSE send_attempts END WHERE id = ?",
                (now, now, reopened, reopened, reopened, job_id),
            )
            return job_id, True

        return self._write(run)

    def resume(self) -> list[Job]:
        """At start: analyses that were cut off go back to ``received``; cut-off sends are marked. Returns the
        jobs that were resumed this way."""
        now = time.time()

        def run(db):
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE state = 'analysing' OR sending = 1"  # noqa: S608
            ).fetchall()
            db.execute(
                "UPDATE jobs SET state = 'received', reason = 'the analysis was interrupted; analysed again', "
                "updated = ? WHERE state = 'analysing'",
                (now,),
            )
            db.execute("UPDATE jobs SET send_interrupted = 1, sending = 0 WHERE sending = 1")
            return [Job(*row) for row in rows]

        return self._write(run)

    def start_analysis(self, job_id: int) -> int | None:
        """``received`` -> ``analysing``; returns the number of instances it starts with (None when the job was
        not waiting)."""
        now = time.time()

        def run(db):
            cursor = db.execute(
                "UPDATE jobs SET state = 'analysing', analyses = analyses + 1, analysed_instances = n_instances, "
                "reason = '', updated = ? WHERE id = ? AND state = 'received'",
                (now, job_id),
            )
            if cursor.rowcount != 1:
                return None
            return int(db.execute("SELECT n_instances FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])

        return self._write(run)

    def finish_analysis(self, job_id: int, n_at_start: int, summary: str, results: Path) -> str:
        """``analysing`` -> ``done``, unless images arrived meanwhile (then ``received`` again). Returns the state."""
        now = time.time()

        def run(db):
            n = int(db.execute("SELECT n_instances FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])
            if n != n_at_start:
                state, reason = "received", f"{n - n_at_start} image(s) arrived during the analysis; analysed again"
            else:
                state, reason = "done", ""
            db.execute(
                "UPDATE jobs SET state = ?, reason = ?, summary = ?, results = ?, updated = ?, send_attempts = 0, "
                "next_send = 0, send_interrupted = 0 WHERE id = ? AND state = 'analysing'",
                (state, reason, summary, str(results), now, job_id),
            )
            return state

        return self._write(run)

    def set_state(self, job_id: int, state: str, reason: str = "") -> None:
        if state not in STATES:
            raise ValueError(state)
        now = time.time()
        self._write(
            lambda db: db.execute(
                "UPDATE jobs SET state = ?, reason = ?, updated = ?, sending = 0 WHERE id = ?",
                (state, reason, now, job_id),
            )
        )

    def begin_send(self, job_id: int) -> None:
        now = time.time()
        self._write(lambda db: db.execute(
            "UPDATE jobs SET sending = 1, send_attempts = send_attempts + 1, updated = ? WHERE id = ?", (now, job_id)
        ))  # fmt: skip

    def mark_sent(self, job_id: int, sop_uid: str, destination: str) -> None:
        """One result object was acknowledged by ``destination``: never offered again."""
        now = time.time()
        self._write(lambda db: db.execute(
            "INSERT OR IGNORE INTO sent (job_id, sop_uid, destination, sent) VALUES (?, ?, ?, ?)",
            (job_id, sop_uid, destination, now),
        ))  # fmt: skip

    def end_send(self, job_id: int, complete: bool, reason: str = "", retry_at: float | None = None) -> None:
        """After a send attempt: ``sent`` when complete; else the reason and when to try again (None: failed)."""
        now = time.time()

        def run(db):
            if complete:
                db.execute(
                    "UPDATE jobs SET state = 'sent', reason = '', sending = 0, send_interrupted = 0, updated = ? "
                    "WHERE id = ?",
                    (now, job_id),
                )
            elif retry_at is None:
                db.execute(
                    "UPDATE jobs SET state = 'failed', reason = ?, sending = 0, updated = ? WHERE id = ?",
                    (reason, now, job_id),
                )
            else:
                db.execute(
                    "UPDATE jobs SET reason = ?, next_send = ?, sending = 0, updated = ? WHERE id = ?",
                    (reason, retry_at, now, job_id),
                )

        self._write(run)

    # ---- reading --------------------------------------------------------------------------------------------
    def _rows(self, where: str = "", params: tuple = ()) -> list[Job]:
        with self._lock:
            try:
                rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs {where} ORDER BY id", params).fetchall()  # noqa: S608
            except sqlite3.Error as exc:
                raise StorageError(f"The job table {self.path} cannot be read: {exc}.") from exc
        return [Job(*row) for row in rows]

    def jobs(self) -> list[Job]:
        return self._rows()

    def job(self, job_id: int) -> Job | None:
        rows = self._rows("WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def due_for_analysis(self, settle_s: float, now: float | None = None) -> list[Job]:
        """Received series with no new image for ``settle_s`` seconds: complete, as far as anyone can tell."""
        now = time.time() if now is None else now
        return self._rows("WHERE state = 'received' AND last_received <= ?", (now - settle_s,))

    def due_for_sending(self, now: float | None = None) -> list[Job]:
        now = time.time() if now is None else now
        return self._rows("WHERE state = 'done' AND next_send <= ?", (now,))

    def sent_uids(self, job_id: int, destination: str) -> set[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT sop_uid FROM sent WHERE job_id = ? AND destination = ?", (job_id, destination)
            ).fetchall()
        return {str(r[0]) for r in rows}

    def known_instances(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT path FROM instances").fetchall()}

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}
