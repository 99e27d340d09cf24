"""Receiving DICOM objects: BrainScan's own storage SCP (for C-MOVE retrieves and the ``brainscan listen`` node)
and the one way a received object is written to disk.

A received object is written as a complete file (temporary name, fsync, rename) **before** the C-STORE is
answered, so a sender that got "success" never loses an instance, even when this process is killed right
after. Each object is checked before it is accepted: unreadable data is refused with 0xC000 (cannot
understand), an object whose SOP class differs from its presentation context with 0xA900, a full disk with
0xA700 (out of resources). SOP classes that are not offered are refused at association time (the context is
rejected: abstract syntax not supported), and calling AE titles outside the allowed list are rejected.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    RLELossless,
)

from brainscan.atomic import replace_atomically
from brainscan.errors import BrainScanError, PacsError
from brainscan.pacs.destination import check_ae_title

log = logging.getLogger(__name__)

MR_STORAGE = (
    "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR Image Storage
)
#: What a retrieve accepts: MR, and what BrainScan itself writes back or a study commonly holds beside it.
RETRIEVE_STORAGE = MR_STORAGE + (
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
    "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation Storage
    "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF Storage
)
#: Image classes whose pixel data is checked on arrival.
IMAGE_STORAGE = MR_STORAGE + ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.7")
#: Transfer syntaxes BrainScan can read (pydicom with the pylibjpeg plugins).
READABLE_SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGLosslessSV1,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
]

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
SOP_CLASS_MISMATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
_UID = re.compile(r"^[0-9.]{1,64}$")


@dataclass(frozen=True)
class Received:
    """One object that arrived and was checked: its identity, what sent it, and its encoded file bytes."""

    sop_class: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    calling_aet: str
    data: bytes


class Refused(Exception):
    """Raised by a ``StorageServer`` handler to answer a C-STORE with ``status`` (and ``comment``)."""

    def __init__(self, status: int, comment: str):
        super().__init__(comment)
        self.status = status
        self.comment = comment


def file_name(sop_instance_uid: str) -> str:
    """A safe file name for an instance: its UID when it is a plain UID, else a hash of it."""
    uid = sop_instance_uid.strip()
    if _UID.match(uid) and not uid.startswith("."):
        return f"{uid}.dcm"
    return hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()[:40] + ".dcm"


def write_file(folder: Path, name: str, data: bytes, durable: bool = True) -> Path:
    """Write ``data`` to ``folder/name`` completely or not at all (temporary file, fsync, rename).

    Raises:
        OSError: when it cannot be written (the temporary file is removed).
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    replace_atomically(target, lambda temporary: temporary.write_bytes(data), durable=durable)
    return target


def check_received(event) -> Received:
    """The checked identity and bytes of the object a C-STORE event carries.

    Raises:
        Refused: 0xC000 when the data cannot be decoded or lacks its UIDs, 0xA900 when its SOP class is not the
            one of its presentation context.
    """
    try:
        ds = event.dataset
        sop_class = str(ds.SOPClassUID)
        uid = str(ds.SOPInstanceUID)
        study = str(ds.StudyInstanceUID)
        series = str(ds.SeriesInstanceUID)
        # touch every top-level element: a damaged value (bad length, truncated data) fails here, not later
        for element in ds:
            _ = element.value
    except Exception as exc:  # noqa: BLE001 - any decoding failure means the object cannot be understood
        raise Refused(CANNOT_UNDERSTAND, f"cannot be decoded or lacks its UIDs ({type(exc).__name__})") from exc
    if not all(_UID.match(value) for value in (sop_class, uid, study, series)):
        raise Refused(CANNOT_UNDERSTAND, "the object lacks a valid SOP class, instance, study or series UID")
    if sop_class in IMAGE_STORAGE:
        problem = _pixel_problem(ds, event.context.transfer_syntax)
        if problem:
            raise Refused(CANNOT_UNDERSTAND, problem)
    context_class = str(event.context.abstract_syntax)
    if sop_class != context_class:
        raise Refused(SOP_CLASS_MISMATCH, f"SOP class {sop_class} sent in a context for {context_class}")
    data = event.encoded_dataset(include_meta=True)
    return Received(sop_class, uid, study, series, str(event.assoc.requestor.ae_title).strip(), data)


def _pixel_problem(ds, transfer_syntax) -> str:
    """Why an image's pixel data is unusable ("" when it looks whole): missing, or shorter than its size says."""
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        return "the image has no pixel data"
    if getattr(transfer_syntax, "is_compressed", False) or "PixelData" not in ds:
        return ""
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        expected = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * frames
        expected = expected * int(ds.BitsAllocated) // 8
    except (AttributeError, TypeError, ValueError):
        return "the image lacks its size (rows, columns, bits allocated)"
    if len(ds.PixelData) < expected:
        return f"the pixel data is cut short ({len(ds.PixelData)} of {expected} bytes)"
    return ""


def store_handler(on_received: Callable[[Received], None]):
    """A pynetdicom EVT_C_STORE handler: check the object, hand it to ``on_received`` (which writes it), and
    only then answer; ``Refused`` and disk errors become the matching failure status."""
    from pydicom.dataset import Dataset

    def handler(event):
        try:
            received = check_received(event)
            on_received(received)
        except Refused as refused:
            log.warning("C-STORE refused (0x%04X): %s", refused.status, refused.comment)
            return _status(refused.status, refused.comment)
        except (OSError, BrainScanError) as exc:
            log.error("C-STORE could not be kept: %s", exc)
            return _status(OUT_OF_RESOURCES, f"could not be kept: {getattr(exc, 'strerror', None) or exc}"[:64])
        return SUCCESS

    def _status(code: int, comment: str):
        status = Dataset()
        status.Status = code
        status.ErrorComment = comment[:64]
        return status

    return handler


class StorageServer:
    """A storage SCP on ``host:port`` (port 0: any free port) that calls ``on_received`` for each checked object.

    ``allowed_callers``: calling AE titles accepted (None: any). The called AE title must be ``ae_title``.
    """

    def __init__(
        self,
        ae_title: str,
        on_received: Callable[[Received], None],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sop_classes: Iterable[str] = MR_STORAGE,
        allowed_callers: Iterable[str] | None = None,
        on_event: Callable[[str, object], None] | None = None,
    ):
        self.ae_title = check_ae_title(ae_title, "AE title of this node")
        self.host, self.port = host, int(port)
        self.sop_classes = tuple(sop_classes)
        self.allowed_callers = None if allowed_callers is None else [check_ae_title(a) for a in allowed_callers]
        self.on_received = on_received
        self.on_event = on_event
        self._server = None
        self._lock = threading.Lock()

    def start(self) -> int:
        """Start listening (in background threads); returns the port.

        Raises:
            PacsError: when the port cannot be opened (in use, or a privileged port).
        """
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title=self.ae_title)
        ae.require_called_aet = True
        if self.allowed_callers is not None:
            ae.require_calling_aet = list(self.allowed_callers)
        ae.maximum_associations = 16
        ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = 60
        for sop_class in self.sop_classes:
            ae.add_supported_context(sop_class, READABLE_SYNTAXES)
        ae.add_supported_context(Verification)
        handlers = [(evt.EVT_C_STORE, store_handler(self.on_received))]
        if self.on_event is not None:
            handlers.append((evt.EVT_REJECTED, lambda event: self.on_event("rejected", event)))
        try:
            self._server = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
        except OSError as exc:
            raise PacsError(
                f"BrainScan cannot listen on {self.host}:{self.port} ({exc.strerror or exc}). Is another program "
                "using the port? Ports below 1024 need administrator rights."
            ) from exc
        self.port = int(self._server.server_address[1])
        log.info("storage SCP %s listening on %s:%d", self.ae_title, self.host, self.port)
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> StorageServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
