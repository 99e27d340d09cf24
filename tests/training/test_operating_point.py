"""The operating point (brainscan.rules, brainscan.training.operating_point): slice calls, threshold choice, its
cross-validated estimate, and that evaluation, the model card and the analysis pipeline all follow it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from brainscan.rules import predicted_classes, tumour_threshold_of
from brainscan.runtime.spec import read_spec
from brainscan.training.metrics import classification_report
from brainscan.training.operating_point import choose_tumour_threshold, cross_validate_threshold
from brainscan.types import SlicePrediction
from tests.fakes import write_card

GLIOMA, MENINGIOMA, NOTUMOR, PITUITARY = range(4)


def rows_with_tumour_probability(tumour_p, kind=GLIOMA) -> np.ndarray:
    """Probability rows whose P(tumour) is ``tumour_p``, all of it on class ``kind``."""
    probs = np.zeros((len(tumour_p), 4))
    probs[:, NOTUMOR] = 1.0 - np.asarray(tumour_p)
    probs[:, kind] = tumour_p
    return probs


def test_without_threshold_the_most_probable_class_wins():
    probs = np.array([[0.3, 0.1, 0.45, 0.15], [0.1, 0.7, 0.1, 0.1]])
    assert predicted_classes(probs).tolist() == [NOTUMOR, MENINGIOMA]


def test_threshold_calls_tumour_on_p_tumour_and_then_the_likeliest_type():
    probs = np.array([[0.3, 0.1, 0.45, 0.15], [0.05, 0.05, 0.8, 0.1]])
    # P(tumour) = 0.55 and 0.2
    assert predicted_classes(probs, 0.5).tolist() == [GLIOMA, NOTUMOR]
    assert predicted_classes(probs, 0.6).tolist() == [NOTUMOR, NOTUMOR]
    assert predicted_classes(probs, 0.15).tolist() == [GLIOMA, PITUITARY]


def test_slice_prediction_label_follows_its_threshold():
    row = (0.3, 0.1, 0.45, 0.15)
    assert SlicePrediction(0, row).label == "notumor"
    assert SlicePrediction(0, row, tumour_threshold=0.5).label == "glioma"


def test_threshold_is_the_highest_that_keeps_the_target_sensitivity():
    tumour_p = np.arange(1, 11) / 10.0  # ten tumour slices, P(tumour) 0.1 .. 1.0
    labels = np.full(10, GLIOMA)
    probs = rows_with_tumour_probability(tumour_p)
    # 0.9 allows one miss: the 0.1 slice; the line sits halfway between 0.1 and 0.2
    assert choose_tumour_threshold(labels, probs, 0.9) == pytest.approx(0.15)
    assert choose_tumour_threshold(labels, probs, 1.0) == pytest.approx(0.05)
    report = classification_report(labels, probs, choose_tumour_threshold(labels, probs, 0.9))
    assert report["tumour_sensitivity"] == pytest.approx(0.9)


def test_threshold_is_never_raised_above_one_half():
    # a sure model: every tumour slice above 0.8, tumour-free slices at 0.1-0.6
    labels = np.array([GLIOMA] * 10 + [NOTUMOR] * 3)
    probs = rows_with_tumour_probability([0.8 + i / 100 for i in range(10)] + [0.1, 0.3, 0.6])
    # uncapped, 0.9 sensitivity would allow the 0.8 slice to be missed: a line near 0.805
    assert choose_tumour_threshold(labels, probs, 0.9) == 0.5
    assert classification_report(labels, probs, 0.5)["tumour_sensitivity"] == 1.0


def test_threshold_choice_rejects_bad_targets_and_missing_tumours():
    probs = rows_with_tumour_probability([0.2, 0.9])
    with pytest.raises(ValueError, match="min_sensitivity"):
        choose_tumour_threshold(np.array([GLIOMA, GLIOMA]), probs, 0.0)
    with pytest.raises(ValueError, match="tumour slices"):
        choose_tumour_threshold(np.array([NOTUMOR, NOTUMOR]), probs, 0.99)


def test_threshold_trades_specificity_for_sensitivity_in_the_report():
    labels = np.array([GLIOMA, GLIOMA, NOTUMOR, NOTUMOR])
    probs = rows_with_tumour_probability([0.9, 0.3, 0.1, 0.4])
    plain = classification_report(labels, probs)
    low = classification_report(labels, probs, 0.25)
    assert (plain["tumour_sensitivity"], plain["tumour_specificity"]) == (0.5, 1.0)
    assert (low["tumour_sensitivity"], low["tumour_specificity"]) == (1.0, 0.5)
    assert low["confusion"][NOTUMOR][GLIOMA] == 1 and low["tumour_threshold"] == 0.25


def test_cross_validated_estimate_on_separable_and_overlapping_data():
    rng = np.random.default_rng(3)
    labels = np.repeat([GLIOMA, NOTUMOR], 100)
    separable = rows_with_tumour_probability(np.r_[rng.uniform(0.6, 1, 100), rng.uniform(0, 0.4, 100)])
    clean = cross_validate_threshold(labels, separable, 0.99, repeats=5)
    assert clean["accuracy"] == 1.0 and clean["tumour_sensitivity_min"] == 1.0
    overlapping = rows_with_tumour_probability(np.r_[rng.uniform(0.2, 1, 100), rng.uniform(0, 0.5, 100)])
    mixed = cross_validate_threshold(labels, overlapping, 0.99, repeats=5)
    assert mixed["tumour_sensitivity"] > 0.9 and mixed["tumour_specificity"] < 0.9
    lo, hi = mixed["threshold_range"]
    assert 0.0 < lo <= mixed["threshold_mean"] <= hi < 0.5


def test_model_card_sets_the_operating_point(tmp_path):
    write_card(tmp_path / "plain.json")
    write_card(tmp_path / "set.json", decision={"tumour_threshold": 0.21})
    assert read_spec(tmp_path / "plain.json").tumour_threshold is None
    spec = read_spec(tmp_path / "set.json")
    assert spec.tumour_threshold == pytest.approx(0.21)
    assert tumour_threshold_of(type("M", (), {"spec": spec})()) == pytest.approx(0.21)
    assert tumour_threshold_of(object()) is None


def test_analysis_follows_the_cards_operating_point(tmp_path):
    from brainscan.io import load, scan
    from brainscan.pipeline.analyze import analyze
    from tests.dicom_factory import write_phantom_series
    from tests.fakes import FakeClassifier, FakeSegmenter

    class Hesitant(FakeClassifier):
        """P(tumour) 0.4 on lesion slices: below the default 0.5, above a card's 0.3."""

        def _one(self, pixels):
            return [0.3, 0.05, 0.6, 0.05] if (np.asarray(pixels) > 800).any() else [0.01, 0.01, 0.97, 0.01]

    write_phantom_series(tmp_path / "s", n=6, lesion_slices=(2, 3), spacing=(0.5, 0.5), slice_gap=2.0)
    volume = load(scan([tmp_path / "s"])[0])
    default = analyze(volume, Hesitant(), FakeSegmenter())
    assert not default.verdict.tumour and not default.segmentations
    assert [p.label for p in default.predictions] == ["notumor"] * 6

    sensitive = Hesitant()
    sensitive.spec = dataclasses.replace(sensitive.spec, tumour_threshold=0.3)
    result = analyze(volume, sensitive, FakeSegmenter())
    assert result.verdict.tumour and result.verdict.label == "glioma"
    assert sorted(result.segmentations) == [2, 3]
    assert [p.label for p in result.predictions] == ["notumor", "notumor", "glioma", "glioma", "notumor", "notumor"]
    assert "0.3" in result.gate and "0.3" in result.verdict.rule
