"""The DICOM node (``brainscan listen``): a front end beside the window that receives series over the network,
analyses each with the same ``pipeline.analyze`` as ``brainscan analyze``, and returns a DICOM Segmentation
and an Encapsulated PDF. No Qt here. Network code lives in ``brainscan.pacs``, the job table in
``brainscan.storage.jobs``."""

from brainscan.node.server import DEFAULT_AET, DEFAULT_PORT, DEFAULT_SETTLE_S, Node, NodeError, node_folder
from brainscan.node.status import format_jobs

__all__ = ["DEFAULT_AET", "DEFAULT_PORT", "DEFAULT_SETTLE_S", "Node", "NodeError", "format_jobs", "node_folder"]
