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


def assessed_preds(rows, assessed):
    return [SlicePrediction(i, p, assessed=a, reason="" if a else "blank image (no contrast)") for i, (p, a) in
            enumerate(zip(rows, assessed, strict=True))]  # fmt: skip


def test_not_assessed_slices_do_not_count():
    verdict = series_verdict(assessed_preds([NO, MEN, MEN, NO, NO], [True, False, False, True, True]))
    assert not verdict.tumour and verdict.assessed_slices == 3 and verdict.positive_slices == 0


def test_too_few_assessed_slices_cannot_be_assessed():
    verdict = series_verdict(assessed_preds([MEN] * 10, [True, True] + [False] * 8))
    assert not verdict.assessable and not verdict.tumour and verdict.label == "cannot assess"
    assert verdict.tumour_probability is None and verdict.probabilities == {}
    assert "2 of 10" in verdict.reason and "blank image" in verdict.reason


def test_one_blank_slice_cannot_be_assessed():
    verdict = series_verdict(assessed_preds([MEN], [False]))
    assert not verdict.assessable and verdict.tumour_probability is None


def test_thin_slices_need_a_tumour_spanning_neighbours():
    # 1 mm slices: a run must cover 6 mm (6 slices, 4 of them positive); 3 positive slices are not enough
    rows = [NO] * 10 + [MEN] * 3 + [NO] * 10
    assert not series_verdict(preds(*rows), slice_spacing_mm=1.0).tumour
    rows = [NO] * 10 + [MEN] * 4 + [NO] * 10
    verdict = series_verdict(preds(*rows), slice_spacing_mm=1.0)
    assert verdict.tumour and verdict.tumour_probability == pytest.approx(0.95)
    # the same three slices 5 mm apart span 15 mm: a tumour
    assert series_verdict(preds(*([NO] * 10 + [MEN] * 3 + [NO] * 10)), slice_spacing_mm=5.0).tumour


def test_series_probability_agrees_with_the_verdict():
    for rows in ([NO, MEN, NO, MEN, NO], [NO, MEN, MEN, NO], [NO, NO, NO, NO]):
        verdict = series_verdict(preds(*rows), threshold=0.5)
        assert verdict.tumour == (verdict.tumour_probability >= 0.5)
