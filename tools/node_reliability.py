"""Reliability checks of the ``brainscan listen`` node (issue 28), with numbers for docs/pacs.md.

The node runs in its own process (``python -m tests.node.fake_node``: the real Node, fake models from
tests/fakes.py unless ``--real``), so it can be killed with SIGKILL; results go back to a pynetdicom PACS in this
process that counts every C-STORE per SOP instance UID (a real PACS would silently overwrite a duplicate, which
would hide it). Series are tiny synthetic phantoms (tests/dicom_factory.write_phantom_series, 8 slices of
64x64). Checks:

1. ``concurrent``: N series (default 20) pushed by 4 senders at once: every series received, analysed once,
   its results stored once.
2. ``kill-transfer``: kill -9 while a series arrives (after 3 of 8 images), restart, the sender sends the series
   again (as a modality retries): nothing lost, analysed once, stored once.
3. ``kill-analysis``: kill -9 while a series is analysed (slow fake classifier), restart: analysed again from the
   start, its results stored once.
4. ``kill-send``: kill -9 while the results are being stored (slow PACS), restart: the PACS is asked what it
   holds; nothing stored twice.
5. ``faults``: a malformed image, an unknown SOP class and a sender not in the list are refused with the right
   status while the node keeps answering.

    .venv/bin/python tools/node_reliability.py [--series 20] [--trials 3] [--json out.json] [--real]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pydicom  # noqa: E402
from pydicom.uid import MRImageStorage  # noqa: E402
from pynetdicom import AE  # noqa: E402

from brainscan.errors import PacsError  # noqa: E402
from brainscan.pacs import Destination, echo, send_files  # noqa: E402
from tests.dicom_factory import write_phantom_series  # noqa: E402
from tests.pacs.faulty_pacs import FaultyPacs  # noqa: E402
from tests.pacs_server import free_port  # noqa: E402


class CountingPacs(FaultyPacs):
    """Counts C-STOREs per SOP instance UID; ``store_delay`` s per store (to kill the node mid-send)."""

    def __init__(self, store_delay: float = 0.0):
        super().__init__()
        self.counts: dict[str, int] = {}
        self.store_delay = store_delay

    def _on_store(self, event):
        if self.store_delay:
            time.sleep(self.store_delay)
        uid = str(event.dataset.SOPInstanceUID)
        with self._lock:
            self.counts[uid] = self.counts.get(uid, 0) + 1
        return super()._on_store(event)

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.counts.values() if n > 1)


class NodeProcess:
    def __init__(self, folder: Path, pacs: Destination, real: bool, delay: float = 0.0, allow=None):
        self.folder, self.pacs, self.real, self.delay, self.allow = folder, pacs, real, delay, allow or []
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self, delay: float | None = None) -> Destination:
        command = [
            sys.executable,
            "-m",
            "tests.node.fake_node",
            "--dir",
            str(self.folder),
            "--port",
            str(self.port),
            "--send-to",
            str(self.pacs),
            "--settle",
            "1.0",
            "--delay",
            str(self.delay if delay is None else delay),
        ]
        command += ["--real"] if self.real else []
        for aet in self.allow:
            command += ["--allow", aet]
        log = open(self.folder.parent / f"{self.folder.name}.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"node did not start: {line!r}")
        return Destination("BRAINSCAN", "127.0.0.1", self.port)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def jobs(self) -> list[dict]:
        path = self.folder / "jobs.sqlite"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("SELECT * FROM jobs ORDER BY id")]
        except sqlite3.OperationalError:
            return []
        finally:
            db.close()

    def wait(self, predicate, timeout: float = 300.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs()
            if predicate(jobs):
                return jobs
            time.sleep(0.1)
        raise TimeoutError(f"node state not reached: {[(j['id'], j['state'], j['reason']) for j in self.jobs()]}")


def make_series(folder: Path, n: int) -> list[tuple[Path, str]]:
    out = []
    for k in range(n):
        uid, _ = write_phantom_series(folder / f"s{k:02d}", n=8, patient_name=f"Test^{k:02d}", patient_id=f"R-{k:02d}",
                                      study_uid=f"1.2.826.0.1.3680043.10.1.{k + 1}")  # fmt: skip
        out.append((folder / f"s{k:02d}", uid))
    return out


def all_sent(expected: int):
    return lambda jobs: len(jobs) == expected and all(j["state"] in ("sent", "failed") for j in jobs)


def summary(jobs, pacs: CountingPacs, series_count: int) -> dict:
    return {
        "series": series_count,
        "jobs": len(jobs),
        "lost": series_count - len(jobs),
        "sent": sum(j["state"] == "sent" for j in jobs),
        "failed": [j["reason"] for j in jobs if j["state"] == "failed"],
        "analyses_started": sorted({j["analyses"] for j in jobs}),
        "objects_stored": len(pacs.counts),
        "stored_twice": pacs.duplicates(),
    }


def check_concurrent(work: Path, n: int, real: bool) -> dict:
    series = make_series(work / "series", n)
    pacs = CountingPacs()
    node = NodeProcess(work / "node", pacs.start(), real)
    address = node.start()
    try:
        started = time.monotonic()
        failures = []

        def sender(index: int) -> None:
            for folder, _ in series[index::4]:
                try:
                    report = send_files([folder], address, calling_aet=f"SENDER{index}", timeout=30)
                    failures.extend(o.message for o in report.failed)
                except PacsError as exc:
                    failures.append(str(exc))

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        received_s = time.monotonic() - started
        jobs = node.wait(all_sent(n))
        result = summary(jobs, pacs, n)
        result.update(send_failures=failures, seconds_to_receive=round(received_s, 1),
                      seconds_to_all_sent=round(time.monotonic() - started, 1),
                      images_per_series=sorted({j["n_instances"] for j in jobs}))  # fmt: skip
        return result
    finally:
        node.stop()
        pacs.stop()


def send_slowly(folder: Path, address: Destination, stop_after: int | None, gap: float) -> int:
    """C-STORE the images one by one with a gap; returns how many were acknowledged before the node went away."""
    ae = AE(ae_title="SCANNER")
    ae.add_requested_context(MRImageStorage)
    assoc = ae.associate(address.host, address.port, ae_title=address.ae_title)
    if not assoc.is_established:
        return 0
    stored = 0
    try:
        for k, path in enumerate(sorted(folder.iterdir())):
            if stop_after is not None and k == stop_after:
                return stored
            try:
                status = assoc.send_c_store(pydicom.dcmread(path))
            except RuntimeError:  # the node is gone: the association ended
                return stored
            if status is None or "Status" not in status or int(status.Status) != 0:
                return stored
            stored += 1
            time.sleep(gap)
    finally:
        if assoc.is_established:
            assoc.release()
    return stored


def check_kill_transfer(work: Path, trials: int, real: bool) -> dict:
    outcomes = []
    for trial in range(trials):
        base = work / f"kill-transfer-{trial}"
        ((folder, uid),) = make_series(base / "series", 1)
        pacs = CountingPacs()
        node = NodeProcess(base / "node", pacs.start(), real)
        address = node.start()
        killer = threading.Timer(0.35 * 3 + 0.1, node.kill)  # after about 3 images
        killer.start()
        acknowledged = send_slowly(folder, address, None, 0.35)
        killer.join()
        address = node.start()
        send_files([folder], address, calling_aet="SCANNER", timeout=30)  # the modality sends the series again
        try:
            jobs = node.wait(all_sent(1))
            outcome = summary(jobs, pacs, 1)
            outcome.update(acknowledged_before_kill=acknowledged, images=jobs[0]["n_instances"])
            outcomes.append(outcome)
        finally:
            node.stop()
            pacs.stop()
    return _trials(outcomes)


def check_kill_analysis(work: Path, trials: int, real: bool) -> dict:
    outcomes = []
    for trial in range(trials):
        base = work / f"kill-analysis-{trial}"
        ((folder, _),) = make_series(base / "series", 1)
        pacs = CountingPacs()
        node = NodeProcess(base / "node", pacs.start(), real, delay=3.0)
        address = node.start()
        send_files([folder], address, timeout=30)
        node.wait(lambda jobs: jobs and jobs[0]["state"] == "analysing", 60)
        time.sleep(0.5)
        node.kill()
        killed_state = node.jobs()[0]["state"]
        node.start(delay=0.0)
        try:
            jobs = node.wait(all_sent(1))
            outcome = summary(jobs, pacs, 1)
            results = list((base / "node" / "results" / str(jobs[0]["id"])).glob("*.dcm"))
            outcome.update(state_when_killed=killed_state, result_files=len(results))
            outcomes.append(outcome)
        finally:
            node.stop()
            pacs.stop()
    return _trials(outcomes)


def check_kill_send(work: Path, trials: int, real: bool) -> dict:
    outcomes = []
    for trial in range(trials):
        base = work / f"kill-send-{trial}"
        ((folder, _),) = make_series(base / "series", 1)
        pacs = CountingPacs(store_delay=1.0)
        node = NodeProcess(base / "node", pacs.start(), real)
        address = node.start()
        send_files([folder], address, timeout=30)
        node.wait(lambda jobs: jobs and jobs[0]["sending"] == 1, 60)
        time.sleep(1.3)  # the first object is stored (1 s), the second is under way
        node.kill()
        stored_before = len(pacs.counts)
        pacs.store_delay = 0.0
        node.start()
        try:
            jobs = node.wait(all_sent(1))
            outcome = summary(jobs, pacs, 1)
            outcome.update(stored_before_kill=stored_before)
            outcomes.append(outcome)
        finally:
            node.stop()
            pacs.stop()
    return _trials(outcomes)


def check_faults(work: Path, real: bool) -> dict:
    base = work / "faults"
    ((folder, _),) = make_series(base / "series", 1)
    pacs = CountingPacs()
    node = NodeProcess(base / "node", pacs.start(), real, allow=["SCANNER"])
    address = node.start()
    out = {}
    try:
        good = sorted(folder.iterdir())[0]
        damaged = base / "damaged.dcm"
        damaged.write_bytes(good.read_bytes()[:-100])
        ae = AE(ae_title="SCANNER")
        ae.add_requested_context(MRImageStorage)
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.481.2")  # RT Dose: not an MR class
        assoc = ae.associate(address.host, address.port, ae_title=address.ae_title)
        out["malformed_status"] = f"0x{int(assoc.send_c_store(damaged).Status):04X}"
        rejected = [c for c in assoc.rejected_contexts if c.abstract_syntax == "1.2.840.10008.5.1.4.1.1.481.2"]
        out["unknown_sop_class"] = f"context rejected (result {rejected[0].result})" if rejected else "accepted"
        assoc.release()
        try:
            send_files([folder], address, calling_aet="INTRUDER", timeout=10)
            out["unlisted_sender"] = "accepted"
        except PacsError as exc:
            found = re.search(r"rejected the association: ([^(]*)", str(exc))
            out["unlisted_sender"] = "rejected: " + (found.group(1).strip() if found else str(exc))
        out["echo_after"] = f"{echo(address, calling_aet='SCANNER', timeout=10):.0f} ms"
        out["node_alive"] = node.process.poll() is None
        out["jobs_created"] = len(node.jobs())
    finally:
        node.stop()
        pacs.stop()
    return out


def _trials(outcomes: list[dict]) -> dict:
    keys = ("acknowledged_before_kill", "images", "state_when_killed", "result_files", "stored_before_kill")
    return {
        "per_trial": [{k: o[k] for k in keys if k in o} | {"analyses": o["analyses_started"]} for o in outcomes],
        "trials": len(outcomes),
        "lost": sum(o["lost"] for o in outcomes),
        "not_sent": sum(o["series"] - o["sent"] for o in outcomes),
        "stored_twice": sum(o["stored_twice"] for o in outcomes),
        "each": outcomes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--real", action="store_true", help="the shipped models (LiteRT) instead of the fakes")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    checks = {
        "concurrent": lambda w: check_concurrent(w, args.series, args.real),
        "kill-transfer": lambda w: check_kill_transfer(w, args.trials, args.real),
        "kill-analysis": lambda w: check_kill_analysis(w, args.trials, args.real),
        "kill-send": lambda w: check_kill_send(w, args.trials, args.real),
        "faults": lambda w: check_faults(w, args.real),
    }
    results = {"models": "shipped (LiteRT)" if args.real else "fake (tests/fakes.py)"}
    with tempfile.TemporaryDirectory() as tmp:
        for name, check in checks.items():
            if args.only and name not in args.only:
                continue
            started = time.monotonic()
            results[name] = check(Path(tmp) / name)
            results[name]["seconds"] = round(time.monotonic() - started, 1)
            print(name, json.dumps({k: v for k, v in results[name].items() if k != "each"}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    ok = all(
        not results[name].get("lost") and not results[name].get("stored_twice")
        for name in results if isinstance(results[name], dict)
    )  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
