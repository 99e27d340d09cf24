"""Study history in SQLite (stdlib sqlite3)."""
