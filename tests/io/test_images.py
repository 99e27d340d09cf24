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
