"""Pixel loading: a ``SeriesInfo`` becomes a sorted ``Volume`` in physical units.

``load`` checks the pixel budget from the headers before anything is decoded (brainscan.io.budget), and every
volume it returns holds finite pixels only, with a warning for what was repaired or is blank
(brainscan.io.values). A file that cannot be used is skipped with its reason, and the volume's warnings say
how many slices were left out: a slice is never dropped without a word.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from brainscan.errors import SeriesLoadError
from brainscan.io.budget import MAX_SERIES_PIXELS, check_series_pixels, too_large_message
from brainscan.io.dicom_file import (
    DicomReadError,
    header_int,
    pixel_format_problem,
    pixel_length_problem,
    read_dicom,
)
from brainscan.io.images import load_images, read_gray_image
from brainscan.io.scan import frame_orientation
from brainscan.io.stack import SliceStack
from brainscan.io.values import (
    blank_slices,
    blank_warning,
    non_finite_warning,
    number,
    position_of,
    replace_non_finite,
    rescale_of,
    slice_spacing_warning,
    spacing_of,
)
from brainscan.types import SeriesInfo, SkippedFile, Volume

log = logging.getLogger(__name__)

__all__ = ["load", "load_dicom", "load_images", "read_gray_image", "robust_window"]


@dataclass
class Frame:
    """One decoded 2D slice (its pixels live in the loader's ``SliceStack`` at ``index``) and its geometry."""

    index: int
    path: Path
    position: tuple[float, float, float] | None
    instance: int | None
    pixel_spacing: tuple[float, float] | None
    window: tuple[float, float] | None


def load(info: SeriesInfo) -> Volume:
    """Read the pixels of one series.

    Raises:
        SeriesLoadError: when the series is larger than the pixel budget (nothing is decoded), or when no file
            of the series could be decoded.
    """
    check_series_pixels(info.rows, info.columns, info.slices)
    if info.kind == "images":
        volume = load_images(info)
    elif info.kind == "nifti":
        from brainscan.io.nifti import load_nifti

        volume = load_nifti(info)
    else:
        volume = load_dicom(info)
    return checked(volume)


def checked(volume: Volume) -> Volume:
    """The last guard of every loader: finite pixels and window, and a warning when slices are blank."""
    warnings = list(volume.warnings)
    damaged = set(volume.damaged_slices) | {
        int(i) for i in np.flatnonzero(~np.isfinite(volume.pixels).all(axis=(1, 2)))
    }
    repaired = replace_non_finite(volume.pixels)
    if repaired:
        warnings.append(non_finite_warning(repaired, volume.n_slices))
    window = volume.window
    if repaired or not all(np.isfinite(window)) or window[1] <= 0:
        window = robust_window(volume.pixels)
    blank = blank_warning(blank_slices(volume.pixels), volume.n_slices)
    if blank:
        warnings.append(blank)
    if window == volume.window and warnings == list(volume.warnings) and damaged == set(volume.damaged_slices):
        return volume
    return replace(
        volume, window=window, warnings=tuple(dict.fromkeys(warnings)), damaged_slices=tuple(sorted(damaged))
    )


def skipped_warning(skipped: list[SkippedFile], total_files: int) -> list[str]:
    """A warning naming how many files of the series were left out at load (their reasons are on ``skipped``)."""
    if not skipped:
        return []
    return [
        f"{len(skipped)} of {total_files} file(s) of this series could not be read and were left out "
        "(see the skipped files for why)."
    ]


# ---------------------------------------------------------------- DICOM


def to_gray(pixels: np.ndarray, ds) -> np.ndarray:
    """Grey float32 slice(s); colour (RGB, YBR decoded to RGB by pydicom) reduced to luminance."""
    samples = header_int(ds, "SamplesPerPixel", 1)
    arr = pixels.astype(np.float32)
    if samples == 3:
        arr = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
    return arr


def invert_monochrome1(arr: np.ndarray, ds) -> np.ndarray:
    """MONOCHROME1 stores bright as low values: flip so that high always means bright."""
    if str(ds.get("PhotometricInterpretation", "")).strip() != "MONOCHROME1":
        return arr
    bits = header_int(ds, "BitsStored", 16)
    signed = header_int(ds, "PixelRepresentation", 0) == 1
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return (high + low) - arr


def window_of(item) -> tuple[float, float] | None:
    if item is None:
        return None
    center, width = number(item.get("WindowCenter")), number(item.get("WindowWidth"))
    if center is None or width is None or not np.isfinite(center) or not np.isfinite(width) or width <= 0:
        return None
    return center, width


def instance_of(ds) -> int | None:
    """InstanceNumber when it is a whole number, else None (sorting then relies on positions)."""
    try:
        return header_int(ds, "InstanceNumber")
    except DicomReadError:
        return None


def frames_from_dataset(ds, path: Path, stack: SliceStack, notes: set[str]) -> list[Frame]:
    """Decode a (single- or multi-frame) DICOM file into ``stack``, one Frame per 2D slice with its geometry.
    Header values that had to be ignored are added to ``notes`` as warnings."""
    raw = ds.pixel_array
    n_frames = header_int(ds, "NumberOfFrames", 1)
    samples = header_int(ds, "SamplesPerPixel", 1)
    if n_frames == 1 and raw.ndim == (3 if samples == 3 else 2):
        raw = raw[None]
    instance = instance_of(ds)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    shared_item = shared[0] if shared else None
    frames: list[Frame] = []
    orientations: set[tuple[float, ...]] = set()
    for i in range(raw.shape[0]):
        item = per_frame[i] if per_frame and i < len(per_frame) else None

        def functional(name, _item=item):
            for group in (_item, shared_item):
                sequence = getattr(group, name, None) if group is not None else None
                if sequence:
                    return sequence[0]
            return None

        def value(item, keyword):
            return item.get(keyword) if item is not None else None

        transform = functional("PixelValueTransformationSequence")
        source = ds if transform is None else transform
        slope, intercept, note = rescale_of(source.get("RescaleSlope"), source.get("RescaleIntercept"))
        pixels = invert_monochrome1(to_gray(raw[i], ds), ds)
        if slope != 1.0 or intercept != 0.0:
            pixels = pixels * np.float32(slope) + np.float32(intercept)
        position, position_note = position_of(value(functional("PlanePositionSequence"), "ImagePositionPatient"))
        if position is None and position_note is None:
            position, position_note = position_of(ds.get("ImagePositionPatient"))
        iop = value(functional("PlaneOrientationSequence"), "ImageOrientationPatient")
        if iop is not None and len(iop) == 6:
            orientations.add(tuple(round(float(v), 3) for v in iop))
        spacing, spacing_note = spacing_of(value(functional("PixelMeasuresSequence"), "PixelSpacing"))
        if spacing is None and spacing_note is None:
            spacing, spacing_note = spacing_of(ds.get("PixelSpacing"))
        notes.update(n for n in (note, position_note, spacing_note) if n)
        frames.append(
            Frame(
                index=stack.add(pixels),
                path=path,
                position=position,
                instance=(instance if n_frames == 1 else i + 1),
                pixel_spacing=spacing,
                window=window_of(functional("FrameVOILUTSequence")) or window_of(ds),
            )
        )
    if len(orientations) > 1:
        notes.add(
            f"the frames of {path.name} lie in {len(orientations)} different orientations (several stacks in one "
            "file); they were sorted along the first frame's slice direction"
        )
    return frames


def slice_normal(orientation: tuple[float, ...]) -> np.ndarray:
    row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    return normal / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def sort_frames(frames: list[Frame], orientation) -> tuple[list[Frame], str, list[str], np.ndarray | None]:
    """Order frames along the slice normal, else by InstanceNumber, else by file name (with a warning)."""
    warnings: list[str] = []
    if orientation is not None and all(f.position is not None for f in frames):
        normal = slice_normal(orientation)
        distance = np.array([float(np.dot(f.position, normal)) for f in frames])
        order = np.argsort(distance, kind="stable")
        ordered = [frames[i] for i in order]
        unique = np.unique(np.round(distance, 3))
        if len(unique) < len(frames):
            warnings.append(
                f"{len(frames) - len(unique)} slice(s) share a position with another slice "
                "(duplicates or several acquisitions); all are kept"
            )
        return ordered, "position", warnings, np.sort(distance)
    if all(f.instance is not None for f in frames) and len({f.instance for f in frames}) == len(frames):
        warnings.append("slice positions are missing; slices were ordered by InstanceNumber")
        return sorted(frames, key=lambda f: f.instance), "instance", warnings, None
    warnings.append("slice positions and instance numbers are missing or repeated; slices were ordered by file name")
    return frames, "filename", warnings, None  # files arrive in natural file-name order from scan


def spacing_from_positions(distances: np.ndarray | None, warnings: list[str]) -> float | None:
    """Slice spacing in mm as the median gap between distinct positions (never SliceThickness); None when
    unknown or implausible (with a warning)."""
    if distances is None or len(distances) < 2:
        return None
    gaps = np.diff(np.unique(np.round(distances, 4)))
    gaps = gaps[gaps > 1e-3]
    if len(gaps) == 0:
        return None
    spacing = float(np.median(gaps))
    problem = slice_spacing_warning(spacing)
    if problem:
        warnings.append(problem)
        return None
    if np.max(np.abs(gaps - spacing)) > 0.1 * spacing:
        warnings.append(
            f"slice spacing is uneven ({gaps.min():.2f}-{gaps.max():.2f} mm); volumes use the median {spacing:.2f} mm"
        )
    return round(spacing, 4)


def robust_window(pixels: np.ndarray) -> tuple[float, float]:
    """Window from the 1st and 99th percentiles, used when DICOM carries no window."""
    sample = pixels[:, ::4, ::4] if pixels.ndim == 3 else pixels
    low, high = np.percentile(sample, [1.0, 99.0])
    width = float(max(high - low, 1.0))
    return float((low + high) / 2.0), width


def decode_failure_reason(exc: BaseException, ds) -> str:
    """Why pixel data could not be decoded, in words: the compression and what is wrong, no object reprs."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    name = getattr(syntax, "name", "") or "uncompressed"
    if syntax is not None and syntax.is_compressed:
        text = str(exc)
        if "no plugins" in text.lower() or "missing required dependencies" in text.lower():
            return f"the image data is compressed as {name}, which this installation cannot decode"
        return f"the compressed image data ({name}) is damaged or incomplete and could not be decoded"
    return f"the image data is damaged or incomplete and could not be decoded ({type(exc).__name__})"


def load_dicom(info: SeriesInfo) -> Volume:
    """Decode every file of a DICOM series into one sorted volume.

    Raises:
        SeriesLoadError: when no file could be decoded, or when the files hold more pixels than the budget
            (their headers changed since the scan).
    """
    stack = SliceStack(info.slices, (info.rows, info.columns))
    frames: list[Frame] = []
    skipped: list[SkippedFile] = []
    notes: set[str] = set()
    orientation = None
    declared = 0
    for path in info.files:
        ds = None
        try:
            ds = read_dicom(path)
            rows, columns = header_int(ds, "Rows"), header_int(ds, "Columns")
            n_frames = header_int(ds, "NumberOfFrames", 1)
            if (rows, columns) != (info.rows, info.columns):
                skipped.append(SkippedFile(path, "image size differs from the rest of the series"))
                continue
            declared += rows * columns * max(n_frames, 1)
            if declared > MAX_SERIES_PIXELS:
                raise SeriesLoadError(too_large_message(rows, columns, declared // (rows * columns)))
            if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
                skipped.append(SkippedFile(path, "DICOM without pixel data"))
                continue
            problem = pixel_format_problem(ds) or pixel_length_problem(ds, rows, columns, n_frames)
            if problem:
                skipped.append(SkippedFile(path, problem))
                continue
            start = stack.count
            try:
                new = frames_from_dataset(ds, path, stack, notes)
            except BaseException:
                stack.count = start
                raise
        except DicomReadError as exc:
            skipped.append(SkippedFile(path, str(exc)))
            continue
        except MemoryError as exc:
            raise SeriesLoadError("There was not enough memory to decode the images of this series.") from exc
        except SeriesLoadError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "skip this file, say why"
            skipped.append(SkippedFile(path, decode_failure_reason(exc, ds)))
            log.debug("decode failed for %s", path, exc_info=True)
            continue
        orientation = orientation or frame_orientation(ds)
        frames.extend(new)
    if not frames:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:5])
        raise SeriesLoadError(f"None of the images in '{info.description}' could be read. {reasons}")
    ordered, sorted_by, warnings, distances = sort_frames(frames, orientation)
    warnings = list(info.warnings) + sorted(notes) + skipped_warning(skipped, len(info.files)) + warnings
    if sorted_by in ("filename", "instance"):
        log.warning("%s: %s", info.description, warnings[-1])
    slice_spacing = spacing_from_positions(distances, warnings)
    pixels = stack.ordered([f.index for f in ordered])
    damaged = tuple(position for position, f in enumerate(ordered) if f.index in stack.damaged)
    if stack.non_finite:
        warnings.append(non_finite_warning(stack.non_finite, stack.non_finite_slices))
    window = ordered[len(ordered) // 2].window or robust_window(pixels)  # edge slices often carry odd windows
    positions = np.array([f.position for f in ordered]) if sorted_by == "position" else None
    return Volume(
        pixels=pixels,
        damaged_slices=damaged,
        info=replace(info, frames=len(ordered)),
        pixel_spacing_mm=ordered[len(ordered) // 2].pixel_spacing,
        slice_spacing_mm=slice_spacing,
        sorted_by=sorted_by,
        window=window,
        positions_mm=positions,
        orientation=orientation,
        slice_files=tuple(f.path for f in ordered),
        warnings=tuple(warnings),
        skipped=tuple(info.skipped) + tuple(skipped),
    )
