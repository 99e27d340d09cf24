"""Study history in SQLite (stdlib sqlite3)."""

from brainscan.storage.history import HistoryStore, default_history_path

__all__ = ["HistoryStore", "default_history_path"]
