"""Sending results to a PACS over the DICOM network (pynetdicom): ``echo`` and ``send_files``.

``import brainscan.pacs`` is cheap: pynetdicom loads when a connection is made.
"""

from brainscan.pacs.client import SendReport, StoreOutcome, echo, send_files
from brainscan.pacs.destination import DEFAULT_CALLING_AET, Destination, make_destination, parse_destination

__all__ = [
    "DEFAULT_CALLING_AET",
    "Destination",
    "SendReport",
    "StoreOutcome",
    "echo",
    "make_destination",
    "parse_destination",
    "send_files",
]
