"""The local cache of retrieved series: one folder, ``<cache>/<study UID>/<series UID>/<instance UID>.dcm``.

It holds patient images, so it lives in the private per-user folder (``BRAINSCAN_HOME``/pacs-cache, or
``BRAINSCAN_CACHE``). Its size is capped (``BRAINSCAN_CACHE_LIMIT_MB``, default 4096 MB): after each retrieve
the least recently used series are removed until it fits, never the series just retrieved. ``brainscan
cache --clear`` (``clear``) empties it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
from pathlib import Path

from brainscan.errors import PacsError

log = logging.getLogger(__name__)

DEFAULT_LIMIT_MB = 4096
STAMP = ".last-used"
_UID = re.compile(r"^[0-9.]{1,64}$")


def cache_root() -> Path:
    """The cache folder (created, private to this user)."""
    from brainscan.config import make_private_folder, user_home

    env = os.environ.get("BRAINSCAN_CACHE")
    root = Path(env) if env else user_home() / "pacs-cache"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    make_private_folder(root)
    return root


def limit_bytes() -> int:
    """The size limit in bytes (``BRAINSCAN_CACHE_LIMIT_MB``; 0 or less: no limit).

    Raises:
        PacsError: when the variable is not a number.
    """
    text = os.environ.get("BRAINSCAN_CACHE_LIMIT_MB", "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_LIMIT_MB
    except ValueError as exc:
        raise PacsError(f"BRAINSCAN_CACHE_LIMIT_MB='{text}' is not a number of megabytes.") from exc
    return int(megabytes * 1024 * 1024)


def _part(uid: str) -> str:
    uid = (uid or "").strip()
    if _UID.match(uid) and not uid.startswith("."):
        return uid
    return "h" + hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()[:32]


def series_folder(study_uid: str, series_uid: str, root: Path | None = None) -> Path:
    """Where a series is kept in the cache (not created)."""
    return (root or cache_root()) / _part(study_uid) / _part(series_uid)


def touch(folder: Path) -> None:
    """Mark a cached series as just used (for the least-recently-used order)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP).write_text(str(time.time()))


def cached_files(folder: Path) -> list[Path]:
    """The complete DICOM files of a cached series (no temporary files)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".dcm" and not p.name.startswith("."))


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _last_used(folder: Path) -> float:
    stamp = folder / STAMP
    try:
        return float(stamp.read_text())
    except (OSError, ValueError):
        return folder.stat().st_mtime


def series_folders(root: Path | None = None) -> list[Path]:
    root = root or cache_root()
    return [s for study in root.iterdir() if study.is_dir() for s in study.iterdir() if s.is_dir()]


def size(root: Path | None = None) -> int:
    """Bytes the cache holds."""
    root = root or cache_root()
    return _size(root) if root.exists() else 0


def enforce_limit(limit: int | None = None, keep: tuple[Path, ...] = (), root: Path | None = None) -> list[Path]:
    """Remove least recently used series until the cache fits ``limit`` bytes; never those in ``keep``.

    Returns:
        The series folders removed.
    """
    root = root or cache_root()
    limit = limit_bytes() if limit is None else limit
    if limit <= 0:
        return []
    keep_set = {Path(k).resolve() for k in keep}
    entries = [(s, _size(s)) for s in series_folders(root)]
    total = sum(n for _, n in entries)
    removed = []
    for folder, n in sorted(entries, key=lambda e: _last_used(e[0])):
        if total <= limit:
            break
        if folder.resolve() in keep_set:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= n
        removed.append(folder)
        log.info("cache: removed %s (%d bytes) to stay under %d bytes", folder, n, limit)
        try:
            folder.parent.rmdir()  # the study folder, when it was its last series
        except OSError:
            pass
    return removed


def clear(root: Path | None = None) -> tuple[int, int]:
    """Empty the cache; returns (series removed, bytes freed).

    Raises:
        PacsError: when something could not be removed.
    """
    root = root or cache_root()
    folders = series_folders(root) if root.exists() else []
    freed = size(root)
    failures = []
    for child in list(root.iterdir()) if root.exists() else []:
        try:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        except OSError as exc:
            failures.append(f"{child}: {exc.strerror or exc}")
    if failures:
        raise PacsError("The cache could not be cleared completely: " + "; ".join(failures[:3]))
    return len(folders), freed
