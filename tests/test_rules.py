"""The decision rules' one home: P(tumour), the outline gate, and the types reading the same rule."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.rules import (
    CLASS_NAMES,
    DEFAULT_TUMOUR_THRESHOLD,
    NOTUMOR_INDEX,
    outline_gate,
    slice_threshold,
    tumour_probability,
)
from brainscan.types import SlicePrediction


def test_tumour_probability_of_a_vector_and_of_rows():
    assert CLASS_NAMES[NOTUMOR_INDEX] == "notumor"
    assert tumour_probability([0.1, 0.2, 0.6, 0.1]) == pytest.approx(0.4)
    rows = np.array([[0.1, 0.2, 0.6, 0.1], [0.0, 0.0, 1.0, 0.0]])
    assert tumour_probability(rows).tolist() == pytest.approx([0.4, 0.0])


def test_slice_threshold_defaults_without_an_operating_point():
    assert slice_threshold(None) == DEFAULT_TUMOUR_THRESHOLD
    assert slice_threshold(0.2) == 0.2


def test_outline_gate_follows_verdict_threshold_and_assessment():
    predictions = [
        SlicePrediction(0, (0.7, 0.0, 0.3, 0.0)),
        SlicePrediction(1, (0.2, 0.0, 0.8, 0.0)),
        SlicePrediction(2, (0.9, 0.0, 0.1, 0.0), assessed=False, reason="no head"),
        SlicePrediction(3, (0.0, 0.0, 0.5, 0.5)),
    ]
    assert outline_gate(predictions, series_is_tumour=True, threshold=0.5) == [0, 3]
    assert outline_gate(predictions, series_is_tumour=True, threshold=0.8) == []
    assert outline_gate(predictions, series_is_tumour=False, threshold=0.1) == []
    assert predictions[0].tumour_probability == pytest.approx(0.7)
