"""Series evidence (issue 31): a compact lesion outlined alike on neighbouring slices, off the midline, differs
from scattered outlines at the edge of the head in exactly the measured ways."""

from __future__ import annotations

import numpy as np

from brainscan.pipeline.evidence import (
    FEATURES,
    REGION_ML_CAP,
    consistency,
    left_right_axis,
    series_evidence,
)

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def head_volume(n=20, size=96):
    """A round 'head' (300) on every slice, larger in the middle slices, with a bright off-midline lesion."""
    yy, xx = np.mgrid[:size, :size]
    texture = np.random.default_rng(7).normal(0.0, 40.0, (n, size, size)).astype(np.float32)  # tissue is not flat
    pixels = np.zeros((n, size, size), np.float32)
    for k in range(n):
        radius = size * 0.42 * np.sqrt(max(0.05, 1 - ((k - n / 2) / (n / 2 + 1)) ** 2))
        head = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= radius**2
        pixels[k][head] = 300.0 + texture[k][head]
    return pixels


def disc(size, cy, cx, r):
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def test_a_compact_off_midline_lesion_gives_tumour_like_evidence():
    pixels = head_volume()
    masks = {}
    for k in range(7, 13):
        masks[k] = disc(96, 40, 62, 9)
        pixels[k][masks[k]] = 900.0  # the lesion is bright; its mirror side (x = 34) is normal
    tumour_p = np.where(np.isin(np.arange(20), list(masks)), 0.95, 0.05)
    ev = series_evidence(pixels, (1.0, 1.0), 2.0, AXIAL, tumour_p, np.ones(20, bool), masks, 0.5, 0.95)
    assert ev.region_share == 1.0 and ev.region_consistency == 1.0
    assert abs(ev.region_ml - 6 * masks[7].sum() * 2.0 / 1000) < 1e-9
    assert ev.region_edge > 0.8  # central sections of the head
    assert ev.region_asymmetry > 0.5  # much brighter than its mirror across the midline
    assert ev.region_slices[0] in masks and set(ev.region_slices) == set(masks)
    assert ev.positive_fraction == 6 / 20


def test_scattered_outlines_at_the_edge_of_the_head_give_normal_like_evidence():
    pixels = head_volume()
    masks = {0: disc(96, 48, 40, 4), 3: disc(96, 30, 60, 4), 19: disc(96, 60, 48, 4), 17: disc(96, 48, 52, 3)}
    tumour_p = np.where(np.isin(np.arange(20), list(masks)), 0.9, 0.1)
    ev = series_evidence(pixels, (1.0, 1.0), 2.0, AXIAL, tumour_p, np.ones(20, bool), masks, 0.5, 0.9)
    assert ev.region_share < 0.5 and ev.region_consistency == 0.0
    assert ev.region_edge < 0.6
    assert ev.region_asymmetry < 0.05  # same intensity on both sides


def test_nothing_outlined_is_all_zero_and_the_volume_counts_only_up_to_the_cap():
    pixels = head_volume()
    ev = series_evidence(pixels, (1.0, 1.0), 2.0, AXIAL, np.zeros(20), np.ones(20, bool), {}, 0.5, 0.1)
    assert ev.region_ml == 0 and ev.vector()[1:].sum() == 0 and list(ev.values()) == list(FEATURES)
    big = {k: np.ones((96, 96), bool) for k in range(20)}
    ev = series_evidence(pixels, (1.0, 1.0), 2.0, AXIAL, np.ones(20), np.ones(20, bool), big, 0.5, 1.0)
    assert ev.region_ml > 300 and ev.values()["log_region_ml"] == np.log1p(REGION_ML_CAP)


def test_left_right_axis_follows_the_orientation():
    assert left_right_axis(AXIAL) == 2  # columns run right -> left
    assert left_right_axis(SAGITTAL) == 0  # left-right is across the slices
    assert left_right_axis((0.0, 1.0, 0.0, 1.0, 0.0, 0.0)) == 1
    assert left_right_axis(None) is None and left_right_axis((np.nan,) * 6) is None


def test_consistency_is_the_mean_dice_of_neighbouring_outlines():
    region = np.zeros((3, 10, 10), bool)
    region[0, :4, :4] = True
    region[1, :4, :2] = True  # half of slice 0's outline: Dice 2*8/(16+8)
    assert abs(consistency(region) - 2 * 8 / 24) < 1e-9
