"""QSettings for the app (organisation "BrainScan"); ``BRAINSCAN_HOME`` keeps them beside the history."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANISATION = APPLICATION = "BrainScan"
MAX_RECENT = 10


def app_settings() -> QSettings:
    """The per-user settings: native store, or ``settings.ini`` in ``BRAINSCAN_HOME`` when that is set
    (tests and portable installs never touch the user's real settings)."""
    home = os.environ.get("BRAINSCAN_HOME")
    if home:
        return QSettings(str(Path(home) / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def recent_paths(settings: QSettings) -> list[str]:
    value = settings.value("recent", [])
    if isinstance(value, str):
        value = [value] if value else []
    return [str(v) for v in (value or [])]


def add_recent(settings: QSettings, path: str) -> list[str]:
    items = [path] + [p for p in recent_paths(settings) if p != path]
    settings.setValue("recent", items[:MAX_RECENT])
    return items[:MAX_RECENT]
