"""Pixel loading: a ``SeriesInfo`` becomes a sorted ``Volume`` in physical units."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from brainscan.errors import SeriesLoadError
from brainscan.io.scan import frame_orientation
from brainscan.types import SeriesInfo, SkippedFile, Volume

log = logging.getLogger(__name__)


@dataclass
class Frame:
    """One decoded 2D slice with the geometry needed to sort it."""

    pixels: np.ndarray
    path: Path
    position: tuple[float, float, float] | None
    instance: int | None
    pixel_spacing: tuple[float, float] | None
    window: tuple[float, float] | None


def load(info: SeriesInfo) -> Volume:
    """Read the pixels of one series.

    Raises:
        SeriesLoadError: when no file of the series could be decoded.
    """
    if info.kind == "images":
        return load_images(info)
    if info.kind == "nifti":
        from brainscan.io.nifti import load_nifti

        return load_nifti(info)
    return load_dicom(info)


# ---------------------------------------------------------------- DICOM


def first_number(value) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None


def to_gray(pixels: np.ndarray, ds) -> np.ndarray:
    """Grey float32 slice(s); colour (RGB, YBR decoded to RGB by pydicom) reduced to luminance."""
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    arr = pixels.astype(np.float32)
    if samples == 3:
        arr = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
    return arr


def rescale(arr: np.ndarray, slope, intercept) -> np.ndarray:
    s = first_number(slope)
    b = first_number(intercept)
    return arr * (1.0 if s is None else s) + (0.0 if b is None else b)


def invert_monochrome1(arr: np.ndarray, ds) -> np.ndarray:
    """MONOCHROME1 stores bright as low values: flip so that high always means bright."""
    if str(ds.get("PhotometricInterpretation", "")).strip() != "MONOCHROME1":
        return arr
    bits = int(ds.get("BitsStored", 16) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return (high + low) - arr


def spacing_of(item) -> tuple[float, float] | None:
    values = item.get("PixelSpacing") if item is not None else None
    if values is None or len(values) != 2:
        return None
    try:
        row, col = float(values[0]), float(values[1])
    except (TypeError, ValueError):
        return None
    return (row, col) if row > 0 and col > 0 else None


def window_of(item) -> tuple[float, float] | None:
    if item is None:
        return None
    center, width = first_number(item.get("WindowCenter")), first_number(item.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return center, width


def position_of(item) -> tuple[float, float, float] | None:
    values = item.get("ImagePositionPatient") if item is not None else None
    if values is None or len(values) != 3:
        return None
    try:
        return tuple(float(v) for v in values)  # type: ignore[return-value]
    except (TypeError, ValueError):
        return None


def frames_from_dataset(ds, path: Path) -> list[Frame]:
    """Decode a (single- or multi-frame) DICOM file into frames with their own geometry."""
    raw = ds.pixel_array
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if n_frames == 1 and raw.ndim == (3 if samples == 3 else 2):
        raw = raw[None]
    gray = to_gray(raw, ds)
    instance = ds.get("InstanceNumber")
    instance = int(instance) if instance not in (None, "") else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    shared_item = shared[0] if shared else None
    frames: list[Frame] = []
    for i in range(gray.shape[0]):
        item = per_frame[i] if per_frame and i < len(per_frame) else None

        def functional(name, _item=item):
            for group in (_item, shared_item):
                sequence = getattr(group, name, None) if group is not None else None
                if sequence:
                    return sequence[0]
            return None

        transform = functional("PixelValueTransformationSequence")
        slope = ds.get("RescaleSlope") if transform is None else transform.get("RescaleSlope")
        intercept = ds.get("RescaleIntercept") if transform is None else transform.get("RescaleIntercept")
        pixels = invert_monochrome1(gray[i], ds)
        pixels = rescale(pixels, slope, intercept)
        frames.append(
            Frame(
                pixels=pixels.astype(np.float32),
                path=path,
                position=position_of(functional("PlanePositionSequence")) or position_of(ds),
                instance=(instance if n_frames == 1 else i + 1),
                pixel_spacing=spacing_of(functional("PixelMeasuresSequence")) or spacing_of(ds),
                window=window_of(functional("FrameVOILUTSequence")) or window_of(ds),
            )
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
    """Slice spacing in mm as the median gap between distinct positions (never SliceThickness)."""
    if distances is None or len(distances) < 2:
        return None
    gaps = np.diff(np.unique(np.round(distances, 4)))
    gaps = gaps[gaps > 1e-3]
    if len(gaps) == 0:
        return None
    spacing = float(np.median(gaps))
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


def load_dicom(info: SeriesInfo) -> Volume:
    frames: list[Frame] = []
    skipped: list[SkippedFile] = list(info.skipped)
    orientation = None
    for path in info.files:
        try:
            ds = pydicom.dcmread(path)
            if "PixelData" not in ds and "FloatPixelData" not in ds:
                skipped.append(SkippedFile(path, "DICOM without pixel data"))
                continue
            new = frames_from_dataset(ds, path)
        except PermissionError:
            skipped.append(SkippedFile(path, "permission denied: the file cannot be read"))
            continue
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "skip this file, say why"
            skipped.append(SkippedFile(path, f"image data could not be decoded ({type(exc).__name__}: {exc})"))
            log.debug("decode failed for %s", path, exc_info=True)
            continue
        if any(f.pixels.shape != (info.rows, info.columns) for f in new):
            skipped.append(SkippedFile(path, "image size differs from the rest of the series"))
            continue
        orientation = orientation or frame_orientation(ds)
        frames.extend(new)
    if not frames:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:5])
        raise SeriesLoadError(f"None of the images in '{info.description}' could be read. {reasons}")
    ordered, sorted_by, warnings, distances = sort_frames(frames, orientation)
    warnings = list(info.warnings) + warnings
    if sorted_by == "filename" or sorted_by == "instance":
        log.warning("%s: %s", info.description, warnings[-1])
    slice_spacing = spacing_from_positions(distances, warnings)
    pixels = np.stack([f.pixels for f in ordered]).astype(np.float32)
    window = ordered[len(ordered) // 2].window or robust_window(pixels)  # edge slices often carry odd windows
    positions = np.array([f.position for f in ordered]) if sorted_by == "position" else None
    return Volume(
        pixels=pixels,
        info=replace(info, frames=len(ordered)),
        pixel_spacing_mm=ordered[len(ordered) // 2].pixel_spacing,
        slice_spacing_mm=slice_spacing,
        sorted_by=sorted_by,
        window=window,
        positions_mm=positions,
        orientation=orientation,
        slice_files=tuple(f.path for f in ordered),
        warnings=tuple(warnings),
        skipped=tuple(skipped),
    )


# ---------------------------------------------------------------- image folders


def read_gray_image(path: Path) -> np.ndarray:
    """Any PIL image (whatever its extension claims) as a grey float32 array; 16-bit kept as is."""
    with Image.open(path) as img:
        img.load()
        if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            return np.asarray(img, dtype=np.float32)
        return np.asarray(img.convert("L"), dtype=np.float32)


def fit_to_canvas(pixels: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """A 2D image scaled to fit ``rows`` x ``columns`` with its aspect ratio kept, centred on a zero canvas.

    For folders of images of mixed sizes (brainscan.io.scan.image_canvas): every slice is shown and analysed on
    one grid. Area-averaging when shrinking, bilinear when enlarging, as the classifier's own preprocessing does.
    """
    height, width = pixels.shape
    scale = min(rows / height, columns / width)
    new_h, new_w = max(1, min(rows, round(height * scale))), max(1, min(columns, round(width * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    scaled = np.asarray(
        Image.fromarray(pixels.astype(np.float32), mode="F").resize((new_w, new_h), resample=resample),
        dtype=np.float32,
    )
    canvas = np.zeros((rows, columns), dtype=np.float32)
    top, left = (rows - new_h) // 2, (columns - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = scaled
    return canvas


def load_images(info: SeriesInfo) -> Volume:
    """Load a folder of 2D slices (already in natural file-name order); spacing is unknown. Slices of another
    size than the series' are scaled to fit it (``fit_to_canvas``; the series carries the warning)."""
    slices: list[np.ndarray] = []
    used: list[Path] = []
    skipped: list[SkippedFile] = list(info.skipped)
    for path in info.files:
        try:
            arr = read_gray_image(path)
        except PermissionError:
            skipped.append(SkippedFile(path, "permission denied: the file cannot be read"))
            continue
        except Exception as exc:  # noqa: BLE001 - a corrupt file is skipped with its reason
            skipped.append(SkippedFile(path, f"image could not be decoded ({type(exc).__name__})"))
            continue
        if arr.shape != (info.rows, info.columns):
            arr = fit_to_canvas(arr, info.rows, info.columns)
        slices.append(arr)
        used.append(path)
    if not slices:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:5])
        raise SeriesLoadError(f"None of the images in '{info.description}' could be read. {reasons}")
    pixels = np.stack(slices).astype(np.float32)
    return Volume(
        pixels=pixels,
        info=replace(info, frames=len(used), files=tuple(used)),
        pixel_spacing_mm=None,
        slice_spacing_mm=None,
        sorted_by="filename",
        window=robust_window(pixels),
        slice_files=tuple(used),
        warnings=info.warnings,
        skipped=tuple(skipped),
    )
