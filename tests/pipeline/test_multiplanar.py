"""brainscan.pipeline.multiplanar: a thin-slice volume's tumour read in all three planes."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.pipeline.multiplanar import fused_outlines, fused_probability, is_thin_volume, region_box


@pytest.mark.parametrize(
    ("pixel", "gap", "n", "thin"),
    [((1.0, 1.0), 1.0, 155, True), ((0.9, 0.9), 1.2, 120, True), ((0.5, 0.5), 1.0, 155, False),
     ((1.0, 1.0), 5.0, 30, False), ((2.0, 2.0), 2.0, 80, False), (None, 1.0, 155, False),
     ((1.0, 1.0), None, 155, False), ((1.0, 1.0), 1.0, 40, False)],
)  # fmt: skip
def test_only_small_near_cubic_voxels_of_a_deep_enough_volume_are_read_in_three_planes(pixel, gap, n, thin):
    assert is_thin_volume(pixel, gap, n) is thin  # 40 slices of 1 mm: a slab, its reslices are strips


def test_region_box_is_grown_and_clipped():
    outline = np.zeros((20, 30), bool)
    outline[5:8, 10:12] = True
    zs, ys, xs = region_box({3: outline, 4: outline}, (10, 20, 30), margin=4)
    assert (zs, ys, xs) == (slice(0, 9), slice(1, 12), slice(6, 16))


def cube(shape=(12, 16, 16)):
    volume = np.zeros(shape, np.float32)
    volume[3:9, 4:10, 5:11] = 1.0
    return volume


def test_three_planes_are_averaged_inside_the_box():
    volume = cube()
    box = (slice(0, 12), slice(0, 16), slice(0, 16))
    seen = []

    def maps_of(images):
        seen.append([im.shape for im in images])
        return [(np.asarray(im) > 0.5).astype(np.float32) for im in images]

    axial = {z: (volume[z] > 0.5).astype(np.float32) for z in range(12) if z != 5}  # slice 5 was not read
    fused = fused_probability(volume, box, axial, maps_of)
    assert seen == [[(12, 16)] * 16, [(12, 16)] * 16]  # reslices: slices x columns, then slices x rows
    inside = volume > 0.5
    assert np.allclose(fused[inside & (np.arange(12) != 5)[:, None, None]], 1.0)
    assert np.allclose(fused[5][inside[5]], 2 / 3) and np.allclose(fused[~inside], 0.0)


def test_fused_outline_keeps_what_connects_to_the_axial_region():
    fused = np.zeros((6, 10, 10), np.float32)
    fused[1:4, 2:5, 2:5] = 0.9  # the tumour
    fused[1:3, 7:9, 7:9] = 0.9  # something apart
    box = (slice(10, 16), slice(5, 15), slice(0, 10))
    seed_mask = np.zeros((20, 10), bool)
    seed_mask[8, 3] = True  # row 8 = box row 3
    outlines = fused_outlines(fused, box, 0.4, {12: seed_mask}, (20, 10))
    assert sorted(outlines) == [11, 12, 13]
    assert outlines[12][7:10, 2:5].all() and outlines[12].sum() == 9  # the apart part is not kept
    assert fused_outlines(fused, box, 0.4, {30: seed_mask}, (20, 10)) == {}  # nothing connects: nothing kept
