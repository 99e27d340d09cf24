"""QSettings for the app, kept as ``settings.ini`` in the per-user data folder beside the history.

One folder for everything BrainScan writes (``BRAINSCAN_HOME`` or the platformdirs data folder): easy to
back up or remove, and the frozen app writes nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

from brainscan.config import user_home

ORGANISATION = APPLICATION = "BrainScan"
MAX_RECENT = 10
PRIVATE_FILE = 0o600


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists readable and writable by its owner only (it names recent studies and folders).
    QSettings keeps an existing file's permissions when it rewrites it, so creating it first is enough."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    if os.name == "posix" and path.stat().st_mode & 0o777 != PRIVATE_FILE:
        os.chmod(path, PRIVATE_FILE)
    return path


def app_settings() -> QSettings:
    """The per-user settings file (tests set ``BRAINSCAN_HOME``, so they never touch a user's settings)."""
    return QSettings(str(private_file(user_home() / "settings.ini")), QSettings.Format.IniFormat)


def recent_paths(settings: QSettings) -> list[str]:
    value = settings.value("recent", [])
    if isinstance(value, str):
        value = [value] if value else []
    return [str(v) for v in (value or [])]


def add_recent(settings: QSettings, path: str) -> list[str]:
    items = [path] + [p for p in recent_paths(settings) if p != path]
    settings.setValue("recent", items[:MAX_RECENT])
    return items[:MAX_RECENT]


def export_folder(settings: QSettings) -> str:
    """Where Export PDF / Export DICOM start: the folder last exported to when it still exists, else the user's
    Documents folder (never the source images' folder: often read-only media or a PACS cache)."""
    from PySide6.QtCore import QStandardPaths

    last = str(settings.value("export_folder", "") or "")
    if last and Path(last).is_dir():
        return last
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return documents if documents and Path(documents).is_dir() else str(Path.home())


def remember_export_folder(settings: QSettings, folder: Path) -> None:
    settings.setValue("export_folder", str(folder))
