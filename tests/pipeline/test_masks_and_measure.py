"""Post-processing on crafted masks; Dice/IoU and measurements on known numbers."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.pipeline.masks import clean_mask, dice, iou
from brainscan.pipeline.measure import area, longest_diameter, volume_ml


def test_dice_iou_known_masks():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[0:4, 0:5] = True  # 20 px
    b[2:6, 0:5] = True  # 20 px, overlap 10 px
    assert dice(a, b) == pytest.approx(0.5)
    assert iou(a, b) == pytest.approx(10 / 30)
    assert dice(a, a) == 1.0 and dice(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert dice(a, np.zeros_like(a)) == 0.0


def test_clean_mask_threshold_small_components_and_holes():
    prob = np.zeros((60, 60))
    prob[10:40, 10:40] = 0.9
    prob[20:25, 20:25] = 0.1  # a hole inside the tumour
    prob[50:53, 50:53] = 0.8  # a 9 px speck
    mask = clean_mask(prob, threshold=0.5)
    assert mask[22, 22]  # hole filled
    assert not mask[51, 51]  # speck removed (below 20 px)
    assert mask.sum() == 30 * 30
    # with spacing, the minimum is in mm2: 9 px of 2x2 mm = 36 mm2 survives a 10 mm2 minimum
    assert clean_mask(prob, pixel_spacing_mm=(2.0, 2.0))[51, 51]
    assert not clean_mask(np.full((5, 5), 0.2)).any()


def test_area_volume_diameter_with_spacing():
    mask = np.zeros((20, 20), bool)
    mask[5:9, 5:15] = True  # 4 x 10 px
    assert area(mask, (0.5, 0.8)).value == pytest.approx(40 * 0.4)
    assert area(mask, (0.5, 0.8)).unit == "mm2"
    assert volume_ml([mask, mask], (0.5, 0.8), 5.0) == pytest.approx(2 * 16.0 * 5.0 / 1000)
    assert longest_diameter(mask, (1.0, 1.0)) == pytest.approx(np.hypot(4, 10))
    assert longest_diameter(mask, (2.0, 1.0)) == pytest.approx(np.hypot(8, 10))


def test_unknown_spacing_stays_in_pixels():
    mask = np.zeros((8, 8), bool)
    mask[2, 2:6] = True  # a one-pixel-wide line (collinear corners on each edge)
    assert area(mask, None).unit == "px" and area(mask, None).value == 4
    assert volume_ml([mask], None, None) is None
    assert volume_ml([mask], (1.0, 1.0), None) is None
    assert longest_diameter(mask, None) == pytest.approx(np.hypot(1, 4))
    assert longest_diameter(np.zeros((3, 3), bool), None) is None


def test_longest_diameter_is_one_regions_not_across_separate_outlines():
    mask = np.zeros((100, 100), bool)
    mask[10:20, 10:20] = True  # a 10 x 10 region
    mask[80:84, 80:84] = True  # a small separate outline far away
    assert longest_diameter(mask, (1.0, 1.0)) == pytest.approx(np.hypot(10, 10))
    mask[20:30, 20:30] = True  # touching diagonally: one region
    assert longest_diameter(mask, (1.0, 1.0)) == pytest.approx(np.hypot(20, 20))
