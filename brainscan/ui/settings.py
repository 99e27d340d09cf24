"""QSettings for the app, kept as ``settings.ini`` in the per-user data folder beside the history.

One folder for everything BrainScan writes (``BRAINSCAN_HOME`` or the platformdirs data folder): easy to
back up or remove, and the frozen app writes nowhere else.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from brainscan.config import user_home

ORGANISATION = APPLICATION = "BrainScan"
MAX_RECENT = 10


def app_settings() -> QSettings:
    """The per-user settings file (tests set ``BRAINSCAN_HOME``, so they never touch a user's settings)."""
    return QSettings(str(user_home() / "settings.ini"), QSettings.Format.IniFormat)


def recent_paths(settings: QSettings) -> list[str]:
    value = settings.value("recent", [])
    if isinstance(value, str):
        value = [value] if value else []
    return [str(v) for v in (value or [])]


def add_recent(settings: QSettings, path: str) -> list[str]:
    items = [path] + [p for p in recent_paths(settings) if p != path]
    settings.setValue("recent", items[:MAX_RECENT])
    return items[:MAX_RECENT]
