"""Warnings for series unlike the training data (thin-slice 3D volumes, non-MR modalities)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from brainscan.io import load, scan
from brainscan.pipeline.analyze import analyze
from brainscan.pipeline.applicability import applicability_warnings
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter


@pytest.fixture
def clinical(tmp_path):
    """A 2D clinical-style series: 8 slices 2 mm apart."""
    write_phantom_series(tmp_path / "series", n=8, lesion_slices=(3, 4, 5), spacing=(0.5, 0.5), slice_gap=2.0)
    return load(scan([tmp_path / "series"])[0])


def as_3d(volume, slices: int = 64, spacing: float = 0.9):
    pixels = np.resize(volume.pixels, (slices, *volume.pixels.shape[1:]))
    return dataclasses.replace(volume, pixels=pixels, slice_spacing_mm=spacing, positions_mm=None)


def test_clinical_series_gets_no_warning(clinical):
    assert applicability_warnings(clinical) == []


def test_thin_slice_3d_volume_is_flagged_in_the_result(clinical):
    volume = as_3d(clinical)
    assert any("3D acquisition (64 slices 0.9 mm apart)" in w for w in applicability_warnings(volume))
    early = []
    result = analyze(volume, FakeClassifier(), FakeSegmenter(), on_verdict=early.append)
    assert any("3D acquisition" in w for w in result.cautions)  # a caution: it limits the verdict itself
    assert any("3D acquisition" in w for w in early[0].cautions)  # shown with the first verdict already
    # few thin slices (a short stack) or thick slices are not a 3D volume
    assert applicability_warnings(as_3d(clinical, slices=20)) == []
    assert applicability_warnings(as_3d(clinical, spacing=5.0)) == []


def test_non_mr_dicom_is_flagged(clinical):
    ct = dataclasses.replace(clinical, info=dataclasses.replace(clinical.info, modality="CT"))
    assert any("Modality CT" in w and "MRI only" in w for w in applicability_warnings(ct))
