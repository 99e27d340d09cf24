"""Not a head, never a verdict (issue 31, item 3): a phantom, a stripe pattern, a series with NaN/inf slices and a
photo-like picture are "cannot assess" with the reason, while a textured head-like phantom is assessed."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from brainscan.io import load, scan
from brainscan.pipeline.analyze import analyze
from brainscan.pipeline.assessability import DAMAGED, not_a_head_reason
from brainscan.types import CANNOT_ASSESS, SeriesInfo, Volume
from tests.dicom_factory import phantom_slices
from tests.fakes import AlwaysTumour, FakeSegmenter
from tests.nonhead_objects import OBJECTS


def volume_of(pixels, spacing=(1.0, 1.0), gap=5.0) -> Volume:
    info = SeriesInfo("dicom", "1.2.3", "object", "MR", (), pixels.shape[1], pixels.shape[2], Path("/tmp"))
    pixels = np.nan_to_num(np.asarray(pixels, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return Volume(pixels, info, spacing, gap, "position", (500.0, 1000.0), orientation=(1, 0, 0, 0, 1, 0))


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_test_objects_get_no_verdict_even_from_a_model_that_always_says_tumour(name):
    result = analyze(volume_of(OBJECTS[name]()), AlwaysTumour(), FakeSegmenter(), explain=False)
    assert result.verdict.label == CANNOT_ASSESS and result.verdict.tumour_probability is None
    assert not result.segmentations


def test_the_reason_names_what_it_is():
    assert "uniform signal" in not_a_head_reason(OBJECTS["acr phantom"](), is_volume=True)
    assert "edges" in not_a_head_reason(OBJECTS["photo"](), is_volume=True)
    assert not_a_head_reason(phantom_slices(8).astype(np.float32), is_volume=True) == ""


def test_a_single_tightly_cropped_photo_is_left_to_the_slice_checks():
    # the edge rule is for volumes only: 2D slices are often cropped to the head (Training has a few with bright edges)
    assert not_a_head_reason(OBJECTS["photo"]()[:1], is_volume=False) == ""


def test_nifti_slices_with_nan_or_inf_are_not_assessed(tmp_path):
    pixels = phantom_slices(10, shape=(64, 64), lesion_slices=(4, 5)).astype(np.float32)
    pixels[2, 10:20, :] = np.nan
    pixels[7] = np.inf
    path = tmp_path / "t1.nii.gz"
    nib.save(nib.Nifti1Image(np.transpose(pixels, (2, 1, 0)), np.diag([1.0, 1.0, 3.0, 1.0])), path)
    volume = load(scan([path])[0])
    assert sorted(volume.damaged_slices) == [2, 7]
    result = analyze(volume, AlwaysTumour(), FakeSegmenter(), explain=False)
    reasons = {p.index: p.reason for p in result.predictions if not p.assessed}
    assert reasons[2] == DAMAGED and reasons[7] == DAMAGED
