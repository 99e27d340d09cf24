"""Study history over stdlib sqlite3.

Why these choices: WAL journaling lets the GUI read the history while the worker writes a study, and a
process killed mid-write leaves the last committed state intact (SQLite's atomic commit). Every write is
one transaction. The schema version lives in ``PRAGMA user_version`` and migrations run in order, each in
its own transaction. Connections are per thread (sqlite3 objects must not cross threads).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path

from brainscan.errors import StorageError
from brainscan.presentation import headline
from brainscan.text import unicode_safe
from brainscan.types import CANNOT_ASSESS, NOT_ASSESSED, StudyMeta, StudyRecord

log = logging.getLogger(__name__)

MIGRATIONS: tuple[str, ...] = (
    # 1: the studies table
    """
    CREATE TABLE studies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        source_path TEXT NOT NULL,
        series_uid TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        patient_name TEXT NOT NULL DEFAULT '',
        patient_id TEXT NOT NULL DEFAULT '',
        patient_birth_date TEXT NOT NULL DEFAULT '',
        study_date TEXT NOT NULL DEFAULT '',
        study_uid TEXT NOT NULL DEFAULT '',
        verdict_label TEXT NOT NULL,
        tumour INTEGER NOT NULL,
        tumour_probability REAL NOT NULL,
        probabilities TEXT NOT NULL,
        volume_ml REAL,
        longest_diameter_mm REAL,
        models TEXT NOT NULL DEFAULT '[]',
        thumbnail_png BLOB,
        result_json TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: indexes for the history panel's sort and patient filter
    """
    CREATE INDEX studies_created_at ON studies(created_at);
    CREATE INDEX studies_patient_id ON studies(patient_id);
    """,
    # 3: the exact bytes of the source path, so a folder whose name is not valid UTF-8 (source_path then shows
    # U+FFFD) can still be reopened from the history
    """
    ALTER TABLE studies ADD COLUMN source_path_bytes BLOB;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
COLUMNS = (
    "created_at", "source_path", "series_uid", "description", "patient_name", "patient_id", "patient_birth_date",
    "study_date", "study_uid", "verdict_label", "tumour", "tumour_probability", "probabilities", "volume_ml",
    "longest_diameter_mm", "models", "thumbnail_png", "result_json", "source_path_bytes",
)  # fmt: skip
"""The columns a StudyRecord fills (every column but ``id``), in the order of ``_values``."""


def _values(record: StudyRecord) -> tuple:
    created = record.created_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    # "cannot assess" has no probability; the column predates that verdict and is NOT NULL, so 0.0 is stored
    # and read back as None (see to_record)
    probability = float(record.tumour_probability) if record.tumour_probability is not None else 0.0
    values = (
        created, record.source_path, record.series_uid, record.description,
        record.meta.patient_name, record.meta.patient_id, record.meta.patient_birth_date,
        record.meta.study_date, record.meta.study_uid, record.verdict_label, int(record.tumour),
        probability, json.dumps(record.probabilities), record.volume_ml,
        record.longest_diameter_mm, json.dumps(list(record.models)), record.thumbnail_png, record.result_json,
    )  # fmt: skip
    safe = tuple(unicode_safe(v) if isinstance(v, str) else v for v in values)  # undecodable folder-name bytes
    return (*safe, path_bytes(record.source_path))


def path_bytes(path: str) -> bytes | None:
    """The path's own bytes when its text had to change to be stored (a name that is not valid UTF-8), else None."""
    return os.fsencode(path) if unicode_safe(path) != path else None


class HistoryStore:
    """The history database at ``path`` (created and migrated on first use)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self.moved_aside: Path | None = None
        """Where an unreadable history was moved before a new one was started (None when it was readable)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._open_checked()
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                self.close()
                self.moved_aside = move_aside(self.path)
                log.error("history %s is damaged (%s); moved to %s", self.path, exc, self.moved_aside)
                self._open_checked()
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"The study history at {self.path} could not be opened ({exc}).") from exc

    def _open_checked(self) -> None:
        """Open (creating it if needed), check and migrate; sqlite3.DatabaseError when the file is damaged."""
        conn = self._connection()
        make_private(self.path)
        problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(f"database disk image is malformed: {'; '.join(problems[:3])}")
        migrate(conn)

    @property
    def damage_message(self) -> str:
        """What to tell the user when the history had to be moved aside ('' when it did not)."""
        if self.moved_aside is None:
            return ""
        return (
            f"The study history could not be read (the file is damaged). It was moved to {self.moved_aside} "
            "and kept there unchanged; a new, empty history was started. Your earlier studies are in that file."
        )

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.create_function("verdict_words", 2, verdict_words, deterministic=True)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def add(self, record: StudyRecord) -> int:
        """Insert a study in one transaction and return its id (``save`` replaces an earlier analysis instead).

        Raises:
            StorageError: when the database cannot be written (disk full, locked, read-only).
        """
        try:
            conn = self._connection()
            with transaction(conn):
                return self._insert(conn, record)
        except sqlite3.Error as exc:
            raise StorageError(f"The study could not be saved to the history ({exc}).") from exc

    @staticmethod
    def _insert(conn: sqlite3.Connection, record: StudyRecord) -> int:
        marks = ",".join("?" * len(COLUMNS))
        cursor = conn.execute(f"INSERT INTO studies ({', '.join(COLUMNS)}) VALUES ({marks})", _values(record))
        return int(cursor.lastrowid)

    def save(self, record: StudyRecord) -> int:
        """Store an analysis: a series analysed again (same series UID and source path) replaces its row and
        keeps its id, so analysing again never lists one series twice; a new series gets a new row.

        Raises:
            StorageError: when the database cannot be written.
        """
        try:
            conn = self._connection()
            with transaction(conn):
                found = conn.execute(
                    "SELECT id FROM studies WHERE series_uid = ? AND source_path = ? "
                    "AND coalesce(source_path_bytes, x'') = ? ORDER BY id DESC LIMIT 1",
                    (unicode_safe(record.series_uid), unicode_safe(record.source_path),
                     path_bytes(record.source_path) or b""),
                ).fetchone()  # fmt: skip
                if found is None:
                    return self._insert(conn, record)
                assignments = ", ".join(f"{column} = ?" for column in COLUMNS)
                conn.execute(f"UPDATE studies SET {assignments} WHERE id = ?", (*_values(record), found["id"]))
                return int(found["id"])
        except sqlite3.Error as exc:
            raise StorageError(f"The study could not be saved to the history ({exc}).") from exc

    def get(self, study_id: int) -> StudyRecord | None:
        rows = self._query("SELECT * FROM studies WHERE id = ?", (study_id,))
        return rows[0] if rows else None

    def list(self, search: str = "", tumour: bool | None = None, limit: int = 1000) -> list[StudyRecord]:
        """Newest first; ``search`` matches patient name/ID, description, path, the verdict label or the verdict
        as the history table words it ("Tumour suspected: Glioma", "No tumour found", see ``verdict_words``)."""
        clauses, params = [], []
        if search:
            like = f"%{escape_like(search)}%"
            clauses.append(
                "(patient_name LIKE ? ESCAPE '\\' OR patient_id LIKE ? ESCAPE '\\' OR description LIKE ? "
                "ESCAPE '\\' OR source_path LIKE ? ESCAPE '\\' OR verdict_label LIKE ? ESCAPE '\\' "
                "OR verdict_words(tumour, verdict_label) LIKE ? ESCAPE '\\')"
            )
            params += [like] * 6
        if tumour is not None:
            clauses.append("tumour = ?")
            params.append(int(tumour))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._query(f"SELECT * FROM studies {where} ORDER BY created_at DESC, id DESC LIMIT ?", (*params, limit))

    def patient_studies(self, meta: StudyMeta, limit: int = 500) -> list[StudyRecord]:
        """Studies that may belong to the patient of ``meta`` (same patient ID or same birth date), newest first:
        the candidates brainscan.followup.same_patient decides on."""
        if not meta.patient_id.strip() and not meta.patient_birth_date.strip():
            return []
        return self._query(
            "SELECT * FROM studies WHERE (patient_id != '' AND patient_id = ?) "
            "OR (patient_birth_date != '' AND patient_birth_date = ?) ORDER BY created_at DESC, id DESC LIMIT ?",
            (meta.patient_id.strip(), meta.patient_birth_date.strip(), limit),
        )

    def delete(self, study_id: int) -> bool:
        try:
            conn = self._connection()
            with transaction(conn):
                cursor = conn.execute("DELETE FROM studies WHERE id = ?", (study_id,))
            return cursor.rowcount > 0
        except sqlite3.Error as exc:
            raise StorageError(f"The study could not be deleted ({exc}).") from exc

    def count(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM studies").fetchone()[0])

    def _query(self, sql: str, params: tuple) -> list[StudyRecord]:
        try:
            return [to_record(row) for row in self._connection().execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise StorageError(f"The study history could not be read ({exc}).") from exc


def verdict_words(tumour, label) -> str:
    """The verdict of a row in the words the history table shows (brainscan.presentation.headline's title,
    without the cautions only the stored result knows), so that searching "suspected" or "No tumour" finds it."""
    label = str(label or "")
    unassessed = "cannot assess" if label in (CANNOT_ASSESS, NOT_ASSESSED) else ""
    return headline(bool(tumour), label, None, cannot_assess=unassessed).title


def escape_like(text: str) -> str:
    """``text`` for a LIKE pattern with ESCAPE '\\': its own %, _ and \\ match literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


PRIVATE_FILE = 0o600
CORRUPTION_MARKERS = ("malformed", "not a database", "file is encrypted", "database corrupt")


def make_private(path: Path) -> None:
    """Make the database file (and its WAL files) readable by its owner only: it holds patient names and results.

    Only ``chmod`` by name, never ``open``: on POSIX, closing any descriptor of a file drops every lock the process
    holds on it, including SQLite's, and another process may then checkpoint and delete the WAL under a live
    connection (SQLite's "How To Corrupt An SQLite Database File", 2.2). SQLite creates the file itself and
    gives the -wal and -shm files the database's permissions.
    """
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if name.exists() and name.stat().st_mode & 0o077:
                os.chmod(name, PRIVATE_FILE)
        except OSError:
            pass  # not ours to change (another owner); the data folder is private all the same


def is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True when SQLite says the file itself is damaged or is not a database (not: locked, read-only, full)."""
    return any(marker in str(exc).lower() for marker in CORRUPTION_MARKERS)


def move_aside(path: Path) -> Path:
    """Rename a damaged database (with its -wal/-shm, which may hold committed rows) to ``NAME.damaged-STAMP``,
    so nothing is lost and a new history can start; return the new name of the database file."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
    for suffix in ("-wal", "-shm", ""):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    return target


class transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply pending migrations up to ``target``, each with its version bump in one transaction.

    Raises:
        StorageError: when the database is newer than this BrainScan.
    """
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > SCHEMA_VERSION:
        raise StorageError(
            f"The study history was written by a newer BrainScan (schema {current} > {SCHEMA_VERSION}); "
            "update BrainScan to open it."
        )
    for version in range(current + 1, target + 1):
        with transaction(conn):
            for statement in MIGRATIONS[version - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
    return target


def to_record(row: sqlite3.Row) -> StudyRecord:
    return StudyRecord(
        id=row["id"],
        created_at=row["created_at"],
        source_path=os.fsdecode(row["source_path_bytes"]) if row["source_path_bytes"] else row["source_path"],
        series_uid=row["series_uid"],
        description=row["description"],
        meta=StudyMeta(
            patient_name=row["patient_name"],
            patient_id=row["patient_id"],
            patient_birth_date=row["patient_birth_date"],
            study_date=row["study_date"],
            study_uid=row["study_uid"],
        ),
        verdict_label=row["verdict_label"],
        tumour=bool(row["tumour"]),
        tumour_probability=None if row["verdict_label"] == CANNOT_ASSESS else row["tumour_probability"],
        probabilities=json.loads(row["probabilities"]),
        volume_ml=row["volume_ml"],
        longest_diameter_mm=row["longest_diameter_mm"],
        models=tuple(json.loads(row["models"])),
        thumbnail_png=row["thumbnail_png"] or b"",
        result_json=row["result_json"],
    )


def default_history_path() -> Path:
    """``history.sqlite`` in the per-user data folder (``BRAINSCAN_HOME`` overrides it)."""
    from brainscan.config import user_home

    return user_home() / "history.sqlite"
