"""tests/pacs_server.LoopbackPacs with C-MOVE and the faults a real PACS rarely produces on demand: slow
answers (to cancel), images it cannot send (a partial retrieve), images of another series."""

from __future__ import annotations

import copy
import time

from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from brainscan.pacs import Destination
from brainscan.pacs.scp import MR_STORAGE
from tests.pacs_server import LoopbackPacs


class FaultyPacs(LoopbackPacs):
    """``delay`` s before each image; ``unsendable`` extra images of a class nobody proposed (they fail);
    ``stranger`` one image of another series first; ``move_destinations`` AE title -> (host, port)."""

    def __init__(self, ae_title: str = "TESTPACS", **faults):
        super().__init__(ae_title)
        self.delay = faults.get("delay", 0.0)
        self.unsendable = faults.get("unsendable", 0)
        self.stranger = faults.get("stranger", False)
        self.move_destinations: dict[str, tuple[str, int]] = faults.get("move_destinations", {})
        self.cancelled = False
        self.port = faults.get("port", 0)

    def start(self) -> Destination:
        ae = AE(ae_title=self.ae_title)
        ae.require_called_aet = True
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, scu_role=False, scp_role=True)
        for model in (Verification, StudyRootQueryRetrieveInformationModelFind):
            ae.add_supported_context(model)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelMove)
        # C-MOVE opens its own association to the destination and proposes these
        for sop_class in MR_STORAGE:
            ae.add_requested_context(sop_class)
        handlers = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_C_MOVE, self._on_move),
        ]
        self._server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=handlers)
        return Destination(self.ae_title, "127.0.0.1", int(self._server.server_address[1]))

    def _matches(self, identifier) -> list[Dataset]:
        """Also by patient ID (exact) and patient name (``*`` at the end: a prefix), as a PACS matches them."""
        found = super()._matches(identifier)
        patient_id = str(identifier.get("PatientID", "") or "")
        name = str(identifier.get("PatientName", "") or "")
        if patient_id:
            found = [ds for ds in found if str(ds.get("PatientID", "")) == patient_id]
        if name:
            found = [ds for ds in found if str(ds.get("PatientName", "")).lower().startswith(name.rstrip("*").lower())]
        return found

    def _outgoing(self, identifier) -> list[Dataset]:
        found = self._matches(identifier)
        extra = []
        if self.stranger and found:
            other = copy.deepcopy(found[0])
            other.SeriesInstanceUID = "1.2.3.999"
            other.SOPInstanceUID = "1.2.3.999.1"
            extra.append(other)
        for n in range(self.unsendable):
            odd = Dataset()
            odd.SOPClassUID = "1.2.840.10008.5.1.4.1.1.481.2"  # RT Dose: never proposed by BrainScan
            odd.SOPInstanceUID = f"1.2.3.998.{n + 1}"
            odd.StudyInstanceUID = found[0].StudyInstanceUID if found else "1.2.3"
            odd.SeriesInstanceUID = found[0].SeriesInstanceUID if found else "1.2.3.1"
            extra.append(odd)
        return extra + found

    def _send(self, event, datasets):
        for ds in datasets:
            if event.is_cancelled:
                self.cancelled = True
                yield 0xFE00, None
                return
            if self.delay:
                time.sleep(self.delay)
            yield 0xFF00, ds

    def _on_get(self, event):
        datasets = self._outgoing(event.identifier)
        yield len(datasets)
        yield from self._send(event, datasets)

    def _on_move(self, event):
        where = self.move_destinations.get(str(event.move_destination).strip())
        if where is None:
            yield None, None  # pynetdicom answers 0xA801: move destination unknown
            return
        yield where[0], where[1]
        datasets = self._outgoing(event.identifier)
        yield len(datasets)
        yield from self._send(event, datasets)
