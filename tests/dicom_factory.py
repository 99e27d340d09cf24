"""Write real DICOM MR files with pydicom for tests: known geometry, any orientation, any order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid


def make_dataset(
    pixels: np.ndarray,
    *,
    series_uid: str,
    position=(0.0, 0.0, 0.0),
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    instance: int | None = 1,
    spacing=(0.5, 0.5),
    photometric: str = "MONOCHROME2",
    slope: float | None = None,
    intercept: float | None = None,
    bits: int = 16,
    description: str = "T1 AX",
    patient_name: str = "Doe^Jane",
    patient_id: str = "P-001",
    birth_date: str = "19700101",
    study_date: str = "20260105",
    study_uid: str = "1.2.3.4",
    frame_of_reference: str | None = "1.2.3.4.0.1",
) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = birth_date
    ds.StudyDate = study_date
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    if frame_of_reference is not None:
        ds.FrameOfReferenceUID = frame_of_reference
    ds.SeriesDescription = description
    if instance is not None:
        ds.InstanceNumber = instance
    if position is not None:
        ds.ImagePositionPatient = [float(v) for v in position]
    if orientation is not None:
        ds.ImageOrientationPatient = [float(v) for v in orientation]
    if spacing is not None:
        ds.PixelSpacing = [float(spacing[0]), float(spacing[1])]
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept or 0.0
    ds.Rows, ds.Columns = pixels.shape[:2]
    if pixels.ndim == 3:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        ds.PixelData = pixels.astype(np.uint8).tobytes()
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 8 if bits == 8 else 16
        ds.BitsStored = bits
        ds.HighBit = bits - 1
        ds.PixelRepresentation = 0
        dtype = np.uint8 if bits == 8 else np.uint16
        ds.PixelData = pixels.astype(dtype).tobytes()
    return ds


def write_series(
    folder: Path,
    n: int = 6,
    *,
    shape=(32, 24),
    spacing=(0.5, 0.5),
    slice_gap: float = 2.5,
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    shuffle_names: bool = True,
    series_uid: str | None = None,
    seed: int = 0,
    **kwargs,
) -> tuple[str, np.ndarray, list[Path]]:
    """Write n slices whose pixel value encodes the true slice index (slice k is filled with 100*(k+1)).

    Files are named in a scrambled order and instance numbers are scrambled too, so only positions give
    the true order. Returns (series UID, normal vector, written paths).
    """
    folder.mkdir(parents=True, exist_ok=True)
    uid = series_uid or generate_uid()
    row, col = np.array(orientation[:3]), np.array(orientation[3:])
    normal = np.cross(row, col)
    rng = np.random.default_rng(seed)
    names = rng.permutation(n) if shuffle_names else np.arange(n)
    instances = rng.permutation(n) + 1
    paths = []
    for k in range(n):
        pixels = np.full(shape, 100 * (k + 1), dtype=np.uint16)
        pixels[0, 0] = 0  # keep a little contrast
        position = np.array([-10.0, 20.0, 5.0]) + normal * slice_gap * k
        ds = make_dataset(
            pixels,
            series_uid=uid,
            position=position,
            orientation=orientation,
            instance=int(instances[k]),
            spacing=spacing,
            **kwargs,
        )
        path = folder / f"IM{names[k]:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return uid, normal, paths


def true_order(volume) -> list[int]:
    """Recover the slice index encoded by write_series in each loaded slice."""
    return [int(round(float(s[1, 1]) / 100.0)) - 1 for s in volume.pixels]


LESION_VALUE = 1000
BRAIN_VALUE = 400


def phantom_slices(n: int = 8, shape=(64, 64), lesion_slices=(3, 4, 5), radius: int = 8) -> np.ndarray:
    """(n, rows, cols) uint16: an elliptical 'brain' (400, with a gentle texture of +-160 standing in for anatomy:
    a uniform object is a phantom, not a head) with a bright disc 'lesion' (1000) on some slices.

    The fake models in tests/fakes.py find exactly the lesion pixels, so areas and volumes are known.
    """
    rows, cols = shape
    yy, xx = np.mgrid[:rows, :cols]
    brain = ((yy - rows / 2) / (rows * 0.42)) ** 2 + ((xx - cols / 2) / (cols * 0.38)) ** 2 <= 1.0
    texture = np.rint(BRAIN_VALUE + 160 * np.sin(xx / 2.5) * np.cos(yy / 3.0)).astype(np.uint16)
    out = np.zeros((n, rows, cols), np.uint16)
    for k in range(n):
        out[k][brain] = texture[brain]
        if k in lesion_slices:
            disc = (yy - rows * 0.4) ** 2 + (xx - cols * 0.55) ** 2 <= radius**2
            out[k][disc] = LESION_VALUE
    return out


def write_phantom_series(
    folder: Path,
    n: int = 8,
    *,
    shape=(64, 64),
    lesion_slices=(3, 4, 5),
    radius: int = 8,
    spacing=(0.5, 0.5),
    slice_gap: float = 2.0,
    patient_name: str = "Doe^Jane",
    **kwargs,
) -> tuple[str, np.ndarray]:
    """Write phantom_slices() as an axial DICOM series (shuffled file names); returns (UID, pixels)."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    pixels = phantom_slices(n, shape, lesion_slices, radius)
    names = np.random.default_rng(1).permutation(n)
    for k in range(n):
        ds = make_dataset(
            pixels[k],
            series_uid=uid,
            position=(0.0, 0.0, slice_gap * k),
            instance=k + 1,
            spacing=spacing,
            patient_name=patient_name,
            **kwargs,
        )
        ds.save_as(folder / f"S{names[k]:03d}.dcm", enforce_file_format=True)
    return uid, pixels


def write_enhanced_series(
    path: Path,
    n: int = 6,
    *,
    shape=(32, 24),
    spacing=(0.5, 0.5),
    slice_gap: float = 2.5,
    orientation=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
    orientation_per_frame: bool = True,
    stored_order=None,
    series_uid: str | None = None,
    slices: np.ndarray | None = None,
) -> tuple[str, np.ndarray]:
    """Write one enhanced (multi-frame) MR file as a Siemens XA scanner does: no top-level position, orientation
    or pixel spacing; each frame's ImagePositionPatient (and, with ``orientation_per_frame``, its
    ImageOrientationPatient) in the Per-frame Functional Groups, pixel spacing and slice thickness in the Shared
    ones. Frame k of the true order is filled with 100*(k+1) (see ``true_order``); ``stored_order`` scrambles
    the frames in the file; ``slices`` (n, rows, cols) replaces that content. Returns (series UID, slice normal)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import EnhancedMRImageStorage

    stored_order = list(stored_order) if stored_order is not None else list(range(n))
    row, col = np.array(orientation[:3]), np.array(orientation[3:])
    normal = np.cross(row, col)
    if slices is None:
        slices = np.stack([np.full(shape, 100 * (k + 1), np.uint16) for k in range(n)])
        slices[:, 0, 0] = 0
    n = len(slices)
    uid = series_uid or generate_uid()
    ds = make_dataset(slices[0], series_uid=uid, position=None, orientation=None, spacing=None, instance=1)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    ds.NumberOfFrames = n
    ds.PixelData = slices[stored_order].tobytes()
    measures = Dataset()
    measures.PixelSpacing = [float(spacing[0]), float(spacing[1])]
    measures.SliceThickness = float(slice_gap)
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = 1.0, 0.0, "US"
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PixelValueTransformationSequence = Sequence([transform])
    plane_orientation = Dataset()
    plane_orientation.ImageOrientationPatient = [float(v) for v in orientation]
    if not orientation_per_frame:
        shared.PlaneOrientationSequence = Sequence([plane_orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for k in stored_order:
        item, position, content = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [float(v) for v in np.array([-10.0, 20.0, 5.0]) + normal * slice_gap * k]
        item.PlanePositionSequence = Sequence([position])
        if orientation_per_frame:
            frame_orientation = Dataset()
            frame_orientation.ImageOrientationPatient = [float(v) for v in orientation]
            item.PlaneOrientationSequence = Sequence([frame_orientation])
        content.InStackPositionNumber = k + 1
        content.DimensionIndexValues = [1, k + 1]
        item.FrameContentSequence = Sequence([content])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return uid, normal
