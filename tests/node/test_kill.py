"""kill -9 of a node process during an analysis, then a restart: the series is analysed again and its results
are stored once (the longer runs with numbers: tools/node_reliability.py, docs/pacs.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from brainscan.pacs import Destination, send_files
from brainscan.storage.jobs import JobStore
from tests.dicom_factory import write_phantom_series
from tests.pacs.faulty_pacs import FaultyPacs
from tests.pacs_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def start(folder: Path, port: int, pacs: Destination, delay: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.node.fake_node", "--dir", str(folder), "--port", str(port),
               "--send-to", str(pacs), "--settle", "0.5", "--delay", str(delay)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().startswith("READY")
    return process


def jobs(folder: Path):
    if not (folder / "jobs.sqlite").exists():
        return []
    store = JobStore(folder / "jobs.sqlite", readonly=True)
    try:
        return store.jobs()
    finally:
        store.close()


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_kill_during_analysis_then_restart(tmp_path):
    write_phantom_series(tmp_path / "series", n=8)
    counts: dict[str, int] = {}

    class Counting(FaultyPacs):
        def _on_store(self, event):
            uid = str(event.dataset.SOPInstanceUID)
            counts[uid] = counts.get(uid, 0) + 1
            return super()._on_store(event)

    pacs = Counting()
    destination = pacs.start()
    folder, port = tmp_path / "node", free_port()
    node = start(folder, port, destination, delay=30.0)
    try:
        send_files([tmp_path / "series"], Destination("BRAINSCAN", "127.0.0.1", port), timeout=10)
        wait_for(lambda: [j.state for j in jobs(folder)] == ["analysing"])
        os.kill(node.pid, signal.SIGKILL)
        node.wait()
        node = start(folder, port, destination, delay=0.0)
        wait_for(lambda: [j.state for j in jobs(folder)] == ["sent"])
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(30)
        pacs.stop()
    (job,) = jobs(folder)
    assert (job.n_instances, job.analyses) == (8, 2)
    assert len(counts) == 2 and set(counts.values()) == {1}
