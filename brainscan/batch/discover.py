"""Which series a batch analyses, and the content key that tells a rerun which ones are already done.

Discovery is `brainscan info`'s header-only scan (brainscan.io.scan.scan): once per ROOT, or once per line of a
``--from-list`` file (one series folder or file per line). Nothing is decoded here; workers load the pixels.

A content key is SHA-256 over what identifies a series' content:

- DICOM: the kind, the SeriesInstanceUID, and every file's path relative to the series' folder with its size
  (cheap: one ``stat`` per file, no pixel read). A series that gains, loses or changes the size of a file gets
  a new key and is analysed again; the same series copied elsewhere keeps its key.
- NIfTI files and image folders, which carry no UID: the kind and SHA-256 of each file's bytes, with its
  relative name.

A path that holds no readable series becomes a task with its error (a failed row in the table), keyed by its
absolute path, so it is reported once, not on every rerun.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from brainscan.errors import BrainScanError
from brainscan.io.scan import scan
from brainscan.types import SeriesInfo


@dataclass(frozen=True)
class Task:
    """One unit of work: a series found by the scan (``info``), or a path that held none (``error``)."""

    key: str
    path: str
    info: SeriesInfo | None
    error: str = ""
    error_type: str = ""


def series_folder(info: SeriesInfo) -> Path:
    """The folder holding all of a series' files (their common parent)."""
    parents = {str(Path(f).parent) for f in info.files} or {str(Path(info.source))}
    return Path(os.path.commonpath(sorted(parents)))


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    return digest.hexdigest()


def content_key(info: SeriesInfo) -> str:
    """The series' content key (module docstring): 64 hex digits."""
    base = series_folder(info)
    digest = hashlib.sha256(f"{info.kind}\0{info.series_uid if info.kind == 'dicom' else ''}\0".encode())
    for file in sorted(info.files, key=str):
        name = os.path.relpath(file, base)
        if info.kind == "dicom":
            try:
                size = str(os.stat(file).st_size)
            except OSError as exc:
                size = f"unreadable:{exc.errno}"
            digest.update(f"{name}\0{size}\n".encode("utf-8", "surrogateescape"))
        else:
            digest.update(f"{name}\0{_file_digest(Path(file))}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def path_key(path: Path) -> str:
    """The key of a path that held no readable series."""
    return hashlib.sha256(f"nothing-found\0{Path(path).absolute()}".encode("utf-8", "surrogateescape")).hexdigest()


def _own_skipped(info: SeriesInfo, folder: Path) -> SeriesInfo:
    """``scan`` lists every file it skipped on every series it found; over an archive that is thousands of
    unrelated files per series. Keep those in the series' own folder."""
    own = tuple(s for s in info.skipped if Path(s.path).parent == folder)
    return replace(info, skipped=own) if len(own) != len(info.skipped) else info


def read_list(path: Path) -> list[Path]:
    """The paths of a ``--from-list`` file: one per line; blank lines and lines starting with # are ignored.

    Raises:
        OSError: when the file cannot be read.
    """
    lines = Path(path).read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    return [Path(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def discover(roots: list[Path], listed: list[Path] = ()) -> list[Task]:
    """Tasks for every series under ``roots`` and in ``listed``, in scan order; a series found twice (the same
    content key) is kept once."""
    tasks: list[Task] = []
    seen: set[str] = set()
    for path in [*roots, *listed]:
        try:
            found = scan([path])
        except BrainScanError as exc:
            found, error = [], exc
        else:
            error = None
        if error is not None:
            task = Task(path_key(path), str(path), None, str(error), type(error).__name__)
            if task.key not in seen:
                seen.add(task.key)
                tasks.append(task)
            continue
        for info in found:
            info = _own_skipped(info, series_folder(info))
            key = content_key(info)
            if key not in seen:
                seen.add(key)
                tasks.append(Task(key, str(info.source), info))
    return tasks
