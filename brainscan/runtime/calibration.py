"""Temperature scaling at inference (Guo et al., 2017): softmax(log(p) / T), with T from the model card.

It changes confidence, never the predicted class. The classifier ends in softmax, so logits are recovered as
log-probabilities (equal up to a constant). Fitting T is offline work: brainscan.training.calibration.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale softmax outputs as softmax(log(p) / T)."""
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), EPS, 1.0)) / float(temperature)
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)
