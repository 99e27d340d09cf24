"""Classification metrics on a hand-checked confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.training.metrics import classification_report, format_report


def test_report_numbers():
    labels = np.array([0, 0, 1, 2, 2, 3])
    predicted = np.array([0, 1, 1, 2, 0, 3])
    probs = np.eye(4)[predicted]
    report = classification_report(labels, probs)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion"][0] == [1, 1, 0, 0] and report["confusion"][2] == [1, 0, 1, 0]
    assert report["per_class"]["glioma"]["precision"] == pytest.approx(0.5)
    assert report["per_class"]["notumor"]["recall"] == pytest.approx(0.5)
    assert report["tumour_sensitivity"] == pytest.approx(1.0)  # all 4 tumour slices called tumour
    assert report["tumour_specificity"] == pytest.approx(0.5)  # one of two normal slices called glioma
    assert "accuracy = 0.6667" in format_report(report)
