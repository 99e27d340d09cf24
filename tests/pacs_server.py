"""A small but real DICOM server on the loopback address for tests: pynetdicom's AE as a PACS.

It accepts C-ECHO and C-STORE (any storage class), answers C-FIND at the study, series and image levels of
the Study Root model, and returns stored instances by C-GET, all over real DICOM associations on 127.0.0.1.
The stored datasets stay in memory (``stored``), so tests can also look at exactly what arrived.
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager

from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)

from brainscan.pacs import Destination

LEVEL_KEYS = {
    "STUDY": ("StudyInstanceUID",),
    "SERIES": ("StudyInstanceUID", "SeriesInstanceUID"),
    "IMAGE": ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"),
}


class LoopbackPacs:
    """Start with ``start()`` (returns its Destination), stop with ``stop()``; or use ``running_pacs()``."""

    def __init__(self, ae_title: str = "TESTPACS", accept_storage: bool = True):
        self.ae_title = ae_title
        self.accept_storage = accept_storage
        self.stored: dict[str, Dataset] = {}
        self.calling_titles: list[str] = []
        self._lock = threading.Lock()
        self._server = None

    def start(self) -> Destination:
        ae = AE(ae_title=self.ae_title)
        ae.require_called_aet = True  # a wrong called AE title is rejected, as real PACSs do
        for context in AllStoragePresentationContexts if self.accept_storage else []:
            ae.add_supported_context(context.abstract_syntax, scu_role=False, scp_role=True)
        ae.add_supported_context(Verification)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
        handlers = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_GET, self._on_get),
        ]
        self._server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        return Destination(self.ae_title, "127.0.0.1", int(self._server.server_address[1]))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    # ---- handlers (run on the server's threads) -----------------------------------------------------------
    def _on_store(self, event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        with self._lock:
            self.stored[str(ds.SOPInstanceUID)] = ds
            self.calling_titles.append(str(event.assoc.requestor.ae_title))
        return 0x0000

    def _matches(self, identifier: Dataset) -> list[Dataset]:
        level = str(identifier.get("QueryRetrieveLevel", "STUDY"))
        with self._lock:
            stored = list(self.stored.values())
        found = []
        for ds in stored:
            if all(
                not identifier.get(key) or str(identifier.get(key)) == str(ds.get(key, ""))
                for key in LEVEL_KEYS.get(level, ())
            ):
                found.append(ds)
        return found

    def _on_find(self, event):
        identifier = event.identifier
        level = str(identifier.get("QueryRetrieveLevel", ""))
        if level not in LEVEL_KEYS:
            yield 0xC000, None
            return
        found = self._matches(identifier)
        if level in ("STUDY", "SERIES"):  # one answer per study / series
            key = LEVEL_KEYS[level][-1]
            found = list({str(ds.get(key)): ds for ds in found}.values())
        for ds in found:
            answer = Dataset()
            answer.QueryRetrieveLevel = level
            for element in identifier:
                if element.keyword and element.keyword != "QueryRetrieveLevel":
                    setattr(answer, element.keyword, ds.get(element.keyword, ""))
            yield 0xFF00, answer

    def _on_get(self, event):
        found = self._matches(event.identifier)
        yield len(found)
        for ds in found:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, ds


@contextmanager
def running_pacs(ae_title: str = "TESTPACS", accept_storage: bool = True):
    pacs = LoopbackPacs(ae_title, accept_storage)
    destination = pacs.start()
    try:
        yield pacs, destination
    finally:
        pacs.stop()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def silent_listener():
    """A loopback port that accepts TCP connections (the kernel's backlog) but never says a DICOM word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield int(sock.getsockname()[1])


def c_find(destination: Destination, level: str, **keys) -> list[Dataset]:
    """C-FIND on the Study Root model; ``keys`` are matched exactly (empty values are returned keys)."""
    ae = AE(ae_title="QUERY")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    assert assoc.is_established, "the test PACS refused the query association"
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(identifier, keyword, value)
    answers = []
    try:
        for status, answer in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
            if status and status.Status in (0xFF00, 0xFF01) and answer is not None:
                answers.append(answer)
    finally:
        assoc.release()
    return answers


def c_get(destination: Destination, sop_classes: list[str], level: str = "STUDY", **keys) -> list[Dataset]:
    """C-GET on the Study Root model: the instances the PACS sends back (over the same association)."""
    from pynetdicom import build_role

    received: list[Dataset] = []

    def on_store(event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        received.append(ds)
        return 0x0000

    ae = AE(ae_title="RETRIEVE")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    for sop_class in sop_classes:
        ae.add_requested_context(sop_class)
    roles = [build_role(sop_class, scp_role=True) for sop_class in sop_classes]
    assoc = ae.associate(
        destination.host,
        destination.port,
        ae_title=destination.ae_title,
        ext_neg=roles,
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established, "the test PACS refused the retrieve association"
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(identifier, keyword, value)
    try:
        for status, _ in assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet):
            assert status is not None and "Status" in status, "no answer to C-GET"
    finally:
        assoc.release()
    return received
