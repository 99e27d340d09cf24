"""Choosing the operating point offline: the P(tumour) threshold a model card records (``decision``).

The rule itself (how a slice is called for a given threshold) is brainscan.rules; here t is chosen on the
validation split as the highest value that still keeps tumour sensitivity at the target
(``choose_tumour_threshold``), but never above ``DEFAULT_TUMOUR_THRESHOLD``: the operating point may give up
specificity for sensitivity, never the reverse. Because choosing and measuring on the same slices flatters the
result, ``cross_validate_threshold`` also reports what the rule achieves on slices it was not chosen on.
"""

from __future__ import annotations

import numpy as np

from brainscan.rules import (
    CLASS_NAMES,
    DEFAULT_TUMOUR_THRESHOLD,
    NOTUMOR_INDEX,
    predicted_classes,
    tumour_probability,
)


def choose_tumour_threshold(labels: np.ndarray, probabilities: np.ndarray, min_sensitivity: float) -> float:
    """The highest P(tumour) threshold at which at least ``min_sensitivity`` of the tumour slices are caught,
    capped at 0.5 (``DEFAULT_TUMOUR_THRESHOLD``).

    The threshold sits halfway between the lowest tumour probability that must still count and the next lower
    P(tumour) of any slice (tumour-free, or a tumour allowed to be missed), so the line keeps a margin on both
    sides instead of touching a slice. Why the cap: when a model already catches more than the target at 0.5,
    a higher line would trade caught tumours for fewer false alarms, the wrong way round for this tool.

    Raises:
        ValueError: when there are no tumour slices or the target is not in (0, 1].
    """
    if not 0.0 < min_sensitivity <= 1.0:
        raise ValueError(f"min_sensitivity must be in (0, 1], not {min_sensitivity}")
    labels = np.asarray(labels)
    tumour_p = tumour_probability(np.asarray(probabilities, dtype=np.float64))
    positives = np.sort(tumour_p[labels != NOTUMOR_INDEX])
    if len(positives) == 0:
        raise ValueError("choosing a tumour threshold needs tumour slices")
    allowed_misses = int(np.floor((1.0 - min_sensitivity) * len(positives) + 1e-9))
    lowest_caught = positives[allowed_misses]
    lower = tumour_p[tumour_p < lowest_caught]
    below = float(lower.max()) if len(lower) else 0.0
    return float(min(DEFAULT_TUMOUR_THRESHOLD, (lowest_caught + below) / 2.0))


def cross_validate_threshold(
    labels: np.ndarray, probabilities: np.ndarray, min_sensitivity: float, repeats: int = 50, seed: int = 0
) -> dict:
    """Choose the threshold on one half of the slices (stratified by class), measure on the other half, and
    the other way round, ``repeats`` times: an estimate of the rule on unseen slices.

    Returns mean accuracy, tumour sensitivity and specificity over the held-out halves, the lowest held-out
    sensitivity, and the mean and range of the chosen thresholds.
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    rows, thresholds = [], []
    for fit, test in stratified_halves(labels, repeats, seed):
        t = choose_tumour_threshold(labels[fit], probabilities[fit], min_sensitivity)
        thresholds.append(t)
        predicted = predicted_classes(probabilities[test], t)
        rows.append((float((predicted == labels[test]).mean()), *tumour_rates(labels[test], predicted)))
    table = np.asarray(rows)
    return {
        "method": f"stratified 2-fold, {repeats} repeats (seed {seed}): choose on one half, measure on the other",
        "accuracy": float(table[:, 0].mean()),
        "tumour_sensitivity": float(table[:, 1].mean()),
        "tumour_sensitivity_min": float(table[:, 1].min()),
        "tumour_specificity": float(table[:, 2].mean()),
        "threshold_mean": float(np.mean(thresholds)),
        "threshold_range": [float(np.min(thresholds)), float(np.max(thresholds))],
    }


def stratified_halves(labels: np.ndarray, repeats: int = 50, seed: int = 0):
    """(fit, test) boolean masks: ``repeats`` random halvings stratified by class, each used both ways round."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        half = np.zeros(len(labels), dtype=bool)
        for k in range(len(CLASS_NAMES)):
            members = rng.permutation(np.flatnonzero(labels == k))
            half[members[: len(members) // 2]] = True
        yield half, ~half
        yield ~half, half


def tumour_rates(labels: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Tumour sensitivity and specificity (tumour = any class but notumor) of predicted class indices; NaN
    where the labels hold no tumour (sensitivity) or no tumour-free slice (specificity)."""
    truth, called = np.asarray(labels) != NOTUMOR_INDEX, np.asarray(predicted) != NOTUMOR_INDEX
    sensitivity = (truth & called).sum() / truth.sum() if truth.any() else float("nan")
    specificity = (~truth & ~called).sum() / (~truth).sum() if (~truth).any() else float("nan")
    return float(sensitivity), float(specificity)
