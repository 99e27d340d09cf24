"""A lesion named "pituitary" that lies off the midline is said to be of no recognised type (issue 27, item 4)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from brainscan.io import load, scan
from brainscan.pipeline.analyze import analyze
from brainscan.pipeline.summary import result_to_dict
from brainscan.pipeline.type_plausibility import PITUITARY_MAX_OFFSET, midline_offset, type_doubt
from brainscan.presentation import result_headline, summary_headline
from tests.dicom_factory import write_phantom_series
from tests.fakes import LESION_THRESHOLD, FakeClassifier, FakeSegmenter


class PituitaryClassifier(FakeClassifier):
    """P(pituitary) 0.9 on slices with lesion pixels."""

    def _one(self, pixels):
        if (np.asarray(pixels) > LESION_THRESHOLD).any():
            return [0.02, 0.02, 0.06, 0.9]
        return [0.02, 0.02, 0.94, 0.02]


def test_offset_is_the_lesion_centre_from_the_head_centre_over_the_head_width():
    head = np.zeros((40, 100), bool)
    head[:, 10:90] = True  # 80 px wide, centre at 49.5
    lesion = np.zeros_like(head)
    lesion[18:22, 48:52] = True
    assert midline_offset(head, lesion, 1) == pytest.approx(0.0, abs=1e-9)
    lesion[:] = False
    lesion[18:22, 72:76] = True  # centre 73.5: 24 px off
    assert midline_offset(head, lesion, 1) == pytest.approx(24 / 80)
    assert midline_offset(head, np.zeros_like(head), 1) is None


def test_only_a_pituitary_call_off_the_midline_is_doubted():
    assert type_doubt("pituitary", PITUITARY_MAX_OFFSET + 0.05)
    assert not type_doubt("pituitary", PITUITARY_MAX_OFFSET - 0.05)
    assert not type_doubt("meningioma", 0.4)  # meningiomas and gliomas grow anywhere
    assert not type_doubt("pituitary", None)


def series_with_lesion_at(tmp_path, column_share: float):
    write_phantom_series(tmp_path / "series", n=8, lesion_slices=(3, 4, 5), spacing=(0.5, 0.5), slice_gap=2.0)
    volume = load(scan([tmp_path / "series"])[0])
    pixels = volume.pixels.copy()
    rows, cols = pixels.shape[1:]
    yy, xx = np.mgrid[:rows, :cols]
    for k in range(len(pixels)):
        lesion = pixels[k] > LESION_THRESHOLD
        pixels[k][lesion] = 400
        if k in (3, 4, 5):
            pixels[k][(yy - rows * 0.5) ** 2 + (xx - cols * column_share) ** 2 <= 25] = 1000
    return dataclasses.replace(volume, pixels=pixels)


def test_a_lesion_far_off_the_midline_is_not_called_pituitary(tmp_path):
    result = analyze(series_with_lesion_at(tmp_path, 0.75), PituitaryClassifier(), FakeSegmenter())
    assert result.verdict.tumour and result.verdict.type_doubt
    assert result_headline(result).title == "Tumour suspected: type not recognised"
    summary = json.loads(json.dumps(result_to_dict(result)))
    assert summary["verdict"]["type_doubt"]
    assert "pituitary tumours do not grow" in summary["verdict"]["basis"]
    assert summary_headline(summary).title == "Tumour suspected: type not recognised"


def test_a_midline_lesion_keeps_its_pituitary_type(tmp_path):
    result = analyze(series_with_lesion_at(tmp_path, 0.5), PituitaryClassifier(), FakeSegmenter())
    assert not result.verdict.type_doubt
    assert result_headline(result).title == "Tumour suspected: Pituitary"


def test_in_an_image_folder_a_stray_outline_does_not_move_the_lesion():
    """Each key slice is judged by its outline's largest part, as the limit was measured."""
    from types import SimpleNamespace

    from brainscan.pipeline.type_plausibility import series_midline_offset

    pixels = np.zeros((1, 64, 100), np.float32)
    pixels[0, 8:56, 10:90] = 500.0  # the head: 80 px wide, centre at 49.5
    outline = np.zeros((64, 100), bool)
    outline[28:36, 46:54] = True  # the lesion, on the midline
    outline[30:33, 84:87] = True  # a stray outline near the edge
    folder = SimpleNamespace(pixels=pixels, pixel_spacing_mm=None, slice_spacing_mm=None, image_set="")
    assert series_midline_offset(folder, {0: outline}, (0,)) == pytest.approx(0.0, abs=1e-9)
