"""Retrieving one series from a PACS into a folder (by default the cache): C-GET, or C-MOVE to BrainScan's own
storage SCP where the PACS does not offer C-GET.

C-GET sends the images back over the association BrainScan opened, so nothing has to be configured on the
PACS beyond BrainScan's AE title. C-MOVE makes the PACS open a new connection to BrainScan: the PACS must know
BrainScan's AE title with this computer's address and the move port (``move_port``, default 11113), and
BrainScan listens there only while the retrieve runs. Every image is written completely (temporary name,
rename) before it is acknowledged; images of other series are refused.

Progress comes from the PACS's pending answers (``on_progress(done, total, message)``); ``should_cancel()``
is polled after each image and sends C-CANCEL. The outcome is a ``RetrieveReport``: complete, partial (some
images failed or did not arrive: both counts are given), or cancelled. Failures to connect, a rejected
association, a PACS that does not know BrainScan as a move destination and timeouts are ``PacsError``s.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from brainscan.errors import PacsError
from brainscan.pacs import cache
from brainscan.pacs.client import DEFAULT_TIMEOUT_S, _associate, _release, _resolve
from brainscan.pacs.destination import DEFAULT_CALLING_AET, Destination
from brainscan.pacs.scp import (
    READABLE_SYNTAXES,
    RETRIEVE_STORAGE,
    SOP_CLASS_MISMATCH,
    Received,
    Refused,
    StorageServer,
    file_name,
    store_handler,
    write_file,
)

log = logging.getLogger(__name__)

STUDY_GET = "1.2.840.10008.5.1.4.1.2.2.3"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
DEFAULT_MOVE_PORT = 11113
METHODS = ("get", "move")
PENDING = (0xFF00, 0xFF01)
CANCELLED = 0xFE00
WARNING = 0xB000
_FAILURES = {
    0xA701: "out of resources: the PACS could not count the images",
    0xA702: "out of resources: the PACS could not send the images",
    0xA801: "the PACS does not know the move destination",
    0xA900: "the PACS did not understand the request",
    0xAA00: "none of the images could be sent in a format BrainScan accepts",
    0xC000: "the PACS could not process the request",
}


@dataclass
class RetrieveReport:
    """What a retrieve brought: the folder, the files written, and how complete it is."""

    folder: Path
    method: str
    expected: int | None = None
    files: list[Path] = field(default_factory=list)
    failed: int = 0  # images the PACS says it could not send
    warnings: int = 0
    refused: list[str] = field(default_factory=list)  # images BrainScan refused, with why
    cancelled: bool = False
    from_cache: bool = False

    @property
    def received(self) -> int:
        return len(self.files)

    @property
    def complete(self) -> bool:
        return (
            not self.cancelled
            and self.failed == 0
            and not self.refused
            and self.received > 0
            and (self.expected is None or self.received >= self.expected)
        )

    def summary(self) -> str:
        of = f" of {self.expected}" if self.expected is not None else ""
        if self.from_cache:
            return f"{self.received} image(s) already in the cache ({self.folder})"
        if self.cancelled:
            return f"Retrieve cancelled after {self.received}{of} image(s)"
        text = f"{self.received}{of} image(s) retrieved (C-{self.method.upper()}) into {self.folder}"
        if not self.complete:
            problems = []
            if self.failed:
                problems.append(f"the PACS could not send {self.failed}")
            if self.refused:
                problems.append(f"BrainScan refused {len(self.refused)} ({self.refused[0]})")
            if self.expected is not None and self.received < self.expected and not problems:
                problems.append(f"{self.expected - self.received} did not arrive")
            if self.received == 0 and not problems:
                problems.append("nothing arrived")
            text = "Partial retrieve: " + text + "; " + ", ".join(problems)
        return text


def retrieve_series(
    destination: Destination,
    study_uid: str,
    series_uid: str,
    *,
    folder: Path | None = None,
    method: str = "get",
    expected: int | None = None,
    calling_aet: str = DEFAULT_CALLING_AET,
    timeout: float = DEFAULT_TIMEOUT_S,
    move_port: int = DEFAULT_MOVE_PORT,
    listen_host: str | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    refresh: bool = False,
) -> RetrieveReport:
    """Retrieve one series into ``folder`` (default: its cache folder, then the cache is trimmed to its limit).

    Args:
        method: "get" (C-GET) or "move" (C-MOVE to BrainScan's storage SCP on ``move_port``).
        expected: the number of images the series holds, when the search said (a cached series with that many
            images is not fetched again unless ``refresh``).
        listen_host: where the C-MOVE receiver listens; default 127.0.0.1 for a PACS on this computer, else
            every interface.

    Raises:
        PacsError: see the module docstring.
    """
    if method not in METHODS:
        raise PacsError(f"Unknown retrieve method '{method}'; use get or move.")
    if not study_uid or not series_uid:
        raise PacsError("Choose a series first: retrieving needs its study and series UIDs.")
    in_cache = folder is None
    folder = Path(folder) if folder is not None else cache.series_folder(study_uid, series_uid)
    report = RetrieveReport(folder, method, expected)
    if in_cache and not refresh and expected:
        present = cache.cached_files(folder)
        if len(present) >= expected:
            cache.touch(folder)
            report.files, report.from_cache = present, True
            return report
    folder.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    seen: set[str] = set()

    def on_received(received: Received) -> None:
        if received.series_uid != series_uid:
            raise Refused(SOP_CLASS_MISMATCH, "not an image of the series being retrieved")
        path = write_file(folder, file_name(received.sop_instance_uid), received.data, durable=False)
        with lock:
            if received.sop_instance_uid not in seen:
                seen.add(received.sop_instance_uid)
                report.files.append(path)

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "SERIES"
    identifier.StudyInstanceUID = study_uid
    identifier.SeriesInstanceUID = series_uid
    if method == "get":
        final = _get(destination, identifier, on_received, report, calling_aet, timeout, on_progress, should_cancel)
    else:
        final = _move(
            destination,
            identifier,
            on_received,
            report,
            calling_aet,
            timeout,
            move_port,
            listen_host,
            on_progress,
            should_cancel,
        )
    _judge(final, report, destination, calling_aet, move_port, timeout)
    if in_cache:
        cache.touch(folder)
        try:
            cache.enforce_limit(keep=(folder,))
        except OSError:
            log.warning("the cache could not be trimmed", exc_info=True)
    return report


def _progress_loop(assoc, responses, report, query_model, on_progress, should_cancel):
    """Read the PACS's answers; returns the final status Dataset (None when none came)."""
    cancel_sent = False
    for status, _ in responses:
        code = int(status.Status) if status is not None and "Status" in status else None
        if code is None:
            return None
        counts = [int(status.get(k, 0) or 0) for k in (
            "NumberOfRemainingSuboperations", "NumberOfCompletedSuboperations",
            "NumberOfFailedSuboperations", "NumberOfWarningSuboperations",
        )]  # fmt: skip
        if code in PENDING:
            total = sum(counts)
            if total and report.expected is None:
                report.expected = total
            if on_progress is not None:
                on_progress(report.received, report.expected or total, f"Received {report.received} image(s)")
            if should_cancel is not None and should_cancel() and not cancel_sent:
                cancel_sent = True
                report.cancelled = True
                try:
                    assoc.send_c_cancel(1, query_model=query_model)
                except Exception:  # noqa: BLE001 - the abort below ends it anyway
                    log.debug("C-CANCEL failed", exc_info=True)
                    assoc.abort()
                    return None
            continue
        report.failed = max(report.failed, counts[2])
        report.warnings = counts[3]
        return status
    return None


def _get(destination, identifier, on_received, report, calling_aet, timeout, on_progress, should_cancel):
    from pynetdicom import build_role, evt

    contexts = [(STUDY_GET, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
    contexts += [(sop_class, list(READABLE_SYNTAXES)) for sop_class in RETRIEVE_STORAGE]
    roles = [build_role(sop_class, scp_role=True) for sop_class in RETRIEVE_STORAGE]
    handler = store_handler(_recording(on_received, report))
    assoc = _associate(
        destination, contexts, calling_aet, timeout, "no retrieving by C-GET from BrainScan; try C-MOVE",
        roles=roles, handlers=[(evt.EVT_C_STORE, handler)],
    )  # fmt: skip
    try:
        if not any(str(c.abstract_syntax) == STUDY_GET for c in assoc.accepted_contexts):
            raise PacsError(f"{destination} does not offer C-GET; retrieve with C-MOVE instead.")
        started = time.monotonic()
        responses = assoc.send_c_get(identifier, STUDY_GET)
        final = _progress_loop(assoc, responses, report, STUDY_GET, on_progress, should_cancel)
        _check_ended(final, time.monotonic() - started, timeout, report, destination, calling_aet, None)
        return final
    finally:
        _release(assoc)


def _move(
    destination, identifier, on_received, report, calling_aet, timeout, move_port, listen_host, on_progress,
    should_cancel,
):  # fmt: skip
    host = listen_host or _listen_host(destination)
    server = StorageServer(calling_aet, _recording(on_received, report), host=host, port=move_port,
                           sop_classes=RETRIEVE_STORAGE)  # fmt: skip
    server.start()
    try:
        contexts = [(STUDY_MOVE, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])]
        assoc = _associate(destination, contexts, calling_aet, timeout, "no retrieving by C-MOVE from BrainScan")
        try:
            started = time.monotonic()
            responses = assoc.send_c_move(identifier, calling_aet, STUDY_MOVE)
            final = _progress_loop(assoc, responses, report, STUDY_MOVE, on_progress, should_cancel)
            _check_ended(final, time.monotonic() - started, timeout, report, destination, calling_aet, move_port)
            return final
        finally:
            _release(assoc)
    finally:
        server.stop()


def _check_ended(final, elapsed, timeout, report, destination, calling_aet, move_port) -> None:
    """A PACS that ends the association at once instead of answering usually refuses the requester: say so (a
    silence as long as the timeout is reported as such by ``_judge``)."""
    if final is not None or report.cancelled or elapsed >= 0.8 * timeout:
        return
    register = f"'{calling_aet}'"
    if move_port is not None:
        register += f" with this computer's address and port {move_port} (for C-MOVE)"
    raise PacsError(
        f"{destination} ended the connection without answering the retrieve (after {report.received} image(s)). "
        f"PACSs do this when they do not know the requesting AE title: ask its administrator to register {register}."
    )


def _recording(on_received, report):
    """``on_received`` that also keeps why an image was refused."""

    def wrapped(received: Received) -> None:
        try:
            on_received(received)
        except Refused as refused:
            report.refused.append(refused.comment)
            raise

    return wrapped


def _listen_host(destination: Destination) -> str:
    try:
        return "127.0.0.1" if ipaddress.ip_address(_resolve(destination)).is_loopback else "0.0.0.0"
    except ValueError:
        return "0.0.0.0"


def _judge(final, report: RetrieveReport, destination, calling_aet, move_port, timeout) -> None:
    """Raise for a retrieve that failed as a whole; partial and cancelled retrieves are reported, not raised."""
    if final is None:
        if report.cancelled:
            return
        raise PacsError(
            f"{destination} stopped answering the retrieve after {report.received} image(s) (no reply within "
            f"{timeout:g} s, or the connection was lost). Try again."
        )
    code = int(final.Status)
    if code == CANCELLED:
        report.cancelled = True
        return
    if code in (0x0000, WARNING):
        return
    comment = str(final.get("ErrorComment", "") or "")
    if code == 0xA801:
        raise PacsError(
            f"{destination} does not know BrainScan's AE title '{calling_aet}' as a C-MOVE destination. Ask the "
            f"PACS administrator to add '{calling_aet}' with this computer's address and port {move_port}, or "
            "retrieve with C-GET."
        )
    if report.received and report.failed:
        return  # some arrived, some failed: a partial retrieve, reported as such
    reason = _FAILURES.get(code, "the PACS refused the retrieve")
    raise PacsError(
        f"{destination} could not retrieve the series: {reason} (status 0x{code:04X}"
        f"{': ' + comment if comment else ''})."
    )
