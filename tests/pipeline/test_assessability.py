"""Which slices can be judged: signal checks, head coverage, unfamiliar features."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.pipeline.assessability import (
    Assessment,
    assess_slice,
    assess_slices,
    head_fraction,
    mark_unfamiliar,
    signal_problem,
)
from tests.dicom_factory import phantom_slices


@pytest.mark.parametrize(
    ("pixels", "words"),
    [
        (np.full((64, 64), 500.0), "blank"),
        (np.full((64, 64), np.nan), "invalid"),
        (np.ones((1, 1)), "too small"),
        (np.ones((1, 8000)), "too small"),
        (np.zeros((64, 64)), "blank"),
    ],
)
def test_no_signal_is_not_assessed(pixels, words):
    assert words in signal_problem(pixels)
    result = assess_slice(pixels)
    assert not result.assessed and not result.readable and words in result.reason


def test_a_head_is_assessed_and_an_empty_field_is_not():
    head = phantom_slices(1, shape=(128, 128), lesion_slices=())[0].astype(np.float32)
    assert head_fraction(head) > 0.3 and assess_slice(head).assessed
    speck = np.zeros((128, 128), np.float32)
    speck[58:70, 58:70] = 400.0
    result = assess_slice(speck)
    assert not result.assessed and result.readable and "little or no head" in result.reason


def test_noise_is_no_signal():
    noise = np.random.default_rng(0).normal(5, 1, (128, 128))
    noise[60:66, 60:66] = 400.0
    assert "noise" in assess_slice(noise).reason and not assess_slice(noise).readable


def test_unfamiliar_features_mark_only_assessed_slices():
    items = [Assessment(True), Assessment(False, "blank image (no contrast)", readable=False), Assessment(True)]
    out = mark_unfamiliar(items, np.array([1.0, np.nan, 50.0]), max_distance=10.0)
    assert [a.assessed for a in out] == [True, False, False]
    assert out[1].reason.startswith("blank") and "unlike" in out[2].reason
    assert mark_unfamiliar(items, None, None) == items


def test_slices_beyond_the_head_are_background_within_a_series():
    """Correlated noise (as reconstructed MR background is) passes the single-slice noise test, and per-slice
    scaling makes it fill the field like a head; against the series' brightest it is plainly background."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(3)
    heads = [s.astype(np.float32) for s in phantom_slices(4, shape=(128, 128), lesion_slices=())]
    background = [np.abs(gaussian_filter(rng.normal(0, 12.0, (128, 128)), 2.0)) + 2.0 for _ in range(2)]
    assert all(assess_slice(b).readable for b in background)  # not caught slice by slice
    out = assess_slices(background[:1] + heads + background[1:])
    assert [a.assessed for a in out] == [False, True, True, True, True, False]
    assert "only background" in out[0].reason and not out[0].readable
    assert assess_slices(background[:1])[0].readable  # a single image has no series to compare with
