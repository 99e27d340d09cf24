"""A real PACS for the tests: Orthanc (Debian package ``orthanc``), started on 127.0.0.1 with a generated
configuration in a temporary folder, on free ports, with BrainScan's AE titles registered as modalities (for
C-MOVE and for storing results back). Tests that need it skip, saying why, when the ``Orthanc`` binary is not
installed; ``BRAINSCAN_REQUIRE_ORTHANC=1`` (set by .ci/run) makes them fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from brainscan.pacs import Destination
from tests.pacs_server import free_port

ORTHANC_AET = "ORTHANC"


def orthanc_binary() -> str | None:
    return shutil.which("Orthanc") or next(
        (p for p in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc") if os.access(p, os.X_OK)), None
    )


def require_orthanc() -> str:
    binary = orthanc_binary()
    if binary is None:
        reason = "Orthanc is not installed (apt-get install orthanc); the real-PACS round trips are skipped"
        if os.environ.get("BRAINSCAN_REQUIRE_ORTHANC") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


class Orthanc:
    """A running Orthanc: ``destination`` for DICOM, ``rest(path)`` for its HTTP API (to look inside)."""

    def __init__(self, folder: Path, modalities: dict[str, tuple[str, int]]):
        self.folder = folder
        self.dicom_port, self.http_port = free_port(), free_port()
        self.destination = Destination(ORTHANC_AET, "127.0.0.1", self.dicom_port)
        config = {
            "Name": "BrainScanTestPACS",
            "StorageDirectory": str(folder / "db"),
            "IndexDirectory": str(folder / "db"),
            "StorageCompression": False,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": True,
            "DicomAet": ORTHANC_AET,
            "DicomPort": self.dicom_port,
            "DicomCheckCalledAet": True,
            "DicomCheckModalityHost": True,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": False,
            "UnknownSopClassAccepted": False,
            "DicomScuTimeout": 10,
            "DicomScpTimeout": 30,
            "DicomModalities": {
                name.lower(): {"AET": aet, "Host": "127.0.0.1", "Port": port}
                for name, (aet, port) in modalities.items()
            },
            "Plugins": [],
            "SaveJobs": False,
            "ConcurrentJobs": 2,
        }
        self.config_path = folder / "orthanc.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.process: subprocess.Popen | None = None

    def start(self, binary: str, wait_s: float = 30.0) -> None:
        log = open(self.folder / "orthanc.log", "w")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen([binary, str(self.config_path)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Orthanc exited at start:\n" + (self.folder / "orthanc.log").read_text()[-3000:])
            try:
                self.rest("/system")
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {wait_s:g} s")

    def rest(self, path: str, method: str = "GET", body: bytes | None = None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            data = response.read()
        return json.loads(data) if data else None

    def instances_of_study(self, study_uid: str) -> list[dict]:
        found = self.rest("/tools/find", "POST", json.dumps(
            {"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}, "Expand": True}
        ).encode())  # fmt: skip
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextmanager
def running_orthanc(folder: Path, modalities: dict[str, tuple[str, int]]):
    binary = require_orthanc()
    folder.mkdir(parents=True, exist_ok=True)
    orthanc = Orthanc(folder, modalities)
    orthanc.start(binary)
    try:
        yield orthanc
    finally:
        orthanc.stop()
