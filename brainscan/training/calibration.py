"""Fitting the calibration temperature, and expected calibration error (ECE).

Temperature scaling (Guo et al., 2017) divides the logits by one scalar T fitted on the validation split by
minimising negative log-likelihood; the runtime applies it (brainscan.runtime.calibration).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from brainscan.runtime.calibration import EPS, apply_temperature

T_RANGE = (0.05, 20.0)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, EPS, 1.0))))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Find T in ``T_RANGE`` minimising validation NLL (bounded scalar minimisation on log T).

    Raises:
        ValueError: on empty input or mismatched lengths.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0 or len(labels) != len(probabilities):
        raise ValueError("temperature fitting needs matching, non-empty probabilities and labels")

    def loss(log_t: float) -> float:
        return negative_log_likelihood(apply_temperature(probabilities, np.exp(log_t)), labels)

    found = minimize_scalar(loss, bounds=np.log(T_RANGE), method="bounded", options={"xatol": 1e-10})
    return float(np.exp(found.x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins: sum over bins of |accuracy - confidence| * share of samples."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (confidence > low) & (confidence <= high) if low > 0 else (confidence >= low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)
