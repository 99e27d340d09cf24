"""``Node``: the DICOM node behind ``brainscan listen``. It receives series (storage SCP), analyses each one once
it is complete, writes its SEG and Encapsulated PDF, and with a destination stores them back.

Folder layout (``--dir``, default the per-user folder's ``node/``)::

    jobs.sqlite            the job table (brainscan.storage.jobs)
    incoming/<study>/<series>/<instance>.dcm   received images, each on disk before its C-STORE is answered
    results/<job id>/      the SEG and report of the job's latest analysis
    node.lock              held while a node runs on this folder (a second one is refused)

Threads: pynetdicom's receiving threads write files and record them; one worker thread analyses (one series at
a time: the CPU is the limit) and sends. A series is complete when no image of it arrived for ``settle_s``
seconds. Sending retries with exponential back-off (``retry_base_s`` doubling up to ``retry_max_s``) and
gives up after ``max_attempts`` with the reason; a stored object is recorded at once and never offered again,
and after a crash during a send the PACS is asked (C-FIND) which objects it already holds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from brainscan.errors import AnalysisCancelled, BrainScanError, PacsError
from brainscan.pacs import Destination
from brainscan.pacs.scp import MR_STORAGE, Received, StorageServer, file_name, write_file
from brainscan.storage.jobs import Job, JobStore

log = logging.getLogger(__name__)

DEFAULT_AET = "BRAINSCAN"
DEFAULT_PORT = 11112
DEFAULT_SETTLE_S = 10.0


class NodeError(BrainScanError):
    """The node cannot start (folder locked, port in use, job table unreadable)."""


def node_folder() -> Path:
    from brainscan.config import user_home

    return user_home() / "node"


class Node:
    """A receiving and analysing DICOM node; ``start()``, then ``stop()`` (or ``run()`` until interrupted).

    Args:
        folder: where files and the job table live.
        models: what analyses (``classifier``, ``segmenter``); a callable returning them is called once, in the
            worker, so the node answers the network before the models are loaded.
        allowed_callers: calling AE titles accepted; None accepts any (only sensible on localhost).
        send_to: where results go back (None: written only).
        history_path: the study history to save results in (None: not saved).
    """

    def __init__(
        self,
        folder: Path,
        models,
        *,
        ae_title: str = DEFAULT_AET,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        allowed_callers: list[str] | None = None,
        send_to: Destination | None = None,
        settle_s: float = DEFAULT_SETTLE_S,
        retry_base_s: float = 5.0,
        retry_max_s: float = 600.0,
        max_attempts: int = 10,
        send_timeout: float = 30.0,
        history_path: Path | None = None,
        poll_s: float = 0.2,
        on_change: Callable[[Job], None] | None = None,
    ):
        self.folder = Path(folder).absolute()
        self._models_source = models
        self.models = None
        self.ae_title, self.host, self.port = ae_title, host, port
        self.allowed_callers = allowed_callers
        self.send_to = send_to
        self.settle_s, self.poll_s = settle_s, poll_s
        self.retry_base_s, self.retry_max_s, self.max_attempts = retry_base_s, retry_max_s, max_attempts
        self.send_timeout = send_timeout
        self.history_path = history_path
        self.on_change = on_change
        self.incoming = self.folder / "incoming"
        self.results = self.folder / "results"
        self.store: JobStore | None = None
        self.server: StorageServer | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._lock_file = None

    # ---- life cycle -----------------------------------------------------------------------------------------
    def start(self) -> int:
        """Lock the folder, resume unfinished jobs, start receiving and the worker; returns the port.

        Raises:
            NodeError: when another node runs on this folder, or the job table cannot be opened.
            PacsError: when the port cannot be opened.
        """
        from brainscan.config import make_private_folder

        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private_folder(self.folder)
        self._lock_folder()
        try:
            self.store = JobStore(self.folder / "jobs.sqlite")
            for job in self.store.resume():
                log.warning("resuming job %d (%s): was %s", job.id, job.series_uid, job.state)
            self._reconcile()
            self.server = StorageServer(
                self.ae_title, self._on_received, host=self.host, port=self.port, sop_classes=MR_STORAGE,
                allowed_callers=self.allowed_callers,
            )  # fmt: skip
            self.port = self.server.start()
        except BaseException:
            self._release_folder()
            raise
        self._worker = threading.Thread(target=self._work, name="brainscan-node", daemon=True)
        self._worker.start()
        return self.port

    def stop(self, timeout: float = 30.0) -> None:
        """Stop receiving, let the worker end its current step (an analysis is cancelled), close the table."""
        self._stop.set()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None
        if self.store is not None:
            self.store.close()
            self.store = None
        self._release_folder()

    def run(self) -> None:
        """Block until interrupted (Ctrl+C, SIGTERM), then stop."""
        import signal

        def terminate(signum, frame):
            raise KeyboardInterrupt

        try:
            signal.signal(signal.SIGTERM, terminate)
        except ValueError:  # not the main thread
            pass
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            log.info("stopping")
        finally:
            self.stop()

    def _lock_folder(self) -> None:
        path = self.folder / "node.lock"
        handle = open(path, "a+")  # noqa: SIM115 - held for the node's life
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: no advisory lock; one node per folder is then up to the user
            pass
        except OSError as exc:
            handle.close()
            raise NodeError(
                f"Another BrainScan node is running on {self.folder}; stop it first, or give this one another --dir."
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def _release_folder(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # ---- receiving (pynetdicom's threads) -------------------------------------------------------------------
    def series_folder(self, study_uid: str, series_uid: str) -> Path:
        from brainscan.pacs.cache import series_folder

        return series_folder(study_uid, series_uid, self.incoming)

    def _on_received(self, received: Received) -> None:
        folder = self.series_folder(received.study_uid, received.series_uid)
        path = write_file(folder, file_name(received.sop_instance_uid), received.data, durable=True)
        self.store.record_instance(
            received.series_uid, received.study_uid, received.sop_instance_uid, received.calling_aet, path, folder
        )

    def _reconcile(self) -> None:
        """Files on disk that the table does not know (killed between the rename and the commit: their C-STORE was
        never answered) are recorded now; leftover temporary files are removed."""
        import pydicom

        if not self.incoming.exists():
            return
        known = self.store.known_instances()
        for path in sorted(self.incoming.rglob("*")):
            if not path.is_file():
                continue
            if path.name.startswith("."):
                path.unlink(missing_ok=True)
                continue
            if str(path) in known:
                continue
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                self.store.record_instance(
                    str(ds.SeriesInstanceUID), str(ds.StudyInstanceUID), str(ds.SOPInstanceUID), "", path, path.parent
                )
                log.warning("recorded %s, received before a crash", path)
            except Exception:  # noqa: BLE001 - an unreadable leftover is set aside, not fatal
                log.warning("unreadable leftover %s set aside", path, exc_info=True)
                path.rename(path.with_name("." + path.name + ".unreadable"))

    # ---- the worker -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        history = None
        try:
            if self.history_path is not None:
                from brainscan.storage import HistoryStore

                try:
                    history = HistoryStore(self.history_path)
                except BrainScanError as exc:
                    log.warning("results are not saved in the history: %s", exc)
            while not self._stop.is_set():
                busy = self._analyse_next(history) or self._send_next()
                if not busy:
                    self._stop.wait(self.poll_s)
        except Exception:  # noqa: BLE001 - logged; the node keeps receiving, a restart resumes
            log.exception("the node's worker stopped")
        finally:
            if history is not None:
                history.close()

    def _changed(self, job_id: int) -> None:
        if self.on_change is not None and self.store is not None:
            job = self.store.job(job_id)
            if job is not None:
                self.on_change(job)

    def _load_models(self):
        if self.models is None:
            source = self._models_source
            self.models = source() if callable(source) else source
        return self.models

    def _analyse_next(self, history) -> bool:
        from brainscan.node.analysis import analyse_series

        due = self.store.due_for_analysis(self.settle_s)
        if not due:
            return False
        job = due[0]
        n_at_start = self.store.start_analysis(job.id)
        if n_at_start is None:
            return True
        self._changed(job.id)
        out = self.results / str(job.id)
        try:
            models = self._load_models()
            result = analyse_series(Path(job.folder), models, out, history, should_cancel=self._stop.is_set)
        except AnalysisCancelled:
            self.store.set_state(job.id, "received", "the node stopped during the analysis; analysed again")
            return True
        except BrainScanError as exc:
            self.store.set_state(job.id, "failed", f"analysis: {exc}")
            self._changed(job.id)
            return True
        except Exception as exc:  # noqa: BLE001 - one bad series must not stop the node
            log.exception("analysis of job %d failed", job.id)
            self.store.set_state(job.id, "failed", f"analysis: unexpected {type(exc).__name__}: {exc}")
            self._changed(job.id)
            return True
        state = self.store.finish_analysis(job.id, n_at_start, result.summary, out)
        log.info("job %d %s: %s", job.id, state, result.summary)
        if state == "done" and self.send_to is None:
            pass  # written only: done is final
        self._changed(job.id)
        return True

    def _send_next(self) -> bool:
        if self.send_to is None:
            return False
        due = self.store.due_for_sending()
        if not due:
            return False
        self.send(due[0])
        return True

    def send(self, job: Job) -> None:
        """One send attempt for a done job: only objects not yet acknowledged; then sent, retry later, or failed."""
        from brainscan.pacs import send_files

        destination = str(self.send_to)
        files = sorted(Path(job.results).glob("*.dcm")) if job.results else []
        if not files:
            self.store.end_send(job.id, False, "the analysis wrote no result files", None)
            self._changed(job.id)
            return
        already = self.store.sent_uids(job.id, destination)
        pending = [(path, _instance_uid(path)) for path in files]
        pending = [(path, uid) for path, uid in pending if uid not in already]
        if job.send_interrupted and pending:
            pending = self._not_yet_stored(job, pending, destination)
        if not pending:
            self.store.end_send(job.id, True)
            self._changed(job.id)
            return
        self.store.begin_send(job.id)
        attempt = job.send_attempts + 1
        try:
            report = send_files(
                [path for path, _ in pending], self.send_to, calling_aet=self.ae_title, timeout=self.send_timeout,
                on_outcome=lambda outcome: outcome.ok and self.store.mark_sent(
                    job.id, outcome.sop_instance_uid, destination
                ),
            )  # fmt: skip
            failed = [f"{o.path.name}: {o.message}" for o in report.failed]
            reason = "; ".join(failed)
        except PacsError as exc:
            failed, reason = ["all"], str(exc)
        if not failed:
            self.store.end_send(job.id, True)
        elif attempt >= self.max_attempts:
            self.store.end_send(job.id, False, f"sending failed {attempt} times; last: {reason}", None)
        else:
            delay = min(self.retry_max_s, self.retry_base_s * 2 ** (attempt - 1))
            self.store.end_send(job.id, False, f"send attempt {attempt} failed, retry in {delay:g} s: {reason}",
                                time.time() + delay)  # fmt: skip
        self._changed(job.id)

    def _not_yet_stored(self, job: Job, pending, destination: str):
        """After a crash during a send: drop the objects the PACS already holds (they were stored, but the node
        died before recording it). Without an answer, send them: the same UIDs replace, never duplicate."""
        from brainscan.pacs.query import find_instances

        by_series: dict[tuple[str, str], list] = {}
        import pydicom

        for path, uid in pending:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            by_series.setdefault((str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)), []).append((path, uid))
        left = []
        for (study, series), items in by_series.items():
            try:
                held = find_instances(self.send_to, study, series, calling_aet=self.ae_title, timeout=self.send_timeout)
            except PacsError as exc:
                log.warning("could not ask %s what it holds (%s); sending", destination, exc)
                held = set()
            for path, uid in items:
                if uid in held:
                    self.store.mark_sent(job.id, uid, destination)
                else:
                    left.append((path, uid))
        return left


def _instance_uid(path: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
