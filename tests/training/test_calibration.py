"""Temperature scaling and ECE on numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.runtime.calibration import apply_temperature
from brainscan.training.calibration import expected_calibration_error, fit_temperature


def test_ece_known_values():
    # two bins used: confidence 0.9 (2 samples, 1 correct) and 0.6 (2 samples, 2 correct)
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])
    expected = 0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.6)
    assert expected_calibration_error(probs, labels, bins=15) == pytest.approx(expected)


def test_ece_zero_when_perfectly_calibrated():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(probs, np.array([0, 1])) == pytest.approx(0.0)


def test_temperature_one_is_identity_and_keeps_argmax():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    assert np.allclose(apply_temperature(probs, 1.0), probs)
    assert np.array_equal(apply_temperature(probs, 3.0).argmax(1), probs.argmax(1))
    assert apply_temperature(probs, 3.0).max() < probs.max()


def test_fit_temperature_recovers_overconfidence():
    rng = np.random.default_rng(0)
    n, true_t = 4000, 2.5
    logits = rng.normal(size=(n, 4)) * 3
    calibrated = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in calibrated])
    overconfident = apply_temperature(calibrated, 1 / true_t)  # sharpen by T
    fitted = fit_temperature(overconfident, labels)
    assert fitted == pytest.approx(true_t, rel=0.1)
    before = expected_calibration_error(overconfident, labels)
    after = expected_calibration_error(apply_temperature(overconfident, fitted), labels)
    assert after < before


def test_fit_temperature_rejects_empty():
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((0, 4)), np.zeros(0, int))


def test_fit_temperature_finds_the_grid_minimum():
    from brainscan.training.calibration import negative_log_likelihood

    rng = np.random.default_rng(3)
    logits = rng.normal(size=(600, 4)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in probs])
    sharp = apply_temperature(probs, 0.4)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 4001))
    best = grid[np.argmin([negative_log_likelihood(apply_temperature(sharp, t), labels) for t in grid])]
    assert fit_temperature(sharp, labels) == pytest.approx(best, rel=2e-3)
