"""Header-only discovery of series in files and folders (DICOM and image slices)."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pydicom
from PIL import Image, UnidentifiedImageError
from pydicom.errors import InvalidDicomError

from brainscan.errors import SeriesLoadError
from brainscan.io.nifti import is_nifti, read_nifti_header
from brainscan.io.walk import iter_files
from brainscan.types import SeriesInfo, SkippedFile, StudyMeta

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}
MAX_DIMENSION = 8192
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
Image.MAX_IMAGE_PIXELS = MAX_DIMENSION * MAX_DIMENSION


def text(ds, keyword: str) -> str:
    """A DICOM attribute as a stripped string ('' when absent)."""
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


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


def frame_orientation(ds) -> tuple[float, ...] | None:
    """ImageOrientationPatient from the top level or the shared functional groups (enhanced MR)."""
    iop = ds.get("ImageOrientationPatient")
    if iop is None:
        try:
            iop = ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient
        except (AttributeError, IndexError, KeyError):
            return None
    try:
        values = tuple(float(v) for v in iop)
    except (TypeError, ValueError):
        return None
    return values if len(values) == 6 else None


def read_dicom_header(path: Path):
    """Return (dataset, None) for an image DICOM, or (None, reason) when the file cannot be used."""
    try:
        if path.stat().st_size == 0:
            return None, "empty file (0 bytes)"
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        return None, "not a DICOM or image file"
    except PermissionError:
        return None, "permission denied: the file cannot be read"
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, f"damaged DICOM header ({type(exc).__name__})"
    sop_class = text(ds.file_meta, "MediaStorageSOPClassUID") if "file_meta" in dir(ds) else ""
    if sop_class == DICOMDIR_CLASS or "DirectoryRecordSequence" in ds:
        return None, "DICOMDIR index file (the images it lists are scanned directly)"
    rows, cols = ds.get("Rows"), ds.get("Columns")
    if rows is None or cols is None:
        return None, f"DICOM without an image ({text(ds, 'Modality') or 'unknown modality'}, e.g. a report)"
    if not (1 <= int(rows) <= MAX_DIMENSION and 1 <= int(cols) <= MAX_DIMENSION):
        return None, f"implausible image size {rows}x{cols}"
    return ds, None


def read_image_header(path: Path):
    """Return ((width, height), None) for a readable image file, or (None, reason)."""
    try:
        if path.stat().st_size == 0:
            return None, "empty file (0 bytes)"
        with Image.open(path) as img:
            size = img.size
    except PermissionError:
        return None, "permission denied: the file cannot be read"
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        return None, f"not a readable image ({type(exc).__name__})"
    if not (1 <= size[0] <= MAX_DIMENSION and 1 <= size[1] <= MAX_DIMENSION):
        return None, f"implausible image size {size[1]}x{size[0]}"
    return size, None


def scan(paths: Iterable[Path | str]) -> list[SeriesInfo]:
    """Find every series under ``paths`` (files or folders, recursively), reading headers only.

    NIfTI files (``.nii``, ``.nii.gz``) are one series each (label volumes such as ``seg.nii.gz`` are skipped).
    DICOM files are grouped by SeriesInstanceUID, then split by orientation and image size when one UID
    mixes them. Image files (JPEG, PNG, TIFF, BMP) form one series per folder and image size. Files that
    cannot be used are listed on every series found in the same folder tree (``skipped``).

    Raises:
        SeriesLoadError: when nothing usable was found; the message lists why files were skipped.
    """
    paths = list(paths)
    files, skipped = iter_files(paths)
    dicom_groups: dict[tuple, list[tuple[Path, object]]] = defaultdict(list)
    image_groups: dict[tuple, list[Path]] = defaultdict(list)
    nifti_series: list[SeriesInfo] = []
    for path in files:
        if is_nifti(path):
            info, reason = read_nifti_header(path)
            if info is None:
                skipped.append(SkippedFile(path, reason))
            else:
                nifti_series.append(info)
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            size, reason = read_image_header(path)
            if size is not None:
                image_groups[(path.parent, size)].append(path)
                continue
            # A file named .jpg may still be DICOM; try that before giving up.
            ds, _ = read_dicom_header(path)
            if ds is None:
                skipped.append(SkippedFile(path, reason))
                continue
        else:
            ds, reason = read_dicom_header(path)
            if ds is None:
                size, _ = read_image_header(path)
                if size is not None and path.suffix.lower() != ".dcm":
                    image_groups[(path.parent, size)].append(path)
                else:
                    skipped.append(SkippedFile(path, reason))
                continue
        orientation = frame_orientation(ds)
        key = (
            text(ds, "SeriesInstanceUID") or f"no-uid:{path.parent}",
            tuple(round(v, 3) for v in orientation) if orientation else None,
            int(ds.Rows),
            int(ds.Columns),
        )
        dicom_groups[key].append((path, ds))

    series: list[SeriesInfo] = [replace(info, skipped=tuple(skipped)) for info in nifti_series]
    parts_per_uid: dict[str, int] = defaultdict(int)
    for key in dicom_groups:
        parts_per_uid[key[0]] += 1
    part_counter: dict[str, int] = defaultdict(int)
    for key, members in dicom_groups.items():
        uid, _, rows, cols = key
        first = members[0][1]
        description = text(first, "SeriesDescription") or text(first, "ProtocolName") or "DICOM series"
        warnings: list[str] = []
        if parts_per_uid[uid] > 1:
            part_counter[uid] += 1
            description = f"{description} (part {part_counter[uid]}: {rows}x{cols})"
            warnings.append("this series UID mixes orientations or image sizes; it was split into parts")
        frames = sum(int(ds.get("NumberOfFrames", 1) or 1) for _, ds in members)
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
                skipped=tuple(skipped),
                warnings=tuple(warnings),
            )
        )
    found_at = {path: i for i, path in enumerate(files)}  # the walk's natural order, kept across image sizes
    by_folder: dict[Path, list[tuple[Path, tuple[int, int]]]] = defaultdict(list)
    for (folder, size), members in image_groups.items():
        by_folder[folder] += [(path, size) for path in members]
    for folder, members in by_folder.items():
        (height, width), warnings = image_canvas([size for _, size in members])
        series.append(
            SeriesInfo(
                kind="images",
                series_uid=f"images:{folder}",
                description=folder.name or str(folder),
                modality="",
                files=tuple(sorted((path for path, _ in members), key=found_at.__getitem__)),
                rows=height,
                columns=width,
                source=folder,
                frames=len(members),
                skipped=tuple(skipped),
                warnings=tuple(warnings),
            )
        )
    if not series:
        raise SeriesLoadError(no_series_message(paths, skipped))
    return series


def image_canvas(sizes: list[tuple[int, int]]) -> tuple[tuple[int, int], list[str]]:
    """(rows, columns) that a folder of 2D images of ``sizes`` ((width, height) as PIL gives them) is shown and
    analysed on, and the warning to give when sizes differ.

    Why one series: the slices of one folder are one study, and each slice is brought to the model's input size
    anyway; splitting the folder by image size (as before) offered several "series" and analysed only some of
    its slices together. The canvas is the most common size (the larger one on a tie); images of other sizes are
    scaled to fit it, keeping their aspect ratio (brainscan.io.load.fit_to_canvas).
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
    where = ", ".join(str(p) for p in paths) or "(nothing given)"
    if not skipped:
        return f"This folder holds no MRI images: {where} is empty."
    lines = [f"This folder holds no readable MRI images: {where}."]
    for item in skipped[:10]:
        lines.append(f"  {item.path.name}: {item.reason}")
    if len(skipped) > 10:
        lines.append(f"  ... and {len(skipped) - 10} more files")
    return "\n".join(lines)
