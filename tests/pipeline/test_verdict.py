"""The series verdict rule."""

from __future__ import annotations

import pytest

from brainscan.pipeline.verdict import series_verdict
from brainscan.types import SlicePrediction

NO = (0.02, 0.02, 0.94, 0.02)
MEN = (0.05, 0.85, 0.05, 0.05)
GLI = (0.7, 0.1, 0.1, 0.1)


def preds(*rows):
    return [SlicePrediction(i, p) for i, p in enumerate(rows)]


def test_all_normal_is_no_tumour():
    verdict = series_verdict(preds(NO, NO, NO, NO, NO))
    assert not verdict.tumour and verdict.label == "notumor"
    assert verdict.tumour_probability == pytest.approx(0.06)
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0)


def test_single_positive_slice_in_long_series_is_not_enough():
    assert not series_verdict(preds(NO, NO, MEN, NO, NO)).tumour


def test_two_positive_slices_give_type_and_key_slices():
    verdict = series_verdict(preds(NO, MEN, MEN, GLI, NO))
    assert verdict.tumour and verdict.label == "meningioma"
    assert verdict.key_slices[:2] == (1, 2) and set(verdict.key_slices) == {1, 2, 3}


def test_short_series_one_slice_suffices():
    verdict = series_verdict(preds(GLI))
    assert verdict.tumour and verdict.label == "glioma"


def test_empty_raises():
    with pytest.raises(ValueError):
        series_verdict([])
