"""DICOM network client (pynetdicom): C-ECHO to test a destination, C-STORE to send files to it.

Nothing here runs by itself: the CLI's ``brainscan send`` / ``brainscan echo`` and the app's Send to PACS
dialog call it when a person asks. Every failure becomes a ``PacsError`` that says what happened and what to
check, because pynetdicom itself only logs: the host name is resolved first (unknown host); a connection
that never opened is probed once more with a plain socket to tell "refused" from "no answer" (firewall,
host down); an association the PACS rejected reports the PACS's reason (e.g. "Called AE title not
recognised"); one that opened but got no answer reports the timeout.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, MediaStorageDirectoryStorage

from brainscan.errors import PacsError
from brainscan.pacs.destination import DEFAULT_CALLING_AET, Destination, check_ae_title

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 20.0
VERIFICATION = "1.2.840.10008.1.1"
WARNING_STATUSES = {0xB000, 0xB006, 0xB007}


@dataclass(frozen=True)
class StoreOutcome:
    """What happened to one file."""

    path: Path
    sop_class: str
    sop_instance_uid: str
    ok: bool
    message: str


@dataclass
class SendReport:
    """The result of ``send_files``: one outcome per DICOM file, and the files that were not DICOM."""

    destination: Destination
    outcomes: list[StoreOutcome] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def sent(self) -> list[StoreOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[StoreOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def summary(self) -> str:
        text = f"{len(self.sent)} of {len(self.outcomes)} object(s) stored in {self.destination}"
        if self.skipped:
            text += f"; {len(self.skipped)} file(s) skipped (not DICOM)"
        return text


def echo(destination: Destination, calling_aet: str = DEFAULT_CALLING_AET, timeout: float = DEFAULT_TIMEOUT_S) -> float:
    """C-ECHO ``destination``; return the round trip in milliseconds.

    Raises:
        PacsError: when the host is unknown, the connection is refused or times out, the association is
            rejected, or the echo fails.
    """
    start = time.perf_counter()
    assoc = _associate(destination, [(VERIFICATION, [ImplicitVRLittleEndian])], calling_aet, timeout)
    try:
        status = assoc.send_c_echo()
    finally:
        _release(assoc)
    code = int(getattr(status, "Status", -1)) if status is not None else -1
    if code != 0x0000:
        what = "no answer" if code == -1 else f"status 0x{code:04X}"
        raise PacsError(f"{destination} accepted the connection but the echo failed ({what}).")
    return 1000.0 * (time.perf_counter() - start)


def dicom_files(paths: Iterable[Path]) -> tuple[list[tuple[Path, pydicom.Dataset]], list[tuple[Path, str]]]:
    """The DICOM files under ``paths`` (folders are searched recursively, in name order) with their headers,
    and the files skipped with a reason (not DICOM, DICOMDIR, unreadable)."""
    found: list[tuple[Path, pydicom.Dataset]] = []
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise PacsError(f"{path} does not exist.")
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate.name.startswith("."):
                continue
            try:
                header = pydicom.dcmread(candidate, stop_before_pixels=True)
            except (pydicom.errors.InvalidDicomError, EOFError):
                skipped.append((candidate, "not a DICOM file"))
                continue
            except OSError as exc:
                skipped.append((candidate, f"cannot be read ({exc.strerror or exc})"))
                continue
            sop_class = str(header.get("SOPClassUID", "") or getattr(header.file_meta, "MediaStorageSOPClassUID", ""))
            if not sop_class or sop_class == MediaStorageDirectoryStorage or "SOPInstanceUID" not in header:
                skipped.append((candidate, "a DICOM file but not a storable object (no SOP class or instance UID)"))
                continue
            found.append((candidate, header))
    return found, skipped


def send_files(
    paths: Iterable[Path],
    destination: Destination,
    calling_aet: str = DEFAULT_CALLING_AET,
    timeout: float = DEFAULT_TIMEOUT_S,
    on_progress: Callable[[int, int, str], None] | None = None,
    on_outcome: Callable[[StoreOutcome], None] | None = None,
) -> SendReport:
    """C-STORE every DICOM file under ``paths`` to ``destination`` over one association.

    ``on_outcome`` hears of each file as soon as the PACS answered for it (the node records what was stored).

    Returns:
        A SendReport: per file whether the PACS stored it (and its status), plus the files skipped.

    Raises:
        PacsError: when there is nothing to send, or no association could be made (see ``echo``). Failures of
            single files do not raise: they are in the report.
    """
    found, skipped = dicom_files(paths)
    report = SendReport(destination, skipped=skipped)
    if not found:
        raise PacsError("There is nothing to send: no DICOM files were found" + _skipped_note(skipped) + ".")
    contexts: dict[str, list[str]] = {}
    for _, header in found:
        syntaxes = contexts.setdefault(str(header.SOPClassUID), [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        syntax = str(getattr(header.file_meta, "TransferSyntaxUID", "") or "")
        if syntax and syntax not in syntaxes:
            syntaxes.insert(0, syntax)
    if len(contexts) > 128:
        raise PacsError("These files hold more than 128 kinds of DICOM object; send them in smaller groups.")
    assoc = _associate(destination, list(contexts.items()), calling_aet, timeout)
    try:
        for number, (path, header) in enumerate(found, start=1):
            outcome = _store_one(assoc, path, header)
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
            if on_progress is not None:
                on_progress(number, len(found), f"Sent {number} of {len(found)}")
    finally:
        _release(assoc)
    return report


def _store_one(assoc, path: Path, header) -> StoreOutcome:
    sop_class = pydicom.uid.UID(str(header.SOPClassUID))
    name = sop_class.name if sop_class.is_valid else str(sop_class)
    uid = str(header.SOPInstanceUID)
    if not assoc.is_established:
        return StoreOutcome(path, name, uid, False, "not sent: the association with the PACS ended")
    try:
        dataset = pydicom.dcmread(path)
        status = assoc.send_c_store(dataset)
    except ValueError as exc:  # no accepted presentation context for this class / transfer syntax
        return StoreOutcome(path, name, uid, False, f"the PACS does not accept this kind of object ({exc})")
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        return StoreOutcome(path, name, uid, False, f"could not be read ({exc})")
    code = int(getattr(status, "Status", -1)) if status is not None and "Status" in status else -1
    if code == 0x0000:
        return StoreOutcome(path, name, uid, True, "stored")
    if code in WARNING_STATUSES:
        return StoreOutcome(path, name, uid, True, f"stored with a warning (status 0x{code:04X})")
    if code == -1:
        return StoreOutcome(path, name, uid, False, "no answer from the PACS (connection lost or timed out)")
    comment = str(status.get("ErrorComment", "") or "")
    detail = f"status 0x{code:04X}" + (f": {comment}" if comment else "")
    return StoreOutcome(path, name, uid, False, f"refused by the PACS ({detail})")


def _skipped_note(skipped: list[tuple[Path, str]]) -> str:
    if not skipped:
        return ""
    return f" ({len(skipped)} file(s) skipped, e.g. {skipped[0][0].name}: {skipped[0][1]})"


def _resolve(destination: Destination) -> str:
    """The IP address to connect to (pynetdicom needs an address, not a name)."""
    try:
        infos = socket.getaddrinfo(destination.host, destination.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc)
        raise PacsError(
            f"The PACS host '{destination.host}' could not be found ({reason}). Check the host name, or use the "
            "PACS's IP address."
        ) from exc
    return str(infos[0][4][0])


SENDING = (
    "none of the object types BrainScan sends (Segmentation, Encapsulated PDF); ask its administrator to allow them"
)


def _associate(
    destination: Destination,
    contexts,
    calling_aet: str,
    timeout: float,
    refused_all: str = SENDING,
    roles=(),
    handlers=(),
):
    """An established association with ``destination``, or a PacsError that says why there is none.

    ``refused_all`` completes "The PACS at HOST:PORT accepts ..." when it accepts none of ``contexts``;
    ``roles`` (SCP/SCU role selection) and ``handlers`` (pynetdicom event handlers) serve C-GET.
    """
    from pynetdicom import AE, evt

    calling = check_ae_title(calling_aet, "calling AE title (BrainScan's own)")
    address = _resolve(destination)
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    for abstract, syntaxes in contexts:
        ae.add_requested_context(abstract, syntaxes)
    opened: list[bool] = []
    start = time.monotonic()
    assoc = ae.associate(
        address,
        destination.port,
        ae_title=destination.ae_title,
        ext_neg=list(roles) or None,
        evt_handlers=[(evt.EVT_CONN_OPEN, lambda event: opened.append(True)), *handlers],
    )
    if assoc.is_established:
        return assoc
    elapsed = time.monotonic() - start
    raise _association_error(assoc, destination, address, calling, bool(opened), elapsed, timeout, refused_all)


def _association_error(
    assoc, destination, address, calling, opened, elapsed, timeout, refused_all: str = SENDING
) -> PacsError:
    where = f"{destination.host}:{destination.port}"
    if not opened:
        return PacsError(_connection_failure(destination, address, timeout))
    response = getattr(assoc.acceptor, "primitive", None)
    if assoc.is_rejected and response is not None:
        return PacsError(
            f"The PACS at {where} rejected the association: {response.reason_str} ({response.result_str}, "
            f"{response.source_str}). Check that the PACS's AE title is '{destination.ae_title}' and that it "
            f"accepts BrainScan's AE title '{calling}' from this computer."
        )
    if response is not None and getattr(response, "result", None) == 0 and not assoc.accepted_contexts:
        return PacsError(f"The PACS at {where} accepts {refused_all}.")
    if elapsed >= 0.8 * timeout:
        return PacsError(
            f"{where} accepted the connection but gave no DICOM answer within {timeout:g} s. Is this the PACS's "
            "DICOM port (not its web port), and is the PACS busy?"
        )
    return PacsError(
        f"{where} closed the connection without accepting the association. Is this the PACS's DICOM port, and "
        f"does it accept BrainScan's AE title '{calling}'?"
    )


def _connection_failure(destination: Destination, address: str, timeout: float) -> str:
    """Why no TCP connection opened, from one plain connection attempt (pynetdicom only logs the reason)."""
    where = f"{destination.host}:{destination.port}"
    try:
        with socket.create_connection((address, destination.port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        return (
            f"{where} refused the connection: nothing listens on port {destination.port}. Is the PACS running, "
            "and is the port right?"
        )
    except TimeoutError:
        return f"{where} did not answer within {timeout:g} s: the host may be down, or a firewall drops the connection."
    except OSError as exc:
        return f"{where} could not be reached ({exc.strerror or exc})."
    return f"The connection to {where} failed; it opened on a second try, so try again."


def _release(assoc) -> None:
    if assoc.is_established:
        try:
            assoc.release()
        except Exception:  # noqa: BLE001 - releasing a dying association must not hide the real outcome
            log.debug("release failed", exc_info=True)
