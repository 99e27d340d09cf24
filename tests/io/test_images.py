"""Folders of JPEG/PNG slices."""

from __future__ import annotations

import numpy as np
from PIL import Image

from brainscan.io import load, scan


def test_natural_sort_and_mixed_modes(tmp_path):
    for k in [1, 2, 10]:
        mode = "RGB" if k == 2 else "L"
        color = (k * 10,) * 3 if mode == "RGB" else k * 10
        Image.new(mode, (24, 16), color).save(tmp_path / f"slice{k}.png")
    (info,) = scan([tmp_path])
    assert info.kind == "images" and info.slices == 3
    volume = load(info)
    assert volume.shape == (3, 16, 24)
    assert [round(float(s.mean())) for s in volume.pixels] == [10, 20, 100]
    assert volume.pixel_spacing_mm is None and volume.slice_spacing_mm is None
    assert volume.sorted_by == "filename"


def test_sixteen_bit_png_keeps_range(tmp_path):
    Image.fromarray(np.full((8, 8), 3000, np.uint16)).save(tmp_path / "a.png")
    volume = load(scan([tmp_path])[0])
    assert volume.pixels.max() == 3000


def test_one_series_per_folder(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        Image.new("L", (8, 8), 5).save(tmp_path / sub / "x.jpg")
    assert sorted(s.description for s in scan([tmp_path])) == ["a", "b"]


def test_a_folder_of_mixed_sizes_is_one_study(tmp_path):
    """Slices of one folder are analysed together: images of other sizes are scaled onto the most common grid."""
    for k in range(3):
        Image.new("L", (32, 32), 100 + k).save(tmp_path / f"a{k}.jpg")
    Image.new("L", (16, 16), 200).save(tmp_path / "a3.jpg")  # half the size: scaled up
    Image.new("L", (64, 32), 250).save(tmp_path / "a4.png")  # wider: fitted, letterboxed
    (info,) = scan([tmp_path])
    assert info.slices == 5 and (info.rows, info.columns) == (32, 32) and info.series_uid.startswith("images:")
    assert str(tmp_path) not in info.series_uid  # no path in identifiers (they reach de-identified output)
    assert any("2 of 5 were scaled to fit 32x32" in w for w in info.warnings)
    volume = load(info)
    assert volume.shape == (5, 32, 32) and [p.name for p in volume.slice_files][:2] == ["a0.jpg", "a1.jpg"]
    assert np.allclose(volume.pixels[3], 200)  # 16 px -> 32 px fills the canvas
    wide = volume.pixels[4]
    assert np.allclose(wide[8:24], 250) and np.allclose(wide[:8], 0) and np.allclose(wide[24:], 0)
    assert any("scaled to fit" in w for w in volume.warnings)
