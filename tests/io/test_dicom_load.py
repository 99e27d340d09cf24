"""Loading real DICOM written by pydicom: ordering, geometry, intensities, multi-frame, compression."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from brainscan.io import load, scan
from tests.dicom_factory import make_dataset, true_order, write_series


def test_axial_series_sorted_by_position_not_name_or_instance(tmp_path):
    write_series(tmp_path, n=8, slice_gap=2.5, spacing=(0.7, 0.8))
    (info,) = scan([tmp_path])
    volume = load(info)
    assert volume.sorted_by == "position"
    assert true_order(volume) == list(range(8))
    assert volume.pixel_spacing_mm == (0.7, 0.8)
    assert volume.slice_spacing_mm == pytest.approx(2.5)
    assert volume.shape == (8, 32, 24)
    assert info.meta.patient_name == "Doe^Jane"


def test_oblique_series_sorted_along_normal(tmp_path):
    angle = math.radians(25)
    orientation = (1.0, 0.0, 0.0, 0.0, math.cos(angle), math.sin(angle))
    write_series(tmp_path, n=7, slice_gap=3.0, orientation=orientation, seed=3)
    volume = load(scan([tmp_path])[0])
    assert true_order(volume) == list(range(7))
    assert volume.slice_spacing_mm == pytest.approx(3.0)


def test_missing_positions_fall_back_to_instance_then_filename(tmp_path):
    uid = pydicom.uid.generate_uid()
    for k, instance in enumerate([3, 1, 2]):
        ds = make_dataset(np.full((8, 8), 100 * instance, np.uint16), series_uid=uid, position=None, instance=instance)
        ds.save_as(tmp_path / f"f{k}.dcm", enforce_file_format=True)
    volume = load(scan([tmp_path])[0])
    assert volume.sorted_by == "instance"
    assert [int(s[0, 0]) for s in volume.pixels] == [100, 200, 300]
    assert any("InstanceNumber" in w for w in volume.warnings)
    assert volume.slice_spacing_mm is None


def test_filename_fallback_uses_natural_order(tmp_path):
    uid = pydicom.uid.generate_uid()
    for k in [10, 2, 1]:
        ds = make_dataset(np.full((8, 8), k, np.uint16), series_uid=uid, position=None, instance=None)
        ds.save_as(tmp_path / f"slice{k}.dcm", enforce_file_format=True)
    volume = load(scan([tmp_path])[0])
    assert volume.sorted_by == "filename"
    assert [int(s[0, 0]) for s in volume.pixels] == [1, 2, 10]
    assert any("file name" in w for w in volume.warnings)


def test_rescale_slope_intercept_applied(tmp_path):
    uid = pydicom.uid.generate_uid()
    ds = make_dataset(np.full((8, 8), 10, np.uint16), series_uid=uid, slope=2.5, intercept=-100.0)
    ds.save_as(tmp_path / "a.dcm", enforce_file_format=True)
    volume = load(scan([tmp_path])[0])
    assert np.allclose(volume.pixels, 2.5 * 10 - 100.0)


def test_monochrome1_is_inverted(tmp_path):
    uid = pydicom.uid.generate_uid()
    pixels = np.zeros((8, 8), np.uint16)
    pixels[0, :2] = [0, 4095]
    ds = make_dataset(pixels, series_uid=uid, photometric="MONOCHROME1", bits=12)
    ds.save_as(tmp_path / "a.dcm", enforce_file_format=True)
    volume = load(scan([tmp_path])[0])
    assert volume.pixels[0, 0, 0] == 4095 and volume.pixels[0, 0, 1] == 0


def test_8_bit_and_rgb_dicom(tmp_path):
    uid = pydicom.uid.generate_uid()
    rgb = np.zeros((10, 8, 3), np.uint8)
    rgb[..., 0] = 200
    make_dataset(rgb, series_uid=uid).save_as(tmp_path / "rgb.dcm", enforce_file_format=True)
    gray8 = make_dataset(np.full((10, 8), 77, np.uint8), series_uid=pydicom.uid.generate_uid(), bits=8)
    gray8.save_as(tmp_path / "g8.dcm", enforce_file_format=True)
    volumes = {v.info.files[0].name: v for v in map(load, scan([tmp_path]))}
    assert volumes["rgb.dcm"].pixels[0, 0, 0] == pytest.approx(200 * 0.299, rel=1e-4)
    assert volumes["g8.dcm"].pixels.max() == 77


def test_multiframe_enhanced_mr_uses_per_frame_positions(tmp_path):
    frames = np.stack([np.full((8, 8), 100 * (k + 1), np.uint16) for k in range(4)])
    ds = make_dataset(frames[0], series_uid=pydicom.uid.generate_uid(), position=None, spacing=None)
    ds.NumberOfFrames = 4
    ds.PixelData = frames[[2, 0, 3, 1]].tobytes()  # stored out of order
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures = Dataset()
    measures.PixelSpacing = [0.9, 0.9]
    shared.PlaneOrientationSequence = Sequence([orient])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for stored_slice in [2, 0, 3, 1]:
        item, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = [0.0, 0.0, 4.0 * stored_slice]
        item.PlanePositionSequence = Sequence([pos])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    del ds.ImageOrientationPatient
    ds.save_as(tmp_path / "enhanced.dcm", enforce_file_format=True)
    (info,) = scan([tmp_path])
    assert info.slices == 4
    volume = load(info)
    assert volume.sorted_by == "position"
    assert true_order(volume) == [0, 1, 2, 3]
    assert volume.slice_spacing_mm == pytest.approx(4.0)
    assert volume.pixel_spacing_mm == (0.9, 0.9)


@pytest.mark.parametrize(
    "name",
    ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"],
)
def test_lossless_compressed_mr_matches_uncompressed(name):
    reference = load(scan([Path(get_testdata_file("MR_small.dcm"))])[0])
    compressed = load(scan([Path(get_testdata_file(name))])[0])
    assert np.array_equal(reference.pixels, compressed.pixels)


@pytest.mark.parametrize(
    "name",
    ["SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_jpeg_gdcm.dcm", "JPGExtended.dcm", "JPEGLSNearLossless_16.dcm"],
)
def test_other_compressed_syntaxes_decode(name):
    """JPEG baseline (RGB), JPEG lossless process 14, JPEG extended 12-bit, JPEG-LS near-lossless."""
    volume = load(scan([Path(get_testdata_file(name))])[0])
    assert volume.n_slices == 1
    assert volume.pixels.std() > 0


def test_window_from_dicom_tags(tmp_path):
    uid = pydicom.uid.generate_uid()
    ds = make_dataset(np.arange(64, dtype=np.uint16).reshape(8, 8), series_uid=uid)
    ds.WindowCenter, ds.WindowWidth = 40, 80
    ds.save_as(tmp_path / "a.dcm", enforce_file_format=True)
    assert load(scan([tmp_path])[0]).window == (40.0, 80.0)


def test_shared_mprage_series(shared_data):
    folder = shared_data / "dicom" / "SAG-anon_siemens_skyra_mprage"
    (info,) = scan([folder])
    volume = load(info)
    assert volume.n_slices == 192 and volume.shape[1:] == (256, 256)
    assert volume.sorted_by == "position"
    assert volume.slice_spacing_mm == pytest.approx(0.9, abs=1e-3)
    assert volume.pixel_spacing_mm == pytest.approx((0.859375, 0.859375))
    assert [s.path.name for s in volume.skipped] == ["LICENSE.txt"]
    # positions strictly increase along the normal after sorting
    normal = np.cross(volume.orientation[:3], volume.orientation[3:])
    assert np.all(np.diff(volume.positions_mm @ normal) > 0)


@pytest.mark.parametrize("per_frame", [True, False], ids=["orientation-per-frame", "orientation-shared"])
def test_enhanced_mr_gets_a_volume_from_its_functional_groups(tmp_path, per_frame):
    """Issue 27 item 5: a Siemens XA enhanced MR keeps each frame's orientation in the Per-frame Functional
    Groups (no top-level ImageOrientationPatient); it said "slice positions are missing" and had no spacing."""
    from tests.dicom_factory import write_enhanced_series

    write_enhanced_series(
        tmp_path / "enhanced.dcm",
        n=6,
        spacing=(0.8, 0.9),
        slice_gap=3.0,
        stored_order=[3, 0, 5, 1, 4, 2],
        orientation_per_frame=per_frame,
    )
    (info,) = scan([tmp_path])
    assert info.slices == 6
    volume = load(info)
    assert volume.sorted_by == "position", volume.warnings
    assert not any("missing" in w for w in volume.warnings)
    assert true_order(volume) == list(range(6))
    assert volume.slice_spacing_mm == pytest.approx(3.0)
    assert volume.pixel_spacing_mm == (0.8, 0.9)
    assert volume.orientation == pytest.approx((0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    assert volume.positions_mm is not None and volume.positions_mm.shape == (6, 3)


def test_enhanced_mr_with_frames_in_several_orientations_says_so(tmp_path):
    from tests.dicom_factory import write_enhanced_series

    path = tmp_path / "enhanced.dcm"
    write_enhanced_series(path, n=4)
    ds = pydicom.dcmread(path)
    ds.PerFrameFunctionalGroupsSequence[3].PlaneOrientationSequence[0].ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.save_as(path, enforce_file_format=True)
    volume = load(scan([tmp_path])[0])
    assert any("2 different orientations" in w for w in volume.warnings), volume.warnings
