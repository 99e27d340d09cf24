"""Study history in SQLite (stdlib sqlite3)."""

from brainscan.storage.history import HistoryStore

__all__ = ["HistoryStore"]
