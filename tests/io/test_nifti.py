"""NIfTI volumes as series: orientation from the affine, spacing, label volumes, and clear errors."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

from brainscan import cli
from brainscan.errors import SeriesLoadError
from brainscan.io import load, scan


def ras_volume(shape=(40, 50, 30)):
    """A RAS+ volume whose voxel values encode where they are: right half +100, anterior half +10, top +1."""
    x, y, z = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    return (100 * (x >= shape[0] // 2) + 10 * (y >= shape[1] // 2) + (z >= shape[2] // 2) + 5).astype(np.int16)


def save(data, affine, path):
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def test_axial_volume_loads_in_radiological_orientation(tmp_path):
    # voxel sizes 1 x 1 x 3 mm: the thick axis (S-I) is the acquisition axis, so slices are axial
    save(ras_volume(), np.diag([1.0, 1.0, 3.0, 1.0]), tmp_path / "t1.nii.gz")
    (info,) = scan([tmp_path])
    assert info.kind == "nifti" and "axial" in info.description
    volume = load(info)
    assert volume.shape == (30, 50, 40) and volume.slice_spacing_mm == 3.0 and volume.pixel_spacing_mm == (1.0, 1.0)
    top = volume.pixels[-1]
    # the patient's right (x high, +100) on the image's left; anterior (y high, +10) at the top
    assert top[0, 0] == 5 + 100 + 10 + 1 and top[-1, -1] == 5 + 1
    assert volume.pixels[0, 0, 0] == 5 + 110  # the first slice is the lowest


def test_orientation_comes_from_the_affine_not_the_array_order(tmp_path):
    # the same anatomy stored L-P-I (BraTS-like axis flips) must load to the same slices
    data = ras_volume()
    save(data, np.diag([1.0, 1.0, 3.0, 1.0]), tmp_path / "ras.nii")
    flipped = data[::-1, ::-1, ::-1]
    save(flipped, np.diag([-1.0, -1.0, -3.0, 1.0]), tmp_path / "lpi.nii")
    ras, lpi = (load(i) for i in sorted(scan([tmp_path]), key=lambda i: i.description))
    assert np.array_equal(ras.pixels, lpi.pixels)


def test_sagittal_and_coronal_acquisitions(tmp_path):
    save(ras_volume(), np.diag([4.0, 1.0, 1.0, 1.0]), tmp_path / "sag.nii.gz")
    save(ras_volume(), np.diag([1.0, 4.0, 1.0, 1.0]), tmp_path / "cor.nii.gz")
    by_name = {i.description.split(" ")[0]: i for i in scan([tmp_path])}
    sag, cor = load(by_name["sag"]), load(by_name["cor"])
    assert "sagittal" in by_name["sag"].description and sag.shape == (40, 30, 50)
    assert sag.pixels[0, 0, 0] == 5 + 1 + 10  # superior at the top, anterior on the left
    assert "coronal" in by_name["cor"].description and cor.shape == (50, 30, 40)
    assert cor.pixels[0, 0, 0] == 5 + 1 + 100  # superior at the top, patient's right on the left


def test_label_volume_is_skipped_with_a_reason(tmp_path):
    save(ras_volume(), np.eye(4), tmp_path / "t1ce.nii.gz")
    save(np.zeros((40, 50, 30), np.uint8), np.eye(4), tmp_path / "seg.nii.gz")
    (info,) = scan([tmp_path])
    assert [s.path.name for s in info.skipped] == ["seg.nii.gz"] and "label volume" in info.skipped[0].reason


def test_4d_and_broken_files_say_what_is_wrong(tmp_path):
    save(np.zeros((8, 8, 8, 5), np.int16), np.eye(4), tmp_path / "bold.nii.gz")
    (tmp_path / "broken.nii.gz").write_bytes(gzip.compress(b"not a nifti header at all" * 20))
    with pytest.raises(SeriesLoadError) as caught:
        scan([tmp_path])
    text = str(caught.value)
    assert "4D NIfTI" in text and "broken.nii.gz" in text


def test_info_and_analyze_read_nifti(tmp_path, capsys):
    path = save(ras_volume((64, 64, 12)), np.diag([1.0, 1.0, 5.0, 1.0]), tmp_path / "scan.nii.gz")
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "12 slices of 64x64" in out and "slice spacing 5.0 mm" in out
