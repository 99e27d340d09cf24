"""The app and `brainscan analyze` sharing one history: two real processes, alternately and at once, and kill -9.

The app holds one long-lived store (the history panel) and saves each result through the worker's own store in
the same process. Before the fix, making that second store opened and closed the database file outside SQLite,
which on POSIX drops every lock the process holds on it, so `brainscan analyze` in another process could
checkpoint and delete the WAL under the app: "database disk image is malformed" and a lost history (issue 27).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from brainscan.storage.history import HistoryStore
from tests.dicom_factory import write_phantom_series

ROOT = Path(__file__).resolve().parents[2]

# The app side: the main window's store stays open (and reads), each save goes through the worker's _save.
APP_SIDE = textwrap.dedent(
    f"""
    import dataclasses, itertools, os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    sys.path.insert(0, {str(ROOT)!r})
    from pathlib import Path
    from brainscan.storage.history import HistoryStore
    from brainscan.ui.worker import AnalysisWorker
    from tests.storage.test_history import record

    path = Path(sys.argv[1])
    window_store = HistoryStore(path)
    worker = AnalysisWorker(history_path=path)
    numbers = itertools.count(1)

    def record_named(name):  # a new series each time (saving the same series again replaces its row)
        return dataclasses.replace(record(name), series_uid=f"2.25.{{next(numbers)}}")

    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "save":
            for _ in range(int(command[1])):
                worker._save(record_named(f"App^{{command[2]}}"))
                window_store.list(limit=100_000)
            print("saved", len(window_store.list(limit=100_000)), flush=True)
        elif command[0] == "loop":
            number = 0
            while True:
                number += 1
                worker._save(record_named(f"App^Loop{{number}}"))
                window_store.list(limit=100_000)
                print("saved", number, flush=True)
    """
)


def start_app_side(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", APP_SIDE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def ask(proc: subprocess.Popen, command: str) -> str:
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def brainscan_analyze(series: Path, home: Path) -> subprocess.Popen:
    """The real command line, with its real models, in its own process."""
    env = {**os.environ, "BRAINSCAN_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [sys.executable, "-m", "brainscan", "analyze", str(series), "--quiet"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def check_intact(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = HistoryStore(path)
    try:
        assert store.moved_aside is None
        return [r.meta.patient_name for r in store.list(limit=100_000)]
    finally:
        store.close()


@pytest.mark.slow
def test_app_and_analyze_alternately_and_at_once_lose_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    path = home / "history.sqlite"
    series = [tmp_path / f"study{i}" for i in range(3)]
    for folder in series:
        write_phantom_series(folder, n=4)
    app = start_app_side(path)
    try:
        assert ask(app, "save 2 first") == "saved 2"
        for number, folder in enumerate(series[:2]):  # alternately: CLI, then the app again
            cli = brainscan_analyze(folder, home)
            out, err = cli.communicate(timeout=180)
            assert cli.returncode == 0, err
            assert ask(app, f"save 1 after{number}") == f"saved {3 + 2 * number + 1}"
        cli = brainscan_analyze(series[2], home)  # at once: the app saves while the CLI runs and saves
        reply = ask(app, "save 40 during")
        out, err = cli.communicate(timeout=180)
        assert cli.returncode == 0, err
        assert reply.startswith("saved ")
        assert ask(app, "save 1 last").startswith("saved ")
    finally:
        app.stdin.close()
        app.wait(timeout=30)
    names = check_intact(path)
    assert names.count("App^first") == 2 and names.count("App^during") == 40 and names.count("App^last") == 1
    assert sum(name.startswith("App^after") for name in names) == 2
    assert len(names) == 2 + 2 + 40 + 1 + 3  # three CLI studies, none lost


@pytest.mark.slow
def test_app_killed_mid_write_while_analyze_writes(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    path = home / "history.sqlite"
    folder = tmp_path / "study"
    write_phantom_series(folder, n=4)
    app = start_app_side(path)
    app.stdin.write("loop\n")
    app.stdin.flush()
    assert app.stdout.readline().startswith("saved")
    cli = brainscan_analyze(folder, home)
    time.sleep(1.0)
    app.send_signal(signal.SIGKILL)
    app.wait(timeout=10)
    out, err = cli.communicate(timeout=180)
    assert cli.returncode == 0, err
    names = check_intact(path)
    assert any(name.startswith("App^Loop") for name in names)
    assert sum(not name.startswith("App^") for name in names) == 1  # the CLI's study survived the kill


def test_a_damaged_history_is_moved_aside_with_a_message_never_emptied(tmp_path):
    path = tmp_path / "history.sqlite"
    store = HistoryStore(path)
    store.close()
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # the first page's b-tree header: what a lost WAL or a bad disk leaves
    path.write_bytes(bytes(raw))
    damaged = bytes(raw)
    store = HistoryStore(path)
    assert store.moved_aside is not None and store.moved_aside.read_bytes() == damaged  # kept unchanged
    assert str(store.moved_aside) in store.damage_message and "damaged" in store.damage_message
    assert store.count() == 0  # a new history, the old file beside it
    assert json.loads(json.dumps(store.damage_message))
    store.close()
    again = HistoryStore(path)
    assert again.moved_aside is None  # the new one is fine


def test_the_history_file_is_private_and_never_opened_outside_sqlite(tmp_path, monkeypatch):
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda p, *a, **k: opened.append(p) or real_open(p, *a, **k))
    path = tmp_path / "history.sqlite"
    first = HistoryStore(path)
    first.count()
    HistoryStore(path).close()
    assert not [p for p in opened if "history.sqlite" in str(p)]
    assert path.stat().st_mode & 0o777 == 0o600
