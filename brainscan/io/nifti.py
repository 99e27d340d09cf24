"""NIfTI volumes (``.nii``, ``.nii.gz``) as series, read with nibabel.

A NIfTI file carries one 3D volume and an affine from voxel indices to scanner (RAS+) millimetres. BrainScan
shows and analyses it slice by slice in its acquisition plane, oriented as a DICOM viewer would show that
plane (radiological convention), so a NIfTI volume and the same scan as DICOM give the classifier the same
images:

- axial: anterior at the top, the patient's right on the image's left;
- coronal: superior at the top, the patient's right on the image's left;
- sagittal: superior at the top, anterior on the left.

The acquisition plane is the one across the largest voxel size (thick-slice 2D series); for isotropic volumes
the file's own third axis decides.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from brainscan.errors import SeriesLoadError
from brainscan.io.budget import MAX_SERIES_PIXELS, size_problem, too_large_message
from brainscan.io.files import open_failure_reason, open_regular, path_token
from brainscan.types import SeriesInfo, Volume

log = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii", ".nii.gz")
PLANES = ("sagittal", "coronal", "axial")
"""Plane across canonical axis 0 (R-L), 1 (A-P) and 2 (S-I)."""
LABEL_NAME_PARTS = ("seg", "label", "mask", "aseg", "parc")
"""Files whose name holds one of these words are label volumes (segmentations), not images to analyse."""
MAX_VOXELS = MAX_SERIES_PIXELS
RAW_ZOOMS = "brainscan_raw_zooms"


def is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(NIFTI_SUFFIXES)


def nifti_stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def is_label_volume_name(path: Path) -> bool:
    """True for names such as ``seg.nii.gz`` or ``case_mask.nii``: label volumes that sit beside images."""
    words = nifti_stem(path).lower().replace("-", "_").replace(".", "_").split("_")
    return any(word in LABEL_NAME_PARTS for word in words)


def _open(path: Path):
    """The NIfTI image at ``path`` opened by name (training reads trusted files this way; the app uses
    ``_opened``, which refuses FIFOs and devices)."""
    import nibabel as nib

    try:
        return nib.load(str(path))
    except Exception as exc:  # noqa: BLE001 - nibabel raises many types for damaged files
        raise SeriesLoadError(f"{path.name} is not a readable NIfTI file ({type(exc).__name__}: {exc}).") from exc


@contextlib.contextmanager
def _opened(path: Path) -> Iterator:
    """The NIfTI image at ``path``, read through a regular-file handle (never a FIFO or device) that stays open
    while the block reads its data. Messages name no path (they become skip reasons in de-identified output).

    Raises:
        SeriesLoadError: when the file cannot be opened or is not NIfTI.
    """
    import nibabel as nib

    try:
        handle = open_regular(path)
    except OSError as exc:
        raise SeriesLoadError(open_failure_reason(exc)) from exc
    with handle:
        stream = gzip.GzipFile(fileobj=handle, mode="rb") if path.name.lower().endswith(".gz") else handle
        try:
            first = stream.read(4)
            stream.seek(0)
            sizes = {struct.unpack("<i", first)[0], struct.unpack(">i", first)[0]} if len(first) == 4 else set()
            image_class = nib.Nifti2Image if 540 in sizes else nib.Nifti1Image
            raw = image_class.header_class.from_fileobj(stream, check=False)
            stream.seek(0)
            img = image_class.from_stream(stream)
            # nibabel quietly turns a voxel size of 0 into 1 mm; remember that the file did not say
            img.extra[RAW_ZOOMS] = np.asarray(raw["pixdim"][1:4], dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - nibabel and gzip raise many types for damaged files
            raise SeriesLoadError(f"not a readable NIfTI file ({type(exc).__name__})") from exc
        yield img


def _volume_shape(img, path: Path) -> tuple[int, ...]:
    shape = tuple(int(s) for s in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 3:
        raise SeriesLoadError(
            f"a {len(shape)}D NIfTI ({' x '.join(map(str, shape))}: a time series or several "
            "volumes in one file). BrainScan analyses one 3D volume; save the volume you want on its own."
        )
    if len(shape) < 2 or min(shape) < 1:
        raise SeriesLoadError(f"a NIfTI that holds no image (shape {shape}).")
    if int(np.prod(shape, dtype=np.int64)) > MAX_VOXELS:
        rows, cols = shape[0], shape[1]
        raise SeriesLoadError(too_large_message(rows, cols, int(np.prod(shape[2:], dtype=np.int64)) or 1))
    return shape


def read_nifti_header(path: Path) -> tuple[SeriesInfo | None, str | None]:
    """(SeriesInfo, None) for a usable NIfTI volume, or (None, reason) when it cannot be used."""
    if is_label_volume_name(path):
        return None, "label volume (a segmentation beside the images), not an image to analyse"
    try:
        with _opened(path) as img:
            shape = _volume_shape(img, path)
            canonical = canonical_axes(img.affine, img.header.get_zooms()[:3], shape)
    except SeriesLoadError as exc:
        return None, str(exc)
    plane, rows, cols, n = canonical
    problem = size_problem(rows, cols)
    if problem:
        return None, problem
    description = f"{nifti_stem(path)} (NIfTI, {plane})"
    return (
        SeriesInfo(
            kind="nifti",
            series_uid=f"nifti:{path_token(path)}",
            description=description,
            modality="MR",
            files=(path,),
            rows=rows,
            columns=cols,
            source=path.parent,
            frames=n,
        ),
        None,
    )


def _canonical_zooms(affine: np.ndarray, zooms, shape) -> tuple[np.ndarray, np.ndarray, int]:
    """(ornt, canonical zooms, canonical index of the file's third axis)."""
    import nibabel.orientations as nio

    ornt = nio.io_orientation(np.asarray(affine, dtype=np.float64))
    zooms = list(zooms) + [1.0] * (3 - len(zooms))
    third = int(ornt[2, 0]) if len(shape) >= 3 else 2
    return ornt, np.asarray(to_canonical(ornt, zooms[:3]), dtype=np.float64), third


def to_canonical(ornt: np.ndarray, per_file_axis) -> list:
    """Reorder per-file-axis values (sizes, voxel sizes) into canonical R-L, A-P, S-I order."""
    out = [0] * 3
    for axis, (target, _) in enumerate(ornt):
        out[int(target)] = per_file_axis[axis]
    return out


def acquisition_axis(zooms_ras: np.ndarray, file_third_axis: int) -> int:
    """Canonical axis across which the volume was acquired: the thickest voxel side, else (also when the voxel
    size is unusable) the file's third axis."""
    if _valid_zooms(zooms_ras) and np.max(zooms_ras) > 1.25 * np.min(zooms_ras):
        return int(np.argmax(zooms_ras))
    return file_third_axis


def canonical_axes(affine, zooms, shape) -> tuple[str, int, int, int]:
    """(plane, rows, columns, slices) the volume will load into."""
    ornt, zooms_ras, third = _canonical_zooms(affine, zooms, shape)
    ras_shape = to_canonical(ornt, tuple(shape) + (1,) * (3 - len(shape)))
    axis = acquisition_axis(zooms_ras, third)
    rows, cols = display_shape(ras_shape, axis)
    return PLANES[axis], rows, cols, ras_shape[axis]


def display_shape(ras_shape, axis: int) -> tuple[int, int]:
    x, y, z = ras_shape
    return {0: (z, y), 1: (z, x), 2: (y, x)}[axis]


def display_slices(ras: np.ndarray, axis: int) -> np.ndarray:
    """Slices of a canonical (RAS+) array across ``axis``, as (slices, rows, cols) in viewer orientation."""
    if axis == 2:  # axial: rows anterior -> posterior, columns right -> left
        return np.ascontiguousarray(np.transpose(ras[::-1, ::-1, :], (2, 1, 0)))
    if axis == 1:  # coronal: rows superior -> inferior, columns right -> left
        return np.ascontiguousarray(np.transpose(ras[::-1, :, ::-1], (1, 2, 0)))
    # sagittal: rows superior -> inferior, columns anterior -> posterior
    return np.ascontiguousarray(np.transpose(ras[:, ::-1, ::-1], (0, 2, 1)))


DISPLAY_ORIENTATION: dict[int, tuple[float, ...]] = {
    2: (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),  # axial: along a row to the patient's left, down a column to posterior
    1: (1.0, 0.0, 0.0, 0.0, 0.0, -1.0),  # coronal: to the left, then downwards (inferior)
    0: (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),  # sagittal: to posterior, then downwards
}
"""The DICOM-style direction cosines (patient LPS: row direction, then column direction) of the slices
``display_slices`` makes across each canonical axis (the nearest standard plane of the file's grid)."""


def display_spacing(zooms_ras: np.ndarray, axis: int) -> tuple[tuple[float, float], float]:
    """((row mm, column mm), slice mm) for slices across ``axis``."""
    x, y, z = (float(v) for v in zooms_ras)
    pixel = {0: (z, y), 1: (z, x), 2: (y, x)}[axis]
    return pixel, float(zooms_ras[axis])


def canonical_array(img, path: Path, order_dtype=np.float32) -> tuple[np.ndarray, np.ndarray, int]:
    """(RAS+ array, RAS zooms, canonical index of the file's third axis) of a NIfTI image.

    Raises:
        SeriesLoadError: for 4D, empty or unreadable data.
    """
    import nibabel.orientations as nio

    shape = _volume_shape(img, path)
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # noqa: BLE001 - truncated or damaged data
        raise SeriesLoadError(
            f"the image data could not be read ({type(exc).__name__}): the file is damaged or incomplete"
        ) from exc
    data = np.asarray(data, dtype=order_dtype).reshape(shape + (1,) * (3 - len(shape)))
    ornt, zooms_ras, third = _canonical_zooms(img.affine, img.header.get_zooms()[:3], shape)
    ras = nio.apply_orientation(data, ornt)
    return ras, zooms_ras, third


def _valid_zooms(zooms: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(zooms)) and np.all(zooms > 0) and np.all(zooms < 100))


def load_nifti(info: SeriesInfo) -> Volume:
    """Read a NIfTI series found by ``read_nifti_header`` into a ``Volume`` in its acquisition plane.

    Raises:
        SeriesLoadError: when the file cannot be read or is not a 3D volume.
    """
    path = info.files[0]
    try:
        with _opened(path) as img:
            ras, zooms_ras, third = canonical_array(img, path)
            raw_zooms = np.abs(img.extra.get(RAW_ZOOMS, np.ones(3)))[: min(3, len(img.shape))]
    except SeriesLoadError as exc:
        raise SeriesLoadError(f"{path.name}: {exc}") from exc
    axis = acquisition_axis(zooms_ras, third)
    pixels = display_slices(ras, axis).astype(np.float32)
    warnings: list[str] = list(info.warnings)
    damaged: tuple[int, ...] = ()
    if not np.all(np.isfinite(pixels)):
        damaged = tuple(int(i) for i in np.flatnonzero(~np.isfinite(pixels).all(axis=(1, 2))))
        warnings.append(f"The volume holds NaN or infinite values on {len(damaged)} slice(s); they are not assessed.")
        pixels = np.nan_to_num(pixels, nan=0.0, posinf=0.0, neginf=0.0)
    pixel_spacing, slice_spacing = display_spacing(zooms_ras, axis)
    if not _valid_zooms(zooms_ras) or not _valid_zooms(raw_zooms):
        warnings.append("The volume's voxel size is missing or implausible; sizes are given in pixels only.")
        pixel_spacing, slice_spacing = None, None
    from brainscan.io.load import robust_window

    return Volume(
        pixels=pixels,
        info=info,
        pixel_spacing_mm=pixel_spacing,
        slice_spacing_mm=slice_spacing,
        sorted_by="position",
        window=robust_window(pixels),
        orientation=DISPLAY_ORIENTATION[axis],
        damaged_slices=damaged,
        slice_files=tuple(path for _ in range(len(pixels))),
        warnings=tuple(warnings),
        skipped=info.skipped,
    )
