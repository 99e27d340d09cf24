"""The DICOM network (pynetdicom): ``echo`` and ``send_files`` to a PACS, ``find_studies`` / ``find_series``
(C-FIND), ``retrieve_series`` (C-GET or C-MOVE into the cache, ``brainscan.pacs.cache``), and the storage SCP
(``brainscan.pacs.scp``) that C-MOVE and the ``brainscan listen`` node receive with.

``import brainscan.pacs`` is cheap: pynetdicom loads when a connection is made.
"""

from brainscan.pacs.client import SendReport, StoreOutcome, echo, send_files
from brainscan.pacs.destination import DEFAULT_CALLING_AET, Destination, make_destination, parse_destination
from brainscan.pacs.query import SeriesMatch, StudyMatch, date_range, find_series, find_studies
from brainscan.pacs.retrieve import RetrieveReport, retrieve_series

__all__ = [
    "DEFAULT_CALLING_AET",
    "Destination",
    "RetrieveReport",
    "SendReport",
    "SeriesMatch",
    "StoreOutcome",
    "StudyMatch",
    "date_range",
    "echo",
    "find_series",
    "find_studies",
    "make_destination",
    "parse_destination",
    "retrieve_series",
    "send_files",
]
