"""The batch's results: a journal that survives a kill, and the table written from it.

- ``Journal`` (``OUT/batch.sqlite``): one row per finished series, keyed by its content key, committed as each
  result arrives (SQLite in WAL mode; the coordinator is its one writer). A ``kill -9`` loses at most the
  series in flight: a committed row survives, a half-written one does not exist. A rerun reads which keys are
  done from here.
- The table (``OUT/results.parquet`` and ``OUT/results.csv``): every journal row, sorted by path and key,
  rewritten now and then during a run and at its end. Each file is written beside its final name and renamed
  into place, so a reader (or a kill) sees the previous table or the new one, never half of one. Parquet
  needs pyarrow (the ``[batch]`` extra); without it only the CSV is written.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from brainscan.atomic import replace_atomically

COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "string"),  # content key (brainscan.batch.discover)
    ("path", "string"),  # the series' folder or file; "(removed)" with --deidentify
    ("kind", "string"),  # dicom, nifti, images
    ("description", "string"),
    ("patient_id", "string"),  # empty with --deidentify
    ("study_uid", "string"),  # empty with --deidentify
    ("series_uid", "string"),  # empty with --deidentify
    ("study_code", "string"),  # BS- and 8 hex digits (brainscan.presentation.study_code)
    ("slices", "int"),
    ("assessment", "string"),  # tumour, no_tumour, limited, cannot_assess (the headline's state)
    ("verdict", "string"),  # tumour, no tumour, cannot assess
    ("tumour_type", "string"),  # glioma, meningioma, pituitary when the verdict is tumour
    ("tumour_probability", "float"),  # the series P(tumour)
    ("volume_ml", "float"),
    ("slices_assessed", "int"),
    ("positive_slices", "int"),
    ("cautions", "int"),  # how many cautions limit the verdict (in the JSON with their text)
    ("classifier", "string"),  # model name and version
    ("segmenter", "string"),
    ("seconds", "float"),  # this series in its worker: load, analysis, outputs
    ("load_seconds", "float"),
    ("analysis_seconds", "float"),  # brainscan.pipeline.analyze alone
    ("error_type", "string"),  # empty when the series was analysed and written
    ("error", "string"),
    ("json", "string"),  # relative to the output folder
    ("pdf", "string"),
    ("dicom", "string"),
    ("worker", "string"),  # host:pid
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
RUN_DEPENDENT = ("seconds", "load_seconds", "analysis_seconds", "worker")
"""Columns that differ between two runs over the same series (timings, which worker); the rest must not."""

JOURNAL = "batch.sqlite"
PARQUET = "results.parquet"
CSV = "results.csv"


def normalise(row: dict) -> dict:
    """The row with exactly COLUMNS, typed (None for a missing number, "" for a missing text)."""
    out = {}
    for name, kind in COLUMNS:
        value = row.get(name)
        if kind == "string":
            out[name] = "" if value is None else str(value)
        elif value is None or value == "":
            out[name] = None
        else:
            out[name] = int(value) if kind == "int" else float(value)
    return out


class Journal:
    """The finished series of one output folder (module docstring)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS rows (key TEXT PRIMARY KEY, ok INTEGER, row TEXT NOT NULL)")
        self.db.commit()

    def done_keys(self, include_failed: bool = True) -> set[str]:
        query = "SELECT key FROM rows" + ("" if include_failed else " WHERE ok = 1")
        return {key for (key,) in self.db.execute(query)}

    def add(self, row: dict) -> None:
        row = normalise(row)
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO rows (key, ok, row) VALUES (?, ?, ?)",
                (row["key"], 0 if row["error_type"] else 1, json.dumps(row)),
            )

    def rows(self) -> list[dict]:
        """Every row, sorted by path then key (so two runs over the same series give the same order)."""
        rows = [normalise(json.loads(text)) for (text,) in self.db.execute("SELECT row FROM rows")]
        return sorted(rows, key=lambda r: (r["path"], r["key"]))

    def close(self) -> None:
        self.db.close()


def have_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def write_csv(rows: Iterable[dict], path: Path) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMN_NAMES)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})

    replace_atomically(path, write)


def write_parquet(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"string": pa.string(), "int": pa.int64(), "float": pa.float64()}
    schema = pa.schema([(name, types[kind]) for name, kind in COLUMNS])
    table = pa.Table.from_pylist(rows, schema=schema)
    replace_atomically(path, lambda tmp: pq.write_table(table, tmp))


def write_table(journal: Journal, out: Path, parquet: bool = True) -> list[dict]:
    """Write the table files from the journal; returns its rows."""
    rows = journal.rows()
    write_csv(rows, Path(out) / CSV)
    if parquet:
        write_parquet(rows, Path(out) / PARQUET)
    return rows


def read_csv(path: Path) -> list[dict]:
    """A results.csv back as typed rows (as ``normalise`` types them)."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return [normalise(row) for row in csv.DictReader(handle)]
