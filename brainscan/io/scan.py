"""Header-only discovery of series in files and folders (DICOM, NIfTI and image slices).

Every file is handled on its own: whatever goes wrong with one file (a malformed header, a decoder bug, a
RecursionError in a parser) skips that file with a reason and never stops the scan.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from brainscan.errors import SeriesLoadError
from brainscan.io.budget import MAX_DIMENSION, size_problem
from brainscan.io.dicom_file import DicomReadError, header_int, pixel_format_problem, read_dicom
from brainscan.io.files import open_failure_reason, open_regular, path_token
from brainscan.io.nifti import is_nifti, read_nifti_header
from brainscan.io.walk import iter_files
from brainscan.text import clean_text
from brainscan.types import SeriesInfo, SkippedFile, StudyMeta

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
Image.MAX_IMAGE_PIXELS = MAX_DIMENSION * MAX_DIMENSION
NOT_AN_IMAGE = "not a readable image"


def text(ds, keyword: str) -> str:
    """A DICOM attribute as one printable line ('' when absent): control characters and line breaks removed."""
    value = ds.get(keyword, "")
    return "" if value is None else clean_text(value).strip()


def study_meta(ds) -> StudyMeta:
    return StudyMeta(
        patient_name=text(ds, "PatientName"),
        patient_id=text(ds, "PatientID"),
        patient_birth_date=text(ds, "PatientBirthDate"),
        study_date=text(ds, "StudyDate"),
        study_time=text(ds, "StudyTime"),
        study_uid=text(ds, "StudyInstanceUID"),
        study_description=text(ds, "StudyDescription"),
        accession_number=text(ds, "AccessionNumber"),
        institution=text(ds, "InstitutionName"),
    )


def _functional_orientation(ds, sequence: str):
    """ImageOrientationPatient of the first item of a functional groups sequence, or None."""
    try:
        return ds.get(sequence)[0].PlaneOrientationSequence[0].ImageOrientationPatient
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def frame_orientation(ds) -> tuple[float, ...] | None:
    """ImageOrientationPatient from the top level or, for enhanced (multi-frame) MR, the Shared Functional Groups
    or else the first frame's Per-frame Functional Groups (where Siemens XA scanners put it), when usable: six
    finite numbers forming two unit vectors at right angles (else None: orientation unknown)."""
    iop = ds.get("ImageOrientationPatient")
    if iop is None:
        iop = _functional_orientation(ds, "SharedFunctionalGroupsSequence")
    if iop is None:
        iop = _functional_orientation(ds, "PerFrameFunctionalGroupsSequence")
    if iop is None:
        return None
    try:
        values = tuple(float(v) for v in iop)
    except (TypeError, ValueError):
        return None
    if len(values) != 6 or not all(math.isfinite(v) for v in values):
        return None
    row, col = values[:3], values[3:]
    norm_row, norm_col = math.sqrt(sum(v * v for v in row)), math.sqrt(sum(v * v for v in col))
    dot = sum(a * b for a, b in zip(row, col, strict=True))
    if not (0.9 < norm_row < 1.1 and 0.9 < norm_col < 1.1 and abs(dot) < 0.1):
        return None
    return values


@dataclass(frozen=True)
class ImageHeader:
    size: tuple[int, int]  # (width, height)
    frames: int
    format: str


def read_dicom_header(path: Path):
    """Return (dataset, None) for an image DICOM, or (None, reason) when the file cannot be used."""
    try:
        ds = read_dicom(path, stop_before_pixels=True)
        sop_class = text(ds.file_meta, "MediaStorageSOPClassUID") if getattr(ds, "file_meta", None) else ""
        if sop_class == DICOMDIR_CLASS or "DirectoryRecordSequence" in ds:
            return None, "DICOMDIR index file (the images it lists are scanned directly)"
        rows, cols = header_int(ds, "Rows"), header_int(ds, "Columns")
        if rows is None or cols is None:
            return None, f"DICOM without an image ({text(ds, 'Modality') or 'unknown modality'}, e.g. a report)"
        problem = size_problem(rows, cols)
        if problem:
            return None, problem
        frames = header_int(ds, "NumberOfFrames", 1)
        if frames < 1:
            return None, f"damaged DICOM header: NumberOfFrames is {frames}"
        problem = pixel_format_problem(ds)
        if problem:
            return None, problem
    except DicomReadError as exc:
        return None, str(exc)
    return ds, None


def read_image_header(path: Path) -> tuple[ImageHeader | None, str]:
    """Return (header, "") for a usable image file, or (None, reason). A reason that does not start with
    ``NOT_AN_IMAGE`` means the file is an image that cannot be used (too small, too large)."""
    try:
        with open_regular(path) as handle:
            if not handle.read(1):
                return None, "empty file (0 bytes)"
            handle.seek(0)
            with Image.open(handle) as img:
                size, frames, fmt = img.size, int(getattr(img, "n_frames", 1) or 1), img.format or "image"
    except OSError as exc:
        if isinstance(exc, UnidentifiedImageError) or not exc.errno:
            return None, f"{NOT_AN_IMAGE} ({type(exc).__name__})"
        return None, open_failure_reason(exc)
    except Image.DecompressionBombError:
        return None, f"implausible image size for an MRI slice (more than {MAX_DIMENSION} pixels on a side); not read"
    except ValueError as exc:
        return None, f"{NOT_AN_IMAGE} ({type(exc).__name__})"
    problem = size_problem(size[1], size[0])
    if problem:
        return None, problem
    return ImageHeader(size, max(frames, 1), fmt), ""


def unexpected_reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "damaged file: its structure is nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "damaged file: reading its header needs more memory than is available"
    return f"could not be read ({type(exc).__name__}); the file may be damaged"


@dataclass
class _Found:
    """What the scan collected, before it becomes series."""

    dicom: dict[tuple, list[tuple[Path, object]]] = field(default_factory=lambda: defaultdict(list))
    images: dict[tuple, list[tuple[Path, ImageHeader]]] = field(default_factory=lambda: defaultdict(list))
    nifti: list[SeriesInfo] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def _add_file(path: Path, found: _Found) -> None:
    """Sort one file into DICOM, NIfTI or image groups, or skip it with its reason."""
    if is_nifti(path):
        info, reason = read_nifti_header(path)
        if info is None:
            found.skipped.append(SkippedFile(path, reason))
        else:
            found.nifti.append(info)
        return
    if path.suffix.lower() in IMAGE_SUFFIXES:
        header, reason = read_image_header(path)
        if header is not None:
            found.images[(path.parent, header.size)].append((path, header))
            return
        ds, _ = read_dicom_header(path)  # a file named .jpg may still be DICOM
        if ds is None:
            found.skipped.append(SkippedFile(path, reason))
            return
    else:
        ds, reason = read_dicom_header(path)
        if ds is None:
            header, image_reason = read_image_header(path)
            if header is not None:
                found.images[(path.parent, header.size)].append((path, header))
            elif image_reason.startswith(NOT_AN_IMAGE) or image_reason == "empty file (0 bytes)":
                found.skipped.append(SkippedFile(path, reason))
            else:  # an image file, but not a usable one: say why
                found.skipped.append(SkippedFile(path, image_reason))
            return
    orientation = frame_orientation(ds)
    uid = text(ds, "SeriesInstanceUID") or f"no-uid:{path_token(path.parent)}"
    key = (
        uid,
        text(ds, "PatientID"),
        text(ds, "StudyInstanceUID"),
        tuple(round(v, 3) for v in orientation) if orientation else None,
        header_int(ds, "Rows"),
        header_int(ds, "Columns"),
    )
    found.dicom[key].append((path, ds))


def scan(paths: Iterable[Path | str]) -> list[SeriesInfo]:
    """Find every series under ``paths`` (files or folders, recursively), reading headers only.

    NIfTI files (``.nii``, ``.nii.gz``) are one series each (label volumes such as ``seg.nii.gz`` are skipped).
    DICOM files are grouped by SeriesInstanceUID, then split by patient, study, orientation and image size when
    one UID mixes them (with a warning). Image files (JPEG, PNG, TIFF, BMP, GIF, whatever their names say) form
    one series per folder (on its most common image size, see ``image_canvas``); a multi-page TIFF or animated
    GIF gives one slice per page. Files that
    cannot be used are listed on every series found in the same scan (``skipped``).

    Raises:
        SeriesLoadError: when nothing usable was found; the message lists why files were skipped.
    """
    paths = list(paths)
    files, skipped = iter_files(paths)
    found = _Found(skipped=skipped)
    for path in files:
        try:
            _add_file(path, found)
        except Exception as exc:  # noqa: BLE001 - one file's failure, whatever it is, never stops the scan
            log.debug("scanning %s failed", path, exc_info=True)
            found.skipped.append(SkippedFile(path, unexpected_reason(exc)))
    order = {path: i for i, path in enumerate(files)}
    nifti = [replace(info, skipped=tuple(found.skipped)) for info in found.nifti]
    series = nifti + dicom_series(found) + image_series(found, order)
    if not series:
        raise SeriesLoadError(no_series_message(paths, found.skipped))
    return series


def _split_warnings(keys: list[tuple]) -> list[str]:
    """Why one series UID became several series (``keys`` are that UID's group keys)."""
    patients = {k[1] for k in keys}
    studies = {k[2] for k in keys}
    geometry = {k[3:] for k in keys}
    warnings = []
    if len(patients) > 1:
        warnings.append(
            f"Files of {len(patients)} different patients (PatientID) share this series UID, which happens with "
            "broken anonymisers and copied folders; they were split into one series per patient. Check that this "
            "series belongs to the patient you expect."
        )
    elif len(studies) > 1:
        warnings.append(
            f"Files of {len(studies)} different studies (StudyInstanceUID) share this series UID; they were split "
            "into one series per study."
        )
    if len(geometry) > 1:
        warnings.append("this series UID mixes orientations or image sizes; it was split into parts")
    return warnings


def dicom_series(found: _Found) -> list[SeriesInfo]:
    keys_per_uid: dict[str, list[tuple]] = defaultdict(list)
    for key in found.dicom:
        keys_per_uid[key[0]].append(key)
    series = []
    for key, members in found.dicom.items():
        uid, rows, cols = key[0], key[4], key[5]
        first = members[0][1]
        description = text(first, "SeriesDescription") or text(first, "ProtocolName") or "DICOM series"
        siblings = keys_per_uid[uid]
        warnings = _split_warnings(siblings) if len(siblings) > 1 else []
        if len(siblings) > 1:
            part = siblings.index(key) + 1
            sizes = {k[4:] for k in siblings}
            description = f"{description} (part {part} of {len(siblings)}" + (
                f": {rows}x{cols})" if len(sizes) > 1 else ")"
            )
        frames = sum(header_int(ds, "NumberOfFrames", 1) for _, ds in members)
        series.append(
            SeriesInfo(
                kind="dicom",
                series_uid=uid,
                description=description,
                modality=text(first, "Modality"),
                files=tuple(p for p, _ in members),
                rows=rows,
                columns=cols,
                source=members[0][0].parent,
                meta=study_meta(first),
                frames=frames,
                skipped=tuple(found.skipped),
                warnings=tuple(warnings),
            )
        )
    return series


def image_series(found: _Found, order: dict[Path, int]) -> list[SeriesInfo]:
    """One series per folder of image files, on the most common image size (``image_canvas``)."""
    by_folder: dict[Path, list[tuple[Path, ImageHeader]]] = defaultdict(list)
    for (folder, _), members in found.images.items():
        by_folder[folder] += members
    series = []
    for folder, members in by_folder.items():
        members.sort(key=lambda member: order[member[0]])  # the walk's natural order, across image sizes
        (height, width), warnings = image_canvas([header.size for _, header in members])
        paged = [h for _, h in members if h.frames > 1]
        if paged:
            formats = "/".join(sorted({h.format for h in paged}))
            warnings.append(
                f"{len(paged)} multi-page image file(s) ({formats}, {sum(h.frames for h in paged)} pages in all) "
                "were read page by page, one slice per page, in page order."
            )
        misnamed = [h for p, h in members if p.suffix.lower() == ".dcm"]
        if misnamed:
            formats = "/".join(sorted({h.format for h in misnamed}))
            warnings.append(
                f"{len(misnamed)} file(s) named .dcm are not DICOM but {formats} images; they were read as images "
                "(no patient data, no pixel spacing)."
            )
        series.append(
            SeriesInfo(
                kind="images",
                series_uid=f"images:{path_token(folder)}",
                description=clean_text(folder.name) or clean_text(folder) or "images",
                modality="",
                files=tuple(p for p, _ in members),
                rows=height,
                columns=width,
                source=folder,
                frames=sum(h.frames for _, h in members),
                skipped=tuple(found.skipped),
                warnings=tuple(warnings),
            )
        )
    return series


def image_canvas(sizes: list[tuple[int, int]]) -> tuple[tuple[int, int], list[str]]:
    """(rows, columns) that a folder of 2D images of ``sizes`` ((width, height) as PIL gives them) is shown and
    analysed on, and the warning to give when sizes differ.

    Why one series: the slices of one folder are one study, and each slice is brought to the model's input size
    anyway; splitting the folder by image size (as before) offered several "series" and analysed only some of
    its slices together. The canvas is the most common size (the larger one on a tie); images of other sizes are
    scaled to fit it, keeping their aspect ratio (brainscan.io.images.fit_to_canvas).
    """
    counts = Counter(sizes)
    width, height = max(counts, key=lambda size: (counts[size], size[0] * size[1]))
    others = len(sizes) - counts[(width, height)]
    if not others:
        return (height, width), []
    return (height, width), [
        f"The images have {len(counts)} different sizes: {others} of {len(sizes)} were scaled to fit "
        f"{height}x{width} pixels (aspect ratio kept) so the folder is analysed as one study; areas in pixels "
        "refer to that grid."
    ]


def no_series_message(paths: list, skipped: list[SkippedFile]) -> str:
    where = ", ".join(clean_text(p) for p in paths) or "(nothing given)"
    if not skipped:
        return f"This folder holds no MRI images: {where} is empty."
    lines = [f"This folder holds no readable MRI images: {where}."]
    for item in skipped[:10]:
        lines.append(f"  {clean_text(item.path.name)}: {item.reason}")
    if len(skipped) > 10:
        lines.append(f"  ... and {len(skipped) - 10} more files")
    return "\n".join(lines)
