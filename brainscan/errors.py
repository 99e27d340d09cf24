"""Exception hierarchy. Messages are written for a clinician; the technical cause is chained."""

from __future__ import annotations


class BrainScanError(Exception):
    """Base class for every error BrainScan reports to a user."""


class SeriesLoadError(BrainScanError):
    """A file or folder could not be read as an MRI series."""


class ModelError(BrainScanError):
    """A model file is missing, corrupt, or does not match its model card."""


class InferenceError(BrainScanError):
    """A model failed while analysing images."""


class StorageError(BrainScanError):
    """The study history database could not be read or written."""


class ReportError(BrainScanError):
    """A report could not be written."""


class AnalysisCancelled(BrainScanError):
    """The user cancelled an analysis; nothing was saved."""


class PacsError(BrainScanError):
    """A DICOM network operation (connection test, sending) failed."""
