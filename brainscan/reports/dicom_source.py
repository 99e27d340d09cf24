"""The source series behind a DICOM result: its headers, which frame each analysed slice came from, new UIDs.

DICOM results (a Segmentation and an Encapsulated PDF, see brainscan.reports.dicom_export) go into the
source study and reference the source instances, so they need the source headers again: the ``Volume``
keeps the file of every slice but no pydicom objects (types cross package boundaries without them). The
headers are read once more with ``stop_before_pixels``; highdicom needs nothing else.

Only DICOM input has those headers. JPEG/PNG folders and NIfTI files carry no patient, study or instance
identity that a result could be filed under or refer to, so they get a ``ReportError`` that says so.

UIDs: every new study-level object gets fresh series and SOP instance UIDs under one root,
``BRAINSCAN_UID_ROOT`` when a site sets its own registered root (e.g. ``1.2.826.0.1.1234567.``), else
``2.25.`` (a UID derived from a random UUID, ISO/IEC 9834-8), which needs no registration and cannot
clash with another vendor's UIDs.
"""

from __future__ import annotations

import os
import re
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from brainscan.errors import ReportError
from brainscan.presentation import study_code
from brainscan.types import AnalysisResult

UID_ROOT_ENV = "BRAINSCAN_UID_ROOT"
DEFAULT_UID_ROOT = "2.25."
_ROOT_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*\.$")

_TYPE_2 = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID", "StudyDate",
    "StudyTime", "ReferringPhysicianName",
)  # fmt: skip
# what a de-identified result keeps in place of the patient: the report's study code (brainscan.presentation)
_BLANKED = ("PatientBirthDate", "PatientSex", "AccessionNumber", "ReferringPhysicianName", "StudyID")
_REMOVED = ("InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "OtherPatientIDs")
DEIDENTIFICATION_METHOD = (  # LO values of at most 64 characters each
    "BrainScan: patient name and ID replaced by the study code",
    "birth date, sex, accession number, referring physician removed",
    "study ID and institution removed",
    "UIDs kept so that results reference the source images",
)


def uid_root() -> str:
    """The root new UIDs start with (see module docstring).

    Raises:
        ReportError: when ``BRAINSCAN_UID_ROOT`` is not a valid UID root (digits and dots, ending in a dot).
    """
    root = os.environ.get(UID_ROOT_ENV, "").strip()
    if not root:
        return DEFAULT_UID_ROOT
    if root == DEFAULT_UID_ROOT:
        return root
    if not _ROOT_PATTERN.match(root) or len(root) > 40:
        raise ReportError(
            f"{UID_ROOT_ENV}={root!r} is not a usable DICOM UID root: it must be digits separated by dots, end "
            "with a dot and be at most 40 characters (e.g. 1.2.826.0.1.1234567.)."
        )
    return root


def new_uid() -> str:
    """A new, globally unique UID under ``uid_root()``."""
    root = uid_root()
    return generate_uid(prefix=None if root == DEFAULT_UID_ROOT else root)


@dataclass(frozen=True)
class SourceImages:
    """The source headers in the order a SEG's frames must follow, and where each analysed slice lies.

    ``datasets`` are the headers to pass to highdicom: one per slice for single-frame series (in the volume's
    slice order), or the one header of a multi-frame series. ``frame_of_slice[i]`` is the 0-based frame (in
    ``datasets`` order for single-frame series, in the file's frame order for a multi-frame one) that volume
    slice ``i`` was read from.
    """

    datasets: tuple[Dataset, ...]
    frame_of_slice: tuple[int, ...]
    multiframe: bool

    @property
    def first(self) -> Dataset:
        return self.datasets[0]

    def references(self) -> list[tuple[str, str]]:
        """(SOP Class UID, SOP Instance UID) of every source instance, without repeats."""
        pairs = [(str(ds.SOPClassUID), str(ds.SOPInstanceUID)) for ds in self.datasets]
        return list(dict.fromkeys(pairs))


def require_dicom(result: AnalysisResult) -> None:
    """Raise ``ReportError`` (with the reason) unless ``result`` was read from DICOM files."""
    kind = result.info.kind
    if kind == "dicom":
        return
    what = {"images": "JPEG/PNG images", "nifti": "a NIfTI file"}.get(kind, f"{kind} input")
    raise ReportError(
        f"DICOM results need DICOM input: '{result.info.description or result.info.source}' was read from {what}, "
        "which carries no patient, study or image identity that a DICOM Segmentation or report could be filed "
        "under or refer to. Use the PDF report instead, or analyse the original DICOM series."
    )


def read_sources(result: AnalysisResult) -> SourceImages:
    """Headers of the files the analysed slices came from (see ``SourceImages``).

    Raises:
        ReportError: for non-DICOM input, unreadable or missing source files, and series that mix
            multi-frame files (a SEG refers to one multi-frame image or to single-frame images).
    """
    require_dicom(result)
    volume = result.volume
    files = list(volume.slice_files)
    if len(files) != volume.n_slices:
        raise ReportError("The source files of this series are not known, so no DICOM result can refer to them.")
    unique = list(dict.fromkeys(files))
    headers = {path: _read_header(path) for path in unique}
    if len(unique) == len(files):
        datasets = tuple(headers[path] for path in files)
        return SourceImages(datasets, tuple(range(len(files))), multiframe=False)
    if len(unique) == 1:
        ds = _with_shared_orientation(headers[unique[0]])
        return SourceImages((ds,), _frames_of_multiframe(ds, volume), multiframe=True)
    raise ReportError(
        "This series is stored in several multi-frame files; a DICOM Segmentation can refer to one multi-frame "
        "image or to single-frame images only, so no DICOM result was written."
    )


def _with_shared_orientation(ds: Dataset) -> Dataset:
    """An enhanced header whose frames all share one orientation, with it in the Shared Functional Groups.

    Siemens XA scanners store PlaneOrientationSequence in every Per-frame item instead; highdicom needs it
    shared ("Source images must have a shared orientation"). The file is not changed; the header given to
    highdicom is a copy with the (identical) per-frame orientation moved to the shared group. Frames in several
    orientations are left as they are (highdicom then refuses them, with its reason)."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not shared or not per_frame or "PlaneOrientationSequence" in shared[0]:
        return ds
    try:
        values = {
            tuple(round(float(v), 6) for v in item.PlaneOrientationSequence[0].ImageOrientationPatient)
            for item in per_frame
        }
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return ds
    if len(values) != 1:
        return ds
    copy = deepcopy(ds)
    copy.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence = deepcopy(per_frame[0].PlaneOrientationSequence)
    for item in copy.PerFrameFunctionalGroupsSequence:
        del item.PlaneOrientationSequence
    return copy


def _read_header(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise ReportError(
            f"The source image {path} can no longer be read ({exc}); DICOM results must refer to the source "
            "images, so none were written."
        ) from exc


def _frames_of_multiframe(ds: Dataset, volume) -> tuple[int, ...]:
    """Frame index of each volume slice in a multi-frame file: matched by position when the volume was
    sorted by position, else the file's own frame order (how brainscan.io.load read it)."""
    n = int(ds.get("NumberOfFrames", 1) or 1)
    if n != volume.n_slices:
        raise ReportError(f"The multi-frame source holds {n} frames but {volume.n_slices} slices were analysed.")
    if volume.sorted_by != "position" or volume.positions_mm is None:
        return tuple(range(n))
    positions = []
    for item in ds.get("PerFrameFunctionalGroupsSequence", []):
        plane = item.get("PlanePositionSequence")
        if not plane or "ImagePositionPatient" not in plane[0]:
            return tuple(range(n))
        positions.append([float(v) for v in plane[0].ImagePositionPatient])
    if len(positions) != n:
        return tuple(range(n))
    positions_arr = np.asarray(positions)
    frames, used = [], set()
    for position in np.asarray(volume.positions_mm):
        distance = np.linalg.norm(positions_arr - position, axis=1)
        for frame in np.argsort(distance, kind="stable"):
            if int(frame) not in used:
                used.add(int(frame))
                frames.append(int(frame))
                break
    return tuple(frames)


def identity_headers(source: Dataset, result: AnalysisResult, deidentify: bool) -> Dataset:
    """A copy of ``source``'s header whose patient and study attributes a result may copy.

    De-identified: the patient name and ID become the report's study code, the other identifying attributes
    are emptied or removed (``DEIDENTIFICATION_METHOD``); UIDs are kept so the references still resolve.
    """
    copy = deepcopy(source)
    for keyword in _TYPE_2:  # present in real MR headers; sparse ones get them empty, as DICOM allows
        if keyword not in copy:
            setattr(copy, keyword, "")
    if deidentify:
        code = study_code(result)
        copy.PatientName = code
        copy.PatientID = code
        for keyword in _BLANKED:
            setattr(copy, keyword, "")
        for keyword in _REMOVED:
            if keyword in copy:
                delattr(copy, keyword)
    return copy


def mark_deidentified(ds: Dataset) -> None:
    """Say in ``ds`` how it was de-identified (PS3.15: Patient Identity Removed, De-identification Method)."""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = list(DEIDENTIFICATION_METHOD)
